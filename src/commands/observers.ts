// What `run` and `demo` start beside the pipeline, all subscribed to its event bus: the metrics,
// the readiness state and their HTTP port, and the progress line on a terminal.
import { loadMigrations, pendingMigrations } from '../db/migrate.js';
import type { Pool } from '../db/pool.js';
import { describeError } from '../errors.js';
import type { EventBus } from '../observability/events.js';
import { Readiness } from '../observability/health.js';
import { startHttpServer, type HttpServer } from '../observability/http-server.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { ProgressLine } from '../observability/progress.js';

export interface ObserverOptions {
  bus: EventBus;
  pool: Pool;
  httpHost: string;
  /** 0: no HTTP server */
  httpPort: number;
  /** a worker under a supervisor: keep metrics and readiness for the supervisor to collect, serve nothing */
  supervised?: boolean;
  /** a terminal to draw the progress line on, or undefined for none */
  progress: { stream: NodeJS.WriteStream; color: boolean } | undefined;
  /** the run's pipeline names: each has its metrics series from the start, and several are named on the progress line and in readiness (default: logins, a run without a file) */
  pipelines?: readonly string[];
}

export interface Observers {
  /** where /metrics, /healthz and /readyz answer, when the server runs */
  httpUrl: string | undefined;
  /** when served or supervised */
  metrics: Metrics | undefined;
  readiness: Readiness | undefined;
  /** clears the progress line before a summary is printed */
  stopProgress(): void;
  close(): Promise<void>;
}

export async function startObservers(options: ObserverOptions): Promise<Observers> {
  const { bus, pool } = options;
  let server: HttpServer | undefined;
  let metrics: Metrics | undefined;
  let readiness: Readiness | undefined;
  if (options.httpPort > 0 || options.supervised) {
    const migrations = await loadMigrations();
    readiness = new Readiness(bus, {
      pipelines: options.pipelines,
      checkDatabase: async () => {
        let pending: string[];
        try {
          pending = await pendingMigrations(pool, migrations);
        } catch (error) {
          throw new Error(describeError(error), { cause: error });
        }
        if (pending.length > 0) throw new Error(`migrations not applied: ${pending.join(', ')}`);
      },
    });
    metrics = createMetrics(bus, { pipelines: options.pipelines });
    if (options.httpPort > 0) server = await startHttpServer({ host: options.httpHost, port: options.httpPort, metrics, readiness });
  }
  let progress: ProgressLine | undefined;
  if (options.progress) {
    const line = new ProgressLine(bus, options.progress.stream, { color: options.progress.color, pipelines: options.pipelines });
    progress = line;
    // Once for the run: each of its pipelines says it started.
    let started = false;
    bus.on('pipeline:started', () => {
      if (!started) line.start();
      started = true;
    });
  }
  return {
    httpUrl: server?.url,
    metrics,
    readiness,
    stopProgress: () => progress?.stop(),
    async close() {
      progress?.stop();
      await server?.close();
    },
  };
}
