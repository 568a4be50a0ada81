// The supervisor's summary adds its workers' counts up: the run's and each pipeline's.
import { describe, expect, it } from 'vitest';
import { emptyCounts, type MessageCounts, type RunStats } from '../../../src/observability/run-stats.js';
import { mergeRunStats } from '../../../src/supervisor/run-stats-merge.js';

const counts = (n: number, reasons: MessageCounts['quarantinedByReason']): MessageCounts => ({
  received: n,
  loaded: n - 1,
  duplicates: 1,
  quarantined: Object.values(reasons).reduce((a, b) => a + b, 0),
  quarantinedByReason: reasons,
  erased: 0,
  deleted: n,
  deleteFailures: 0,
  released: 0,
});

describe('mergeRunStats', () => {
  it('adds every count up and times the run from the supervisor', () => {
    const stats = (n: number, reasons: MessageCounts['quarantinedByReason']): RunStats => ({ ...counts(n, reasons), startedAt: 123, pipelines: { logins: counts(n, reasons) } });
    const merged = mergeRunStats([stats(10, { not_json: 2 }), stats(5, { not_json: 1, bad_ip: 1 })], 7);
    const sum = { received: 15, loaded: 13, duplicates: 2, quarantined: 4, quarantinedByReason: { not_json: 3, bad_ip: 1 }, erased: 0, deleted: 15, deleteFailures: 0, released: 0 };
    expect(merged).toEqual({ ...sum, startedAt: 7, pipelines: { logins: sum } });
  });

  it('adds each pipeline up on its own, whichever workers ran it', () => {
    const one: RunStats = { ...counts(12, { bad_ip: 2 }), startedAt: 1, pipelines: { logins: counts(10, { bad_ip: 2 }), page_views: counts(2, {}) } };
    const two: RunStats = { ...counts(4, { missing_field: 1 }), startedAt: 2, pipelines: { page_views: counts(4, { missing_field: 1 }) } };
    const merged = mergeRunStats([one, two], 0);
    expect(merged.received).toBe(16);
    expect(merged.quarantinedByReason).toEqual({ bad_ip: 2, missing_field: 1 });
    expect(merged.pipelines).toEqual({
      logins: counts(10, { bad_ip: 2 }),
      page_views: { ...counts(6, { missing_field: 1 }), loaded: 4, duplicates: 2 },
    });
    // The parts are left as they were.
    expect(two.pipelines.page_views).toEqual(counts(4, { missing_field: 1 }));
  });

  it('takes a pipeline called like an Object property for a pipeline', () => {
    const part: RunStats = { ...emptyCounts(), received: 3, startedAt: 0, pipelines: { constructor: { ...emptyCounts(), received: 3 } } };
    expect(mergeRunStats([part, part], 0).pipelines).toEqual({ constructor: { ...emptyCounts(), received: 6 } });
  });
});
