// What the supervisor and its workers say to each other over the cluster IPC channel (beside
// prom-client's own metrics requests). Nothing here carries a message body or a personal value.
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { ReadinessReport } from '../observability/health.js';
import type { RunStats } from '../observability/run-stats.js';

export type ToWorker =
  /**
   * stop as a first SIGTERM would (drain what is in hand, release the rest); `force`: exit now;
   * `leave`: the run is ending on a failure, so leave what is not committed to its visibility timeout
   */
  | { sqs2pg: 'stop'; reason: string; force?: boolean; leave?: boolean }
  | { sqs2pg: 'readiness'; id: number };

export type FromWorker =
  /** the worker listens for stop messages (sent once its start-up reaches that point) */
  | { sqs2pg: 'hello' }
  | { sqs2pg: 'started' }
  /** the first batch this worker committed: progress, which is what resets its restart backoff */
  | { sqs2pg: 'committed' }
  | { sqs2pg: 'readiness'; id: number; report: ReadinessReport }
  /** the run's counts and metrics so far (every second), and once more at the end with `drained` */
  | { sqs2pg: 'stats'; stats: RunStats; metrics: MetricObjectWithValues<MetricValue<string>>[] | undefined; drained?: boolean };

function tagged(value: unknown): value is { sqs2pg: string } {
  return typeof value === 'object' && value !== null && typeof (value as { sqs2pg?: unknown }).sqs2pg === 'string';
}

export function isToWorker(value: unknown): value is ToWorker {
  return tagged(value) && (value.sqs2pg === 'stop' || value.sqs2pg === 'readiness');
}

export function isFromWorker(value: unknown): value is FromWorker {
  return tagged(value) && ['hello', 'started', 'committed', 'readiness', 'stats'].includes(value.sqs2pg);
}
