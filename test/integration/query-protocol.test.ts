// The whole drain over SQS's older query (XML) protocol, against a server that speaks it
// (local-aws-sqs): forced with --sqs-protocol query, and chosen by the default `auto` behind a
// proxy that refuses JSON as LocalStack before 3.0 does. Same checks as the core suites: counts,
// masks, nothing personal in clear, no duplicate on redelivery. Then the endpoints that cannot work.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { generateSample, type Sample } from '../../src/local/sample.js';
import { canonicalIp } from '../../src/transform/ip.js';
import { createMasker } from '../../src/transform/mask.js';
import { startQuerySqsServer, type QuerySqsServer } from '../helpers/query-sqs-server.js';
import { startSqsProxy, type SqsProxy } from '../helpers/sqs-proxy.js';
import {
  countRows,
  createTestStack,
  migrateWithCli,
  runCli,
  startCli,
  TEST_MASK_KEY,
  waitFor,
  type CliProcess,
  type CliResult,
  type TestStack,
} from '../helpers/stack.js';
import { oneErrorLine } from '../helpers/cli-output.js';

const SWITCH_LINE = 'using the query protocol for this run';

let server: QuerySqsServer;
let stack: TestStack;
const proxies: SqsProxy[] = [];
beforeAll(async () => {
  server = await startQuerySqsServer();
  stack = await createTestStack({ sqsEndpoint: server.endpoint });
  await migrateWithCli(stack.databaseUrl);
});
afterAll(async () => {
  for (const proxy of proxies) await proxy.close();
  await stack?.close();
  await server?.stop();
});
beforeEach(async () => {
  await stack.pool.query('TRUNCATE user_logins, sqs2pg.quarantine, sqs2pg_vault.quarantine_bodies');
});

async function proxy(): Promise<SqsProxy> {
  const started = await startSqsProxy(server.endpoint);
  proxies.push(started);
  return started;
}

/** A fresh queue holding `sample`. */
async function queueWith(sample: Sample): Promise<string> {
  const queueUrl = await stack.newQueue();
  // local-aws-sqs does not escape < and & in XML bodies (its bug, not the protocol's): keep them out.
  expect(sample.bodies.filter((body) => /[<&]/.test(body))).toEqual([]);
  await stack.send(queueUrl, sample.bodies);
  return queueUrl;
}

/** A number from the drain summary, e.g. summaryCount(stdout, 'already loaded'). */
function summaryCount(stdout: string, label: string): number {
  const match = new RegExp(`${label}\\s+([\\d,]+)`).exec(stdout);
  if (!match?.[1]) throw new Error(`no "${label}" line in the summary:\n${stdout}`);
  return Number(match[1].replaceAll(',', ''));
}

/**
 * Every valid event of the sample is one row with the right masks, and nothing personal is in
 * clear; `sentBefore`: the queue was filled before this time (SentTimestamp is read, not guessed).
 */
async function expectLoaded(sample: Sample, runs: CliResult[], sentBefore: number): Promise<void> {
  expect(await countRows(stack.pool)).toEqual({ rows: sample.valid, distinctIds: sample.valid, quarantined: sample.malformed });
  const events = sample.bodies.flatMap((body) => {
    try {
      const value = JSON.parse(body) as { user_id?: unknown; ip?: unknown; device_id?: unknown };
      return typeof value.user_id === 'string' && value.user_id.length <= 128 && typeof value.ip === 'string' && typeof value.device_id === 'string'
        ? [{ userId: value.user_id, ip: value.ip, deviceId: value.device_id }]
        : [];
    } catch {
      return [];
    }
  });
  const masker = createMasker(Buffer.from(TEST_MASK_KEY, 'hex'), 'k1');
  const first = events[0]!;
  const row = await stack.pool.query<{ masked_ip: string; masked_device_id: string }>(
    'SELECT masked_ip, masked_device_id FROM user_logins WHERE user_id = $1',
    [first.userId],
  );
  expect(row.rows[0]).toEqual({
    masked_ip: masker.mask('ip', canonicalIp(first.ip)!),
    masked_device_id: masker.mask('device_id', first.deviceId),
  });
  // Without SentTimestamp in the answer, sent_at would be the (later) receive time.
  const late = await stack.pool.query('SELECT 1 FROM sqs2pg.quarantine WHERE sent_at >= to_timestamp($1 / 1000.0)', [sentBefore]);
  expect(late.rowCount).toBe(0);

  const dump = JSON.stringify([
    (await stack.pool.query('SELECT * FROM user_logins')).rows,
    (await stack.pool.query('SELECT * FROM sqs2pg.quarantine')).rows,
    runs.map((run) => [run.stdout, run.stderr]),
  ]);
  const secrets = events.flatMap((event) => [event.ip, event.deviceId]);
  expect(secrets.length).toBeGreaterThan(sample.valid);
  expect(secrets.filter((secret) => dump.includes(`"${secret}"`) || dump.includes(`:${secret}`))).toEqual([]);
}

async function stopChild(cli: CliProcess): Promise<void> {
  if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  await cli.done;
}

describe('the query protocol', () => {
  it('--sqs-protocol query drains the queue without a single JSON call', async () => {
    const sample = generateSample({ count: 300, malformed: 6, seed: 21 });
    const queueUrl = await queueWith(sample);
    const front = await proxy();
    // A slow DeleteMessageBatch answer keeps messages in hand past a heartbeat, so visibility
    // is extended (ChangeMessageVisibilityBatch) over the query protocol as well.
    front.setRules([{ operation: 'DeleteMessageBatch', action: 'slowAnswer', delayMs: 1_500 }]);

    const sentBefore = Date.now();
    const result = await runCli(
      ['run', '--drain', '--sqs-protocol', 'query'],
      stack.env(queueUrl, { AWS_ENDPOINT_URL_SQS: front.endpoint, SQS2PG_VISIBILITY_TIMEOUT_SEC: '2' }),
      45_000,
    );

    expect(result.stderr).not.toMatch(/"level":(40|50|60)/);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('queue drained');
    // Held answers can starve the client's sockets past a 2 s timeout, so a few messages may
    // come back: skipped as duplicates, which is the point of the unique message id.
    expect(summaryCount(result.stdout, 'rows loaded')).toBe(300);
    await expectLoaded(sample, [result], sentBefore);
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });
    expect(front.callsByProtocol()).toMatchObject({ json: 0 });
    const calls = front.counts();
    for (const operation of ['GetQueueAttributes', 'ReceiveMessage', 'DeleteMessageBatch', 'ChangeMessageVisibilityBatch']) {
      expect(calls[operation]?.seen ?? 0, operation).toBeGreaterThan(0);
    }
    expect(result.stderr).not.toContain(SWITCH_LINE);
  });

  it('auto (the default) switches to query once when the endpoint answers JSON in XML, as LocalStack before 3.0 does', async () => {
    const sample = generateSample({ count: 300, malformed: 6, seed: 22 });
    const queueUrl = await queueWith(sample);
    const front = await proxy();
    front.setRules([{ operation: '*', action: 'refuseJson' }]);

    const sentBefore = Date.now();
    const result = await runCli(['run', '--drain'], stack.env(queueUrl, { AWS_ENDPOINT_URL_SQS: front.endpoint }), 45_000);

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('queue drained');
    await expectLoaded(sample, [result], sentBefore);
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });
    // One JSON call (the start-up GetQueueAttributes) was refused; everything after went as query.
    expect(front.callsByProtocol().json).toBe(1);
    expect(front.counts().GetQueueAttributes?.faulted).toBe(1);
    expect(front.callsByProtocol().query).toBeGreaterThan(30);
    // Said once, on one line, with what the endpoint answered.
    const switches = result.stderr.split('\n').filter((line) => line.includes(SWITCH_LINE));
    expect(switches).toHaveLength(1);
    const logged = JSON.parse(switches[0]!) as { level: number; msg: string; from: string; to: string };
    expect(logged).toMatchObject({ level: 30, from: 'json', to: 'query' });
    expect(logged.msg).toBe(
      'the SQS endpoint answered a JSON request with XML (HTTP 500, InternalError: exception while calling sqs with unknown operation: Operation detection failed. Missing Action in request for query-pro…); using the query protocol for this run',
    );
    expect(result.stderr).not.toMatch(/"level":(40|50|60)/);
  });

  it('loads nothing twice when deletes fail with every entry in Failed (query protocol, via auto)', async () => {
    const N = 200;
    const sample = generateSample({ count: N, malformed: 4, seed: 23 });
    const queueUrl = await queueWith(sample);
    const sentBefore = Date.now();
    const front = await proxy();
    front.setRules([
      { operation: '*', action: 'refuseJson' },
      { operation: 'DeleteMessageBatch', action: 'failEntries' },
    ]);
    const env = stack.env(queueUrl, { AWS_ENDPOINT_URL_SQS: front.endpoint, SQS2PG_VISIBILITY_TIMEOUT_SEC: '2' });
    // With every delete failing the queue never empties, so this drain is stopped by hand.
    const first = startCli(['run', '--drain'], env, 30_000);
    let stopped: CliResult;
    try {
      await waitFor(async () => (await countRows(stack.pool)).rows >= N, 20_000, `${N} rows committed`);
      await waitFor(async () => (await countRows(stack.pool)).quarantined >= 4, 5_000, 'the malformed bodies quarantined');
      first.child.kill('SIGTERM');
      stopped = await first.done;
    } finally {
      await stopChild(first);
    }
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(await countRows(stack.pool)).toEqual({ rows: N, distinctIds: N, quarantined: 4 });
    expect(front.counts().DeleteMessageBatch?.faulted).toBeGreaterThan(0);
    // The XML Failed entries were read as such: retried, then left to redelivery.
    expect(stopped.stderr).toMatch(/deletes failed \(InternalError\); left to redelivery, which is harmless/);

    front.setRules([{ operation: '*', action: 'refuseJson' }]);
    const second = await runCli(['run', '--drain'], env, 30_000);
    expect(second.code, second.stderr).toBe(0);
    expect(summaryCount(second.stdout, 'rows loaded')).toBe(0);
    expect(summaryCount(second.stdout, 'already loaded')).toBe(N);
    expect(summaryCount(second.stdout, 'deleted from SQS')).toBe(N + 4);
    await expectLoaded(sample, [stopped, second], sentBefore);
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });
  });
});


describe('exit 3: an endpoint that does not speak the protocol sqs2pg needs', () => {
  it('--sqs-protocol json against an endpoint that answers JSON in XML says to use auto or query', async () => {
    const queueUrl = await stack.newQueue();
    const front = await proxy();
    front.setRules([{ operation: '*', action: 'refuseJson' }]);
    const result = await runCli(
      ['run', '--drain', '--sqs-protocol', 'json'],
      stack.env(queueUrl, { AWS_ENDPOINT_URL_SQS: front.endpoint }),
      15_000,
    );
    expect(result.code, result.stderr).toBe(3);
    const line = oneErrorLine(result);
    expect(line).toContain(`the SQS endpoint ${front.endpoint} speaks only the older query protocol`);
    expect(line).toContain('a JSON request got XML (HTTP 500, InternalError');
    expect(line).toContain('run with --sqs-protocol auto (the default) or query');
    // Refused at once, not after the SDK's three attempts.
    expect(front.callsByProtocol()).toEqual({ json: 1, query: 0 });
  });

  it('--sqs-protocol query against a JSON-only server (fauxqs) says to use auto or json', async () => {
    const fauxqs = inject('sqsEndpoint');
    const result = await runCli(
      ['run', '--drain', '--sqs-protocol', 'query'],
      stack.env(`${fauxqs}/000000000000/no-such-queue`, { AWS_ENDPOINT_URL_SQS: fauxqs }),
      15_000,
    );
    expect(result.code, result.stderr).toBe(3);
    const line = oneErrorLine(result);
    expect(line).toContain(`the SQS endpoint ${fauxqs} speaks only the JSON protocol`);
    expect(line).toContain('a query-protocol request got XML (HTTP 400, InvalidAction');
    expect(line).toContain('run with --sqs-protocol auto (the default) or json');
  });

  it('auto against an endpoint that speaks neither: what each request got, and what to check', async () => {
    const page = Buffer.from('<!DOCTYPE html>\n<html><body><h1>404 Not Found</h1></body></html>');
    const web = http.createServer((req, res) => {
      req.resume();
      res.writeHead(404, { 'content-type': 'text/html', 'content-length': String(page.length) });
      res.end(page);
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
    try {
      const result = await runCli(['run', '--drain'], stack.env(`${endpoint}/000000000000/login-queue`, { AWS_ENDPOINT_URL_SQS: endpoint }), 15_000);
      expect(result.code, result.stderr).toBe(3);
      expect(oneErrorLine(result)).toBe(
        `sqs2pg: the SQS endpoint ${endpoint} speaks neither SQS protocol: a JSON request got an HTML page (HTTP 404), ` +
          'a query-protocol request got an HTML page (HTTP 404); check that SQS_QUEUE_URL and AWS_ENDPOINT_URL_SQS point at SQS or LocalStack (its edge port is 4566)',
      );
    } finally {
      web.closeAllConnections();
      await new Promise((resolve) => web.close(resolve));
    }
  });
});

// The take-home page's own `SQS_QUEUE_URL=http://localhost:4566/… sqs2pg run --drain`: the queue URL
// names the endpoint, and the AWS SDK used to print plain-text advice about it on every start.
describe("nothing on stderr but sqs2pg's own lines", () => {
  it('a queue URL on a host that is not AWS, without AWS_ENDPOINT_URL_SQS', async () => {
    const queueUrl = await queueWith(generateSample({ count: 20, malformed: 0, seed: 41 }));
    expect(new URL(queueUrl).origin).toBe(server.endpoint);
    const env = stack.env(queueUrl, { SQS2PG_LOG_LEVEL: 'warn' });
    delete env.AWS_ENDPOINT_URL_SQS;
    const result = await runCli(['run', '--drain'], env, 30_000);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    expect((await countRows(stack.pool)).rows).toBe(20);
  });
});
