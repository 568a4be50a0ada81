// kill -9 in the middle of a drain, twice: the messages the dead worker held reappear after the
// visibility timeout, and the next run loads each exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import { countRows, createTestStack, runCli, startCli, type CliProcess, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(async () => {
  await stack.close();
});

async function stopChild(cli: CliProcess): Promise<void> {
  if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  await cli.done;
}

/** Rows in user_logins, 0 while the table does not exist yet (the worker creates it). */
async function rowCount(): Promise<number> {
  const table = await stack.pool.query<{ exists: boolean }>("SELECT to_regclass('public.user_logins') IS NOT NULL AS exists");
  return table.rows[0]?.exists ? (await countRows(stack.pool)).rows : 0;
}

/** Polls every 20 ms until `above` < rows < `total`; fails if the run finishes first or it takes too long. */
async function waitForRowsBetween(cli: CliProcess, above: number, total: number, timeoutMs = 15_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const rows = await rowCount();
    if (rows >= total) throw new Error(`the run committed all ${total} rows before it could be killed`);
    if (rows > above) return rows;
    if (cli.child.exitCode !== null) throw new Error(`the run exited early:\n${cli.output().stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for more than ${above} rows`);
}

describe('kill -9 in the middle of a drain', () => {
  it('loses no message and loads none twice, after two crashes', async () => {
    const N = 3000;
    const MALFORMED = 10;
    const queueUrl = await stack.newQueue();
    await stack.send(queueUrl, generateSample({ count: N, malformed: MALFORMED, seed: 21 }).bodies);
    const env = stack.env(queueUrl, { SQS2PG_VISIBILITY_TIMEOUT_SEC: '2', SQS2PG_BATCH_MAX_ROWS: '50' });

    // The first crash comes right after the first commit, the second half-way through the queue.
    for (const killAbove of [0, N / 2]) {
      const cli = startCli(['run', '--drain'], env, 30_000);
      try {
        await waitForRowsBetween(cli, killAbove, N);
        cli.child.kill('SIGKILL');
        const result = await cli.done;
        expect(result.signal).toBe('SIGKILL');
      } finally {
        await stopChild(cli);
      }
      // The crash really left work half done: messages in hand are hidden, not deleted nor loaded.
      const depth = await stack.queueDepth(queueUrl);
      expect(depth.notVisible).toBeGreaterThan(0);
      expect((await countRows(stack.pool)).rows).toBeLessThan(N);
    }

    const last = await runCli(['run', '--drain'], env, 60_000);
    expect(last.code).toBe(0);
    expect(await countRows(stack.pool)).toEqual({ rows: N, distinctIds: N, quarantined: MALFORMED });
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });
  });
});
