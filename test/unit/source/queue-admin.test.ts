// Filling a queue (demo, local, tests, bench): batches SQS takes, ten entries and 1 MiB at most.
import { describe, expect, it } from 'vitest';
import { batchesOf } from '../../../src/source/sqs/queue-admin.js';

describe('batchesOf', () => {
  it('cuts at ten entries, keeping the order', () => {
    const bodies = Array.from({ length: 23 }, (_, i) => `{"n":${i}}`);
    const batches = batchesOf(bodies);
    expect(batches.map((batch) => batch.length)).toEqual([10, 10, 3]);
    expect(batches.flat()).toEqual(bodies);
  });

  it('cuts before 1 MiB of bodies together; a body of nearly 1 MiB goes alone', () => {
    const big = 'x'.repeat(600_000);
    const whole = 'y'.repeat(1024 * 1024);
    expect(batchesOf(['a', big, big, 'b', whole, 'c']).map((batch) => batch.length)).toEqual([2, 2, 1, 1]);
    for (const batch of batchesOf(['a', big, big, 'b', whole, 'c'])) {
      expect(batch.reduce((sum, body) => sum + Buffer.byteLength(body), 0)).toBeLessThanOrEqual(1024 * 1024);
    }
  });

  it('counts bytes, not characters', () => {
    const wide = 'é'.repeat(300_000); // 600,000 bytes
    expect(batchesOf([wide, wide]).map((batch) => batch.length)).toEqual([1, 1]);
  });
});
