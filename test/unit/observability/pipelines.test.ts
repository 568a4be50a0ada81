// One bus, every consumer: the events of two pipelines (through withPipeline) and of the run as a
// whole (no pipeline), fed once, are counted alike by the metrics, the run's counts and the
// progress line: each pipeline's from its own events, the run's from all of them.
import { describe, expect, it } from 'vitest';
import { EventBus, withPipeline } from '../../../src/observability/events.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { ProgressLine } from '../../../src/observability/progress.js';
import { formatPipelineSummary } from '../../../src/observability/report.js';
import { collectRunStats } from '../../../src/observability/run-stats.js';
import { sample } from '../../helpers/http.js';

const PIPELINES = ['logins', 'page_views'];

function run() {
  const bus = new EventBus();
  const metrics = createMetrics(bus, { processMetrics: false, pipelines: PIPELINES });
  const stats = collectRunStats(bus, PIPELINES);
  const progress = new ProgressLine(bus, { write: () => true }, { color: false, pipelines: PIPELINES, now: () => 0 });
  const emitOf = { logins: withPipeline(bus.emit, 'logins'), page_views: withPipeline(bus.emit, 'page_views') };
  // Each pipeline: a queue counted, a batch of rows, a quarantined message, the deletes.
  const plan = { logins: { queued: 500, rows: 300, bad: 2 }, page_views: { queued: 80, rows: 40, bad: 1 } };
  for (const [name, { queued, rows, bad }] of Object.entries(plan) as [keyof typeof plan, (typeof plan)['logins']][]) {
    const emit = emitOf[name];
    emit('source:depth', { visible: queued, inFlight: 0, delayed: 0, deletedBefore: 0 });
    emit('source:received', { count: rows + bad, redelivered: 0 });
    emit('batch:committed', { rows, duplicates: 0, quarantined: bad, durationMs: 4 });
    for (let i = 0; i < bad; i++) emit('message:quarantined', { messageId: `${name}-${i}`, reason: 'missing_field', field: 'x', receiveCount: 1 });
    emit('source:deleted', { count: rows + bad });
  }
  // The run as a whole: a failure no one pipeline owns.
  bus.emit('sink:retry', { attempt: 1, delayMs: 100, code: '08006', message: 'connection lost' });
  return { metrics, stats, progress, plan };
}

describe('every consumer of one bus, with two pipelines', () => {
  it('counts each pipeline from its own events, alike', async () => {
    const { metrics, stats, progress, plan } = run();
    const text = await metrics.render();
    const figures = progress.figures();
    for (const name of PIPELINES) {
      const { queued, rows, bad } = plan[name as keyof typeof plan];
      expect(sample(text, `sqs2pg_received_messages_total{pipeline="${name}"}`), name).toBe(rows + bad);
      expect(stats.pipelines[name]?.received, name).toBe(rows + bad);
      expect(sample(text, `sqs2pg_loaded_messages_total{pipeline="${name}"}`), name).toBe(rows);
      expect(stats.pipelines[name]?.loaded, name).toBe(rows);
      expect(sample(text, `sqs2pg_quarantined_messages_total{pipeline="${name}",reason="missing_field"}`), name).toBe(bad);
      expect(stats.pipelines[name]?.quarantinedByReason, name).toEqual({ missing_field: bad });
      expect(figures.pipelines?.find((pipeline) => pipeline.name === name), name).toEqual({ name, done: rows + bad, remaining: queued - rows - bad });
    }
  });

  it('adds them up for the run, and keeps what named no pipeline out of theirs', async () => {
    const { metrics, stats, progress } = run();
    const text = await metrics.render();
    expect(stats).toMatchObject({ received: 343, loaded: 340, quarantined: 3, deleted: 343 });
    expect(progress.figures()).toMatchObject({ done: 343, quarantined: 3, remaining: 237 });
    expect(sample(text, 'sqs2pg_errors_total{pipeline="",stage="load",code="connection"}')).toBe(1);
    for (const name of PIPELINES) expect(sample(text, `sqs2pg_errors_total{pipeline="${name}",stage="load",code="connection"}`), name).toBe(0);
    expect(formatPipelineSummary(stats)).toEqual([
      '  pipeline    read  loaded  already loaded  quarantined  released  deleted',
      '  logins       302     300               0            2         0      302',
      '  page_views    41      40               0            1         0       41',
    ]);
  });
});
