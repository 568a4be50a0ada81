// The advice for a large user_logins (docs/operations.md, scaling out) holds: partitioned by create_date, migrations make the
// unique index (sqs_message_id, create_date), the insert uses it as its conflict target, and a
// committed message whose delete failed is skipped when it comes back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import { startSqsProxy } from '../helpers/sqs-proxy.js';
import { countRows, createTestStack, migrateWithCli, runCli, startCli, waitFor, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
  await stack.pool.query(`
    CREATE TABLE user_logins (
      user_id varchar(128), device_type varchar(32), masked_ip varchar(256), masked_device_id varchar(256),
      locale varchar(32), app_version integer, create_date date NOT NULL
    ) PARTITION BY RANGE (create_date)`);
  await stack.pool.query('CREATE TABLE user_logins_old PARTITION OF user_logins FOR VALUES FROM (MINVALUE) TO (\'2020-01-01\')');
  await stack.pool.query('CREATE TABLE user_logins_rest PARTITION OF user_logins DEFAULT');
});
afterAll(async () => {
  await stack.close();
});

describe('a user_logins partitioned by create_date', () => {
  it('migrates, with the unique index on (sqs_message_id, create_date)', async () => {
    await migrateWithCli(stack.databaseUrl);
    const index = await stack.pool.query<{ def: string }>(
      `SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index WHERE indrelid = 'user_logins'::regclass AND indisunique`,
    );
    expect(index.rows.map((row) => row.def)).toEqual([expect.stringContaining('(sqs_message_id, create_date)') as string]);
  });

  it('loads, and skips a committed message whose delete failed when it comes back', async () => {
    const N = 60;
    const queueUrl = await stack.newQueue();
    await stack.send(queueUrl, generateSample({ count: N, malformed: 0, seed: 12 }).bodies);
    const proxy = await startSqsProxy(stack.sqsEndpoint);
    try {
      proxy.setRules([{ operation: 'DeleteMessageBatch', action: 'failEntries' }]);
      const env = stack.env(queueUrl, { AWS_ENDPOINT_URL_SQS: proxy.endpoint, SQS2PG_VISIBILITY_TIMEOUT_SEC: '2' });
      const first = startCli(['run', '--drain'], env, 30_000);
      await waitFor(async () => (await countRows(stack.pool)).rows >= N, 20_000, `${N} rows committed`);
      first.child.kill('SIGTERM');
      expect((await first.done).code).toBe(0);
      expect(await countRows(stack.pool)).toEqual({ rows: N, distinctIds: N, quarantined: 0 });

      proxy.setRules([]);
      const second = await runCli(['run', '--drain'], env, 30_000);
      expect(second.code, second.stderr).toBe(0);
      expect(second.stdout).toMatch(/already loaded\s+60/);
      expect(await countRows(stack.pool)).toEqual({ rows: N, distinctIds: N, quarantined: 0 });
      expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });
    } finally {
      await proxy.close();
    }
  });
});
