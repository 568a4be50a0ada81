// What the supervisor does when a worker exits, decided by its exit code (errors.ts, EXIT) and by
// whether it made progress: a worker whose reason to stop no restart fixes stops the run; a crash is
// restarted, with a backoff that grows until the worker commits something; a worker that keeps dying
// without committing anything is in a crash loop, and the run ends rather than grind its messages.
import { backoffDelayMs, type BackoffPolicy } from '../backoff.js';
import { EXIT } from '../errors.js';

export const RESTART_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000 };

/**
 * Deaths in a row without a commit that make a crash loop. With the backoff above, the fifth comes
 * some 4-8 s after the first; each incarnation held its messages until their visibility timeout (it
 * died), so no message was received more than once in that time by these restarts.
 */
export const CRASH_LOOP_DEATHS = 5;

/**
 * A worker's own decision that starting it again cannot help, not now: a setting or key (2), a
 * server it cannot reach or an outage it gave up on (3: it retried already; whatever started the
 * supervisor decides when to try again), PostgreSQL refusing what it must do (5).
 */
export const STOP_RUN_EXIT_CODES: ReadonlySet<number> = new Set([EXIT.config, EXIT.unreachable, EXIT.refused]);

export type ExitDecision =
  /** ended by itself (a drain that is over): not restarted */
  | { action: 'done' }
  /** stop every worker; the run ends with this code */
  | { action: 'stopRun'; code: number }
  | { action: 'restart'; delayMs: number };

/**
 * `deathsWithoutCommit`: the worker's deaths since it last committed a batch, this one included.
 * A signal (SIGKILL from the kernel's OOM killer, SIGABRT when V8's heap is exhausted) is a crash.
 */
export function decideOnExit(code: number | null, deathsWithoutCommit: number): ExitDecision {
  if (code === EXIT.ok) return { action: 'done' };
  if (code !== null && STOP_RUN_EXIT_CODES.has(code)) return { action: 'stopRun', code };
  if (deathsWithoutCommit >= CRASH_LOOP_DEATHS) return { action: 'stopRun', code: EXIT.crashLoop };
  return { action: 'restart', delayMs: backoffDelayMs(deathsWithoutCommit, RESTART_BACKOFF) };
}
