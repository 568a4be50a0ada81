// The lean SQS path beside the SDK's, on real SQS-protocol servers: the same answers for the same
// requests (fauxqs and local-aws-sqs over JSON), the same errors for the same faults (through the
// fault proxy), credentials that rotate mid-run, oversized answers refused, and a whole CLI drain
// with each client on each server.
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import { createSqsApi, type SqsClientSetting } from '../../src/source/sqs/create-sqs-api.js';
import { LeanSqsApi } from '../../src/source/sqs/lean-api.js';
import { SdkSqsApi } from '../../src/source/sqs/sdk-api.js';
import type { BatchEntry, ReceivedMessage, SqsApi } from '../../src/source/sqs/sqs-api.js';
import { startQuerySqsServer, type QuerySqsServer } from '../helpers/query-sqs-server.js';
import { startSqsProxy, type FaultRule, type SqsProxy } from '../helpers/sqs-proxy.js';
import { countRows, createTestStack, migrateWithCli, runCli, type TestStack } from '../helpers/stack.js';

const CLIENTS: readonly SqsClientSetting[] = ['lean', 'sdk'];
const NEVER = new AbortController().signal;
// Every API this file opens keeps one listener on a caller's signal for its life (lean-transport.ts),
// and this one signal is every call's: more than Node's default 10, as the pipeline's own long-lived
// signals are (pipeline.ts lifts the limit for those too).
setMaxListeners(0, NEVER);

let localAwsSqs: QuerySqsServer;
const stacks: Record<'fauxqs' | 'local-aws-sqs', TestStack> = {} as never;
const proxies: SqsProxy[] = [];
const apis: SqsApi[] = [];
beforeAll(async () => {
  localAwsSqs = await startQuerySqsServer();
  stacks.fauxqs = await createTestStack();
  stacks['local-aws-sqs'] = await createTestStack({ sqsEndpoint: localAwsSqs.endpoint });
});
afterAll(async () => {
  for (const api of apis) api.destroy();
  for (const proxy of proxies) await proxy.close();
  for (const stack of Object.values(stacks)) await stack?.close();
  await localAwsSqs?.stop();
});

function open(client: SqsClientSetting, endpoint: string, queueUrl: string): SqsApi {
  const api = createSqsApi({
    protocol: 'json',
    sqsClient: client,
    target: endpoint,
    client: { region: 'us-east-1', endpoint, queueUrl, receiveWaitSec: 1, maxSockets: 4, env: {} },
    emit: () => undefined,
  });
  apis.push(api);
  return api;
}

async function proxyTo(endpoint: string): Promise<SqsProxy> {
  const proxy = await startSqsProxy(endpoint);
  proxies.push(proxy);
  return proxy;
}

/** Receives until `count` distinct messages are in hand (a server may answer with fewer at a time). */
async function receiveAll(api: SqsApi, queueUrl: string, count: number, visibilityTimeoutSec = 30): Promise<ReceivedMessage[]> {
  const got = new Map<string, ReceivedMessage>();
  while (got.size < count) {
    for (const message of await api.receive({ queueUrl, maxMessages: 10, waitSec: 1, visibilityTimeoutSec }, NEVER)) got.set(message.messageId, message);
  }
  return [...got.values()].sort((a, b) => a.messageId.localeCompare(b.messageId));
}

const entriesOf = (messages: readonly ReceivedMessage[]): BatchEntry[] => messages.map((m, i) => ({ id: `e${i}`, receiptHandle: m.receiptHandle }));

/** What a call came to, in terms both clients must agree on. */
async function outcome<T>(call: Promise<T>): Promise<{ ok: T } | { error: string; message: string; syntax: boolean }> {
  try {
    return { ok: await call };
  } catch (error) {
    const { name, message } = error as Error;
    return { error: name, message, syntax: error instanceof SyntaxError };
  }
}

const BODIES = ['{"user_id":"u1"}', 'ünïcødé "quoted" \\ back\tslash\n', 'x'.repeat(20_000), '<tag attr="1">&amp;</tag>'];

describe.each(['fauxqs', 'local-aws-sqs'] as const)('lean and SDK answers on %s', (server) => {
  it('agree on received messages, Failed entries for bad receipt handles, and deletes', async () => {
    const stack = stacks[server];
    const queueUrl = await stack.newQueue();
    await stack.send(queueUrl, BODIES);
    const lean = open('lean', stack.sqsEndpoint, queueUrl);
    const sdk = open('sdk', stack.sqsEndpoint, queueUrl);

    const first = await receiveAll(lean, queueUrl, BODIES.length);
    expect(await lean.changeVisibilityBatch(queueUrl, entriesOf(first), 0, NEVER)).toEqual([]);
    const second = await receiveAll(sdk, queueUrl, BODIES.length);
    const seen = (messages: ReceivedMessage[]) => messages.map(({ messageId, body, sentTimestamp }) => ({ messageId, body, sentTimestamp }));
    expect(seen(first)).toEqual(seen(second));
    expect(first.map((m) => m.body).sort()).toEqual([...BODIES].sort());
    expect(first.every((m) => m.sentTimestamp !== undefined && m.receiptHandle.length > 0)).toBe(true);
    // Received twice now (local-aws-sqs counts its own way, but never down).
    second.forEach((m, i) => expect(Number(m.approximateReceiveCount)).toBeGreaterThan(Number(first[i]?.approximateReceiveCount)));

    const bogus: BatchEntry[] = [
      { id: 'a', receiptHandle: 'not-a-receipt-handle' },
      { id: 'b', receiptHandle: `${randomBytes(40).toString('base64')}` },
    ];
    for (const call of [
      (api: SqsApi) => api.deleteBatch(queueUrl, bogus, NEVER),
      (api: SqsApi) => api.changeVisibilityBatch(queueUrl, bogus, 10, NEVER),
    ]) {
      const [fromLean, fromSdk] = [await outcome(call(lean)), await outcome(call(sdk))];
      expect(fromLean).toEqual(fromSdk);
    }

    expect(await lean.deleteBatch(queueUrl, entriesOf(second), NEVER)).toEqual([]);
    expect(await sdk.receive({ queueUrl, maxMessages: 10, waitSec: 0, visibilityTimeoutSec: 30 }, NEVER)).toEqual([]);
  });

  it.each(CLIENTS)('sqs2pg run --drain --sqs-protocol json with --sqs-client %s loads every event', async (client) => {
    const stack = stacks[server];
    await migrateWithCli(stack.databaseUrl);
    await stack.pool.query('TRUNCATE user_logins, sqs2pg.quarantine');
    const queueUrl = await stack.newQueue();
    // local-aws-sqs does not escape < and & in XML, which only the query protocol uses: no matter here.
    const sample = generateSample({ count: 300, malformed: 5, seed: 41 });
    await stack.send(queueUrl, sample.bodies);
    const result = await runCli(['run', '--drain', '--sqs-protocol', 'json', '--sqs-client', client], stack.env(queueUrl));
    expect(result.stderr).not.toMatch(/"level":(50|60)/);
    expect(result.code).toBe(0);
    expect(await countRows(stack.pool)).toEqual({ rows: sample.valid, distinctIds: sample.valid, quarantined: sample.malformed });
  });
});

describe('faults: the lean path fails as the SDK path does', () => {
  const cases: { what: string; rule: FaultRule; entries?: boolean }[] = [
    { what: 'throttling (retried, then RequestThrottled)', rule: { operation: 'ReceiveMessage', action: 'throttle' } },
    { what: 'a server error (retried, then InternalError)', rule: { operation: 'ReceiveMessage', action: 'http500' } },
    { what: 'an HTML error page once the protocol is known (retried, then SyntaxError)', rule: { operation: 'ReceiveMessage', action: 'htmlPage' } },
    { what: 'a body whose MD5 does not match', rule: { operation: 'ReceiveMessage', action: 'badMd5' } },
    { what: 'a reset connection', rule: { operation: 'ReceiveMessage', action: 'reset' } },
    { what: 'every batch entry failed', rule: { operation: 'DeleteMessageBatch', action: 'failEntries' }, entries: true },
    { what: 'some batch entries failed', rule: { operation: 'ChangeMessageVisibilityBatch', action: 'failSomeEntries' }, entries: true },
  ];

  it.each(cases)('$what', async ({ rule, entries }) => {
    const stack = stacks.fauxqs;
    const queueUrl = await stack.newQueue();
    await stack.send(queueUrl, ['a', 'b', 'c']);
    const results = [];
    for (const client of CLIENTS) {
      const proxy = await proxyTo(stack.sqsEndpoint);
      const api = open(client, proxy.endpoint, queueUrl);
      // The protocol is chosen by a first call that works: later odd answers are plain failures.
      await api.queueAttributes(queueUrl, ['MaximumMessageSize'], NEVER);
      const held = entries ? await receiveAll(api, queueUrl, 3, 0) : [];
      proxy.setRules([rule]);
      const result = entries
        ? await outcome(rule.operation === 'DeleteMessageBatch' ? api.deleteBatch(queueUrl, entriesOf(held), NEVER) : api.changeVisibilityBatch(queueUrl, entriesOf(held), 0, NEVER))
        : await outcome(api.receive({ queueUrl, maxMessages: 10, waitSec: 0, visibilityTimeoutSec: 0 }, NEVER));
      results.push({ result: normalise(result), calls: proxy.counts()[rule.operation]?.seen });
    }
    expect(results[0]).toEqual(results[1]);
    if (rule.operation === 'ReceiveMessage') expect(results[0]?.result).toHaveProperty('error');
  });

  it('a server that keeps failing uses up the retry quota: both paths then send each call once', async () => {
    const stack = stacks.fauxqs;
    const queueUrl = await stack.newQueue();
    const seen = [];
    for (const client of CLIENTS) {
      const proxy = await proxyTo(stack.sqsEndpoint);
      const api = open(client, proxy.endpoint, queueUrl);
      await api.queueAttributes(queueUrl, ['MaximumMessageSize'], NEVER);
      proxy.setRules([{ operation: 'ReceiveMessage', action: 'http500' }]);
      for (let call = 0; call < 25; call++) await outcome(api.receive({ queueUrl, maxMessages: 10, waitSec: 0, visibilityTimeoutSec: 0 }, NEVER));
      seen.push(proxy.counts().ReceiveMessage?.seen);
    }
    // 500 tokens, 14 a retry: 17 calls get both retries, the 18th one, the last 7 none.
    expect(seen).toEqual([60, 60]);
  });

  it('an HTML page before any call has worked is the same protocol error', async () => {
    const stack = stacks.fauxqs;
    const queueUrl = await stack.newQueue();
    const results = [];
    for (const client of CLIENTS) {
      const proxy = await proxyTo(stack.sqsEndpoint);
      proxy.setRules([{ operation: '*', action: 'htmlPage' }]);
      const result = await outcome(open(client, proxy.endpoint, queueUrl).receive({ queueUrl, maxMessages: 10, waitSec: 0, visibilityTimeoutSec: 0 }, NEVER));
      results.push('error' in result ? { ...result, message: result.message.replace(proxy.endpoint, 'ENDPOINT') } : result);
    }
    expect(results[0]).toMatchObject({ error: 'SqsProtocolError', message: expect.stringContaining('an HTML page (HTTP 502') as unknown });
    expect(results[0]).toEqual(results[1]);
  });

  it('the lean path refuses an answer larger than ten of the queue\'s largest messages can make, and goes on', async () => {
    const stack = stacks.fauxqs;
    const { QueueUrl: queueUrl = '' } = await stack.sqs.send(
      new CreateQueueCommand({ QueueName: `small-${randomBytes(6).toString('hex')}`, Attributes: { MaximumMessageSize: '1024' } }),
    );
    await stack.send(queueUrl, ['fits']);
    const proxy = await proxyTo(stack.sqsEndpoint);
    const api = open('lean', proxy.endpoint, queueUrl);
    expect(await api.queueAttributes(queueUrl, ['MaximumMessageSize'], NEVER)).toEqual({ MaximumMessageSize: '1024' });
    proxy.setRules([{ operation: 'ReceiveMessage', action: 'oversized', bytes: 64 * 1024 * 1024 }]);
    const refused = await outcome(api.receive({ queueUrl, maxMessages: 10, waitSec: 0, visibilityTimeoutSec: 0 }, NEVER));
    expect(refused).toMatchObject({ error: 'AnswerTooLargeError' });
    proxy.setRules([]);
    expect((await receiveAll(api, queueUrl, 1)).map((m) => m.body)).toEqual(['fits']);
  });
});

describe('a call past its deadline', () => {
  it('is reported by the lean path as a timeout, not as a stop', async () => {
    const stack = stacks.fauxqs;
    const queueUrl = await stack.newQueue();
    await stack.send(queueUrl, ['a']);
    const proxy = await proxyTo(stack.sqsEndpoint);
    const api = open('lean', proxy.endpoint, queueUrl);
    const held = await receiveAll(api, queueUrl, 1, 0);
    // Held far longer than the deadline: the answer never comes first.
    proxy.setRules([{ operation: 'DeleteMessageBatch', action: 'delay', delayMs: 600_000 }]);
    const result = await outcome(api.deleteBatch(queueUrl, entriesOf(held), AbortSignal.timeout(100)));
    expect(result).toMatchObject({ error: 'TimeoutError', message: expect.stringContaining('time limit') as unknown });
  });
});

describe('credentials that expire mid-run', () => {
  it('are fetched again from the provider chain, and calls keep succeeding', async () => {
    const stack = stacks.fauxqs;
    const queueUrl = await stack.newQueue();
    await stack.send(queueUrl, ['1', '2', '3', '4', '5']);
    const proxy = await proxyTo(stack.sqsEndpoint);
    let issued = 0;
    // Credentials that expire within the SDK's refresh window are fetched anew for each call.
    const client = new SQSClient({
      region: 'us-east-1',
      endpoint: proxy.endpoint,
      credentials: () => Promise.resolve({ accessKeyId: `AKIDROTATED${++issued}`, secretAccessKey: 'secret', expiration: new Date(Date.now() + 60_000) }),
    });
    const api = new LeanSqsApi({ client, sdk: new SdkSqsApi(client, 'json'), endpoint: proxy.endpoint, maxSockets: 2, receiveWaitSec: 1, checkingAnswers: () => false });
    apis.push(api);
    let deleted = 0;
    while (deleted < 5) {
      const messages = await api.receive({ queueUrl, maxMessages: 2, waitSec: 1, visibilityTimeoutSec: 30 }, NEVER);
      expect(await api.deleteBatch(queueUrl, entriesOf(messages), NEVER)).toEqual([]);
      deleted += messages.length;
    }
    const keys = proxy.accessKeyIds();
    expect(keys.length).toBeGreaterThanOrEqual(6);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.every((key) => key.startsWith('AKIDROTATED'))).toBe(true);
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });
  });
});

/** Error texts differ in what they quote (a parser's excerpt, a socket's words); the name and kind may not. */
function normalise(result: Awaited<ReturnType<typeof outcome>>): object {
  if ('ok' in result) return result;
  return { error: result.error, syntax: result.syntax, md5: result.message.startsWith('Invalid MD5') };
}
