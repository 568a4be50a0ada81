// Liveness and readiness. Ready means: started (connected, migrated), PostgreSQL answering with
// every migration applied (checked when asked, since an idle worker writes nothing that would
// notice), SQS answering (the latest receive and depth poll of every pipeline's queue succeeded),
// and not shutting down.
import type { EventBus } from './events.js';
import { DEFAULT_PIPELINES, pipelineOf } from './pipeline-of.js';

export interface ReadinessReport {
  ready: boolean;
  checks: Record<'started' | 'database' | 'queue' | 'stopping', string>;
}

export interface ReadinessOptions {
  /** resolves when PostgreSQL answers and no migration is pending; rejects with a short reason */
  checkDatabase: () => Promise<void>;
  /** longest a database check may take before it counts as failed */
  timeoutMs?: number;
  /** the run's pipelines (default: logins, a run without a file): a failing queue is named when there are several */
  pipelines?: readonly string[];
}

/** A queue's latest receive and depth poll: the code of each that failed. */
interface QueueState {
  receiveError: string | undefined;
  depthError: string | undefined;
}

export class Readiness {
  private started = false;
  /** the pipelines that said they started; the run has started once all have (or once it says so itself) */
  private readonly startedPipelines = new Set<string>();
  /** why each pipeline is stopping, by pipeline ('' for a stop of the whole run) */
  private readonly stopping = new Map<string, string>();
  /** by pipeline ('' for events of a run of several that name none): one queue's success says nothing of another's */
  private readonly queues = new Map<string, QueueState>();
  private readonly pipelines: readonly string[];
  private inFlightCheck: Promise<string> | undefined;

  constructor(
    bus: EventBus,
    private readonly options: ReadinessOptions,
  ) {
    this.pipelines = options.pipelines ?? DEFAULT_PIPELINES;
    bus
      .on('pipeline:started', (event) => {
        const pipeline = pipelineOf(event, this.pipelines);
        if (pipeline !== undefined) this.startedPipelines.add(pipeline);
        // A pipeline not in the list says the list is not this run's: never wait for names that will not come.
        const unknown = pipeline !== undefined && !this.pipelines.includes(pipeline);
        this.started ||= pipeline === undefined || unknown || this.pipelines.every((name) => this.startedPipelines.has(name));
      })
      .on('pipeline:stopping', (event) => this.stopping.set(pipelineOf(event, this.pipelines) ?? '', event.reason))
      .on('source:received', (event) => (this.queueOf(event).receiveError = undefined))
      .on('source:depth', (event) => (this.queueOf(event).depthError = undefined))
      .on('source:error', (event) => {
        if (event.operation === 'receive') this.queueOf(event).receiveError = event.code;
        if (event.operation === 'depth') this.queueOf(event).depthError = event.code;
      });
  }

  private queueOf(payload: { pipeline?: string }): QueueState {
    const name = pipelineOf(payload, this.pipelines) ?? '';
    let state = this.queues.get(name);
    if (!state) this.queues.set(name, (state = { receiveError: undefined, depthError: undefined }));
    return state;
  }

  private notStarted(): string[] {
    return this.pipelines.filter((name) => !this.startedPipelines.has(name));
  }

  /** What fails of the queues: "CODE" with one pipeline, "name: CODE, …" with several; undefined if none. */
  private queueErrors(): string | undefined {
    const named = this.pipelines.length > 1;
    const failing = [...this.queues]
      .sort(([a], [b]) => a.localeCompare(b))
      .flatMap(([name, state]) => {
        const code = state.receiveError ?? state.depthError;
        return code === undefined ? [] : [named && name !== '' ? `${name}: ${code}` : code];
      });
    return failing.length === 0 ? undefined : failing.join(', ');
  }

  /**
   * A pipeline that has drained its queue leaves the others working: the run is stopping once every
   * pipeline is (or the run itself is), or as soon as one stops for any other reason (a signal, a failure).
   */
  private stoppingState(): string {
    const reasons = [...this.stopping.values()];
    const other = reasons.find((reason) => reason !== 'drained');
    if (other !== undefined) return `shutting down (${other})`;
    // A pipeline not in the list says the list is not this run's (as for started): its stop is the run's.
    const stopped = [...this.stopping.keys()];
    const all = stopped.some((name) => !this.pipelines.includes(name)) || this.pipelines.every((name) => this.stopping.has(name));
    return all && reasons.length > 0 ? 'shutting down (drained)' : 'ok';
  }

  async report(): Promise<ReadinessReport> {
    const database = this.started ? await this.databaseState() : 'not checked';
    const queueError = this.queueErrors();
    const checks = {
      started: this.started ? 'ok' : this.startedPipelines.size > 0 ? `starting: ${this.notStarted().join(', ')} not started yet` : 'starting: connecting and migrating',
      database,
      queue: !this.started ? 'not checked' : queueError === undefined ? 'ok' : `failing (${queueError})`,
      stopping: this.stoppingState(),
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
