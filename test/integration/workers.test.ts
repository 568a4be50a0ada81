// `run --workers 2`: a supervisor and two worker processes against the real servers. A worker
// killed mid-run is restarted and nothing is lost or loaded twice; SIGTERM stops every worker and
// the supervisor exits 0; /metrics adds the workers up; a drain ends with one summary.
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import { freePort } from '../../src/local/free-port.js';
import { get, sample } from '../helpers/http.js';
import { countRows, createTestStack, migrateWithCli, runCli, startCli, waitFor, type CliProcess, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
const started: CliProcess[] = [];
beforeAll(async () => {
  stack = await createTestStack();
  await migrateWithCli(stack.databaseUrl);
});
afterAll(async () => {
  for (const cli of started) if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  await Promise.all(started.map((cli) => cli.done));
  await stack.close();
});
beforeEach(async () => {
  await stack.pool.query('TRUNCATE user_logins, sqs2pg.quarantine');
});

function start(args: string[], env: NodeJS.ProcessEnv): CliProcess {
  const cli = startCli(args, env, 120_000);
  started.push(cli);
  return cli;
}

interface WorkerState {
  worker: number;
  pid: number | null;
  ready: boolean;
}

async function workersOf(url: string): Promise<{ status: number; workers: WorkerState[] }> {
  const answer = await get(`${url}/readyz`);
  if (answer.status === 0) return { status: 0, workers: [] };
  return { status: answer.status, workers: (JSON.parse(answer.body) as { workers: WorkerState[] }).workers };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('run --workers 2', () => {
  it('drains with two workers and prints one summary of both', async () => {
    const queueUrl = await stack.newQueue();
    const { bodies } = generateSample({ count: 600, malformed: 0, seed: 41 });
    await stack.send(queueUrl, bodies);
    const result = await runCli(['run', '--drain', '--json', '--workers', '2', '--receive-wait-sec', '1'], stack.env(queueUrl), 120_000);
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout.trim()) as {
      drained: boolean;
      received: number;
      loaded: number;
      workers: number;
      workerRestarts: number;
      pipelines: Record<string, { received: number; loaded: number }>;
    };
    expect(summary).toMatchObject({ drained: true, loaded: 600, workers: 2, workerRestarts: 0 });
    expect(summary.received).toBeGreaterThanOrEqual(600);
    // Each worker's counts of its one pipeline, added up by the supervisor as the run's are.
    expect(summary.pipelines).toEqual({ logins: expect.objectContaining({ received: summary.received, loaded: 600 }) as unknown });
    expect(await countRows(stack.pool)).toMatchObject({ rows: 600, distinctIds: 600 });
  });

  it('serves one /metrics that adds the workers up, is ready when both are, and stops both on SIGTERM', async () => {
    const queueUrl = await stack.newQueue();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const cli = start(['run', '--workers', '2', '--receive-wait-sec', '1'], stack.env(queueUrl, { SQS2PG_HTTP_PORT: String(port) }));
    await waitFor(async () => (await workersOf(url)).status === 200, 60_000, 'both workers ready');
    const { workers } = await workersOf(url);
    expect(workers.map((w) => w.ready)).toEqual([true, true]);
    // glibc's mmap threshold fixed, as a lone worker has it where it restarts in place (Linux: /proc).
    if (existsSync('/proc/self/environ')) {
      for (const worker of workers) expect(readFileSync(`/proc/${worker.pid ?? 0}/environ`, 'utf8').split('\0')).toContain('MALLOC_MMAP_THRESHOLD_=131072');
    }
    const { bodies } = generateSample({ count: 500, malformed: 0, seed: 42 });
    await stack.send(queueUrl, bodies);
    await waitFor(async () => sample((await get(`${url}/metrics`)).body, 'sqs2pg_deleted_messages_total{pipeline="logins"}') === 500, 60_000, '500 deletions on /metrics');
    const metrics = (await get(`${url}/metrics`)).body;
    expect(sample(metrics, 'sqs2pg_loaded_messages_total{pipeline="logins"}')).toBe(500);
    expect(sample(metrics, 'sqs2pg_workers')).toBe(2);
    expect(sample(metrics, 'sqs2pg_worker_restarts_total')).toBe(0);
    expect(await countRows(stack.pool)).toMatchObject({ rows: 500, distinctIds: 500 });

    cli.child.kill('SIGTERM');
    const result = await cli.done;
    expect(result.code, result.stderr).toBe(0);
    for (const worker of workers) expect(alive(worker.pid ?? 0)).toBe(false);
  });

  it('restarts a worker killed with SIGKILL, and loses nor doubles none of its messages', async () => {
    const queueUrl = await stack.newQueue();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    // A short visibility timeout: what the killed worker held comes back soon.
    const env = stack.env(queueUrl, { SQS2PG_HTTP_PORT: String(port), SQS2PG_VISIBILITY_TIMEOUT_SEC: '2', SQS2PG_RECEIVE_WAIT_SEC: '1' });
    const cli = start(['run', '--workers', '2'], env);
    await waitFor(async () => (await workersOf(url)).status === 200, 60_000, 'both workers ready');
    const victim = (await workersOf(url)).workers[0]?.pid;
    expect(victim).toBeTypeOf('number');
    const { bodies } = generateSample({ count: 3000, malformed: 0, seed: 43 });
    await stack.send(queueUrl, bodies);
    await waitFor(async () => (await countRows(stack.pool)).rows > 0, 60_000, 'the first rows');
    process.kill(victim!, 'SIGKILL');

    await waitFor(async () => sample((await get(`${url}/metrics`)).body, 'sqs2pg_worker_restarts_total') === 1, 60_000, 'the restart on /metrics');
    await waitFor(
      async () => {
        const { status, workers } = await workersOf(url);
        return status === 200 && workers.every((w) => w.pid !== victim);
      },
      60_000,
      'the replacement worker ready',
    );
    await waitFor(async () => (await countRows(stack.pool)).rows === 3000, 90_000, 'all 3000 rows');
    expect(await countRows(stack.pool)).toMatchObject({ rows: 3000, distinctIds: 3000 });
    expect(cli.output().stderr).toMatch(/worker 0 \(pid \d+\) died \(killed by SIGKILL\); restarting it/);

    cli.child.kill('SIGTERM');
    expect((await cli.done).code).toBe(0);
  });

  it('ends with a worker\'s own exit code when it gives up, as a lone worker would', async () => {
    const queueUrl = await stack.newQueue();
    const env = stack.env(queueUrl, { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nothing' });
    const result = await runCli(['run', '--drain', '--workers', '2', '--max-outage-sec', '1'], env, 60_000);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toMatch(/cannot connect to PostgreSQL/);
    expect(result.stdout).toBe('');
  });

  it('refuses more workers than PostgreSQL connections, before starting any', async () => {
    const queueUrl = await stack.newQueue();
    const result = await runCli(['run', '--workers', '5', '--db-pool-size', '4'], stack.env(queueUrl));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--workers \(SQS2PG_WORKERS\) is 5 but --db-pool-size \(SQS2PG_DB_POOL_SIZE\) is 4/);
    const zero = await runCli(['run', '--workers', '0'], stack.env(queueUrl));
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/invalid --workers \(SQS2PG_WORKERS\) "0"/);
  });
});
