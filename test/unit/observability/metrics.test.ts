// The metrics are a function of the events: feed a bus a known run and read the registry. A run
// without a pipeline file labels every series `logins`; a run of several, each by its own name.
import { describe, expect, it } from 'vitest';
import { EventBus, withPipeline, type Emit } from '../../../src/observability/events.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { errorClasses, errorStages } from '../../../src/observability/error-class.js';
import { rejectReasons } from '../../../src/model/message.js';

/** value of one series in the exposition text, e.g. sample(text, 'sqs2pg_errors_total{stage="load",code="connection"}') */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** every label's values in exposition text */
function labelValuesOf(text: string): Map<string, Set<string>> {
  const labelValues = new Map<string, Set<string>>();
  for (const line of text.split('\n').filter((l) => l.startsWith('sqs2pg_'))) {
    for (const [, name, value] of line.matchAll(/(\w+)="([^"]*)"/g)) {
      if (!labelValues.has(name!)) labelValues.set(name!, new Set());
      labelValues.get(name!)!.add(value!);
    }
  }
  return labelValues;
}

function feed(emit: Emit): void {
  emit('source:received', { count: 10, redelivered: 2 });
  emit('source:received', { count: 0, redelivered: 0 });
  emit('source:held', { count: 10 });
  emit('batch:committed', { rows: 7, duplicates: 1, quarantined: 2, erased: 1, durationMs: 12 });
  emit('message:quarantined', { messageId: 'm1', reason: 'bad_ip', field: 'ip', receiveCount: 1 });
  emit('message:quarantined', { messageId: 'm2', reason: 'db_rejected', field: null, receiveCount: 1 });
  emit('source:deleted', { count: 9 });
  emit('source:deletePartialFailure', { count: 1, code: 'InternalError', willRetry: false });
  emit('source:held', { count: 0 });
  emit('source:released', { count: 3 });
  emit('source:extended', { count: 4 });
  emit('source:error', { operation: 'receive', code: 'ECONNRESET', message: 'socket hang up', retryInMs: 100 });
  emit('source:error', { operation: 'release', code: 'RequestThrottled', message: 'slow down', retryInMs: null });
  emit('sink:retry', { attempt: 1, delayMs: 100, code: '08006', message: 'connection lost' });
  emit('payload:error', { operation: 'get', code: 'SlowDown', message: 'S3 asks to slow down' });
  emit('payload:error', { operation: 'delete', code: 'AccessDenied', message: 'S3 refused the delete' });
  emit('source:depth', { visible: 120, inFlight: 30, delayed: 5 });
}

describe('createMetrics', () => {
  it('counts what the events say', async () => {
    const bus = new EventBus();
    const metrics = createMetrics(bus, { processMetrics: false });
    feed(bus.emit);
    const text = await metrics.render();
    const expected: Record<string, number> = {
      'sqs2pg_received_messages_total{pipeline="logins"}': 10,
      'sqs2pg_redelivered_messages_total{pipeline="logins"}': 2,
      'sqs2pg_loaded_messages_total{pipeline="logins"}': 7,
      'sqs2pg_duplicate_messages_total{pipeline="logins"}': 1,
      'sqs2pg_erased_messages_total{pipeline="logins"}': 1,
      'sqs2pg_quarantined_messages_total{pipeline="logins",reason="bad_ip"}': 1,
      'sqs2pg_quarantined_messages_total{pipeline="logins",reason="db_rejected"}': 1,
      'sqs2pg_quarantined_messages_total{pipeline="logins",reason="not_json"}': 0,
      'sqs2pg_deleted_messages_total{pipeline="logins"}': 9,
      'sqs2pg_released_messages_total{pipeline="logins"}': 3,
      'sqs2pg_visibility_extended_messages_total{pipeline="logins"}': 4,
      'sqs2pg_in_flight_messages{pipeline="logins"}': 0,
      'sqs2pg_queue_depth_messages{pipeline="logins",state="visible"}': 120,
      'sqs2pg_queue_depth_messages{pipeline="logins",state="in_flight"}': 30,
      'sqs2pg_queue_depth_messages{pipeline="logins",state="delayed"}': 5,
      'sqs2pg_errors_total{pipeline="logins",stage="receive",code="connection"}': 1,
      'sqs2pg_errors_total{pipeline="logins",stage="delete",code="throttled"}': 1,
      'sqs2pg_errors_total{pipeline="logins",stage="delete",code="server"}': 1,
      'sqs2pg_errors_total{pipeline="logins",stage="receive",code="throttled"}': 1,
      'sqs2pg_errors_total{pipeline="logins",stage="delete",code="refused"}': 1,
      'sqs2pg_errors_total{pipeline="logins",stage="load",code="connection"}': 1,
      'sqs2pg_errors_total{pipeline="logins",stage="load",code="refused"}': 1,
      'sqs2pg_errors_total{pipeline="logins",stage="transform",code="invalid_message"}': 1,
      'sqs2pg_errors_total{pipeline="logins",stage="transform",code="unknown"}': 0,
      'sqs2pg_batch_size_messages_count{pipeline="logins"}': 1,
      'sqs2pg_batch_size_messages_sum{pipeline="logins"}': 10,
      'sqs2pg_batch_size_messages_bucket{le="5",pipeline="logins"}': 0,
      'sqs2pg_batch_size_messages_bucket{le="10",pipeline="logins"}': 1,
      'sqs2pg_commit_duration_seconds_count{pipeline="logins"}': 1,
      'sqs2pg_commit_duration_seconds_sum{pipeline="logins"}': 0.012,
      'sqs2pg_commit_duration_seconds_bucket{le="0.01",pipeline="logins"}': 0,
      'sqs2pg_commit_duration_seconds_bucket{le="0.025",pipeline="logins"}': 1,
    };
    const actual = Object.fromEntries(Object.keys(expected).map((series) => [series, sample(text, series)]));
    expect(actual).toEqual(expected);
  });

  it('has every label series from the start, and only labels from the fixed sets', async () => {
    const bus = new EventBus();
    const metrics = createMetrics(bus, { processMetrics: false });
    feed(bus.emit);
    const labelValues = labelValuesOf(await metrics.render());
    expect([...labelValues.keys()].sort()).toEqual(['code', 'le', 'pipeline', 'reason', 'stage', 'state']);
    expect([...labelValues.get('pipeline')!]).toEqual(['logins']);
    expect([...labelValues.get('reason')!].sort()).toEqual([...rejectReasons].sort());
    expect([...labelValues.get('stage')!].sort()).toEqual([...errorStages].sort());
    expect([...labelValues.get('code')!].sort()).toEqual([...errorClasses].sort());
    expect([...labelValues.get('state')!].sort()).toEqual(['delayed', 'in_flight', 'visible']);
  });

  it('labels each pipeline by name, with every series of each from the start', async () => {
    const bus = new EventBus();
    const metrics = createMetrics(bus, { processMetrics: false, pipelines: ['logins', 'page_views'] });
    const before = await metrics.render();
    // Every metric but the queue's depth (not known until polled) has a series for each pipeline.
    const names = [...new Set(before.split('\n').flatMap((line) => /^(sqs2pg_\w+)\{/.exec(line)?.[1] ?? []))];
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) {
      for (const pipeline of ['logins', 'page_views']) expect(before, `${name} of ${pipeline}`).toMatch(new RegExp(`^${name}\\{[^}]*pipeline="${pipeline}"`, 'm'));
    }
    feed(withPipeline(bus.emit, 'page_views'));
    withPipeline(bus.emit, 'logins')('source:received', { count: 4, redelivered: 0 });
    const text = await metrics.render();
    expect(sample(text, 'sqs2pg_received_messages_total{pipeline="page_views"}')).toBe(10);
    expect(sample(text, 'sqs2pg_received_messages_total{pipeline="logins"}')).toBe(4);
    expect(sample(text, 'sqs2pg_loaded_messages_total{pipeline="page_views"}')).toBe(7);
    expect(sample(text, 'sqs2pg_loaded_messages_total{pipeline="logins"}')).toBe(0);
    expect(sample(text, 'sqs2pg_quarantined_messages_total{pipeline="page_views",reason="bad_ip"}')).toBe(1);
    expect(sample(text, 'sqs2pg_quarantined_messages_total{pipeline="logins",reason="bad_ip"}')).toBe(0);
    expect(sample(text, 'sqs2pg_queue_depth_messages{pipeline="page_views",state="visible"}')).toBe(120);
    expect(sample(text, 'sqs2pg_queue_depth_messages{pipeline="logins",state="visible"}')).toBeUndefined();
    expect(sample(text, 'sqs2pg_errors_total{pipeline="page_views",stage="load",code="connection"}')).toBe(1);
    expect(sample(text, 'sqs2pg_commit_duration_seconds_count{pipeline="page_views"}')).toBe(1);
    expect(sample(text, 'sqs2pg_commit_duration_seconds_count{pipeline="logins"}')).toBe(0);
    expect([...labelValuesOf(text).get('pipeline')!].sort()).toEqual(['logins', 'page_views']);
  });

  it('gives a one-pipeline run its unnamed events, and a run of several the label ""', async () => {
    const one = new EventBus();
    const single = createMetrics(one, { processMetrics: false });
    one.emit('source:received', { count: 3, redelivered: 0 });
    withPipeline(one.emit, 'logins')('source:received', { count: 2, redelivered: 0 });
    expect(sample(await single.render(), 'sqs2pg_received_messages_total{pipeline="logins"}')).toBe(5);

    const several = new EventBus();
    const run = createMetrics(several, { processMetrics: false, pipelines: ['logins', 'page_views'] });
    several.emit('source:error', { operation: 'receive', code: 'ECONNRESET', message: 'socket hang up', retryInMs: 100 });
    const text = await run.render();
    expect(sample(text, 'sqs2pg_errors_total{pipeline="",stage="receive",code="connection"}')).toBe(1);
    expect(sample(text, 'sqs2pg_errors_total{pipeline="logins",stage="receive",code="connection"}')).toBe(0);
    expect(sample(text, 'sqs2pg_errors_total{pipeline="page_views",stage="receive",code="connection"}')).toBe(0);
  });

  it('names every counter sqs2pg_<name>_<unit>_total and documents it', async () => {
    const metrics = createMetrics(new EventBus(), { processMetrics: false });
    const all = await metrics.registry.getMetricsAsJSON();
    for (const metric of all) {
      expect(metric.name).toMatch(/^sqs2pg_[a-z_]+$/);
      expect(metric.help.length).toBeGreaterThan(10);
      if (String(metric.type) === 'counter') expect(metric.name).toMatch(/_total$/);
    }
  });

  it('adds the process metrics by default', async () => {
    const text = await createMetrics(new EventBus()).render();
    expect(text).toContain('process_cpu_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
  });
});
