// The metrics are a function of the events: feed a bus a known run and read the registry.
import { describe, expect, it } from 'vitest';
import { EventBus } from '../../../src/observability/events.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { errorClasses, errorStages } from '../../../src/observability/error-class.js';
import { rejectReasons } from '../../../src/model/message.js';

/** value of one series in the exposition text, e.g. sample(text, 'sqs2pg_errors_total{stage="load",code="connection"}') */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function feed(bus: EventBus): void {
  bus.emit('source:received', { count: 10, redelivered: 2 });
  bus.emit('source:received', { count: 0, redelivered: 0 });
  bus.emit('source:held', { count: 10 });
  bus.emit('batch:committed', { rows: 7, duplicates: 1, quarantined: 2, durationMs: 12 });
  bus.emit('message:quarantined', { messageId: 'm1', reason: 'bad_ip', field: 'ip', receiveCount: 1 });
  bus.emit('message:quarantined', { messageId: 'm2', reason: 'db_rejected', field: null, receiveCount: 1 });
  bus.emit('source:deleted', { count: 9 });
  bus.emit('source:deletePartialFailure', { count: 1, code: 'InternalError', willRetry: false });
  bus.emit('source:held', { count: 0 });
  bus.emit('source:released', { count: 3 });
  bus.emit('source:extended', { count: 4 });
  bus.emit('source:error', { operation: 'receive', code: 'ECONNRESET', message: 'socket hang up', retryInMs: 100 });
  bus.emit('source:error', { operation: 'release', code: 'RequestThrottled', message: 'slow down', retryInMs: null });
  bus.emit('sink:retry', { attempt: 1, delayMs: 100, code: '08006', message: 'connection lost' });
  bus.emit('source:depth', { visible: 120, inFlight: 30, delayed: 5 });
}

describe('createMetrics', () => {
  it('counts what the events say', async () => {
    const bus = new EventBus();
    const metrics = createMetrics(bus, { processMetrics: false });
    feed(bus);
    const text = await metrics.render();
    const expected: Record<string, number> = {
      sqs2pg_received_messages_total: 10,
      sqs2pg_redelivered_messages_total: 2,
      sqs2pg_loaded_messages_total: 7,
      sqs2pg_duplicate_messages_total: 1,
      'sqs2pg_quarantined_messages_total{reason="bad_ip"}': 1,
      'sqs2pg_quarantined_messages_total{reason="db_rejected"}': 1,
      'sqs2pg_quarantined_messages_total{reason="not_json"}': 0,
      sqs2pg_deleted_messages_total: 9,
      sqs2pg_released_messages_total: 3,
      sqs2pg_visibility_extended_messages_total: 4,
      sqs2pg_in_flight_messages: 0,
      'sqs2pg_queue_depth_messages{state="visible"}': 120,
      'sqs2pg_queue_depth_messages{state="in_flight"}': 30,
      'sqs2pg_queue_depth_messages{state="delayed"}': 5,
      'sqs2pg_errors_total{stage="receive",code="connection"}': 1,
      'sqs2pg_errors_total{stage="delete",code="throttled"}': 1,
      'sqs2pg_errors_total{stage="delete",code="server"}': 1,
      'sqs2pg_errors_total{stage="load",code="connection"}': 1,
      'sqs2pg_errors_total{stage="load",code="refused"}': 1,
      'sqs2pg_errors_total{stage="transform",code="invalid_message"}': 1,
      'sqs2pg_errors_total{stage="transform",code="unknown"}': 0,
      sqs2pg_batch_size_messages_count: 1,
      sqs2pg_batch_size_messages_sum: 10,
      'sqs2pg_batch_size_messages_bucket{le="5"}': 0,
      'sqs2pg_batch_size_messages_bucket{le="10"}': 1,
      sqs2pg_commit_duration_seconds_count: 1,
      sqs2pg_commit_duration_seconds_sum: 0.012,
      'sqs2pg_commit_duration_seconds_bucket{le="0.01"}': 0,
      'sqs2pg_commit_duration_seconds_bucket{le="0.025"}': 1,
    };
    const actual = Object.fromEntries(Object.keys(expected).map((series) => [series, sample(text, series)]));
    expect(actual).toEqual(expected);
  });

  it('has every label series from the start, and only labels from the fixed sets', async () => {
    const bus = new EventBus();
    const metrics = createMetrics(bus, { processMetrics: false });
    feed(bus);
    const text = await metrics.render();
    const lines = text.split('\n').filter((line) => line.startsWith('sqs2pg_'));
    const labelValues = new Map<string, Set<string>>();
    for (const line of lines) {
      for (const [, name, value] of line.matchAll(/(\w+)="([^"]*)"/g)) {
        if (!labelValues.has(name!)) labelValues.set(name!, new Set());
        labelValues.get(name!)!.add(value!);
      }
    }
    expect([...labelValues.keys()].sort()).toEqual(['code', 'le', 'reason', 'stage', 'state']);
    expect([...labelValues.get('reason')!].sort()).toEqual([...rejectReasons].sort());
    expect([...labelValues.get('stage')!].sort()).toEqual([...errorStages].sort());
    expect([...labelValues.get('code')!].sort()).toEqual([...errorClasses].sort());
    expect([...labelValues.get('state')!].sort()).toEqual(['delayed', 'in_flight', 'visible']);
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
