// Redelivery is harmless: a message committed but never deleted comes back, is skipped by its
// message id, and is deleted then; a new message with the same body is a new event. The same tests
// run against the builtin logins (without a file) and a declared pipeline (page_views).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSqsProxy, type FaultRule } from '../helpers/sqs-proxy.js';
import { countRowsOf, migratePipelines, PIPELINES_UNDER_TEST } from '../helpers/page-views.js';
import { createTestStack, runCli, startCli, waitFor, type CliProcess, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
  // Tables (the declared one too) exist from the start, so every test can begin from empty ones.
  await migratePipelines(stack.databaseUrl);
});
afterAll(async () => {
  await stack.close();
});
beforeEach(async () => {
  await stack.pool.query('TRUNCATE user_logins, page_views, sqs2pg.quarantine, sqs2pg_vault.quarantine_bodies');
});

/** A number from the drain summary, e.g. summaryCount(stdout, 'already loaded'). */
function summaryCount(stdout: string, label: string): number {
  const match = new RegExp(`${label}\\s+([\\d,]+)`).exec(stdout);
  if (!match?.[1]) throw new Error(`no "${label}" line in the summary:\n${stdout}`);
  return Number(match[1].replaceAll(',', ''));
}

async function stopChild(cli: CliProcess): Promise<void> {
  if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  await cli.done;
}

describe.each(PIPELINES_UNDER_TEST)('redelivery, $name', (pipeline) => {
  const countRows = () => countRowsOf(stack.pool, pipeline);

  it.each<[string, FaultRule]>([
    ['every entry in Failed', { operation: 'DeleteMessageBatch', action: 'failEntries' }],
    ['HTTP 500', { operation: 'DeleteMessageBatch', action: 'http500' }],
  ])('skips a committed message whose delete failed (%s) when it comes back, and deletes it then', async (_fault, rule) => {
    const N = 200;
    const queueUrl = await stack.newQueue();
    await stack.send(queueUrl, pipeline.bodies(N, 0, 11));
    const proxy = await startSqsProxy(stack.sqsEndpoint);
    try {
      proxy.setRules([rule]);
      // With every delete failing the queue never empties, so this drain is stopped by hand.
      const first = startCli(
        ['run', '--drain'],
        pipeline.env(stack, queueUrl, { AWS_ENDPOINT_URL_SQS: proxy.endpoint, SQS2PG_VISIBILITY_TIMEOUT_SEC: '2' }),
        30_000,
      );
      try {
        await waitFor(async () => (await countRows()).rows >= N, 15_000, `${N} rows committed`);
        first.child.kill('SIGTERM');
        const result = await first.done;
        expect(result.code).toBe(0);
      } finally {
        await stopChild(first);
      }
      expect(await countRows()).toEqual({ rows: N, distinctIds: N, quarantined: 0 });
      expect(proxy.counts().DeleteMessageBatch?.faulted).toBeGreaterThan(0);
      // Nothing was deleted: every message is still in the queue (most of them hidden).
      const depth = await stack.queueDepth(queueUrl);
      expect(depth.visible + depth.notVisible).toBe(N);

      proxy.setRules([]);
      const second = await runCli(
        ['run', '--drain'],
        pipeline.env(stack, queueUrl, { AWS_ENDPOINT_URL_SQS: proxy.endpoint, SQS2PG_VISIBILITY_TIMEOUT_SEC: '2' }),
        30_000,
      );
      expect(second.code).toBe(0);
      expect(await countRows()).toEqual({ rows: N, distinctIds: N, quarantined: 0 });
      expect(summaryCount(second.stdout, 'rows loaded')).toBe(0);
      expect(summaryCount(second.stdout, 'already loaded')).toBe(N);
      expect(summaryCount(second.stdout, 'deleted from SQS')).toBe(N);
      expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });
    } finally {
      await proxy.close();
    }
  });

  it('loses and duplicates nothing when half the DeleteMessageBatch calls fail with HTTP 500', async () => {
    const N = 300;
    const queueUrl = await stack.newQueue();
    await stack.send(queueUrl, pipeline.bodies(N, 6, 12));
    const proxy = await startSqsProxy(stack.sqsEndpoint, { seed: 3 });
    try {
      proxy.setRules([{ operation: 'DeleteMessageBatch', action: 'http500', probability: 0.5 }]);
      const faulty = await runCli(
        ['run', '--drain'],
        pipeline.env(stack, queueUrl, { AWS_ENDPOINT_URL_SQS: proxy.endpoint, SQS2PG_VISIBILITY_TIMEOUT_SEC: '2' }),
        30_000,
      );
      expect(faulty.code).toBe(0);
      expect(proxy.counts().DeleteMessageBatch?.faulted).toBeGreaterThan(5);
      // The drain ends only once the queue is empty: every message deleted once, in this run.
      expect(summaryCount(faulty.stdout, 'deleted from SQS')).toBe(N + 6);
    } finally {
      await proxy.close();
    }
    const clean = await runCli(['run', '--drain'], pipeline.env(stack, queueUrl, { SQS2PG_VISIBILITY_TIMEOUT_SEC: '2' }), 30_000);
    expect(clean.code).toBe(0);
    expect(summaryCount(clean.stdout, 'messages read')).toBe(0);
    expect(await countRows()).toEqual({ rows: N, distinctIds: N, quarantined: 6 });
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });
  });

  it('loads the same bodies sent again as new messages as new events: identity is the message id', async () => {
    const N = 50;
    const queueUrl = await stack.newQueue();
    const bodies = pipeline.bodies(N, 0, 13);
    await stack.send(queueUrl, bodies);
    expect((await runCli(['run', '--drain'], pipeline.env(stack, queueUrl))).code).toBe(0);
    expect(await countRows()).toEqual({ rows: N, distinctIds: N, quarantined: 0 });

    await stack.send(queueUrl, bodies);
    const again = await runCli(['run', '--drain'], pipeline.env(stack, queueUrl));
    expect(again.code).toBe(0);
    expect(summaryCount(again.stdout, 'rows loaded')).toBe(N);
    expect(summaryCount(again.stdout, 'already loaded')).toBe(0);
    expect(await countRows()).toEqual({ rows: 2 * N, distinctIds: 2 * N, quarantined: 0 });
    // Each subject's event is there twice, under two message ids.
    const users = await stack.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM (SELECT ${pipeline.subject} FROM ${pipeline.table} GROUP BY ${pipeline.subject} HAVING count(*) = 2) AS twice`,
    );
    expect(Number(users.rows[0]?.n)).toBe(N);
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });
  });
});
