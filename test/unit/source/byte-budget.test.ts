import { describe, expect, it } from 'vitest';
import { ByteBudget, heldBytesOf, MESSAGE_OVERHEAD_BYTES, type BudgetReader } from '../../../src/source/sqs/byte-budget.js';

/** A reader that records whether it is paused, as the transport's is (paused when take says false). */
function reader(): BudgetReader & { paused: boolean; resumes: number } {
  const self = {
    paused: false,
    resumes: 0,
    resume() {
      self.paused = false;
      self.resumes++;
    },
  };
  return self;
}

function read(budget: ByteBudget, who: ReturnType<typeof reader>, bytes: number): void {
  if (!budget.take(who, bytes)) who.paused = true;
}

describe('ByteBudget', () => {
  it('lets every answer read while there is room, and counts what they hold', () => {
    const budget = new ByteBudget(100);
    const [a, b] = [reader(), reader()];
    read(budget, a, 40);
    read(budget, b, 60);
    expect([a.paused, b.paused, budget.held, budget.full]).toEqual([false, false, 100, true]);
  });

  it('once full, lets one answer go on and pauses the others until it has ended', () => {
    const budget = new ByteBudget(100);
    const [a, b, c] = [reader(), reader(), reader()];
    read(budget, a, 90);
    read(budget, b, 20); // over the limit: b becomes the one that goes on
    read(budget, a, 10);
    read(budget, c, 10);
    expect([a.paused, b.paused, c.paused]).toEqual([true, false, true]);
    read(budget, b, 500); // the one going on may pass the limit by a whole answer
    expect(b.paused).toBe(false);
    expect(budget.pausedReaders).toBe(2);
    budget.finished(b); // its answer is read: the oldest paused one goes on, alone
    expect([a.paused, c.paused]).toEqual([false, true]);
    read(budget, a, 10);
    expect(a.paused).toBe(false);
    budget.finished(a);
    expect(c.paused).toBe(false);
    expect(budget.pausedReaders).toBe(0);
  });

  it('resumes every paused answer once bytes given back leave room, and tells its listeners', () => {
    const budget = new ByteBudget(100);
    const [a, b, c] = [reader(), reader(), reader()];
    let told = 0;
    budget.onRoom(() => told++);
    read(budget, a, 150);
    read(budget, b, 10);
    read(budget, c, 10);
    expect([b.paused, c.paused]).toEqual([true, true]);
    budget.returnAnswer(60);
    expect([b.paused, c.paused, told]).toEqual([true, true, 0]);
    budget.returnAnswer(60);
    expect([b.paused, c.paused, told, budget.held]).toEqual([false, false, 1, 50]);
  });

  it('with messages in hand, pauses every answer at a full budget until their bytes come back', () => {
    const budget = new ByteBudget(100);
    const [a, b] = [reader(), reader()];
    budget.charge(90); // messages in hand: their commit will give these back
    read(budget, a, 20);
    read(budget, b, 20);
    expect([a.paused, b.paused]).toEqual([true, true]);
    budget.finished(reader()); // an answer ending elsewhere hands nothing on while messages are in hand
    expect([a.paused, b.paused]).toEqual([true, true]);
    budget.release(90);
    expect([a.paused, b.paused, budget.held]).toEqual([false, false, 40]);
  });

  it('hands on to one paused answer when the messages in hand are all gone and answers still fill it', () => {
    const budget = new ByteBudget(100);
    const [a, b] = [reader(), reader()];
    budget.charge(50);
    read(budget, a, 60);
    read(budget, b, 60);
    expect([a.paused, b.paused]).toEqual([true, true]);
    budget.release(50); // 120 held, all of it answers half read: nothing else would empty it
    expect([a.paused, b.paused]).toEqual([false, true]);
    read(budget, a, 500);
    expect(a.paused).toBe(false);
  });

  it('forgets a paused answer that ends (aborted) and hands on when the one going on fails', () => {
    const budget = new ByteBudget(10);
    const [a, b, c] = [reader(), reader(), reader()];
    read(budget, a, 20);
    read(budget, b, 1);
    read(budget, c, 1);
    budget.finished(b);
    expect(budget.pausedReaders).toBe(1);
    budget.finished(a);
    expect([c.paused, c.resumes]).toEqual([false, 1]);
    expect(b.resumes).toBe(0);
  });

  it("keeps receives' reservations apart from what is held, and tells its listeners when one ends (another pipeline may be waiting)", () => {
    const budget = new ByteBudget(100);
    let told = 0;
    budget.onRoom(() => told++);
    budget.reserve(30);
    budget.reserve(20);
    expect([budget.reserved, budget.held, told]).toEqual([50, 0, 0]);
    budget.unreserve(30);
    expect([budget.reserved, told]).toEqual([20, 1]);
    // A client that counts answers reserves nothing: ending nothing tells nobody.
    budget.unreserve(0);
    expect(told).toBe(1);
  });

  it('reads large answers one at a time, room or not, each in the order it became large', () => {
    const budget = new ByteBudget(1000, 100);
    const [a, b, c, small] = [reader(), reader(), reader(), reader()];
    read(budget, a, 150); // large first: it goes on
    read(budget, b, 90);
    read(budget, b, 90); // past 100: waits for a's turn to end
    read(budget, c, 120); // so does c, after b
    read(budget, small, 90); // a small answer is not held back
    expect([a.paused, b.paused, c.paused, small.paused, budget.pausedReaders]).toEqual([false, true, true, false, 2]);
    budget.finished(a);
    expect([b.paused, c.paused]).toEqual([false, true]);
    read(budget, b, 300);
    expect(b.paused).toBe(false);
    budget.finished(b);
    expect([c.paused, budget.pausedReaders]).toEqual([false, 0]);
  });

  it('hands the way past a full budget to the large answer first: any other may soon wait for it', () => {
    const budget = new ByteBudget(100, 50);
    const [other, large] = [reader(), reader()];
    budget.charge(60); // messages in hand
    read(budget, other, 50); // full: paused, waiting for the messages' commit
    read(budget, large, 60); // large, and paused too
    budget.release(60); // still full of answers, nothing in hand: one goes on, the large one
    expect([other.paused, large.paused]).toEqual([true, false]);
    budget.finished(large); // read whole: the other goes on, large in its turn
    expect(other.paused).toBe(false);
    read(budget, other, 60);
    expect(other.paused).toBe(false);
  });

  it('the one going on past a full budget gives the way to the large answer when it must wait for it', () => {
    const budget = new ByteBudget(100, 50);
    const [small, passer, large] = [reader(), reader(), reader()];
    read(budget, small, 30);
    read(budget, large, 45);
    read(budget, passer, 30); // full, nothing in hand: it goes on
    read(budget, large, 10); // large now, but not the one going on: paused
    expect([passer.paused, large.paused]).toEqual([false, true]);
    read(budget, passer, 30); // large too, while another is: waits, and gives the way on
    expect([passer.paused, large.paused]).toEqual([true, false]);
    read(budget, large, 500);
    expect(large.paused).toBe(false);
    budget.finished(large);
    expect(passer.paused).toBe(false);
    read(budget, passer, 500);
    expect([passer.paused, budget.pausedReaders]).toEqual([false, 0]);
  });

  it('tells its listeners when what it holds, answers and messages alike, passes a quarter of its limit and falls back, once each way', () => {
    const budget = new ByteBudget(100);
    const told: boolean[] = [];
    budget.onHeavy((heavy) => told.push(heavy));
    const a = reader();
    read(budget, a, 20);
    budget.charge(5);
    expect(told).toEqual([]);
    read(budget, a, 10); // 35 held
    budget.charge(10);
    expect(told).toEqual([true]);
    budget.returnAnswer(30); // 15 held
    expect(told).toEqual([true, false]);
    budget.charge(20);
    budget.release(25); // 10 held
    expect(told).toEqual([true, false, true, false]);
    // reservations are promises, not held bytes
    budget.reserve(90);
    expect(told).toEqual([true, false, true, false]);
  });

  it('counts a held message by the bytes V8 keeps its body in, plus its fixed cost', () => {
    expect(heldBytesOf('a'.repeat(1000))).toBe(1016 + MESSAGE_OVERHEAD_BYTES);
    // é is Latin-1: one byte a character in V8, two in UTF-8
    expect(heldBytesOf('é'.repeat(1000))).toBe(1016 + MESSAGE_OVERHEAD_BYTES);
    // one character beyond Latin-1 makes the whole string two bytes a character
    expect(heldBytesOf(`${'a'.repeat(999)}€`)).toBe(2032 + MESSAGE_OVERHEAD_BYTES);
  });
});
