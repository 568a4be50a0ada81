// Capped exponential backoff with full jitter, shared by every retry loop, and a sleep that
// wakes early when the run is being stopped.

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

export const defaultBackoff: BackoffPolicy = { initialMs: 100, maxMs: 10_000 };

/** Delay before retry number `attempt` (1-based). */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy = defaultBackoff): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
