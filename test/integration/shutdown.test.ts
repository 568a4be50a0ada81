// Stopping the service: the first signal finishes what is in hand and gives the rest back;
// a second signal exits at once. Either way a later drain loads every message exactly once. The
// same tests run against the builtin logins and a declared pipeline (page_views).
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { countRowsOf, migratePipelines, PIPELINES_UNDER_TEST } from '../helpers/page-views.js';
import { startSqsProxy } from '../helpers/sqs-proxy.js';
import {
  createTestStack,
  runCli,
  startCli,
  waitFor,
  type CliProcess,
  type CliResult,
  type TestStack,
} from '../helpers/stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
  // Both pipelines' tables from the start, so every test begins from empty ones.
  await migratePipelines(stack.databaseUrl);
});
afterAll(async () => {
  await stack.close();
});
beforeEach(async () => {
  await stack.pool.query('TRUNCATE user_logins, page_views, sqs2pg.quarantine, sqs2pg_vault.quarantine_bodies');
});

async function stopChild(cli: CliProcess): Promise<void> {
  if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  await cli.done;
}

/** The result, or an error if the process is still running `ms` from now. */
async function exitWithin(cli: CliProcess, ms: number): Promise<CliResult> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running ${ms} ms after the signal`)), ms);
  });
  try {
    return await Promise.race([cli.done, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Forwards every call at once but holds each ReceiveMessage answer for `holdMs`: the server has
 * already hidden those messages while the worker is still waiting for them, as with a real queue
 * on a slow network. (sqs-proxy's `delay` holds the request instead, which hides nothing.)
 */
async function startAnswerHoldingProxy(target: string, holdMs: number): Promise<{ endpoint: string; close(): Promise<void> }> {
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true });
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    const hold = req.headers['x-amz-target'] === 'AmazonSQS.ReceiveMessage' ? holdMs : 0;
    const forwarded = http.request(
      { hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          const timer = setTimeout(() => {
            timers.delete(timer);
            if (res.destroyed) return;
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(chunks));
          }, hold);
          timers.add(timer);
        });
      },
    );
    forwarded.on('error', () => res.destroy());
    req.pipe(forwarded);
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      agent.destroy();
      await closed;
    },
  };
}

describe.each(PIPELINES_UNDER_TEST)('graceful stop of the service, $name', (pipeline) => {
  const countRows = () => countRowsOf(stack.pool, pipeline);
  const firstRows = () => waitFor(async () => (await countRows()).rows > 0, 15_000, 'the first rows');
  /** The logins' workloads; a declared pipeline's half as long (its stops are the same code). */
  const scaled = (n: number) => (pipeline.spec.builtin ? n : n / 2);

  it('exits 0 on SIGTERM having deleted exactly what it committed, leaving nothing hidden', async () => {
    const N = scaled(2000);
    const queueUrl = await stack.newQueue();
    await stack.send(queueUrl, pipeline.bodies(N, 0, 31));

    // At most 200 in hand: a stop finishes what is in hand, so with every message received at once
    // (answers counted, not reserved) the whole queue could be committed before the signal lands.
    const cli = startCli(
      ['run'],
      pipeline.env(stack, queueUrl, { SQS2PG_VISIBILITY_TIMEOUT_SEC: '30', SQS2PG_BATCH_MAX_WAIT_MS: '1000', SQS2PG_MAX_IN_FLIGHT_MESSAGES: '200' }),
      30_000,
    );
    try {
      await firstRows();
      cli.child.kill('SIGTERM');
      const result = await exitWithin(cli, 10_000);
      expect(result.code).toBe(0);
      expect(result.stderr).not.toMatch(/"level":(50|60)/);
    } finally {
      await stopChild(cli);
    }

    const { rows, distinctIds } = await countRows();
    expect(rows).toBe(distinctIds);
    expect(rows).toBeGreaterThan(0);
    expect(rows).toBeLessThan(N);
    // Committed == deleted, and everything else is visible at once despite the 30 s timeout.
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: N - rows, notVisible: 0 });

    const drain = await runCli(['run', '--drain'], pipeline.env(stack, queueUrl, { SQS2PG_VISIBILITY_TIMEOUT_SEC: '2' }), 30_000);
    expect(drain.code).toBe(0);
    expect(await countRows()).toEqual({ rows: N, distinctIds: N, quarantined: 0 });
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });
  });

  it('exits at once with code 130 on a second signal, and a later drain still loads each message once', async () => {
    const N = scaled(1000);
    const queueUrl = await stack.newQueue();
    await stack.send(queueUrl, pipeline.bodies(N, 0, 32));
    // Deletes held until the proxy closes keep the graceful stop from ever finishing (each of its
    // three delete attempts waits out a 10 s deadline), so an exit with 130 is the second
    // signal's doing, however slow the machine; held deletes are never forwarded.
    const proxy = await startSqsProxy(stack.sqsEndpoint);
    try {
      proxy.setRules([{ operation: 'DeleteMessageBatch', action: 'delay', delayMs: 600_000 }]);
      const cli = startCli(
        ['run'],
        pipeline.env(stack, queueUrl, { AWS_ENDPOINT_URL_SQS: proxy.endpoint, SQS2PG_VISIBILITY_TIMEOUT_SEC: '2' }),
        60_000,
      );
      try {
        await firstRows();
        cli.child.kill('SIGTERM');
        await waitFor(() => cli.output().stderr.includes('stopping: received SIGTERM'), 20_000, 'the graceful stop to begin');
        expect(cli.child.exitCode).toBeNull();
        cli.child.kill('SIGINT');
        // A generous ceiling for a loaded machine, still far below the stop's 30 s of deletes.
        const result = await exitWithin(cli, 20_000);
        expect(result.code).toBe(130);
        expect(result.stderr).toContain('second signal');
      } finally {
        await stopChild(cli);
      }
    } finally {
      await proxy.close();
    }
    expect((await countRows()).rows).toBeGreaterThan(0);

    const drain = await runCli(['run', '--drain'], pipeline.env(stack, queueUrl, { SQS2PG_VISIBILITY_TIMEOUT_SEC: '2' }), 30_000);
    expect(drain.code).toBe(0);
    // What was committed before the forced exit but never deleted comes back and is skipped.
    expect(drain.stdout).toMatch(/already loaded\s+[1-9]/);
    expect(await countRows()).toEqual({ rows: N, distinctIds: N, quarantined: 0 });
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });
  });

});

// What the source does with answers in flight and what the summary says of a stopped drain are the
// run's, not a pipeline's: once, with the logins.
describe('graceful stop: the source and the summary', () => {
  const pipeline = PIPELINES_UNDER_TEST[0]!;
  const countRows = () => countRowsOf(stack.pool, pipeline);
  const firstRows = () => waitFor(async () => (await countRows()).rows > 0, 15_000, 'the first rows');

  // Stopping used to abort ReceiveMessage calls already sent: the server had hidden the messages
  // it was answering with, the worker never saw them, and they stayed hidden for the whole
  // visibility timeout (one more receive towards a dead-letter queue, too). Against the plain
  // server that hit about one stop in three; holding every answer makes it hit every time.
  it('releases at once the messages a receive answers with while it stops', async () => {
    const N = 200;
    const queueUrl = await stack.newQueue();
    await stack.send(queueUrl, pipeline.bodies(N, 0, 33));
    const proxy = await startAnswerHoldingProxy(stack.sqsEndpoint, 500);
    try {
      const cli = startCli(
        ['run'],
        pipeline.env(stack, queueUrl, {
          AWS_ENDPOINT_URL_SQS: proxy.endpoint,
          SQS2PG_VISIBILITY_TIMEOUT_SEC: '30',
          SQS2PG_BATCH_MAX_WAIT_MS: '200',
        }),
        30_000,
      );
      try {
        await firstRows();
        cli.child.kill('SIGTERM');
        expect((await exitWithin(cli, 10_000)).code).toBe(0);
      } finally {
        await stopChild(cli);
      }
    } finally {
      await proxy.close();
    }
    const { rows } = await countRows();
    expect(rows).toBeGreaterThan(0);
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: N - rows, notVisible: 0 });
  });

  // A drain stopped by a signal used to print "sqs2pg: queue drained" with messages still queued.
  it('does not report "queue drained" when a drain is stopped by SIGTERM', async () => {
    const N = 100;
    const queueUrl = await stack.newQueue();
    await stack.send(queueUrl, pipeline.bodies(N, 0, 34));
    // Deletes that always fail keep the queue from ever emptying.
    const proxy = await startSqsProxy(stack.sqsEndpoint);
    try {
      proxy.setRules([{ operation: 'DeleteMessageBatch', action: 'failEntries' }]);
      const cli = startCli(
        ['run', '--drain'],
        pipeline.env(stack, queueUrl, { AWS_ENDPOINT_URL_SQS: proxy.endpoint, SQS2PG_VISIBILITY_TIMEOUT_SEC: '2' }),
        30_000,
      );
      try {
        await firstRows();
        cli.child.kill('SIGTERM');
        const result = await exitWithin(cli, 10_000);
        expect(result.code).toBe(0);
        expect(result.stdout).not.toContain('queue drained');
        expect(result.stdout).toContain('stopped before the queue was empty');
        // Every message read is accounted for.
        const count = (label: string) => Number(new RegExp(`^ {2}${label} +([\\d,]+)`, 'm').exec(result.stdout)?.[1]?.replaceAll(',', '') ?? 0);
        const read = count('messages read');
        expect(read).toBeGreaterThan(0);
        expect(count('rows loaded') + count('already loaded') + count('quarantined') + count('released') + count('left in the queue')).toBe(read);
        expect(result.stdout).toMatch(/^ {2}released +[\d,]+ \(given back to the queue unprocessed\)$/m);
      } finally {
        await stopChild(cli);
      }
    } finally {
      await proxy.close();
    }
  });
});

// A stop during start-up comes before any pipeline is read: once, for the logins.
describe('graceful stop during start-up', () => {
  it('treats SIGTERM during start-up (here: waiting to migrate) as a stop, not a kill', async () => {
    const queueUrl = await stack.newQueue();
    await stack.send(queueUrl, PIPELINES_UNDER_TEST[0]!.bodies(50, 0, 35));
    // Hold the migrations lock on an unmigrated database, so the worker is caught in start-up.
    await stack.pool.query('DROP TABLE IF EXISTS user_logins; DROP SCHEMA IF EXISTS sqs2pg CASCADE');
    const lock = await stack.pool.connect();
    let worker: CliProcess | undefined;
    try {
      await lock.query("SELECT pg_advisory_lock(hashtext('sqs2pg migrations'))");
      worker = startCli(['run'], stack.env(queueUrl));
      await waitFor(
        async () => (await stack.pool.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).rowCount === 1,
        15_000,
        'the worker to wait for the migrations lock',
      );
      worker.child.kill('SIGTERM');
      const starting = worker;
      await waitFor(() => starting.output().stderr.includes('received SIGTERM during start-up'), 20_000, 'the worker to take the signal');
    } finally {
      await lock.query("SELECT pg_advisory_unlock(hashtext('sqs2pg migrations'))");
      lock.release();
    }
    const result = await worker.done;
    expect([result.code, result.signal]).toEqual([0, null]);
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 50, notVisible: 0 });
  });
});
