// Liveness and readiness. Ready means: started (connected, migrated), PostgreSQL answering with
// every migration applied (checked when asked, since an idle worker writes nothing that would
// notice), SQS answering (the latest receive and depth poll succeeded), and not shutting down.
import type { EventBus } from './events.js';

export interface ReadinessReport {
  ready: boolean;
  checks: Record<'started' | 'database' | 'queue' | 'stopping', string>;
}

export interface ReadinessOptions {
  /** resolves when PostgreSQL answers and no migration is pending; rejects with a short reason */
  checkDatabase: () => Promise<void>;
  /** longest a database check may take before it counts as failed */
  timeoutMs?: number;
}

export class Readiness {
  private started = false;
  private stopping: string | undefined;
  private lastReceiveError: string | undefined;
  private lastDepthError: string | undefined;
  private inFlightCheck: Promise<string> | undefined;

  constructor(
    bus: EventBus,
    private readonly options: ReadinessOptions,
  ) {
    bus
      .on('pipeline:started', () => (this.started = true))
      .on('pipeline:stopping', ({ reason }) => (this.stopping = reason))
      .on('source:received', () => (this.lastReceiveError = undefined))
      .on('source:depth', () => (this.lastDepthError = undefined))
      .on('source:error', ({ operation, code }) => {
        if (operation === 'receive') this.lastReceiveError = code;
        if (operation === 'depth') this.lastDepthError = code;
      });
  }

  async report(): Promise<ReadinessReport> {
    const database = this.started ? await this.databaseState() : 'not checked';
    const queueError = this.lastReceiveError ?? this.lastDepthError;
    const checks = {
      started: this.started ? 'ok' : 'starting: connecting and migrating',
      database,
      queue: !this.started ? 'not checked' : queueError === undefined ? 'ok' : `failing (${queueError})`,
      stopping: this.stopping === undefined ? 'ok' : `shutting down (${this.stopping})`,
    };
    return { ready: Object.values(checks).every((state) => state === 'ok'), checks };
  }

  /** One database check at a time: concurrent probes share it. */
  private databaseState(): Promise<string> {
    this.inFlightCheck ??= this.checkDatabase().finally(() => (this.inFlightCheck = undefined));
    return this.inFlightCheck;
  }

  private async checkDatabase(): Promise<string> {
    const timeoutMs = this.options.timeoutMs ?? 2_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
    });
    try {
      return await Promise.race([
        this.options.checkDatabase().then(
          () => 'ok',
          (error: unknown) => `failing (${error instanceof Error ? error.message : String(error)})`,
        ),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}
