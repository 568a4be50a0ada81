// A worker's side of the supervisor's IPC channel: it stops when told to, pushes its metrics and run
// counts (the run's and each pipeline's) every second and once more at the end, and answers
// readiness questions. (A worker whose supervisor is gone exits at once, which node:cluster does:
// what it held reappears after the visibility timeout.)
import type { EventBus } from '../observability/events.js';
import type { Readiness } from '../observability/health.js';
import type { Metrics } from '../observability/metrics.js';
import type { RunStats } from '../observability/run-stats.js';
import { isToWorker, type FromWorker } from './messages.js';

export const PUSH_INTERVAL_MS = 1_000;

export interface StopRequests {
  /** a graceful stop, as a first signal; `leave`: leave what is not committed to its visibility timeout */
  stop(reason: string, leave: boolean): void;
  /** a second signal's exit */
  forceExit(): void;
}

export interface WorkerLinkOptions {
  bus: EventBus;
  metrics: Metrics | undefined;
  readiness: Readiness | undefined;
  stats: RunStats;
}

export interface WorkerLink {
  /** from here on, push metrics and counts and answer readiness questions */
  observe(options: WorkerLinkOptions): void;
  /** the last push, with `drained` */
  finish(drained: boolean): Promise<void>;
  /**
   * Lets the channel go, so the process can end with its own exit code when its work is done
   * (prom-client's listener would hold it open; disconnecting would make node:cluster exit 0 at once).
   */
  close(): void;
}

function send(message: FromWorker): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!process.connected || typeof process.send !== 'function') return resolve();
    process.send(message, undefined, undefined, () => resolve());
  });
}

/** Called as early as a stop can be handled; undefined when this process is not a supervised worker. */
export function linkToSupervisor(requests: StopRequests): WorkerLink | undefined {
  if (typeof process.send !== 'function') return undefined;
  let observed: WorkerLinkOptions | undefined;
  let timer: NodeJS.Timeout | undefined;
  const push = async (drained?: boolean) => {
    if (!observed) return;
    const metrics = observed.metrics ? await observed.metrics.registry.getMetricsAsJSON() : undefined;
    await send({ sqs2pg: 'stats', stats: observed.stats, metrics, ...(drained === undefined ? {} : { drained }) });
  };
  const onMessage = (message: unknown) => {
    if (!isToWorker(message)) return;
    if (message.sqs2pg === 'stop') return message.force ? requests.forceExit() : requests.stop(message.reason, message.leave === true);
    const readiness = observed?.readiness;
    const answer = readiness
      ? readiness.report()
      : Promise.resolve({ ready: false, checks: { started: 'starting: connecting and migrating', database: 'not checked', queue: 'not checked', stopping: 'ok' } });
    void answer.then((report) => send({ sqs2pg: 'readiness', id: message.id, report }));
  };
  process.on('message', onMessage);
  void send({ sqs2pg: 'hello' });

  return {
    observe(options) {
      observed = options;
      // Once each, however many pipelines the worker runs: each of them may say it started or committed.
      let started = false;
      options.bus.on('pipeline:started', () => {
        if (started) return;
        started = true;
        void send({ sqs2pg: 'started' });
      });
      let committed = false;
      options.bus.on('batch:committed', () => {
        if (committed) return;
        committed = true;
        void send({ sqs2pg: 'committed' });
      });
      timer = setInterval(() => void push(), PUSH_INTERVAL_MS);
      timer.unref();
    },
    async finish(drained) {
      clearInterval(timer);
      await push(drained);
    },
    close() {
      clearInterval(timer);
      process.off('message', onMessage);
      process.channel?.unref();
    },
  };
}
