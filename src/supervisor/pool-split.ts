// How many worker processes a host runs, and how the operator's PostgreSQL connections are shared
// among them, so that N workers together open no more connections than --db-pool-size says.
import { ConfigError } from '../errors.js';

/** `auto`: the cores this process may use (os.availableParallelism(), which honours CPU affinity). */
export function resolveWorkerCount(setting: number | 'auto', availableCores: number): number {
  return setting === 'auto' ? Math.max(1, availableCores) : setting;
}

/** 10 connections over 3 workers: [4, 3, 3]. Every worker needs at least one. */
export function splitPoolSize(total: number, workers: number): number[] {
  if (workers > total) {
    throw new ConfigError(
      `--workers (SQS2PG_WORKERS) is ${workers} but --db-pool-size (SQS2PG_DB_POOL_SIZE) is ${total}: every worker needs at least one PostgreSQL connection and the pool size is the host's total; raise --db-pool-size to at least ${workers} or run fewer workers`,
    );
  }
  const base = Math.floor(total / workers);
  const extra = total % workers;
  return Array.from({ length: workers }, (_, i) => base + (i < extra ? 1 : 0));
}
