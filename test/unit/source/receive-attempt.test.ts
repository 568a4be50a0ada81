// FIFO attempt ids: the same for a receive sent again after a failure, while AWS honours it; a new
// one for every receive after an answer; none at all on a standard queue.
import { describe, expect, it } from 'vitest';
import { ATTEMPT_ID_REUSE_MS, isFifoQueueUrl, ReceiveAttempts } from '../../../src/source/sqs/receive-attempt.js';

describe('isFifoQueueUrl', () => {
  it.each([
    ['https://sqs.eu-west-1.amazonaws.com/123456789012/logins.fifo', true],
    ['http://127.0.0.1:4566/000000000000/logins.fifo/', true],
    ['https://sqs.eu-west-1.amazonaws.com/123456789012/logins', false],
    ['https://sqs.eu-west-1.amazonaws.com/123456789012/fifo', false],
    ['https://sqs.eu-west-1.amazonaws.com/123456789012/logins?x=.fifo', false],
    ['https://logins.fifo.example/123456789012/logins', false],
  ])('%s: %s', (url, fifo) => {
    expect(isFifoQueueUrl(url)).toBe(fifo);
  });
});

describe('ReceiveAttempts', () => {
  it('gives a standard queue no attempt id', () => {
    const attempts = new ReceiveAttempts(false);
    expect(attempts.next(10)).toBeUndefined();
    attempts.answered();
    expect(attempts.next(10)).toBeUndefined();
  });

  it('repeats an unanswered attempt as it was sent, and starts a new one after an answer', () => {
    const attempts = new ReceiveAttempts(true);
    const first = attempts.next(10);
    expect(first?.id).toMatch(/^[0-9a-f-]{36}$/);
    // Failed: the retry is the same action, even if the poller would now ask for fewer.
    expect(attempts.next(3)).toEqual(first);
    expect(attempts.next(10)).toEqual(first);
    attempts.answered();
    const second = attempts.next(3);
    expect(second).toEqual({ id: expect.any(String) as string, maxMessages: 3 });
    expect(second?.id).not.toBe(first?.id);
    attempts.answered();
    const ids = new Set(Array.from({ length: 100 }, () => {
      const id = attempts.next(10)?.id;
      attempts.answered();
      return id;
    }));
    expect(ids.size).toBe(100);
  });

  it('starts a new attempt once the unanswered one is too old for AWS to honour', () => {
    let now = 1_000_000;
    const attempts = new ReceiveAttempts(true, () => now);
    const first = attempts.next(10);
    now += ATTEMPT_ID_REUSE_MS - 1;
    expect(attempts.next(10)).toEqual(first);
    now += 1;
    const renewed = attempts.next(5);
    expect(renewed?.id).not.toBe(first?.id);
    expect(renewed?.maxMessages).toBe(5);
    // The renewed attempt's own window starts when it is first sent.
    now += ATTEMPT_ID_REUSE_MS - 1;
    expect(attempts.next(10)).toEqual(renewed);
  });
});
