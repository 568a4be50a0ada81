// First SIGINT/SIGTERM: graceful stop (finish what is in hand, release the rest).
// Second: exit at once; nothing is lost, since uncommitted messages reappear after the visibility timeout.
// Installed before start-up, so a signal while connecting and migrating is a stop too, not a kill.

interface Stoppable {
  stop(reason: string, options?: { leave?: boolean }): void;
}

export interface SignalStop {
  /** the pipeline to stop; a signal that came before it existed stops it at once */
  attach(target: Stoppable): void;
  /** a stop asked for another way (a supervisor's): like a first signal, but not counted as one; `leave`: see Pipeline.stop */
  request(reason: string, leave?: boolean): void;
  dispose(): void;
}

/** `onEarly`: a first signal came before there was anything to stop (start-up is still under way). */
export function stopOnSignals(onForce: () => void, onEarly?: (signal: NodeJS.Signals) => void): SignalStop {
  let received = 0;
  let pendingReason: string | undefined;
  let pendingLeave = false;
  let target: Stoppable | undefined;
  const handler = (signal: NodeJS.Signals) => {
    received += 1;
    if (received > 1) return onForce();
    pendingReason = `received ${signal}`;
    if (target) target.stop(pendingReason);
    else onEarly?.(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    request(reason, leave = false) {
      pendingReason ??= reason;
      pendingLeave ||= leave;
      if (target) target.stop(reason, { leave });
    },
    attach(next) {
      target = next;
      if (pendingReason !== undefined) next.stop(pendingReason, { leave: pendingLeave });
    },
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
