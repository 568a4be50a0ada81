// sqs2pg migrate: apply the numbered SQL migrations and say which ones ran.
import { renderHelp } from '../config/help.js';
import { loadConfig } from '../config/load.js';
import { migrate as applyMigrations } from '../db/migrate.js';
import { assertReachable, createPool, describeDatabase } from '../db/pool.js';

export async function migrate(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { config, help } = loadConfig('migrate', args, env);
  if (help) {
    console.log(renderHelp('migrate', help === 'all'));
    return 0;
  }
  const pool = createPool(config.databaseUrl, 1);
  try {
    await assertReachable(pool, config.databaseUrl);
    const applied = await applyMigrations(pool);
    const where = describeDatabase(config.databaseUrl);
    console.log(applied.length > 0 ? `applied to ${where}: ${applied.join(', ')}` : `${where} is up to date`);
    return 0;
  } finally {
    await pool.end();
  }
}
