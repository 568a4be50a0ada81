import { describe, expect, it } from 'vitest';
import { callLimit } from '../../../src/source/sqs/call-limit.js';

/** A call that finishes when told to, recording how many calls were running when it started. */
function gatedCalls() {
  let running = 0;
  const peaks: number[] = [];
  const gates: (() => void)[] = [];
  const call = (result: number) => async () => {
    running++;
    peaks.push(running);
    await new Promise<void>((resolve) => gates.push(resolve));
    running--;
    return result;
  };
  return { call, peaks, openAll: () => gates.splice(0).forEach((open) => open()), gates };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('callLimit', () => {
  it('runs at most max calls at once and every call in the end, in order', async () => {
    const limit = callLimit(3);
    const { call, peaks, openAll, gates } = gatedCalls();
    const results = Array.from({ length: 10 }, (_, i) => limit(call(i)));
    await tick();
    expect(gates).toHaveLength(3);
    while (gates.length > 0) {
      openAll();
      await tick();
    }
    expect(await Promise.all(results)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Math.max(...peaks)).toBe(3);
  });

  it('frees the slot of a call that fails', async () => {
    const limit = callLimit(1);
    await expect(limit(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(limit(() => Promise.resolve('next'))).resolves.toBe('next');
  });
});
