// One transaction on one checked-out connection: committed when `work` returns, rolled back when
// it throws. A connection that failed, or whose session would refuse again, is discarded rather
// than handed out again.
import type { Pool, PoolClient } from './pool.js';
import { spoilsSession } from './sqlstate.js';

export async function inTransaction<T>(pool: Pool, begin: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
  return transaction(pool, begin, work, 'COMMIT');
}

/**
 * `work` in a transaction that is rolled back whatever it does: a rehearsal of writes, which checks
 * privileges, tables, columns, triggers and policies as the real writes would, and leaves nothing.
 */
export async function inRolledBackTransaction<T>(pool: Pool, begin: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
  return transaction(pool, begin, work, 'ROLLBACK');
}

async function transaction<T>(pool: Pool, begin: string, work: (client: PoolClient) => Promise<T>, end: 'COMMIT' | 'ROLLBACK'): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  const onError = () => {
    broken = true;
  };
  client.on('error', onError);
  try {
    await client.query(begin);
    const result = await work(client);
    await client.query(end);
    return result;
  } catch (error) {
    if (spoilsSession(error)) broken = true;
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw error;
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}
