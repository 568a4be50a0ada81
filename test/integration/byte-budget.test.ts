// The lean client's byte budget against a real SQS-protocol server (fauxqs, over sockets): what it
// counts for hostile answers beside what V8 really holds, an answer paused mid-read and resumed
// without losing a byte, and receives that all complete when the budget is full and every one of
// them is mid-answer.
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ByteBudget, type BudgetReader } from '../../src/source/sqs/byte-budget.js';
import { createSqsApi } from '../../src/source/sqs/create-sqs-api.js';
import { SqsSource } from '../../src/source/sqs/source.js';
import type { SqsApi } from '../../src/source/sqs/sqs-api.js';
import { createTestStack, type TestStack } from '../helpers/stack.js';

// The source's own message type (its module moves with the vocabulary; this name does not).
type InboundMessage = Awaited<ReturnType<SqsSource['receive']>>[number];

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let stack: TestStack;
const apis: SqsApi[] = [];
beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(async () => {
  for (const api of apis) api.destroy();
  await stack.close();
});

async function openSource(queueUrl: string, maxHeldBytes: number): Promise<{ api: SqsApi; source: SqsSource }> {
  const api = createSqsApi({
    protocol: 'json',
    target: stack.sqsEndpoint,
    client: { region: 'us-east-1', endpoint: stack.sqsEndpoint, queueUrl, receiveWaitSec: 1, maxSockets: 16, env: {} },
    emit: () => undefined,
  });
  apis.push(api);
  const source = new SqsSource(api, { queueUrl, visibilityTimeoutSec: 60, emit: () => undefined, maxHeldBytes });
  // As the worker does before its first receive: the protocol is chosen, the queue's size known.
  await source.depth();
  await source.maxMessageBytes();
  return { api, source };
}

/** Bodies SQS takes (≤ 1 MiB of UTF-8) that cost the most to carry or to hold, with a tag to tell them apart. */
function hostileBodies(count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const tag = `${i}:${randomBytes(4).toString('hex')}:`;
    switch (i % 3) {
      case 0: // escaped in JSON: the answer carries two bytes for each of its characters
        return tag + '"\\'.repeat(480_000);
      case 1: // beyond Latin-1: three UTF-8 bytes a character, two bytes a character in V8
        return tag + '€'.repeat(340_000);
      default: // plain ASCII of SQS's largest size
        return tag + 'x'.repeat(1_040_000);
    }
  });
}

async function receiveUntil(source: SqsSource, count: number, signal = new AbortController().signal): Promise<InboundMessage[]> {
  const got: InboundMessage[] = [];
  while (got.length < count) got.push(...(await source.receive(10, 1, signal)));
  return got;
}

describe('the byte budget, on a real SQS-protocol server', () => {
  it("counts hostile messages held at no less than what V8's heap holds for them", async () => {
    const queueUrl = await stack.newQueue();
    const bodies = hostileBodies(12);
    await stack.send(queueUrl, bodies);
    // What the first receive of a process allocates once (code, parsers, sockets) is not the messages'.
    const warmQueue = await stack.newQueue();
    await stack.send(warmQueue, ['warm-up']);
    const warm = (await openSource(warmQueue, 1024 * 1024)).source;
    await warm.delete(await receiveUntil(warm, 1));
    const { source } = await openSource(queueUrl, 1024 * 1024 * 1024);

    gc();
    const before = process.memoryUsage().heapUsed;
    const held = await receiveUntil(source, bodies.length);
    gc();
    const heldByV8 = process.memoryUsage().heapUsed - before;

    expect(new Set(held.map((message) => message.body))).toEqual(new Set(bodies));
    const counted = source.inFlightBytes;
    // The answers' bytes were given back once parsed: what is counted is what the messages hold.
    expect(counted).toBeGreaterThan(9_000_000);
    expect(heldByV8).toBeLessThanOrEqual(counted);
    // ... and the count is not a worst case far above it (Node 20: ~0.9 of it; Node 24 keeps part of the
    // bodies decoded from an answer's bytes outside this heap figure: ~0.6).
    expect(heldByV8).toBeGreaterThan(0.5 * counted);
    await source.release(held);
    expect(source.inFlightBytes).toBe(0);
  });

  it('pauses an answer while the budget is full and another answer goes on, then resumes it without losing a byte', async () => {
    const queueUrl = await stack.newQueue();
    const bodies = hostileBodies(3);
    await stack.send(queueUrl, bodies);
    const { api } = await openSource(queueUrl, 1);
    const budget = new ByteBudget(1024);
    // Another answer, larger than the budget, holds the right to go on.
    const other: BudgetReader = { resume: () => undefined };
    expect(budget.take(other, 4096)).toBe(true);

    const receiving = api.receive({ queueUrl, maxMessages: 10, waitSec: 1, visibilityTimeoutSec: 60 }, new AbortController().signal, budget);
    let answered = false;
    void receiving.then(() => (answered = true), () => (answered = true));
    await waitFor(() => budget.pausedReaders === 1);
    // Paused after its first chunks: nothing more is read, the answer stays unfinished.
    const countedWhilePaused = budget.held;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect([budget.held, answered, budget.pausedReaders]).toEqual([countedWhilePaused, false, 1]);
    expect(countedWhilePaused - 4096).toBeLessThan(bodies.join('').length);

    budget.finished(other);
    const received = await receiving;
    // Every body whole (the client checks each one's MD5 too), and the answer's bytes given back.
    expect(received.length).toBeGreaterThan(0);
    for (const message of received) expect(bodies).toContain(message.body);
    expect(budget.held).toBe(4096);
  });

  it('completes every receive when the budget is full and every one of them is mid-answer', async () => {
    const queueUrl = await stack.newQueue();
    const bodies = hostileBodies(24);
    await stack.send(queueUrl, bodies);
    const receivers = 6;
    const { source } = await openSource(queueUrl, 1024);
    // Full, with another answer going on: each receive is paused at its first chunk.
    const other: BudgetReader = { resume: () => undefined };
    source.budget.take(other, 4096);

    const signal = new AbortController().signal;
    const receives = Array.from({ length: receivers }, () => source.receive(10, 1, signal));
    await waitFor(() => source.budget.pausedReaders === receivers);
    // The other answer ends: the paused ones go on one at a time, the budget full all along; each
    // waits while messages are in hand, and goes on as they are deleted (a commit, in the pipeline).
    source.budget.finished(other);
    const all: InboundMessage[] = [];
    const deleteAll = async (messages: InboundMessage[]) => {
      all.push(...messages);
      await source.delete(messages);
    };
    await Promise.all(receives.map((receiving) => receiving.then(deleteAll)));
    while (all.length < bodies.length) await deleteAll(await source.receive(10, 1, signal));
    expect(all.map((message) => message.body).sort()).toEqual([...bodies].sort());
    expect(source.inFlightBytes).toBe(4096);
  });
});

/** Polls a state (not a deadline): a hang is caught by the test's own timeout. */
async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}
