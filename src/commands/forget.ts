// sqs2pg forget --user-id <id> | --masked <value>: erasure in one transaction, audited without the
// erased values; says what it removed. Rerunning it is harmless (it removes nothing more).
import { renderHelp } from '../config/help.js';
import { loadConfig } from '../config/load.js';
import { rethrowRefusal } from '../db/denied.js';
import { forgetMasked, forgetUser } from '../db/forget.js';
import { assertReachable, createPool } from '../db/pool.js';
import { ConfigError } from '../errors.js';

export async function forget(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { config, help } = loadConfig('forget', args, env);
  if (help) {
    console.log(renderHelp('forget'));
    return 0;
  }
  if ((config.userId === undefined) === (config.masked === undefined)) {
    throw new ConfigError('forget needs exactly one of --user-id <id> or --masked <value>; see: sqs2pg forget --help');
  }
  const pool = createPool(config.databaseUrl, 1);
  try {
    await assertReachable(pool, config.databaseUrl);
    try {
      if (config.userId !== undefined) {
        const done = await forgetUser(pool, config.userId, config.reason);
        console.log(
          `forgot the user: removed ${plural(done.rows, 'row')} of user_logins, ${plural(done.quarantined, 'quarantine record')} and ` +
            `${plural(done.vaultEntries, 'vault entry', 'vault entries')} no other row uses; ` +
            `kept ${plural(done.vaultEntriesKept, 'vault entry', 'vault entries')} other rows still use`,
        );
      } else if (config.masked !== undefined) {
        const done = await forgetMasked(pool, config.masked, config.reason);
        console.log(
          `forgot the value: removed ${plural(done.vaultEntries, 'vault entry', 'vault entries')}; ` +
            `${plural(done.rowsUsingIt, 'row')} of user_logins keep the mask, which can no longer be revealed`,
        );
      }
    } catch (error) {
      rethrowRefusal(error, config.databaseUrl, 'erase');
    }
    return 0;
  } finally {
    await pool.end();
  }
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${new Intl.NumberFormat('en-US').format(count)} ${count === 1 ? one : many}`;
}
