// sqs2pg grants: the three least-privilege roles (created if missing) and their privileges on
// this database. Run it as the owner of sqs2pg's tables, with the right to create roles.
import { renderHelp } from '../config/help.js';
import { loadConfig } from '../config/load.js';
import { applyGrants, roleNames, type GrantsApplied } from '../db/grants.js';
import { migrate } from '../db/migrate.js';
import { assertReachable, createPool, describeDatabase } from '../db/pool.js';
import { revokePublicCreate } from '../db/verify.js';
import { DatabaseRefusedError, describeError } from '../errors.js';

export async function grants(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { config, help } = loadConfig('grants', args, env);
  if (help) {
    console.log(renderHelp('grants', help === 'all'));
    return 0;
  }
  const roles = roleNames(config.rolePrefix);
  const pool = createPool(config.databaseUrl, 1);
  try {
    await assertReachable(pool, config.databaseUrl);
    let applied: GrantsApplied;
    try {
      await migrate(pool);
      applied = await applyGrants(pool, roles);
    } catch (error) {
      if ((error as { code?: unknown }).code !== '42501') throw error;
      throw new DatabaseRefusedError(
        'db_permission',
        `PostgreSQL refused to create or grant the roles (${describeError(error)}); run sqs2pg grants as the owner of the sqs2pg tables, with CREATEROLE`,
        error,
      );
    }
    const { created, declared, publicCreates } = applied;
    const tables = declared.length > 0 ? `user_logins and the registered pipelines' tables (${declared.join(', ')})` : 'user_logins';
    console.log(
      [
        `roles on ${describeDatabase(config.databaseUrl)}${created.length > 0 ? ` (created ${created.join(', ')})` : ''}:`,
        `  ${roles.worker}: inserts rows, quarantine records and sealed vault entries; reads none of them`,
        `  ${roles.analyst}: reads ${tables}, and nothing else`,
        `  ${roles.officer}: reveals and erases (forget) only through the audited functions; reads rows, quarantine and audit`,
        `rotate runs as the owner of the tables, like migrate.`,
        `They cannot log in: make login roles members, e.g. GRANT ${roles.analyst} TO alice;`,
        // Only a schema's owner can take PUBLIC's CREATE back: said, not failed, since the grants above hold.
        ...publicCreates.map(
          ({ schema, owner }) =>
            `warning: PUBLIC may still create in schema ${schema}, beside these tables (only its owner can take that back): any role could plant a pipeline's table there before migrate makes it; as ${owner} run: ${revokePublicCreate(schema)}`,
        ),
      ].join('\n'),
    );
    return 0;
  } finally {
    await pool.end();
  }
}
