// Logging in as each sqs2pg role, for the attacks in this folder: `sqs2pg grants` makes the three
// group roles (with a prefix of their own, since roles are cluster-wide), and one login role is made
// a member of each, as a deployment would. `close()` drops what was made: privileges first (DROP
// OWNED also revokes them and drops what an attacker planted), then the logins, then the groups.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { roleNames } from '../../src/db/grants.js';
import { runCli, type TestStack } from '../helpers/stack.js';

export type RoleName = 'worker' | 'analyst' | 'officer';
export const ROLES: readonly RoleName[] = ['worker', 'analyst', 'officer'];

export interface RoleLogins {
  /** the group roles `sqs2pg grants` made */
  groups: Record<RoleName, string>;
  /** the login that is a member of each */
  logins: Record<RoleName, string>;
  /** DATABASE_URL of the stack's database, logged in as the role's login */
  url(role: RoleName): string;
  /** a one-connection pool logged in as the role's login (ended by close()) */
  pool(role: RoleName): pg.Pool;
  close(): Promise<void>;
}

/** Runs `sqs2pg grants` as the owner and makes one login per role; throws if grants fails. */
export async function createRoleLogins(stack: TestStack): Promise<RoleLogins> {
  const prefix = `t${randomBytes(4).toString('hex')}_`;
  const groups: Record<RoleName, string> = roleNames(prefix);
  const logins: Record<RoleName, string> = { worker: `${prefix}svc`, analyst: `${prefix}alice`, officer: `${prefix}olga` };
  const password = `pw-${randomBytes(8).toString('hex')}`;
  const granted = await runCli(['grants', '--role-prefix', prefix], { PATH: process.env.PATH, DATABASE_URL: stack.databaseUrl }, 60_000);
  if (granted.code !== 0) throw new Error(`sqs2pg grants exited ${granted.code}: ${granted.stderr}`);
  for (const role of ROLES) {
    await stack.pool.query(`CREATE ROLE ${pg.escapeIdentifier(logins[role])} LOGIN PASSWORD '${password}' IN ROLE ${pg.escapeIdentifier(groups[role])}`);
  }
  const pools: pg.Pool[] = [];
  const url = (role: RoleName) => {
    const address = new URL(stack.databaseUrl);
    address.username = logins[role];
    address.password = password;
    return address.toString();
  };
  return {
    groups,
    logins,
    url,
    pool(role) {
      const pool = new pg.Pool({ connectionString: url(role), max: 1 });
      pool.on('error', () => undefined);
      pools.push(pool);
      return pool;
    },
    async close() {
      for (const pool of pools) await pool.end();
      const names = [...Object.values(logins), ...Object.values(groups)];
      const existing = await stack.pool.query<{ rolname: string }>('SELECT rolname FROM pg_catalog.pg_roles WHERE rolname::text = ANY ($1::text[])', [names]);
      if (existing.rows.length > 0) await stack.pool.query(`DROP OWNED BY ${existing.rows.map((row) => pg.escapeIdentifier(row.rolname)).join(', ')}`);
      for (const name of names) await stack.pool.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(name)}`);
    },
  };
}

/** The SQLSTATE a statement fails with, or 'ok'. */
export async function attempt(pool: pg.Pool, sql: string, params: unknown[] = []): Promise<string> {
  try {
    await pool.query(sql, params);
    return 'ok';
  } catch (error) {
    return String((error as { code?: unknown }).code);
  }
}
