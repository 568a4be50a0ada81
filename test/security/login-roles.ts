// Login roles for the security tests: `sqs2pg grants` with a unique prefix, and one login member of
// each group, so a test talks to PostgreSQL as a real worker, analyst or PII officer would. Roles
// are cluster-wide: `drop()` removes them (privileges first, logins before their groups).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { runCli, type TestStack } from '../helpers/stack.js';

export type RoleKind = 'worker' | 'analyst' | 'officer';
export const ROLE_KINDS: readonly RoleKind[] = ['worker', 'analyst', 'officer'];

/** The SQLSTATE a statement fails with, or 'ok': what an attack as a role meets. */
export async function attempt(db: pg.Pool | pg.PoolClient, sql: string, params: unknown[] = []): Promise<string> {
  try {
    await db.query(sql, params);
    return 'ok';
  } catch (error) {
    return String((error as { code?: unknown }).code);
  }
}

export interface LoginRoles {
  /** the login role that is a member of each group */
  logins: Record<RoleKind, string>;
  /** DATABASE_URL of the login that is a member of `kind`'s group */
  urlAs(kind: RoleKind): string;
  /** a one-connection pool logged in as that login (ended by drop()) */
  poolAs(kind: RoleKind): pg.Pool;
  drop(): Promise<void>;
}

export async function createLoginRoles(stack: TestStack): Promise<LoginRoles> {
  const prefix = `t${randomBytes(4).toString('hex')}_`;
  const groups: Record<RoleKind, string> = { worker: `${prefix}worker`, analyst: `${prefix}analyst`, officer: `${prefix}pii_officer` };
  const logins: Record<RoleKind, string> = { worker: `${prefix}svc`, analyst: `${prefix}alice`, officer: `${prefix}olga` };
  const password = `pw-${randomBytes(6).toString('hex')}`;
  const granted = await runCli(['grants', '--role-prefix', prefix], { PATH: process.env.PATH, DATABASE_URL: stack.databaseUrl }, 30_000);
  if (granted.code !== 0) throw new Error(`sqs2pg grants exited ${granted.code}: ${granted.stderr}`);
  for (const kind of ['worker', 'analyst', 'officer'] as const) {
    await stack.pool.query(`CREATE ROLE ${pg.escapeIdentifier(logins[kind])} LOGIN PASSWORD '${password}' IN ROLE ${pg.escapeIdentifier(groups[kind])}`);
  }
  const pools: pg.Pool[] = [];
  const urlAs = (kind: RoleKind) => {
    const url = new URL(stack.databaseUrl);
    url.username = logins[kind];
    url.password = password;
    return url.toString();
  };
  return {
    logins,
    urlAs,
    poolAs(kind) {
      const pool = new pg.Pool({ connectionString: urlAs(kind), max: 1 });
      pool.on('error', () => undefined);
      pools.push(pool);
      return pool;
    },
    async drop() {
      for (const pool of pools) await pool.end();
      const roles = [...Object.values(logins), ...Object.values(groups)];
      const existing = await stack.pool.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1)', [roles]);
      const names = existing.rows.map((row) => pg.escapeIdentifier(row.rolname));
      // Sessions of these logins (a worker still closing) would make DROP ROLE fail.
      await stack.pool.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ANY($1)', [Object.values(logins)]);
      if (names.length > 0) await stack.pool.query(`DROP OWNED BY ${names.join(', ')}`);
      for (const role of roles) await stack.pool.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`);
    },
  };
}
