import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from 'fauxqs';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  RequestThrottled,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  type SQSClientConfig,
} from '@aws-sdk/client-sqs';
import { startSqsProxy, type SqsProxy } from '../helpers/sqs-proxy.js';
import { waitFor } from '../helpers/stack.js';

type FauxqsApp = ReturnType<typeof buildApp>;

let app: FauxqsApp;
let proxy: SqsProxy;
let sqs: SQSClient;
const extraClients: SQSClient[] = [];

function client(overrides: Partial<SQSClientConfig> = {}): SQSClient {
  return new SQSClient({
    endpoint: proxy.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    ...overrides,
  });
}

async function createQueue(): Promise<string> {
  const out = await sqs.send(new CreateQueueCommand({ QueueName: `proxy-${randomUUID()}` }));
  if (out.QueueUrl === undefined) throw new Error('CreateQueue returned no QueueUrl');
  return out.QueueUrl;
}

async function notVisible(queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    visible: Number(out.Attributes?.ApproximateNumberOfMessages),
    inFlight: Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible),
  };
}

beforeAll(async () => {
  app = buildApp({ logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  proxy = await startSqsProxy(`http://127.0.0.1:${port}`);
  sqs = client();
});

afterEach(() => {
  proxy.setRules([]);
});

afterAll(async () => {
  sqs.destroy();
  for (const c of extraClients) c.destroy();
  await proxy.close();
  await app.close();
});

describe('sqs-proxy', () => {
  it('passes calls through unchanged and counts them', async () => {
    const before = proxy.counts();
    const queueUrl = await createQueue();
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: '{"user":"ada"}' }));
    const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }));
    const message = received.Messages?.[0];
    expect(received.Messages).toHaveLength(1);
    expect(message?.Body).toBe('{"user":"ada"}');
    await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message?.ReceiptHandle }));
    expect(await notVisible(queueUrl)).toEqual({ visible: 0, inFlight: 0 });

    const after = proxy.counts();
    for (const op of ['CreateQueue', 'SendMessage', 'ReceiveMessage', 'DeleteMessage']) {
      expect((after[op]?.seen ?? 0) - (before[op]?.seen ?? 0)).toBe(1);
      expect(after[op]?.faulted ?? 0).toBe(before[op]?.faulted ?? 0);
    }
  });

  it("'failEntries' reports every DeleteMessageBatch entry as failed and leaves the messages in flight", async () => {
    const queueUrl = await createQueue();
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: ['a', 'b', 'c'].map((Id) => ({ Id, MessageBody: `body-${Id}` })),
      }),
    );
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30 }),
    );
    const messages = received.Messages ?? [];
    expect(messages).toHaveLength(3);
    const entries = messages.map((m, i) => ({ Id: `e${i}`, ReceiptHandle: m.ReceiptHandle }));

    proxy.setRules([{ operation: 'DeleteMessageBatch', action: 'failEntries' }]);
    const faulted = await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    expect(faulted.Successful ?? []).toEqual([]);
    expect(faulted.Failed).toEqual(
      entries.map(({ Id }) => ({ Id, SenderFault: false, Code: 'InternalError', Message: 'injected' })),
    );
    expect(await notVisible(queueUrl)).toEqual({ visible: 0, inFlight: 3 });
    expect(proxy.counts().DeleteMessageBatch?.faulted).toBe(1);

    // Without the rule the same receipt handles still work: the server never saw the faulted call.
    proxy.setRules([]);
    const real = await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    expect(real.Failed ?? []).toEqual([]);
    expect(real.Successful).toHaveLength(3);
    expect(await notVisible(queueUrl)).toEqual({ visible: 0, inFlight: 0 });
  });

  it("'http500' makes the SDK throw InternalError without reaching the server", async () => {
    const queueUrl = await createQueue();
    proxy.setRules([{ operation: 'SendMessage', action: 'http500' }]);
    const before = proxy.counts().SendMessage ?? { seen: 0, faulted: 0 };

    const error: unknown = await sqs
      .send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'lost' }))
      .then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'InternalError', $fault: 'server', $metadata: { httpStatusCode: 500, attempts: 1 } });
    expect(proxy.counts().SendMessage).toEqual({ seen: before.seen + 1, faulted: before.faulted + 1 });
    expect(await notVisible(queueUrl)).toEqual({ visible: 0, inFlight: 0 });
  });

  it("the SDK's default retry policy retries 'http500' (3 attempts in total)", async () => {
    const retrying = client({ maxAttempts: undefined });
    extraClients.push(retrying);
    const queueUrl = await createQueue();
    proxy.setRules([{ operation: 'GetQueueAttributes', action: 'http500' }]);
    const before = proxy.counts().GetQueueAttributes ?? { seen: 0, faulted: 0 };

    const error: unknown = await retrying
      .send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['All'] }))
      .then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ name: 'InternalError', $metadata: { attempts: 3 } });
    expect(proxy.counts().GetQueueAttributes).toEqual({ seen: before.seen + 3, faulted: before.faulted + 3 });
  });

  it("'reset' makes the SDK throw a network error", async () => {
    const queueUrl = await createQueue();
    proxy.setRules([{ operation: 'ReceiveMessage', action: 'reset' }]);

    const error: unknown = await sqs
      .send(new ReceiveMessageCommand({ QueueUrl: queueUrl }))
      .then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: 'ECONNRESET' });
    expect(proxy.counts().ReceiveMessage?.faulted).toBeGreaterThanOrEqual(1);

    // The client's keep-alive pool must recover once the fault is lifted.
    proxy.setRules([]);
    await expect(sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl }))).resolves.toBeDefined();
  });

  it("'delay' holds the call and then forwards it", async () => {
    const queueUrl = await createQueue();
    proxy.setRules([{ operation: 'SendMessage', action: 'delay', delayMs: 300 }]);
    const started = Date.now();
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'late' }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(await notVisible(queueUrl)).toEqual({ visible: 1, inFlight: 0 });
  });

  it('probability 0 never faults, and only the named operation is affected', async () => {
    const queueUrl = await createQueue();
    proxy.setRules([
      { operation: 'SendMessage', action: 'http500', probability: 0 },
      { operation: 'DeleteQueue', action: 'reset' },
    ]);
    const before = proxy.counts().SendMessage ?? { seen: 0, faulted: 0 };
    for (let i = 0; i < 5; i += 1) {
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: `m${i}` }));
    }
    expect(proxy.counts().SendMessage).toEqual({ seen: before.seen + 5, faulted: before.faulted });
    expect(await notVisible(queueUrl)).toEqual({ visible: 5, inFlight: 0 });
  });

  it("'throttle' answers RequestThrottled, which the SDK classifies as throttling and retries", async () => {
    const queueUrl = await createQueue();
    proxy.setRules([{ operation: 'SendMessage', action: 'throttle' }]);
    const error: unknown = await sqs
      .send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'throttled' }))
      .then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(RequestThrottled);
    expect(error).toMatchObject({ name: 'RequestThrottled', $fault: 'client', $metadata: { httpStatusCode: 400, attempts: 1 } });
    expect(await notVisible(queueUrl)).toEqual({ visible: 0, inFlight: 0 });

    // A 400 is retried only because of its name: the SDK's throttling class (RequestThrottled is
    // one of its THROTTLING_ERROR_CODES). A real 400 from the server is not retried at all.
    const retrying = client({ maxAttempts: undefined });
    extraClients.push(retrying);
    const before = proxy.counts().SendMessage ?? { seen: 0, faulted: 0 };
    const throttled: unknown = await retrying
      .send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'throttled' }))
      .then(() => undefined, (e: unknown) => e);
    expect(throttled).toMatchObject({ name: 'RequestThrottled', $metadata: { attempts: 3 } });
    expect(proxy.counts().SendMessage).toEqual({ seen: before.seen + 3, faulted: before.faulted + 3 });

    proxy.setRules([]);
    const refused: unknown = await retrying
      .send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'nul \u0000 is not allowed' }))
      .then(() => undefined, (e: unknown) => e);
    expect(refused).toMatchObject({ $metadata: { httpStatusCode: 400, attempts: 1 } });
    expect(await notVisible(queueUrl)).toEqual({ visible: 0, inFlight: 0 });
  });

  it("'failSomeEntries' forwards half of a batch and reports the other half as failed", async () => {
    const queueUrl = await createQueue();
    // SendMessageBatch: only the entries at even positions reach the server, although the body
    // the client signed held all five (fauxqs does not check SigV4 signatures).
    proxy.setRules([{ operation: 'SendMessageBatch', action: 'failSomeEntries' }]);
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: ['a', 'b', 'c', 'd', 'e'].map((Id) => ({ Id, MessageBody: `body-${Id}` })),
      }),
    );
    expect((sent.Successful ?? []).map((entry) => entry.Id)).toEqual(['a', 'c', 'e']);
    expect(sent.Failed).toEqual(['b', 'd'].map((Id) => ({ Id, SenderFault: false, Code: 'InternalError', Message: 'injected' })));
    expect(await notVisible(queueUrl)).toEqual({ visible: 3, inFlight: 0 });

    proxy.setRules([]);
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30 }),
    );
    expect((received.Messages ?? []).map((m) => m.Body).sort()).toEqual(['body-a', 'body-c', 'body-e']);
    const entries = (received.Messages ?? []).map((m, i) => ({ Id: `e${i}`, ReceiptHandle: m.ReceiptHandle }));

    proxy.setRules([{ operation: 'DeleteMessageBatch', action: 'failSomeEntries' }]);
    const before = proxy.counts().DeleteMessageBatch ?? { seen: 0, faulted: 0 };
    const deleted = await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    expect((deleted.Successful ?? []).map((entry) => entry.Id)).toEqual(['e0', 'e2']);
    expect(deleted.Failed).toEqual([{ Id: 'e1', SenderFault: false, Code: 'InternalError', Message: 'injected' }]);
    expect(await notVisible(queueUrl)).toEqual({ visible: 0, inFlight: 1 });

    // A batch of one cannot be split: the rule is skipped and the call goes through.
    const last = entries[1];
    const single = await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: last ? [last] : [] }));
    expect(single.Failed ?? []).toEqual([]);
    expect(proxy.counts().DeleteMessageBatch).toEqual({ seen: before.seen + 2, faulted: before.faulted + 1 });
    expect(await notVisible(queueUrl)).toEqual({ visible: 0, inFlight: 0 });
  });

  it("'slowAnswer' lets the server act at once and holds its answer", async () => {
    const queueUrl = await createQueue();
    // Held long enough that a busy machine still looks at the queue before the answer comes.
    proxy.setRules([{ operation: 'SendMessage', action: 'slowAnswer', delayMs: 2_000 }]);
    const started = Date.now();
    let settled = false;
    const answered = sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'early' }));
    void answered.finally(() => (settled = true)).catch(() => undefined);
    // The message is in the queue while the client still waits for the answer.
    await waitFor(async () => (await notVisible(queueUrl)).visible === 1, 20_000, 'the held message in the queue');
    expect(settled).toBe(false);
    await expect(answered).resolves.toMatchObject({ MessageId: expect.any(String) as string });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_990);

    // A client that gives up first believes the call failed, yet the server has acted on it (once
    // the request has reached it: on a busy machine the client may give up before it has).
    const impatient = client({ requestHandler: { requestTimeout: 100, throwOnRequestTimeout: true } });
    extraClients.push(impatient);
    const sent = proxy.counts().SendMessage?.seen ?? 0;
    await expect(impatient.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'sent anyway' }))).rejects.toThrow();
    await waitFor(() => (proxy.counts().SendMessage?.seen ?? 0) > sent, 20_000, 'the proxy to see the impatient send');
    await waitFor(async () => (await notVisible(queueUrl)).visible === 2, 20_000, 'the impatient send in the queue');
    expect(await notVisible(queueUrl)).toEqual({ visible: 2, inFlight: 0 });
  });

  it("'dropAnswer' lets the server act and resets the client; 'times' bounds a rule; requests are recorded", async () => {
    const { port } = app.server.address() as AddressInfo;
    const own = await startSqsProxy(`http://127.0.0.1:${port}`, { recordRequests: true });
    const ownClient = client({ endpoint: own.endpoint });
    try {
      const queueUrl = await createQueue();
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'hidden by a lost answer' }));
      own.setRules([{ operation: 'ReceiveMessage', action: 'dropAnswer', times: 1 }]);
      const lost: unknown = await ownClient
        .send(new ReceiveMessageCommand({ QueueUrl: queueUrl, VisibilityTimeout: 30, ReceiveRequestAttemptId: 'attempt-1' }))
        .then(() => undefined, (e: unknown) => e);
      expect(lost).toMatchObject({ code: 'ECONNRESET' });
      // The server received it: the message is in flight, though the client never saw it.
      expect(await notVisible(queueUrl)).toEqual({ visible: 0, inFlight: 1 });
      // Its one call used, the rule is skipped.
      const next = await ownClient.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0 }));
      expect(next.Messages).toBeUndefined();
      expect(own.requests('ReceiveMessage').map(({ fault, body }) => ({ fault, attempt: (JSON.parse(body) as { ReceiveRequestAttemptId?: string }).ReceiveRequestAttemptId }))).toEqual([
        { fault: 'dropAnswer', attempt: 'attempt-1' },
        { fault: undefined, attempt: undefined },
      ]);
      expect(own.requests('SendMessage')).toEqual([]);
    } finally {
      ownClient.destroy();
      await own.close();
    }
  });

  it('rolls every matching rule in order and applies the first that hits', async () => {
    const { port } = app.server.address() as AddressInfo;
    const own = await startSqsProxy(`http://127.0.0.1:${port}`, { seed: 7 });
    const ownClient = client({ endpoint: own.endpoint });
    try {
      const queueUrl = await createQueue();
      // Rules that always hit: the first one wins, the second is never reached.
      own.setRules([
        { operation: 'GetQueueAttributes', action: 'http500' },
        { operation: 'GetQueueAttributes', action: 'throttle' },
      ]);
      const first: unknown = await ownClient
        .send(new GetQueueAttributesCommand({ QueueUrl: queueUrl }))
        .then(() => undefined, (e: unknown) => e);
      expect(first).toMatchObject({ name: 'InternalError' });

      // Two rules on '*' at 30 % each: both kinds occur, and about 1 - 0.7 * 0.7 = 51 % of calls fault.
      own.setRules([
        { operation: '*', action: 'http500', probability: 0.3 },
        { operation: '*', action: 'throttle', probability: 0.3 },
      ]);
      const names = new Map<string, number>();
      const calls = 400;
      for (let i = 0; i < calls; i += 1) {
        const name = await ownClient.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl })).then(
          () => 'ok',
          (e: unknown) => (e instanceof Error ? e.name : 'unknown'),
        );
        names.set(name, (names.get(name) ?? 0) + 1);
      }
      expect([...names.keys()].sort()).toEqual(['InternalError', 'RequestThrottled', 'ok']);
      const internal = names.get('InternalError') ?? 0;
      const throttled = names.get('RequestThrottled') ?? 0;
      expect(internal / calls).toBeGreaterThan(0.22);
      expect(internal / calls).toBeLessThan(0.38);
      // The second rule is rolled only for calls the first let through: 0.7 * 0.3 = 21 %.
      expect(throttled / calls).toBeGreaterThan(0.14);
      expect(throttled / calls).toBeLessThan(0.28);
      expect(own.counts().GetQueueAttributes).toEqual({ seen: calls + 1, faulted: internal + throttled + 1 });
      expect(own.faultsByAction()).toEqual({ http500: internal + 1, throttle: throttled });
    } finally {
      ownClient.destroy();
      await own.close();
    }
  });

  it('close() resolves promptly while a keep-alive client is still connected', async () => {
    const { port } = app.server.address() as AddressInfo;
    const own = await startSqsProxy(`http://127.0.0.1:${port}`);
    const ownClient = client({ endpoint: own.endpoint });
    await ownClient.send(new CreateQueueCommand({ QueueName: `proxy-${randomUUID()}` }));
    const started = Date.now();
    await own.close();
    // A close() that waited for the idle client would take Node's 5 s keep-alive timeout.
    expect(Date.now() - started).toBeLessThan(4_000);
    await expect(ownClient.send(new CreateQueueCommand({ QueueName: `proxy-${randomUUID()}` }))).rejects.toThrow();
    ownClient.destroy();
  });
});
