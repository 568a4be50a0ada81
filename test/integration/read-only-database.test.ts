// A failover as a worker meets it: the server it is connected to turns read-only (a primary demoted
// to a standby; here, the database's default_transaction_read_only), then a writable one takes over.
// Every batch meanwhile is refused with 25006; the worker keeps retrying on fresh connections, loads
// everything once the database accepts writes again, and exits 0. A worker that treated 25006 as an
// error no retry can fix would exit at its trial batch; one that kept its old connections would go on
// being refused after the database was writable again (a database's settings apply to new sessions).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import { countRows, createTestStack, runCli, startCli, waitFor, type TestStack } from '../helpers/stack.js';

describe('run against a database that turns read-only and back', () => {
  let stack: TestStack;
  let databaseName: string;
  beforeAll(async () => {
    stack = await createTestStack();
    databaseName = new URL(stack.databaseUrl).pathname.slice(1);
  });
  afterAll(async () => {
    await stack.pool.query(`ALTER DATABASE ${pg.escapeIdentifier(databaseName)} RESET default_transaction_read_only`);
    await stack.close();
  });

  it('retries 25006 on new connections and loads every message once writes are accepted', async () => {
    const queueUrl = await stack.newQueue();
    const sample = generateSample({ count: 40, malformed: 0, seed: 25006 });
    await stack.send(queueUrl, sample.bodies.slice(0, 20));
    const first = await runCli(['run', '--drain'], stack.env(queueUrl));
    expect(first.code).toBe(0);
    expect((await countRows(stack.pool)).rows).toBe(20);

    await stack.pool.query(`ALTER DATABASE ${pg.escapeIdentifier(databaseName)} SET default_transaction_read_only = on`);
    await stack.send(queueUrl, sample.bodies.slice(20));
    const cli = startCli(['run', '--drain', '--max-outage-sec', '600'], stack.env(queueUrl), 300_000);
    let exited = false;
    void cli.done.then(() => (exited = true));
    await waitFor(() => exited || cli.output().stderr.includes('read-only transaction'), 120_000, 'a batch refused as read-only');
    expect(exited).toBe(false);

    await stack.pool.query(`ALTER DATABASE ${pg.escapeIdentifier(databaseName)} RESET default_transaction_read_only`);
    const result = await cli.done;
    expect(result.code).toBe(0);
    expect(await countRows(stack.pool)).toEqual({ rows: 40, distinctIds: 40, quarantined: 0 });
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });
  });
});
