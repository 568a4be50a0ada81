// `sqs2pg run --workers N`: N worker processes (node:cluster) under this one. It tells each to stop
// on SIGTERM/SIGINT, restarts one that crashes (with backoff; see restart-policy.ts for what ends the
// run instead), serves one /metrics (the workers' own, added up with prom-client's
// AggregatorRegistry), /healthz and /readyz, and prints one summary for a drain. It loads neither the
// AWS SDK nor pg: it stays small beside its workers.
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, Counter, Gauge, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { EXIT, Sqs2pgError } from '../errors.js';
import type { ReadinessReport } from '../observability/health.js';
import { startHttpServer, type HttpServer } from '../observability/http-server.js';
import type { Logger } from '../observability/logger.js';
import { collectProcessMetrics } from '../observability/metrics.js';
import { formatPipelineSummary, formatRunSummary, runSummaryJson } from '../observability/report.js';
import type { RunStats } from '../observability/run-stats.js';
import { isFromWorker, type ToWorker } from './messages.js';
import { CRASH_LOOP_DEATHS, decideOnExit, STOP_RUN_EXIT_CODES } from './restart-policy.js';
import { mergeRunStats } from './run-stats-merge.js';
import { mallocEnv } from './v8-options.js';

const READINESS_TIMEOUT_MS = 3_000;

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

export interface SupervisorOptions {
  /** connections of each worker, one entry per worker (see pool-split.ts) */
  poolSizes: readonly number[];
  /** the CLI file and `run`'s arguments as given; each worker gets its pool size and no HTTP port on top */
  cliPath: string;
  args: readonly string[];
  /** V8 options of the workers */
  execArgv: readonly string[];
  drain: boolean;
  json: boolean;
  quiet: boolean;
  httpHost: string;
  httpPort: number;
  logger: Logger;
}

interface Slot {
  index: number;
  poolSize: number;
  worker: Worker | undefined;
  /** the worker listens for stop messages */
  listening: boolean;
  /**
   * deaths since this worker last committed a batch: the restart backoff grows with it, and at
   * CRASH_LOOP_DEATHS the run ends. Only a commit resets it: a worker that starts and then dies
   * before its first batch (a refusal, a poison message that kills it) made no progress.
   */
  deathsWithoutCommit: number;
  restartTimer: NodeJS.Timeout | undefined;
  done: boolean;
  exitCode: number | null;
}

interface Incarnation {
  stats: RunStats | undefined;
  drained: boolean | undefined;
  metrics: MetricsJson | undefined;
}

export async function supervise(options: SupervisorOptions): Promise<number> {
  const { logger } = options;
  const startedAt = performance.now();
  const registry = new Registry();
  collectProcessMetrics(registry);
  const restarts = new Counter({
    name: 'sqs2pg_worker_restarts_total',
    help: 'Worker processes the supervisor restarted after they died unexpectedly (--workers above 1).',
    registers: [registry],
  });
  const running = new Gauge({ name: 'sqs2pg_workers', help: 'Worker processes running under the supervisor (--workers above 1).', registers: [registry] });

  const incarnations = new Map<number, Incarnation>();
  // Counters and histograms of workers that ended, so the host's totals never go back.
  let retired: MetricsJson = [];
  const pendingReadiness = new Map<number, (report: ReadinessReport) => void>();
  let nextReadinessId = 0;
  let stopping: string | undefined;
  let forced = false;
  let failure: number | undefined;
  /** the crash loop that ended the run, said once more as its last line */
  let crashLoop: string | undefined;
  let resolveFinished: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => (resolveFinished = resolve));

  const slots: Slot[] = options.poolSizes.map((poolSize, index) => ({
    index,
    poolSize,
    worker: undefined,
    listening: false,
    deathsWithoutCommit: 0,
    restartTimer: undefined,
    done: false,
    exitCode: null,
  }));

  const tell = (slot: Slot, message: ToWorker) => {
    // A worker may be exiting as it is told (two that fail together): the send then fails, and
    // without a callback that failure is an 'error' event that would take the supervisor down.
    // Its exit is what counts, and is handled when it comes.
    if (slot.worker?.isConnected() && slot.listening) slot.worker.send(message, undefined, undefined, () => undefined);
  };

  const checkFinished = () => {
    if (!slots.every((slot) => slot.done)) return;
    const code = failure ?? (forced ? 130 : slots.every((slot) => slot.exitCode === 0) ? 0 : 1);
    resolveFinished(code);
  };

  const retire = async (workerId: number) => {
    const incarnation = incarnations.get(workerId);
    if (!incarnation?.metrics) return;
    const kept = incarnation.metrics.filter((metric) => metric.name.startsWith('sqs2pg_') && String(metric.type) !== 'gauge');
    retired = await AggregatorRegistry.aggregate([retired, kept]).getMetricsAsJSON();
    incarnation.metrics = undefined;
  };

  const fork = (slot: Slot) => {
    cluster.setupPrimary({
      exec: options.cliPath,
      args: ['run', ...options.args, `--db-pool-size=${slot.poolSize}`, '--http-port=0'],
      execArgv: [...options.execArgv],
    });
    // glibc's mmap threshold fixed, as a lone worker restarting in place has it (v8-options.ts).
    const worker = cluster.fork({ ...mallocEnv(process.env), SQS2PG_WORKER_INDEX: String(slot.index) });
    slot.worker = worker;
    slot.listening = false;
    incarnations.set(worker.id, { stats: undefined, drained: undefined, metrics: undefined });
    running.inc();
    worker.on('message', (message: unknown) => {
      if (!isFromWorker(message)) return;
      const incarnation = incarnations.get(worker.id);
      switch (message.sqs2pg) {
        case 'hello':
          slot.listening = true;
          if (stopping !== undefined) tell(slot, { sqs2pg: 'stop', reason: stopping, force: forced, leave: failure !== undefined });
          return;
        case 'started':
          logger.info({ worker: slot.index, workerPid: worker.process.pid }, `worker ${slot.index} (pid ${worker.process.pid}) started`);
          return;
        case 'committed':
          slot.deathsWithoutCommit = 0;
          return;
        case 'readiness':
          pendingReadiness.get(message.id)?.(message.report);
          return;
        case 'stats':
          if (incarnation) {
            incarnation.stats = message.stats;
            incarnation.metrics = message.metrics ?? incarnation.metrics;
            if (message.drained !== undefined) incarnation.drained = message.drained;
          }
          return;
      }
    });
    worker.on('exit', (code, signal) => {
      running.dec();
      const pid = worker.process.pid;
      slot.worker = undefined;
      slot.listening = false;
      // Its counters kept if they can be: a failure there must not keep its exit from being handled.
      void retire(worker.id)
        .catch((error: unknown) => logger.warn({ worker: slot.index, workerPid: pid }, `worker ${slot.index}: its counters could not be kept (${error instanceof Error ? error.message : String(error)})`))
        .then(() => onExit(slot, pid, code, signal));
    });
  };

  const onExit = (slot: Slot, pid: number | undefined, code: number | null, signal: string | null) => {
    const how = signal ? `killed by ${signal}` : `exit code ${code}`;
    if (stopping !== undefined) {
      slot.done = true;
      slot.exitCode = code;
      // One that failed while the others were stopping still says so in the run's exit code.
      if (code !== null && STOP_RUN_EXIT_CODES.has(code)) failure ??= code;
      return checkFinished();
    }
    slot.deathsWithoutCommit += code === EXIT.ok ? 0 : 1;
    const decision = decideOnExit(code, slot.deathsWithoutCommit);
    if (decision.action === 'done') {
      slot.done = true;
      slot.exitCode = code;
      if (!options.drain) logger.warn({ worker: slot.index, workerPid: pid }, `worker ${slot.index} (pid ${pid}) ended on its own (exit code 0); not restarted`);
      return checkFinished();
    }
    if (decision.action === 'stopRun') {
      failure ??= decision.code;
      slot.done = true;
      slot.exitCode = code;
      if (decision.code === EXIT.crashLoop) {
        crashLoop = `worker ${slot.index} died ${slot.deathsWithoutCommit} times in a row without committing anything (last: ${how}); a restart does not help it, so the run ends rather than take messages it cannot commit: see its errors above`;
        logger.error({ worker: slot.index, workerPid: pid, code, signal, deaths: slot.deathsWithoutCommit }, `${crashLoop}; stopping the others`);
      } else {
        logger.error({ worker: slot.index, workerPid: pid, code }, `worker ${slot.index} (pid ${pid}) ended with exit code ${code}, which no restart fixes (see its error above); stopping the others`);
      }
      stopAll(`worker ${slot.index} ended with exit code ${code ?? how}`);
      return checkFinished();
    }
    restarts.inc();
    const { delayMs } = decision;
    logger.warn(
      { worker: slot.index, workerPid: pid, code, signal, restartInMs: delayMs, deathsWithoutCommit: slot.deathsWithoutCommit },
      `worker ${slot.index} (pid ${pid}) died (${how}); restarting it in ${(delayMs / 1000).toFixed(1)} s (${slot.deathsWithoutCommit} of ${CRASH_LOOP_DEATHS} deaths without a commit before the run ends); its messages in hand reappear after the visibility timeout`,
    );
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      fork(slot);
    }, delayMs);
  };

  const stopAll = (reason: string) => {
    stopping ??= reason;
    for (const slot of slots) {
      if (slot.restartTimer) {
        clearTimeout(slot.restartTimer);
        slot.restartTimer = undefined;
        slot.done = true;
      }
      tell(slot, { sqs2pg: 'stop', reason, force: forced, leave: failure !== undefined });
      // One that does not listen yet is told when it says hello; one that died waiting is done.
      if (!slot.worker && !slot.restartTimer) slot.done = true;
    }
    checkFinished();
  };

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) {
      logger.info(`received ${signal}: stopping every worker (each finishes what it holds and releases the rest)`);
      return stopAll(`received ${signal}`);
    }
    forced = true;
    logger.warn('second signal: every worker exits now; messages in hand reappear after the visibility timeout');
    for (const slot of slots) {
      if (slot.listening) tell(slot, { sqs2pg: 'stop', reason: `received ${signal}`, force: true });
      else slot.worker?.process.kill('SIGKILL');
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const report = async () => {
    const workers = await Promise.all(slots.map((slot) => askReadiness(slot)));
    return { ready: stopping === undefined && workers.every((worker) => worker.ready), stopping: stopping ?? 'no', workers };
  };
  const askReadiness = async (slot: Slot) => {
    const base = { worker: slot.index, pid: slot.worker?.process.pid ?? null };
    if (!slot.worker || !slot.listening) {
      return { ...base, ready: false, state: slot.done ? 'ended' : slot.restartTimer ? 'restarting' : 'starting' };
    }
    const id = nextReadinessId++;
    let timer: NodeJS.Timeout | undefined;
    try {
      const answer = await Promise.race([
        new Promise<ReadinessReport>((resolve) => {
          pendingReadiness.set(id, resolve);
          tell(slot, { sqs2pg: 'readiness', id });
        }),
        new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), READINESS_TIMEOUT_MS))),
      ]);
      return answer ? { ...base, ...answer } : { ...base, ready: false, state: `no answer within ${READINESS_TIMEOUT_MS} ms` };
    } finally {
      clearTimeout(timer);
      pendingReadiness.delete(id);
    }
  };
  const render = async () => {
    const parts: MetricsJson[] = [retired, await registry.getMetricsAsJSON()];
    for (const incarnation of incarnations.values()) if (incarnation.metrics) parts.push(incarnation.metrics);
    return AggregatorRegistry.aggregate(parts).metrics();
  };

  let server: HttpServer | undefined;
  try {
    if (options.httpPort > 0) {
      server = await startHttpServer({
        host: options.httpHost,
        port: options.httpPort,
        metrics: { contentType: registry.contentType, render },
        readiness: { report },
      });
    }
    logger.info(
      { workers: slots.length, poolSizes: options.poolSizes, http: server?.url ?? 'off' },
      `sqs2pg supervisor started: ${slots.length} workers (PostgreSQL connections ${options.poolSizes.join(', ')}), metrics ${server?.url ?? 'off'}`,
    );
    for (const slot of slots) fork(slot);
    const code = await finished;
    const parts = [...incarnations.values()];
    const stats = mergeRunStats(parts.flatMap((part) => (part.stats ? [part.stats] : [])), startedAt);
    const drained = code === 0 && stopping === undefined && parts.some((part) => part.drained === true) && slots.every((slot) => slot.exitCode === 0);
    const restarted = (await restarts.get()).values[0]?.value ?? 0;
    logger.info({ ...stats, drained, workers: slots.length, restarts: restarted }, `sqs2pg stopped${drained ? ': the queue is drained' : ''}`);
    if (crashLoop !== undefined) throw new Sqs2pgError('worker_crash_loop', crashLoop, EXIT.crashLoop);
    // As a lone worker: a summary for a drain that ended or was stopped, none for a failure.
    if (code !== 0) return code;
    if (options.drain && options.json) {
      console.log(JSON.stringify({ ...(JSON.parse(runSummaryJson(stats, drained)) as object), workers: slots.length, workerRestarts: restarted }));
    } else if (options.drain && !options.quiet) {
      const headline = drained ? 'sqs2pg: queue drained' : 'sqs2pg: stopped before the queue was empty';
      console.log(
        [headline, ...formatRunSummary(stats), `  workers            ${slots.length}${restarted > 0 ? ` (${restarted} restarts)` : ''}`, ...formatPipelineSummary(stats)].join('\n'),
      );
    }
    return code;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const slot of slots) if (slot.restartTimer) clearTimeout(slot.restartTimer);
    await server?.close();
  }
}
