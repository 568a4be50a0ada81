// The PostgreSQL connection pool, and the start-up check that turns "cannot connect" into one
// line a person can act on. The password never appears in a message.
import pg from 'pg';
import { ConnectError, describeError } from '../errors.js';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export function createPool(databaseUrl: string, max: number): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max,
    application_name: 'sqs2pg',
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
  });
  // An idle connection that dies (server restart) must not crash the process: the next query
  // on the pool opens a new one, and the writer's retry loop handles the failure it sees.
  pool.on('error', () => undefined);
  return pool;
}

/** Where a URL points, without its credentials: host:port/database. */
export function describeDatabase(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    return `${url.hostname || 'localhost'}:${url.port || '5432'}${url.pathname || '/'}`;
  } catch {
    return '(unparseable URL)';
  }
}

export async function assertReachable(pool: pg.Pool, databaseUrl: string): Promise<void> {
  try {
    await pool.query('SELECT 1');
  } catch (error) {
    throw new ConnectError(
      'db_unreachable',
      `cannot connect to PostgreSQL at ${describeDatabase(databaseUrl)} (${describeError(error)}); check DATABASE_URL and that the server is running`,
      error,
    );
  }
}
