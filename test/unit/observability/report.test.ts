// The drain summary accounts for every message read, in text and as JSON: the run's counts, and
// each pipeline's as counted from the events that name it.
import { describe, expect, it } from 'vitest';
import { EventBus, withPipeline } from '../../../src/observability/events.js';
import { formatPipelineSummary, formatRunSummary, leftInQueue, runSummaryJson } from '../../../src/observability/report.js';
import { collectRunStats, type RunStats } from '../../../src/observability/run-stats.js';

const stats = (overrides: Partial<RunStats> = {}): RunStats => ({
  received: 20_650,
  loaded: 20_100,
  duplicates: 250,
  quarantined: 140,
  quarantinedByReason: { not_json: 100, bad_ip: 40 },
  erased: 0,
  deleted: 20_490,
  deleteFailures: 0,
  released: 160,
  startedAt: 0,
  pipelines: {},
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

describe('per pipeline', () => {
  /** two pipelines' events, as withPipeline names them, and one the run emits as a whole */
  function twoPipelines(): RunStats {
    const bus = new EventBus();
    const stats = collectRunStats(bus, ['logins', 'page_views']);
    stats.startedAt = 0;
    const logins = withPipeline(bus.emit, 'logins');
    const pageViews = withPipeline(bus.emit, 'page_views');
    logins('source:received', { count: 2000, redelivered: 0 });
    logins('batch:committed', { rows: 1990, duplicates: 5, quarantined: 5, durationMs: 3 });
    for (let i = 0; i < 5; i++) logins('message:quarantined', { messageId: `l${i}`, reason: 'bad_ip', field: 'ip', receiveCount: 1 });
    logins('source:deleted', { count: 2000 });
    pageViews('source:received', { count: 100, redelivered: 0 });
    pageViews('batch:committed', { rows: 90, duplicates: 0, quarantined: 2, erased: 3, durationMs: 3 });
    for (let i = 0; i < 2; i++) pageViews('message:quarantined', { messageId: `p${i}`, reason: 'missing_field', field: 'page.url', receiveCount: 1 });
    pageViews('source:released', { count: 5 });
    pageViews('source:deleted', { count: 95 });
    pageViews('source:deletePartialFailure', { count: 1, code: 'InternalError', willRetry: false });
    bus.emit('source:deletePartialFailure', { count: 2, code: 'InternalError', willRetry: false });
    return stats;
  }

  it('counts each pipeline from its own events, and the run from all', () => {
    const stats = twoPipelines();
    expect(stats).toMatchObject({ received: 2100, loaded: 2080, duplicates: 5, quarantined: 7, erased: 3, released: 5, deleted: 2095, deleteFailures: 3 });
    expect(stats.quarantinedByReason).toEqual({ bad_ip: 5, missing_field: 2 });
    expect(stats.pipelines).toEqual({
      logins: { received: 2000, loaded: 1990, duplicates: 5, quarantined: 5, quarantinedByReason: { bad_ip: 5 }, erased: 0, deleted: 2000, deleteFailures: 0, released: 0 },
      page_views: { received: 100, loaded: 90, duplicates: 0, quarantined: 2, quarantinedByReason: { missing_field: 2 }, erased: 3, deleted: 95, deleteFailures: 1, released: 5 },
    });
  });

  it('prints a line for each pipeline under the summary, numbers aligned', () => {
    expect(formatPipelineSummary(twoPipelines())).toEqual([
      '  pipeline     read  loaded  already loaded  quarantined  erased  released  deleted',
      '  logins      2,000   1,990               5            5       0         0    2,000',
      '  page_views    100      90               0            2       3         5       95',
    ]);
  });

  it('prints none for one pipeline, whose counts are the summary', () => {
    const bus = new EventBus();
    const stats = collectRunStats(bus);
    withPipeline(bus.emit, 'logins')('source:received', { count: 4, redelivered: 0 });
    bus.emit('source:received', { count: 1, redelivered: 0 });
    expect(stats.pipelines).toEqual({ logins: expect.objectContaining({ received: 5 }) as unknown });
    expect(formatPipelineSummary(stats)).toEqual([]);
  });

  it('--json: each pipeline\'s counts beside the run\'s', () => {
    const json = JSON.parse(runSummaryJson(twoPipelines(), true, 1000)) as { received: number; pipelines: Record<string, Record<string, unknown>> };
    expect(json.received).toBe(2100);
    expect(Object.keys(json.pipelines)).toEqual(['logins', 'page_views']);
    expect(json.pipelines.page_views).toEqual({
      received: 100,
      loaded: 90,
      duplicates: 0,
      quarantined: 2,
      quarantinedByReason: { missing_field: 2 },
      erased: 3,
      deleted: 95,
      deleteFailures: 1,
      released: 5,
      leftInQueue: 0,
    });
  });
});
