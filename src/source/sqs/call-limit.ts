// At most `max` calls at a time, the rest waiting in order. The source gives deletes and
// visibility changes their own limits so that a burst of one never queues the other behind it
// for a socket (a heartbeat stuck behind 50 deletes lets messages reappear).

export type CallLimit = <T>(call: () => Promise<T>) => Promise<T>;

export function callLimit(max: number): CallLimit {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (call) => {
    if (running >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await call();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}
