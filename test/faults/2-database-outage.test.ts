// Scenario 2, database outage: a TCP proxy between the worker and PostgreSQL is cut in the middle
// of a drain. A short outage is ridden out with retries; one past --max-outage-sec ends the drain
// with exit 3 and one line, and the next drain finishes the job. The worker runs two pipelines
// (logins and a declared one) in one process. Throughout, both queues are sampled: nothing may
// leave them before its row (or quarantine record) is committed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestStack, runCli, startCli, type CliProcess, type TestStack } from '../helpers/stack.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { checkDelivery, inQueues, piiFound, pipelinesEnv, recordFigures, scaled, SCENARIO_TIMEOUT_MS, sendWorkload, type Workload } from './harness.js';
import { migratePipelines } from '../helpers/page-views.js';
import { committedCount } from './worker-processes.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
  // The tables (the declared one too) exist before the first worker starts, so progress can be read from the first commit.
  await migratePipelines(stack.databaseUrl);
});
afterAll(async () => {
  await stack.close();
});

/** stack.databaseUrl, but through the proxy */
function viaProxy(proxy: TcpProxy): string {
  const url = new URL(stack.databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);
  return url.toString();
}

/** Messages whose fate is sealed in the database: both pipelines' rows plus quarantine records. */
function committed(): Promise<number> {
  return committedCount(stack);
}

async function waitForCommitted(cli: CliProcess, above: number, below: number, timeoutMs = SCENARIO_TIMEOUT_MS - 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const n = await committed();
    if (n >= below) throw new Error(`the run committed all ${below} messages before the database could be cut`);
    if (n > above) return n;
    if (cli.child.exitCode !== null) throw new Error(`the run exited early:\n${cli.output().stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for more than ${above} committed messages`);
}

/**
 * Samples the queue, then the database, every 100 ms until stopped: a message gone from the queue
 * must already be committed (deleted <= committed). Reading the queue first keeps the check sound,
 * since both counts only grow. Returns the worst excess of deleted over committed seen.
 */
function watchDeletes(workload: Workload): { stop(): Promise<{ samples: number; worst: number }> } {
  const sent = workload.sent.size;
  let stopped = false;
  let samples = 0;
  let worst = 0;
  const deadline = Date.now() + SCENARIO_TIMEOUT_MS;
  let failure: Error | undefined;
  const loop = (async () => {
    try {
      while (!stopped && Date.now() < deadline) {
        const depth = await inQueues(stack, workload);
        const n = await committed();
        worst = Math.max(worst, sent - depth.visible - depth.notVisible - n);
        samples += 1;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      if (failure !== undefined) throw failure;
      return { samples, worst };
    },
  };
}

/** stderr lines that are not JSON log lines: what a person reads. */
function plainLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => {
    if (line.trim() === '') return false;
    try {
      JSON.parse(line);
      return false;
    } catch {
      return true;
    }
  });
}

async function stopChild(cli: CliProcess | undefined): Promise<void> {
  if (!cli) return;
  if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  await cli.done;
}

async function freshWorkload(count: number, seed: number): Promise<Workload> {
  await stack.pool.query('TRUNCATE user_logins, page_views, sqs2pg.quarantine, sqs2pg_vault.quarantine_bodies');
  return sendWorkload(stack, { count, malformed: scaled(10, 100), seed });
}

// Regressions guarded here: a connection reset mid-batch once crashed the worker (an uncaught
// 'error' on a checked-out pg client), and dozens of batches waiting out an outage once printed a
// MaxListenersExceededWarning, breaking the one-line error of --max-outage-sec.
describe('fault 2: database outage', () => {
  it(
    'rides out a cut of the database connection: retries, recovers, exits 0, loses and duplicates nothing',
    async () => {
      const cutSec = scaled(3, 10);
      const workload = await freshWorkload(scaled(3_000, 50_000), 2);
      const outputs: string[] = [];
      const proxy = await startTcpProxy('127.0.0.1', Number(new URL(stack.databaseUrl).port));
      const watch = watchDeletes(workload);
      let cli: CliProcess | undefined;
      try {
        const started = performance.now();
        cli = startCli(
          ['run', '--drain'],
          pipelinesEnv(stack, workload.queues, { DATABASE_URL: viaProxy(proxy), SQS2PG_BATCH_MAX_ROWS: '50' }),
          SCENARIO_TIMEOUT_MS - 30_000,
        );
        const beforeCut = await waitForCommitted(cli, 0, workload.sent.size);
        await proxy.cut();
        // Commits already on the wire may still land; after that, nothing may get through.
        await new Promise((resolve) => setTimeout(resolve, 500));
        const early = await committed();
        await new Promise((resolve) => setTimeout(resolve, cutSec * 1000 - 500));
        const late = await committed();
        await proxy.restore();
        const result = await cli.done;
        const seconds = (performance.now() - started) / 1000;
        outputs.push(result.stdout, result.stderr);
        const deletes = await watch.stop();

        const delivery = await checkDelivery(stack, workload);
        const pii = await piiFound(stack, workload, outputs);
        recordFigures({
          scenario: '2 database outage',
          messages: workload.sent.size,
          faults: `${cutSec} s database cut`,
          lost: delivery.lost,
          duplicated: delivery.duplicated,
          seconds,
          pii,
        });

        expect(delivery.lost).toBe(0);
        expect(delivery.duplicated).toBe(0);
        expect(pii).toBe(0);
        expect(delivery.misrouted).toBe(0);
        expect(result.code, result.stderr).toBe(0);
        expect(result.stdout).toContain('sqs2pg: queues drained');
        // The cut really stopped the loading half-way, and the worker said it was retrying.
        expect(beforeCut).toBeLessThan(workload.sent.size);
        expect(late).toBe(early);
        expect(late).toBeLessThan(workload.sent.size);
        expect(result.stderr).toMatch(/PostgreSQL write failed \(.*\); retry \d+ in \d+ ms/);
        expect(plainLines(result.stderr)).toEqual([]);
        expect(deletes.samples).toBeGreaterThan(cutSec * 5);
        expect(deletes.worst, 'messages deleted from the queue before their commit').toBeLessThanOrEqual(0);
        expect(await inQueues(stack, workload)).toEqual({ visible: 0, notVisible: 0 });
      } finally {
        await stopChild(cli);
        await watch.stop().catch(() => undefined);
        await proxy.close();
      }
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'gives up after --max-outage-sec with exit 3 and one line, and the next drain loads the rest exactly once',
    async () => {
      const workload = await freshWorkload(scaled(1_000, 20_000), 3);
      const outputs: string[] = [];
      const proxy = await startTcpProxy('127.0.0.1', Number(new URL(stack.databaseUrl).port));
      const watch = watchDeletes(workload);
      const env = pipelinesEnv(stack, workload.queues, {
        DATABASE_URL: viaProxy(proxy),
        SQS2PG_BATCH_MAX_ROWS: '50',
        SQS2PG_MAX_OUTAGE_SEC: '2',
        // A run that gives up leaves what it held to the visibility timeout: back this soon.
        SQS2PG_VISIBILITY_TIMEOUT_SEC: '5',
      });
      let cli: CliProcess | undefined;
      try {
        const started = performance.now();
        cli = startCli(['run', '--drain'], env, SCENARIO_TIMEOUT_MS / 2);
        await waitForCommitted(cli, 0, workload.sent.size);
        await proxy.cut();
        const cutAt = performance.now();
        const first = await cli.done;
        const exitAfterMs = performance.now() - cutAt;
        outputs.push(first.stdout, first.stderr);
        const stranded = await committed();

        await proxy.restore();
        const second = await runCli(['run', '--drain'], env, SCENARIO_TIMEOUT_MS / 2);
        const seconds = (performance.now() - started) / 1000;
        outputs.push(second.stdout, second.stderr);
        const deletes = await watch.stop();

        const delivery = await checkDelivery(stack, workload);
        const pii = await piiFound(stack, workload, outputs);
        recordFigures({
          scenario: '2b database outage past the limit',
          messages: workload.sent.size,
          faults: 'database cut for good, limit 2 s; then a second drain',
          lost: delivery.lost,
          duplicated: delivery.duplicated,
          seconds,
          pii,
        });

        expect(delivery.lost).toBe(0);
        expect(delivery.duplicated).toBe(0);
        expect(pii).toBe(0);
        expect(delivery.misrouted).toBe(0);
        expect(first.code, first.stderr).toBe(3);
        expect(exitAfterMs).toBeLessThan(15_000);
        const lines = plainLines(first.stderr);
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/^sqs2pg: .*PostgreSQL/);
        // The first run stopped with work left over, for the second run to do.
        expect(stranded).toBeLessThan(workload.sent.size);
        expect(second.code, second.stderr).toBe(0);
        expect(plainLines(second.stderr)).toEqual([]);
        expect(deletes.worst, 'messages deleted from the queue before their commit').toBeLessThanOrEqual(0);
        expect(await inQueues(stack, workload)).toEqual({ visible: 0, notVisible: 0 });
      } finally {
        await stopChild(cli);
        await watch.stop().catch(() => undefined);
        await proxy.close();
      }
    },
    SCENARIO_TIMEOUT_MS,
  );
});
