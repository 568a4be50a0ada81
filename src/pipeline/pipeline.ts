// Wires source -> transform -> sink. Pollers receive and transform; messages gather into batches
// bounded by rows and time; each batch is committed, then (and only then) deleted from SQS.
// Stopping ends polling, commits and deletes what is in hand, and releases everything else; a run
// that ends on a failure leaves it to the visibility timeout instead (see giveBack).
import { setMaxListeners } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { backoffDelayMs, sleep } from '../backoff.js';
import { ConnectError, describeError } from '../errors.js';
import type { Emit } from '../observability/events.js';
import { errorCode, type SqsSource } from '../source/sqs/source.js';
import type { Payload, S3PayloadResolver } from '../source/s3/payload-resolver.js';
import type { EnvelopeMode } from '../transform/envelope.js';
import { pointerIn, type FoundPointer } from '../transform/s3-pointer.js';
import type { PipelineTransform } from '../transform/pipeline-transform.js';
import type { InboundMessage } from '../model/message.js';
import type { VaultSealer } from '../vault/sealed-box.js';
import { BatchWriter, WriteAbortedError, type Entry } from './batch-writer.js';
import type { PostgresSink } from '../sink/postgres/sink.js';

export interface PipelineOptions {
  pollers: number;
  receiveWaitSec: number;
  batchMaxRows: number;
  batchMaxWaitMs: number;
  maxInFlightMessages: number;
  /**
   * what the messages in hand and the answers being read hold (the source's byte budget); with a
   * client that cannot count answers as they arrive, plus the worst case reserved for each receive
   */
  maxInFlightBytes: number;
  /** the limit instead, where the source reserves each receive's worst case (absent: maxInFlightBytes; see reservingInFlightBytesOf) */
  reservingInFlightBytes?: number;
  /** reserve: even a client that counts answers as they arrive reserves the worst case per receive; count when absent, as --answer-bytes */
  answerBytes?: 'reserve' | 'count';
  /** finish once the queue is empty and everything is committed */
  drain: boolean;
  /** bodies larger than this are quarantined too_large without being parsed (default: the queue's maximum) */
  maxBodyBytes?: number | undefined;
  /** with drain: give up once PostgreSQL or SQS has failed this long */
  maxOutageSec: number;
  /** how often the queue's depth is polled for the metrics and the progress line */
  queueDepthIntervalSec: number;
  /** SNS / EventBridge envelopes around the events (absent: none) */
  envelope?: EnvelopeMode;
  /** with S3 payloads: delete each resolved object once its message is committed and deleted */
  s3DeleteAfterCommit?: boolean;
}

/** a poller's state across its receives: its run of failed receives, and its FIFO receive attempts */
interface PollerHealth {
  failures: number;
  failingSince: number | undefined;
  attempts: ReturnType<SqsSource['receiveAttempts']>;
}

const RECEIVE_MAX = 10;
// Receives ask for as many messages as make about this many bytes, judged by the bodies of recent
// answers: after a burst of large bodies, one message per call, so decoding an answer (synchronous,
// in the SDK) holds the event loop for milliseconds and the memory it takes stays small. Back to
// ten once bodies are small again (the estimate halves with every answer).
const RECEIVE_TARGET_BYTES = 512 * 1024;
const BODY_ESTIMATE_FLOOR_BYTES = 1024;
// A batch is written once it holds this many bytes of bodies, whatever its row count: the quarantined
// bodies of a batch are sealed and sent together, and must not add up to hundreds of megabytes.
const BATCH_MAX_BYTES = 8 * 1024 * 1024;
// Transforming a receive's messages gives the event loop back after this long (timers, heartbeats,
// health probes): a hostile answer of ten 1 MiB bodies must not hold it for their whole cost.
const TRANSFORM_SLICE_MS = 10;
// On stop, a receive already sent may be answering with messages the server has hidden: let it
// finish for this long (an idle long poll is then cut short; it holds no messages).
const STOP_RECEIVE_GRACE_MS = 1_000;
// Long enough to batch a burst, short enough that --drain notices an empty queue promptly.
const DRAIN_RECEIVE_WAIT_SEC = 1;
// A drain that has nothing in hand asks the queue whether it is empty at most this often: after
// every commit that leaves nothing in hand, so the end is noticed within a depth call of the last.
const DRAIN_CHECK_MIN_INTERVAL_MS = 100;

export class Pipeline {
  private readonly stopping = new AbortController();
  private readonly receiving = new AbortController();
  private drained = false;
  /** a drain's emptiness check under way, and when the last one started */
  private drainCheck: Promise<void> | undefined;
  private drainCheckedAt = -Infinity;
  private readonly writer: BatchWriter;
  private pending: Entry[] = [];
  private pendingBytes = 0;
  /** receives sent and not yet answered (the bytes reserved for them, SDK client only, are the budget's) */
  private receivesInFlight = 0;
  /** the largest body of recent answers, halving with each answer */
  private bodyEstimateBytes = BODY_ESTIMATE_FLOOR_BYTES;
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly writes = new Set<Promise<void>>();
  /** writes whose batch is being committed (the others are deleting theirs from the queue) */
  private committing = 0;
  private readonly pollers = new Set<Promise<void>>();
  /** pollers still polling: decremented the moment one decides to end, so two never both end the last */
  private activePollers = 0;
  private roomWaiters: (() => void)[] = [];
  private failure: Error | undefined;
  private onFatal: (() => void) | undefined;
  /** told to stop because the run is failing elsewhere (another worker): leave, do not release */
  private leaving = false;

  constructor(
    private readonly source: SqsSource,
    private readonly sink: PostgresSink,
    /** the pipeline's own transform (compileTransform): its event reader, its envelope and body limit, vault on or off */
    private readonly transformer: PipelineTransform,
    private readonly options: PipelineOptions,
    /** the pipeline's events (withPipeline: each names the pipeline) */
    private readonly emit: Emit,
    /** vault on: seals the originals of every row to the vault's public key (it cannot open them) */
    private readonly vault: VaultSealer | null = null,
    /** resolves SQS extended client pointers from S3 (null: a pointer body is taken as the event) */
    private readonly payloads: S3PayloadResolver | null = null,
  ) {
    // Every batch waiting out an outage listens for the stop: dozens of listeners are expected.
    setMaxListeners(0, this.stopping.signal, this.receiving.signal);
    this.writer = new BatchWriter(sink, transformer, emit, this.stopping.signal, this.outageLimitMs, vault);
  }

  /** a service retries for ever; a drain gives up so a scheduled job can fail visibly */
  private get outageLimitMs(): number | null {
    return this.options.drain ? this.options.maxOutageSec * 1000 : null;
  }

  get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  /**
   * Graceful stop: polling ends at once, what is in hand is finished or released. `leave`: the run
   * is ending on a failure (another worker's): what is not committed is left to its visibility timeout.
   */
  stop(reason: string, options: { leave?: boolean } = {}): void {
    if (options.leave) this.leaving = true;
    if (this.stopped) return;
    this.emit('pipeline:stopping', { reason, inFlight: this.source.inFlight });
    this.stopping.abort();
    // A drain stops once the queue holds nothing anyone could be receiving: no grace to wait out.
    if (reason === 'drained') this.receiving.abort();
    else setTimeout(() => this.receiving.abort(), STOP_RECEIVE_GRACE_MS).unref();
    this.wakePollers();
    if (reason === 'fatal') this.onFatal?.();
  }

  /** Told the moment this pipeline stops on a failure (not when its run ends, a grace later): the run's other pipelines stop with it. */
  whenFatal(listener: () => void): void {
    this.onFatal = listener;
  }

  /**
   * One batch of made-up messages written and rolled back, before anything is received: throws the
   * error of a refusal no retry fixes (see BatchWriter.rehearse).
   */
  async rehearse(messages: readonly InboundMessage[]): Promise<void> {
    await this.writer.rehearse(messages.map((message) => this.transform(message)));
  }

  /**
   * Resolves when drained or stopped (`drained` says which); rejects with the error that made
   * the run impossible.
   */
  async run(): Promise<{ drained: boolean }> {
    const started = performance.now();
    this.source.startHeartbeat();
    this.source.startDepthPolling(this.options.queueDepthIntervalSec * 1000);
    this.emit('pipeline:started', { pollers: this.options.pollers });
    // A budget shared with other pipelines gains room when they give bytes back: pollers waiting
    // for room here must hear of it, or they would wait for a commit of their own that never comes.
    const stopListening = this.source.budget.onRoom(() => this.wakePollers());
    try {
      this.startPoller();
      while (this.pollers.size > 0) await Promise.all(this.pollers);
      this.flush();
      while (this.writes.size > 0) await Promise.all(this.writes);
      // Whatever is still in hand was never committed.
      await this.giveBack(this.source.held());
    } finally {
      stopListening();
      this.source.stopDepthPolling();
      // An extension still in flight would otherwise meet a closed client ("SQS extend failed" at the end of a drain).
      await this.source.stopHeartbeat();
    }
    if (this.failure !== undefined) throw this.failure;
    if (this.drained) this.emit('pipeline:drained', { durationMs: performance.now() - started });
    return { drained: this.drained };
  }

  /**
   * Pollers adapt to the queue: the run starts with one; a receive that comes back full starts
   * another (up to --pollers), and one that comes back less than half full ends its own poller
   * (never the last). A backed-up queue gets every poller; a trickle gets few, so its receives stay
   * full and its calls few, which keeps the send-to-commit latency of a service low.
   */
  private startPoller(): void {
    this.activePollers++;
    // A poller that fails stops the run in order: in-flight batches finish, the rest is released.
    const poller: Promise<void> = this.poll()
      .catch((error: unknown) => {
        this.failure ??= asError(error);
        this.stop('fatal');
      })
      .finally(() => this.pollers.delete(poller));
    this.pollers.add(poller);
  }

  private async poll(): Promise<void> {
    const waitSec = this.options.drain
      ? Math.min(this.options.receiveWaitSec, DRAIN_RECEIVE_WAIT_SEC)
      : this.options.receiveWaitSec;
    // On a FIFO queue a retried receive carries the failed one's attempt id (source.receive).
    const health: PollerHealth = { failures: 0, failingSince: undefined, attempts: this.source.receiveAttempts() };
    // One receive per call, never inline in this loop: a suspended async function keeps its locals
    // alive, those of a loop turn that has ended too, so a poller waiting for room would hold its
    // last answer's bodies (ten of 1 MiB on a default queue) long after they were committed and
    // given back to the byte budget: sixteen pollers held ~160 MB that way (docs/performance.md).
    while (!this.stopped) if ((await this.pollOnce(waitSec, health)) === 'end') break;
  }

  /** One receive and the transform of what it brought; 'end' when this poller is to stop. */
  private async pollOnce(waitSec: number, health: PollerHealth): Promise<'again' | 'end'> {
    const slot = await this.roomForMore();
    if (slot === undefined) return 'end';
    const { max, reserved } = slot;
    let messages;
    try {
      messages = await this.source.receive(max, waitSec, this.receiving.signal, health.attempts);
      health.failures = 0;
      health.failingSince = undefined;
    } catch (error) {
      this.receivesInFlight--;
      this.source.budget.unreserve(reserved);
      this.wakePollers();
      health.failingSince ??= Date.now();
      const limit = this.outageLimitMs;
      if (limit !== null && Date.now() - health.failingSince > limit) {
        this.failure ??= new ConnectError(
          'sqs_unreachable',
          `SQS has failed for more than ${Math.round(limit / 1000)} s (${describeError(error)}); nothing uncommitted was deleted: check the queue and the network, then run again`,
          error,
        );
        this.stop('fatal');
        return 'end';
      }
      const retryInMs = backoffDelayMs(++health.failures);
      this.emit('source:error', { operation: 'receive', code: errorCode(error), message: describeError(error), retryInMs });
      await sleep(retryInMs, this.stopping.signal);
      return 'again';
    }
    // The reservation gives way to what the answer holds, which the source now counts.
    this.receivesInFlight--;
    this.source.budget.unreserve(reserved);
    this.learnBodySizes(messages);
    this.wakePollers();
    if (this.stopped) {
      // Answered after the stop: not started, so handed straight back.
      await this.giveBack(messages);
      return 'end';
    }
    if (messages.length === 0) {
      if (this.retirePoller()) return 'end';
      if (this.options.drain) await this.checkDrained(true);
      return 'again';
    }
    let sliceStart = performance.now();
    const loads: Promise<void>[] = [];
    for (const message of messages) {
      const pointer = this.payloads ? pointerIn(message.body, this.options.envelope ?? 'none') : undefined;
      if (pointer !== undefined) {
        loads.push(this.loadPayload(message, pointer));
        continue;
      }
      this.add(this.transform(message));
      if (performance.now() - sliceStart > TRANSFORM_SLICE_MS) {
        await nextTurn();
        sliceStart = performance.now();
      }
    }
    await Promise.all(loads);
    // On a FIFO queue every message in hand holds its group back: SQS gives none of the group's next
    // messages until it is deleted, so a batch waiting to fill (--batch-max-wait-ms) delays every
    // group in it by that wait, at each of its messages, whether the receive came back full or not.
    if (this.source.fifo) this.flushUnlessBusy();
    if (messages.length === max && max === RECEIVE_MAX) {
      if (this.activePollers < this.options.pollers) this.startPoller();
    } else if (messages.length < RECEIVE_MAX / 2 && this.retirePoller()) {
      return 'end';
    }
    return 'again';
  }

  /**
   * Fetches the S3 payload `pointer` names, under the byte budget, and adds the message as soon as
   * it is read: a payload waiting for room may be waiting for another's commit, never for the rest
   * of its receive.
   */
  private async loadPayload(message: InboundMessage, { pointer, envelope }: FoundPointer): Promise<void> {
    const payloads = this.payloads as S3PayloadResolver;
    const payload = await payloads.fetch(pointer, (bytes, signal) => this.source.holdPayload(message, bytes, signal), this.receiving.signal);
    if (payload.kind === 'resolved' || payload.kind === 'refused') return this.add(this.transform(message, payload, envelope));
    // Cut short by the stop: not started, so handed straight back.
    if (this.stopped && payload.kind === 'transient') return this.giveBack([message]);
    // S3 refused this worker's credentials: every payload would be refused alike, and none is the
    // message's fault. The run stops (as for SQS's), and leaves the messages in the queue to their
    // visibility timeout, for a worker whose credentials S3 takes.
    if (payload.kind === 'credentials') {
      this.failure ??= new ConnectError(
        's3_unreachable',
        `S3 refused the AWS credentials for a message's payload (${payload.code}: ${payload.message}); nothing was quarantined and the messages stay in the queue: check the credentials S3 is given (AWS_ACCESS_KEY_ID, AWS_PROFILE, the role, a session token that expired), the clock (RequestTimeTooSkewed) and AWS_REGION, then run again`,
      );
      this.stop('fatal');
      return this.giveBack([message]);
    }
    // Not an answer about the object: back to the queue, to be tried again after a backoff.
    this.emit('payload:error', { operation: 'get', code: payload.code, message: payload.message });
    await this.source.postpone([message]);
  }

  private receiveSize(): number {
    return Math.max(1, Math.min(RECEIVE_MAX, Math.floor(RECEIVE_TARGET_BYTES / this.bodyEstimateBytes)));
  }

  private learnBodySizes(messages: readonly InboundMessage[]): void {
    let largest = 0;
    for (const message of messages) largest = Math.max(largest, message.body.length);
    this.bodyEstimateBytes = Math.max(BODY_ESTIMATE_FLOOR_BYTES, largest, this.bodyEstimateBytes / 2);
  }

  /** This poller may end, unless it is the last. */
  private retirePoller(): boolean {
    if (this.activePollers <= 1) return false;
    this.activePollers--;
    return true;
  }

  /**
   * With the vault off, exactly the transform alone: the hot path pays nothing for the vault. An S3
   * payload is read as the body would have been; one that cannot be had is the message's rejection.
   */
  private transform(message: InboundMessage, payload?: Extract<Payload, { kind: 'resolved' | 'refused' }>, envelope?: FoundPointer['envelope']): Entry {
    // A payload an SNS Notification pointed to is keyed and dated by the notification, and is the event itself.
    const keyed = envelope ? { ...message, messageId: envelope.key, sentAtMs: envelope.timeMs } : message;
    if (payload?.kind === 'refused') return { message, outcome: { kind: 'rejected', rejection: this.transformer.reject(keyed, payload.reason, null, payload.detail) } };
    if (!payload) {
      // The common case, once per message: the entry made as it is, not spread from another object.
      const { outcome, originals } = this.transformer.read(message);
      return originals === undefined ? { message, outcome } : { message, outcome, originals };
    }
    return { message, body: payload.body, s3Object: payload.pointer, ...this.transformer.read({ ...keyed, body: payload.body }, envelope ? 'none' : undefined) };
  }

  private add(entry: Entry): void {
    this.pending.push(entry);
    this.pendingBytes += (entry.body ?? entry.message.body).length;
    if (this.pending.length >= this.options.batchMaxRows || this.pendingBytes >= BATCH_MAX_BYTES) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), this.options.batchMaxWaitMs);
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    const write = this.commitThenDelete(batch)
      .catch((error: unknown) => {
        this.failure ??= asError(error);
        this.stop('fatal');
      })
      .finally(() => {
        this.writes.delete(write);
        this.wakePollers();
        // The last commit of a drain: ask the queue now rather than after a long poll comes back empty.
        if (this.options.drain && !this.stopped && this.nothingInHand()) void this.checkDrained(false);
      });
    this.writes.add(write);
  }

  /**
   * FIFO queues: what is pending is written at once, unless every connection is busy with this
   * pipeline's writes: it then gathers into a larger batch, written as soon as one of them commits
   * (not after --batch-max-wait-ms), so a queue with many groups still writes batches, not a
   * transaction per receive. With no write of its own under way it is written at once, even behind
   * other pipelines' writes: no commit of this pipeline's would come to send it sooner.
   */
  private flushUnlessBusy(): void {
    if (this.committing === 0 || this.sink.connectionFree) this.flush();
  }

  private async commitThenDelete(batch: readonly Entry[]): Promise<void> {
    const messages = batch.map((entry) => entry.message);
    let refused: Entry[];
    this.committing++;
    try {
      refused = await this.writer.write(batch);
    } catch (error) {
      if (!(error instanceof WriteAbortedError)) {
        this.failure ??= asError(error);
        this.stop('fatal');
      }
      await this.giveBack(messages);
      return;
    } finally {
      this.committing--;
      // FIFO: a connection is free again, so what gathered meanwhile goes now (flushUnlessBusy).
      if (this.source.fifo && this.pending.length > 0) this.flushUnlessBusy();
    }
    if (refused.length === 0) {
      await this.source.delete(messages);
      return this.deletePayloads(batch);
    }
    // Refused in every form: not deleted, hidden for a while, and the rest of the batch goes on.
    const left = new Set(refused.map((entry) => entry.message));
    await Promise.all([this.source.delete(messages.filter((message) => !left.has(message))), this.source.postpone([...left])]);
    await this.deletePayloads(batch.filter((entry) => !left.has(entry.message)));
  }

  /**
   * After the messages' own deletes, never before: a message redelivered after its object was gone
   * would be quarantined rather than skipped. Best effort: an object left behind costs only storage.
   */
  private async deletePayloads(entries: readonly Entry[]): Promise<void> {
    const payloads = this.payloads;
    if (!payloads || !this.options.s3DeleteAfterCommit) return;
    await Promise.all(
      entries.flatMap((entry) =>
        entry.s3Object
          ? [payloads.delete(entry.s3Object).catch((error: unknown) => this.emit('payload:error', { operation: 'delete', code: errorCode(error), message: describeError(error) }))]
          : [],
      ),
    );
  }

  /**
   * Backpressure: polling waits while the messages in hand, or the bytes they and the answers
   * being read hold, are at the limits (the lean client counts answers as they arrive, and stops
   * reading them when the budget is full; the SDK's reserves a full answer for each receive in
   * flight). With nothing in hand and nothing being received, one receive always goes out, so a
   * budget smaller than one answer still makes progress.
   */
  private async roomForMore(): Promise<{ max: number; reserved: number } | undefined> {
    while (!this.stopped) {
      if (this.hasRoom()) {
        // Reserved in the same turn as the check: pollers woken together must not all see room.
        const max = this.receiveSize();
        const reserved = max * this.source.reservePerMessageBytes;
        this.receivesInFlight++;
        this.source.budget.reserve(reserved);
        return { max, reserved };
      }
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    }
    return undefined;
  }

  private hasRoom(): boolean {
    if (this.source.inFlight + RECEIVE_MAX > this.options.maxInFlightMessages) return false;
    if (this.source.inFlight === 0 && this.receivesInFlight === 0) return true;
    // Large bodies arrive one receive at a time: the SDK decodes each answer in one go, and answers
    // landing together would be decoded back to back, their garbage piling up before V8 collects it.
    const next = this.receiveSize() * this.source.reservePerMessageBytes;
    if (this.receiveSize() < RECEIVE_MAX && this.receivesInFlight > 0) return false;
    const limit = next > 0 ? (this.options.reservingInFlightBytes ?? this.options.maxInFlightBytes) : this.options.maxInFlightBytes;
    return this.source.inFlightBytes + this.source.budget.reserved + next <= limit;
  }

  /**
   * Messages in hand that will not be committed by this run. A stop asked for (a signal, the end of
   * a drain) releases them, so another worker takes them at once. A run ending on a failure leaves
   * them hidden until their visibility timeout: the failure may be one no restart fixes, and a
   * process started again at once (by a supervisor, Kubernetes, a person) must not receive them
   * again sooner, each receive counting towards the queue's maxReceiveCount and its dead-letter queue.
   */
  private async giveBack(messages: readonly InboundMessage[]): Promise<void> {
    if (this.failure !== undefined || this.leaving) this.source.leave(messages);
    else await this.source.release(messages);
  }

  /**
   * Pollers waiting for room look again when there is room for one of them, or the run stops: the
   * shared budget calls this for every message any of its pipelines deletes, and a dozen waiters
   * woken each time to find no room was work for nothing (docs/performance.md, "Side by side").
   */
  private wakePollers(): void {
    if (this.roomWaiters.length === 0 || (!this.stopped && !this.hasRoom())) return;
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const wake of waiters) wake();
  }

  private nothingInHand(): boolean {
    return this.source.inFlight === 0 && this.pending.length === 0 && this.writes.size === 0;
  }

  /**
   * A drain ends once the queue is empty: then every other poller's long poll is cut short (it can
   * bring nothing). One check at a time; `force` (a receive came back empty) waits for a check under
   * way rather than skipping it, the others are skipped when one ran in the last 100 ms.
   */
  private async checkDrained(force: boolean): Promise<void> {
    if (this.drainCheck !== undefined) {
      if (force) await this.drainCheck;
      return;
    }
    if (!force && performance.now() - this.drainCheckedAt < DRAIN_CHECK_MIN_INTERVAL_MS) return;
    this.drainCheckedAt = performance.now();
    const check = (async () => {
      if (!this.stopped && (await this.queueIsEmpty()) && !this.stopped) {
        this.drained = true;
        this.stop('drained');
      }
    })();
    this.drainCheck = check;
    try {
      await check;
    } finally {
      this.drainCheck = undefined;
    }
  }

  /** Nothing in hand here and nothing visible, hidden or delayed in the queue. */
  private async queueIsEmpty(): Promise<boolean> {
    if (!this.nothingInHand()) return false;
    try {
      const depth = await this.source.depth();
      // Messages this run left in the queue (postponed) are hidden, not work a drain can finish.
      return depth.visible + depth.delayed === 0 && depth.inFlight <= this.source.postponedHidden() && this.source.inFlight === 0;
    } catch (error) {
      this.emit('source:error', { operation: 'depth', code: errorCode(error), message: describeError(error), retryInMs: null });
      return false;
    }
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
