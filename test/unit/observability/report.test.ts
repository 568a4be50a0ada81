// The drain summary accounts for every message read, in text and as JSON.
import { describe, expect, it } from 'vitest';
import { formatRunSummary, leftInQueue, runSummaryJson } from '../../../src/observability/report.js';
import type { RunStats } from '../../../src/observability/run-stats.js';

const stats = (overrides: Partial<RunStats> = {}): RunStats => ({
  received: 20_650,
  loaded: 20_100,
  duplicates: 250,
  quarantined: 140,
  quarantinedByReason: { not_json: 100, bad_ip: 40 },
  deleted: 20_490,
  deleteFailures: 0,
  released: 160,
  startedAt: 0,
  ...overrides,
});

describe('formatRunSummary', () => {
  it('read = loaded + already loaded + quarantined + released, with thousands separators', () => {
    expect(formatRunSummary(stats(), 10_000)).toEqual([
      '  messages read      20,650',
      '  rows loaded        20,100',
      '  already loaded     250 (redelivered, skipped)',
      '  quarantined        140 (not_json 100, bad_ip 40)',
      '  released           160 (given back to the queue unprocessed)',
      '  deleted from SQS   20,490',
      '  time               10.0 s (2,065 messages/s)',
    ]);
  });

  it('names what is neither committed nor released: left in the queue', () => {
    const lines = formatRunSummary(stats({ released: 150, deleteFailures: 1_200 }), 10_000);
    expect(lines).toContain('  left in the queue  10 (back after the visibility timeout)');
    expect(lines).toContain('  deleted from SQS   20,490, 1,200 left to redelivery');
  });
});

describe('runSummaryJson', () => {
  it('the same counts, and what is left in the queue', () => {
    const json = JSON.parse(runSummaryJson(stats({ released: 150 }), false, 10_000)) as Record<string, unknown>;
    expect(json).toMatchObject({ drained: false, received: 20_650, loaded: 20_100, duplicates: 250, quarantined: 140, released: 150, leftInQueue: 10, seconds: 10 });
    expect(leftInQueue(stats())).toBe(0);
  });
});
