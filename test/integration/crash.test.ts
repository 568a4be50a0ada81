// kill -9 in the middle of a drain, twice: the messages the dead worker held reappear after the
// visibility timeout, and the next run loads each exactly once. The same test runs against the
// builtin logins (without a file) and a declared pipeline (page_views), each making its table.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRowsOf, PIPELINES_UNDER_TEST, type PipelineUnderTest } from '../helpers/page-views.js';
import { createTestStack, runCli, startCli, type CliProcess, type TestStack } from '../helpers/stack.js';

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

/** Rows in the pipeline's table, 0 while the table does not exist yet (the worker creates it). */
async function rowCount(pipeline: PipelineUnderTest): Promise<number> {
  const table = await stack.pool.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [`public.${pipeline.table}`]);
  return table.rows[0]?.exists ? (await countRowsOf(stack.pool, pipeline)).rows : 0;
}

/** Polls every 20 ms until `above` < rows < `total`; fails if the run finishes first or it takes too long. */
async function waitForRowsBetween(pipeline: PipelineUnderTest, cli: CliProcess, above: number, total: number, timeoutMs = 15_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const rows = await rowCount(pipeline);
    if (rows >= total) throw new Error(`the run committed all ${total} rows before it could be killed`);
    if (rows > above) return rows;
    if (cli.child.exitCode !== null) throw new Error(`the run exited early:\n${cli.output().stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for more than ${above} rows`);
}

describe.each(PIPELINES_UNDER_TEST)('kill -9 in the middle of a drain, $name', (pipeline) => {
  it('loses no message and loads none twice, after two crashes', async () => {
    const N = 3000;
    const MALFORMED = 10;
    const queueUrl = await stack.newQueue();
    await stack.send(queueUrl, pipeline.bodies(N, MALFORMED, 21));
    const env = pipeline.env(stack, queueUrl, { SQS2PG_VISIBILITY_TIMEOUT_SEC: '2', SQS2PG_BATCH_MAX_ROWS: '50' });

    // The first crash comes right after the first commit, the second half-way through the queue.
    for (const killAbove of [0, N / 2]) {
      const cli = startCli(['run', '--drain'], env, 30_000);
      try {
        await waitForRowsBetween(pipeline, cli, killAbove, N);
        cli.child.kill('SIGKILL');
        const result = await cli.done;
        expect(result.signal).toBe('SIGKILL');
      } finally {
        await stopChild(cli);
      }
      // The crash really left work half done: messages in hand are hidden, not deleted nor loaded.
      const depth = await stack.queueDepth(queueUrl);
      expect(depth.notVisible).toBeGreaterThan(0);
      expect((await countRowsOf(stack.pool, pipeline)).rows).toBeLessThan(N);
    }

    const last = await runCli(['run', '--drain'], env, 60_000);
    expect(last.code).toBe(0);
    expect(await countRowsOf(stack.pool, pipeline)).toEqual({ rows: N, distinctIds: N, quarantined: MALFORMED });
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });
  });
});
