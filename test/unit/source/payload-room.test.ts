// The byte budget's rule for S3 payloads (ByteBudget.payloadRoom): a payload is read into a message
// already in hand, which gives nothing back until it is read, so payloads must never all wait for
// room that only their own reads would free.
import { describe, expect, it } from 'vitest';
import { ByteBudget } from '../../../src/source/sqs/byte-budget.js';

/** A wait for room, with whether (and when) it was granted, so a test can look without awaiting. */
function ask(budget: ByteBudget, waitingBytes: number, bytes: number, signal = new AbortController().signal) {
  const state: { turn: { end(): void } | undefined; settled: boolean } = { turn: undefined, settled: false };
  const done = budget.payloadRoom(waitingBytes, bytes, signal).then((turn) => {
    state.turn = turn;
    state.settled = true;
  });
  return Object.assign(state, { done });
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('ByteBudget.payloadRoom', () => {
  it('gives room at once while it fits, counting it as held', async () => {
    const budget = new ByteBudget(1000);
    budget.charge(100);
    const a = ask(budget, 100, 500);
    await a.done;
    expect([a.turn !== undefined, budget.held]).toEqual([true, 600]);
  });

  it('waits while other messages in hand will give bytes back, and goes on when they do', async () => {
    const budget = new ByteBudget(1000);
    budget.charge(700); // messages being committed
    budget.charge(100); // the one waiting for its payload
    const a = ask(budget, 100, 500);
    await settle();
    expect([a.settled, budget.held]).toEqual([false, 800]);
    budget.release(700);
    await a.done;
    expect([a.turn !== undefined, budget.held]).toEqual([true, 600]);
  });

  it('when every message in hand waits for its payload, reads one at a time past the limit', async () => {
    const budget = new ByteBudget(1000);
    budget.charge(300);
    budget.charge(300);
    budget.charge(300);
    const [a, b, c] = [ask(budget, 300, 500), ask(budget, 300, 500), ask(budget, 300, 500)];
    await settle();
    // Nothing else would give bytes back: one goes on, over the limit by one payload at most.
    expect([a.settled, b.settled, c.settled, budget.held]).toEqual([true, false, false, 1400]);
    // Its read ends: its message is no longer waiting, and the others wait for its commit.
    a.turn?.end();
    await settle();
    expect([b.settled, c.settled]).toEqual([false, false]);
    budget.release(800);
    await settle();
    expect([b.settled, c.settled, budget.held]).toEqual([true, false, 1100]);
  });

  it('counts what receives in flight have reserved as taken', async () => {
    const budget = new ByteBudget(1000);
    budget.charge(100);
    budget.charge(100);
    budget.reserve(600);
    const a = ask(budget, 100, 500);
    await settle();
    expect(a.settled).toBe(false);
    budget.unreserve(600);
    await a.done;
    expect(a.turn).toBeDefined();
  });

  it('ends a wait when the run stops, counting nothing, and lets the next one on', async () => {
    const budget = new ByteBudget(1000);
    budget.charge(800);
    budget.charge(100);
    const stop = new AbortController();
    const a = ask(budget, 100, 500, stop.signal);
    const b = ask(budget, 0, 100);
    await settle();
    expect([a.settled, b.settled]).toEqual([false, false]);
    stop.abort();
    await Promise.all([a.done, b.done]);
    // a counted nothing; b, queued behind it, is first now, and fits.
    expect([a.turn, b.turn !== undefined, budget.held]).toEqual([undefined, true, 1000]);
  });
});
