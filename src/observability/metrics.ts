// Prometheus metrics (prom-client), fed by the event map like the logs. Names follow
// `sqs2pg_<name>_<unit>_total`; every label value comes from a fixed set (reason codes, stages,
// error classes, queue states, the pipeline names of the run's file), never from a message, so no
// personal data can reach a label and the number of series is known when the run starts.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { rejectReasons } from '../model/message.js';
import { errorClass, errorClasses, errorStages, stageOfSqsOperation, type ErrorClass, type ErrorStage } from './error-class.js';
import type { EventBus } from './events.js';
import { DEFAULT_PIPELINES, pipelineOf } from './pipeline-of.js';

export interface Metrics {
  registry: Registry;
  /** the exposition text, as GET /metrics answers */
  render(): Promise<string>;
  contentType: string;
}

export const queueStates = ['visible', 'in_flight', 'delayed'] as const;

const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** prom-client's process metrics (CPU, resident memory, event loop, ...), as every sqs2pg process serves them. */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  // prom-client names three gauges *_total, which Prometheus keeps for counters (promtool check
  // metrics refuses them); each is the sum of its per-type gauge, e.g. sum(nodejs_active_handles).
  for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(name);
}

export interface MetricsOptions {
  /** prom-client's process metrics too (default true) */
  processMetrics?: boolean;
  /** the run's pipelines, whose series exist from the start (default: logins, a run without a file) */
  pipelines?: readonly string[];
}

/**
 * Every per-message, per-batch and per-queue series carries `pipeline`: the pipeline's name, or
 * "" for what a run of several pipelines does as a whole (Prometheus reads "" as no label).
 */
export function createMetrics(bus: EventBus, options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectProcessMetrics(registry);
  const pipelines = options.pipelines ?? DEFAULT_PIPELINES;
  const labelOf = (payload: { pipeline?: string }) => ({ pipeline: pipelineOf(payload, pipelines) ?? '' });
  const counter = (name: string, help: string, labelNames: string[] = []) =>
    new Counter({ name: `sqs2pg_${name}`, help, labelNames: ['pipeline', ...labelNames], registers: [registry] });

  const received = counter('received_messages_total', 'Messages received from SQS.');
  const redelivered = counter('redelivered_messages_total', 'Messages received with ApproximateReceiveCount > 1 (seen before).');
  const loaded = counter('loaded_messages_total', "Rows inserted into the pipeline's table (user_logins for logins).");
  const duplicate = counter('duplicate_messages_total', 'Messages whose row was already loaded (redelivered), skipped by the insert.');
  const quarantined = counter('quarantined_messages_total', "Messages kept in sqs2pg.quarantine instead of the pipeline's table, by reason code.", ['reason']);
  const erased = counter(
    'erased_messages_total',
    'Messages of subjects erased by sqs2pg forget (tombstoned): deleted from SQS, stored nowhere.',
  );
  const deleted = counter('deleted_messages_total', 'Messages deleted from SQS after their commit.');
  const released = counter('released_messages_total', 'Messages made visible again (visibility 0) without being processed, e.g. at shutdown.');
  const extended = counter('visibility_extended_messages_total', 'Visibility extensions of messages still in hand.');
  const leftInQueue = counter(
    'left_in_queue_messages_total',
    'Messages PostgreSQL refused even as a minimal quarantine record: not deleted, visibility backed off (each time).',
  );
  const errors = counter('errors_total', 'Failures by stage (receive, transform, load, delete) and error class; most are retried. An S3 payload\'s read counts under receive, its delete after commit under delete.', ['stage', 'code']);
  const batchSize = new Histogram({
    name: 'sqs2pg_batch_size_messages',
    help: 'Messages per committed batch (rows, already loaded and quarantined).',
    labelNames: ['pipeline'],
    buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
    registers: [registry],
  });
  const commitSeconds = new Histogram({
    name: 'sqs2pg_commit_duration_seconds',
    help: 'Time to write and commit one batch in PostgreSQL.',
    labelNames: ['pipeline'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const inFlight = new Gauge({
    name: 'sqs2pg_in_flight_messages',
    help: 'Messages in hand: received, not yet deleted or released.',
    labelNames: ['pipeline'],
    registers: [registry],
  });
  const depth = new Gauge({
    name: 'sqs2pg_queue_depth_messages',
    help: 'Messages in the queue by state (GetQueueAttributes, polled): visible, in_flight (any consumer), delayed.',
    labelNames: ['pipeline', 'state'],
    // Every worker of a host polls the same queue: a supervisor shows the largest, not the sum.
    aggregator: 'max',
    registers: [registry],
  });

  // Every series exists from the start at 0, so rate() and alerts see a change from nothing. The
  // queue's depth is not known until it is first asked for: no series until then.
  for (const pipeline of pipelines) {
    for (const metric of [received, redelivered, loaded, duplicate, erased, deleted, released, extended, leftInQueue]) metric.inc({ pipeline }, 0);
    for (const reason of rejectReasons) quarantined.inc({ pipeline, reason }, 0);
    for (const stage of errorStages) for (const code of errorClasses) errors.inc({ pipeline, stage, code }, 0);
    batchSize.zero({ pipeline });
    commitSeconds.zero({ pipeline });
    inFlight.set({ pipeline }, 0);
  }
  const error = (payload: { pipeline?: string }, stage: ErrorStage, code: ErrorClass, count = 1) => errors.inc({ ...labelOf(payload), stage, code }, count);

  bus
    .on('source:received', (event) => {
      received.inc(labelOf(event), event.count);
      redelivered.inc(labelOf(event), event.redelivered);
    })
    .on('source:held', (event) => inFlight.set(labelOf(event), event.count))
    .on('source:depth', (event) => {
      const { pipeline } = labelOf(event);
      depth.set({ pipeline, state: 'visible' }, event.visible);
      depth.set({ pipeline, state: 'in_flight' }, event.inFlight);
      depth.set({ pipeline, state: 'delayed' }, event.delayed);
    })
    .on('source:deleted', (event) => deleted.inc(labelOf(event), event.count))
    .on('source:released', (event) => released.inc(labelOf(event), event.count))
    .on('source:extended', (event) => extended.inc(labelOf(event), event.count))
    .on('message:leftInQueue', (event) => {
      leftInQueue.inc(labelOf(event));
      error(event, 'load', 'refused');
    })
    .on('source:error', (event) => error(event, stageOfSqsOperation(event.operation), errorClass(event.code)))
    .on('source:deletePartialFailure', (event) => error(event, 'delete', errorClass(event.code), event.count))
    .on('sink:retry', (event) => error(event, 'load', errorClass(event.code)))
    // An S3 payload is read as part of receiving its message, and deleted with it (--s3-delete-after-commit).
    .on('payload:error', (event) => error(event, event.operation === 'get' ? 'receive' : 'delete', errorClass(event.code)))
    .on('batch:committed', (event) => {
      const labels = labelOf(event);
      loaded.inc(labels, event.rows);
      duplicate.inc(labels, event.duplicates);
      erased.inc(labels, event.erased ?? 0);
      batchSize.observe(labels, event.rows + event.duplicates + event.quarantined);
      commitSeconds.observe(labels, event.durationMs / 1000);
    })
    .on('message:quarantined', (event) => {
      quarantined.inc({ ...labelOf(event), reason: event.reason });
      if (event.reason === 'db_rejected') error(event, 'load', 'refused');
      else error(event, 'transform', 'invalid_message');
    });

  return { registry, render: () => registry.metrics(), contentType: registry.contentType };
}
