// The SQS side of the pipeline: long-poll, track what is in hand, keep it hidden while it is
// worked on, delete it only when told it is committed, and release what will not be finished.
// Receipt handles never leave source/sqs/.
import { backoffDelayMs, sleep } from '../../backoff.js';
import { describeError } from '../../errors.js';
import type { Emit, SqsOperation } from '../../observability/events.js';
import { SQS_MAX_BODY_BYTES, type InboundMessage } from '../../model/message.js';
import { ByteBudget, heldBytesOf, MESSAGE_OVERHEAD_BYTES, payloadHeldBytes, type PayloadHold } from './byte-budget.js';
import { callLimit } from './call-limit.js';
import { isFifoQueueUrl, ReceiveAttempts } from './receive-attempt.js';
import type { BatchEntry, BatchEntryFailure, SqsApi } from './sqs-api.js';

export interface SqsSourceOptions {
  queueUrl: string;
  visibilityTimeoutSec: number;
  emit: Emit;
  /** the byte budget's limit: what the messages in hand and the answers being read may hold */
  maxHeldBytes?: number;
  /** the process's budget, shared with the run's other pipelines' sources (maxHeldBytes is then unused: its limit is the budget's) */
  budget?: ByteBudget;
  /** reserve the worst case for each receive even when the client counts answers as they arrive */
  reserveAnswers?: boolean;
}

export interface QueueDepth {
  visible: number;
  inFlight: number;
  delayed: number;
}

const SQS_BATCH_MAX = 10;
const DELETE_ATTEMPTS = 3;
// Calls other than the long poll answer quickly or not at all: bound each, retries included.
const CALL_TIMEOUT_MS = 10_000;
export { SQS_MAX_BODY_BYTES };
const DEFAULT_MAX_HELD_BYTES = 48 * 1024 * 1024;
// A client that cannot count an answer while it arrives (the SDK's, which decodes it in one go)
// gets a reservation instead: each message a receive may bring may be as large as the queue allows,
// and costs about twice that while the SDK decodes it (the bytes, then the strings).
const RESERVE_FACTOR = 2;
// Deletes in flight at once: at AWS's ~20 ms a call, 32 keep up with 15,000 messages/s.
const DELETE_CONCURRENCY = 32;
// Visibility changes (heartbeat, release) in flight at once, on sockets deletes do not take.
const VISIBILITY_CONCURRENCY = 4;

/** Sockets the SQS client needs: one per poller's long poll, the deletes, the visibility changes, a depth call. */
export function sqsSocketsFor(pollers: number): number {
  return pollers + DELETE_CONCURRENCY + VISIBILITY_CONCURRENCY + 1;
}

// A message PostgreSQL refused in every form is hidden for this long, doubling with each receive
// (30 s, 1 min, 2 min ... up to SQS's 12 h), so it costs little while the queue's redrive policy
// (maxReceiveCount) moves it to the dead-letter queue, or someone fixes the database.
const POSTPONE_FIRST_SEC = 30;
const POSTPONE_MAX_SEC = 43_200;

export function postponeSec(receiveCount: number): number {
  return Math.min(POSTPONE_MAX_SEC, POSTPONE_FIRST_SEC * 2 ** Math.min(Math.max(receiveCount - 1, 0), 12));
}

export class SqsSource {
  /** in hand: received and neither deleted nor released; with what each holds of the budget */
  private readonly receipts = new Map<InboundMessage, { receiptHandle: string; bytes: number }>();
  /** what the messages in hand and the answers being read hold: what --max-in-flight-bytes bounds */
  readonly budget: ByteBudget;
  /** A FIFO queue: the messages in hand hold back the rest of their message groups. */
  readonly fifo: boolean;
  /** the queue's MaximumMessageSize, once asked (see maxMessageBytes) */
  private queueMaxBytes = SQS_MAX_BODY_BYTES;
  /** messages this run postponed, by id, with when they become visible again */
  private readonly postponed = new Map<string, number>();
  private heartbeat: NodeJS.Timeout | undefined;
  /** the heartbeat's extension in flight, if any: the run's end waits for it before the client closes */
  private extending: Promise<void> | undefined;
  private depthPoll: NodeJS.Timeout | undefined;
  private readonly deleteSlots = callLimit(DELETE_CONCURRENCY);
  private readonly visibilitySlots = callLimit(VISIBILITY_CONCURRENCY);
  private deletedTotal = 0;

  constructor(
    private readonly api: SqsApi,
    private readonly options: SqsSourceOptions,
  ) {
    this.budget = options.budget ?? new ByteBudget(options.maxHeldBytes ?? DEFAULT_MAX_HELD_BYTES);
    // Read once: the pipeline asks after every receive, and the URL's parse cost ~14 µs each time.
    this.fifo = isFifoQueueUrl(options.queueUrl);
  }


  get inFlight(): number {
    return this.receipts.size;
  }

  /** What the messages in hand, and the answers being read, hold of the byte budget. */
  get inFlightBytes(): number {
    return this.budget.held;
  }

  /**
   * What a receive must reserve of the budget for each message it may bring, before it is sent:
   * nothing when the client counts answers as they arrive (the lean one), else the worst case.
   */
  get reservePerMessageBytes(): number {
    return this.api.countsAnswerBytes === true && this.options.reserveAnswers !== true ? 0 : RESERVE_FACTOR * this.queueMaxBytes;
  }

  /** Messages this run postponed that SQS still hides: a drain does not wait for them. */
  postponedHidden(): number {
    const now = Date.now();
    for (const [id, until] of this.postponed) if (until <= now) this.postponed.delete(id);
    return this.postponed.size;
  }

  /** Starts extending the visibility of messages in hand at half the visibility timeout. */
  startHeartbeat(): void {
    const everyMs = (this.options.visibilityTimeoutSec * 1000) / 2;
    this.heartbeat = setInterval(() => {
      const extending = this.extendAll().finally(() => {
        if (this.extending === extending) this.extending = undefined;
      });
      this.extending = extending;
    }, everyMs);
    this.heartbeat.unref();
  }

  /** Stops extending; resolves once an extension in flight has its answer (bounded by the call timeout). */
  async stopHeartbeat(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.extending;
  }

  /**
   * A poller's receives, for `receive`: on a FIFO queue, a receive that failed is sent again with
   * the same attempt id when the poller retries it (one per poller: its receives go one at a time).
   */
  receiveAttempts(): ReceiveAttempts {
    return new ReceiveAttempts(this.fifo);
  }

  /**
   * One long poll; an aborted poll returns no messages. Errors are thrown for the caller's backoff;
   * with `attempts`, its retry is the same attempt (see receiveAttempts).
   */
  async receive(max: number, waitSec: number, signal: AbortSignal, attempts?: ReceiveAttempts): Promise<InboundMessage[]> {
    const maxMessages = Math.min(max, SQS_BATCH_MAX);
    const attempt = attempts?.next(maxMessages);
    let received;
    try {
      received = await this.api.receive(
        {
          queueUrl: this.options.queueUrl,
          maxMessages: attempt?.maxMessages ?? maxMessages,
          waitSec,
          visibilityTimeoutSec: this.options.visibilityTimeoutSec,
          attemptId: attempt?.id,
        },
        signal,
        this.budget,
      );
    } catch (error) {
      if (signal.aborted) return [];
      throw error;
    }
    attempts?.answered();
    const messages: InboundMessage[] = [];
    let redelivered = 0;
    for (const raw of received) {
      const message: InboundMessage = {
        messageId: raw.messageId,
        body: raw.body,
        // SQS always sends SentTimestamp when asked; a server that does not gets the receive time.
        sentAtMs: Number(raw.sentTimestamp) || Date.now(),
        receiveCount: Number(raw.approximateReceiveCount) || 1,
      };
      const bytes = heldBytesOf(message.body);
      this.receipts.set(message, { receiptHandle: raw.receiptHandle, bytes });
      this.budget.charge(bytes);
      if (message.receiveCount > 1) redelivered++;
      messages.push(message);
    }
    this.options.emit('source:received', { count: messages.length, redelivered });
    if (messages.length > 0) this.emitHeld();
    return messages;
  }

  /**
   * Deletes committed messages. Entries that still fail after retries are left to redelivery,
   * which is harmless: the sink skips a message id it already holds.
   */
  async delete(messages: readonly InboundMessage[]): Promise<void> {
    await Promise.all(
      chunks(messages, SQS_BATCH_MAX).map(async (chunk) => {
        let pending = chunk;
        for (let attempt = 1; pending.length > 0; attempt++) {
          const willRetry = attempt < DELETE_ATTEMPTS;
          const failed = await this.batchCall('delete', pending, (entries) =>
            // The deadline starts with the call, not with its wait for a slot.
            this.deleteSlots(() => this.api.deleteBatch(this.options.queueUrl, entries, AbortSignal.timeout(CALL_TIMEOUT_MS))),
          );
          const deleted = pending.length - failed.length;
          if (deleted > 0) {
            this.deletedTotal += deleted;
            this.options.emit('source:deleted', { count: deleted });
          }
          if (failed.length > 0) {
            const retryable = failed.filter((entry) => entry.retryable);
            this.options.emit('source:deletePartialFailure', {
              count: failed.length,
              code: failed[0]?.code ?? 'unknown',
              willRetry: willRetry && retryable.length > 0,
            });
            pending = willRetry ? retryable.map((entry) => entry.message) : [];
            if (pending.length > 0) await sleep(backoffDelayMs(attempt));
          } else {
            pending = [];
          }
        }
        for (const message of chunk) this.letGo(message);
        this.emitHeld();
      }),
    );
  }

  /** Makes messages visible again at once, for another worker or a later run. Best effort. */
  async release(messages: readonly InboundMessage[]): Promise<void> {
    await Promise.all(
      chunks(messages, SQS_BATCH_MAX).map(async (chunk) => {
        const failed = await this.changeVisibility('release', chunk, 0);
        const released = chunk.length - failed;
        if (released > 0) this.options.emit('source:released', { count: released });
        for (const message of chunk) this.letGo(message);
        this.emitHeld();
      }),
    );
  }

  /**
   * Lets messages go without a call: they stay hidden until their visibility timeout (the last
   * heartbeat's extension at most), as after a crash, and are no longer in hand.
   */
  leave(messages: readonly InboundMessage[]): void {
    let left = 0;
    for (const message of messages) if (this.receipts.has(message)) {
      this.letGo(message);
      left++;
    }
    if (left === 0) return;
    this.options.emit('source:left', { count: left, visibilityTimeoutSec: this.options.visibilityTimeoutSec });
    this.emitHeld();
  }

  /**
   * Leaves messages in the queue, hidden for a backoff that grows with their receive count, and
   * no longer in hand. Best effort: one whose change fails reappears after the visibility timeout.
   */
  async postpone(messages: readonly InboundMessage[]): Promise<void> {
    await Promise.all(
      messages.map(async (message) => {
        const seconds = postponeSec(message.receiveCount);
        await this.changeVisibility('postpone', [message], seconds);
        if (this.postponed.size < 10_000) this.postponed.set(message.messageId, Date.now() + seconds * 1000);
        this.letGo(message);
        this.emitHeld();
      }),
    );
  }

  /**
   * Room for the S3 payload of `message` (in hand), up to `utf8Bytes`, counted as the message's own
   * bytes and given back with it: waits as the budget rules (ByteBudget.payloadRoom); undefined when
   * `signal` ends the wait first, with nothing counted.
   */
  async holdPayload(message: InboundMessage, utf8Bytes: number, signal: AbortSignal): Promise<PayloadHold | undefined> {
    const held = this.receipts.get(message);
    if (held === undefined) return undefined;
    let counted = payloadHeldBytes(utf8Bytes);
    const turn = await this.budget.payloadRoom(held.bytes, counted, signal);
    if (turn === undefined) return undefined;
    held.bytes += counted;
    const recount = (bytes: number) => {
      // Let go meanwhile: everything it held was given back then.
      if (this.receipts.get(message) !== held) return;
      held.bytes += bytes - counted;
      if (bytes > counted) this.budget.charge(bytes - counted);
      else if (bytes < counted) this.budget.release(counted - bytes);
      counted = bytes;
    };
    return {
      shrink: (bytes) => recount(Math.min(counted, payloadHeldBytes(bytes))),
      end: (body) => {
        recount(body === undefined ? 0 : heldBytesOf(body) - MESSAGE_OVERHEAD_BYTES);
        turn.end();
      },
    };
  }

  /** Every message in hand, e.g. at shutdown. */
  held(): InboundMessage[] {
    return [...this.receipts.keys()];
  }

  async depth(): Promise<QueueDepth> {
    const deletedBefore = this.deletedTotal;
    const attributes = await this.api.queueAttributes(
      this.options.queueUrl,
      ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
      AbortSignal.timeout(CALL_TIMEOUT_MS),
    );
    const count = (name: keyof typeof attributes) => Number(attributes[name] ?? 0);
    const depth = {
      visible: count('ApproximateNumberOfMessages'),
      inFlight: count('ApproximateNumberOfMessagesNotVisible'),
      delayed: count('ApproximateNumberOfMessagesDelayed'),
    };
    this.options.emit('source:depth', { ...depth, deletedBefore });
    return depth;
  }

  /**
   * The largest body the queue accepts (its MaximumMessageSize), so the pipeline reserves what an
   * answer can really hold; SQS's own maximum (1 MiB) when the server does not say.
   */
  async maxMessageBytes(): Promise<number> {
    const attributes = await this.api.queueAttributes(this.options.queueUrl, ['MaximumMessageSize'], AbortSignal.timeout(CALL_TIMEOUT_MS));
    const value = Number(attributes.MaximumMessageSize);
    this.queueMaxBytes = Number.isInteger(value) && value >= 1024 && value <= SQS_MAX_BODY_BYTES ? value : SQS_MAX_BODY_BYTES;
    return this.queueMaxBytes;
  }

  /** Polls the queue's depth for the metrics and the progress line: on an interval, not per receive. */
  startDepthPolling(everyMs: number): void {
    this.depthPoll = setInterval(() => {
      this.depth().catch((error: unknown) => {
        this.options.emit('source:error', { operation: 'depth', code: errorCode(error), message: describeError(error), retryInMs: null });
      });
    }, everyMs);
    this.depthPoll.unref();
  }

  stopDepthPolling(): void {
    clearInterval(this.depthPoll);
  }

  private letGo(message: InboundMessage): void {
    const held = this.receipts.get(message);
    if (held === undefined) return;
    this.receipts.delete(message);
    this.budget.release(held.bytes);
  }

  private emitHeld(): void {
    this.options.emit('source:held', { count: this.receipts.size });
  }

  private async extendAll(): Promise<void> {
    const counts = await Promise.all(
      chunks(this.held(), SQS_BATCH_MAX).map(
        async (chunk) => chunk.length - (await this.changeVisibility('extend', chunk, this.options.visibilityTimeoutSec)),
      ),
    );
    const extended = counts.reduce((sum, count) => sum + count, 0);
    if (extended > 0) this.options.emit('source:extended', { count: extended });
  }

  /** Returns how many entries failed; failures are reported, not thrown. */
  private async changeVisibility(
    operation: 'release' | 'extend' | 'postpone',
    chunk: readonly InboundMessage[],
    visibilityTimeout: number,
  ): Promise<number> {
    const failed = await this.batchCall(operation, chunk, (entries) =>
      this.visibilitySlots(() =>
        this.api.changeVisibilityBatch(this.options.queueUrl, entries, visibilityTimeout, AbortSignal.timeout(CALL_TIMEOUT_MS)),
      ),
    );
    return failed.length;
  }

  /**
   * Sends one batch call for messages still in hand and returns the entries that failed,
   * whether the whole call failed or only some entries (the `Failed` list of the answer).
   */
  private async batchCall(
    operation: SqsOperation,
    chunk: readonly InboundMessage[],
    send: (entries: BatchEntry[]) => Promise<BatchEntryFailure[]>,
  ): Promise<{ message: InboundMessage; code: string; retryable: boolean }[]> {
    const byId = new Map<string, InboundMessage>();
    const entries: BatchEntry[] = [];
    chunk.forEach((message, index) => {
      const receipt = this.receipts.get(message)?.receiptHandle;
      if (receipt === undefined) return;
      byId.set(String(index), message);
      entries.push({ id: String(index), receiptHandle: receipt });
    });
    if (entries.length === 0) return [];
    try {
      const failed = await send(entries);
      return failed.flatMap((entry) => {
        const message = byId.get(entry.id);
        return message ? [{ message, code: entry.code, retryable: !entry.senderFault }] : [];
      });
    } catch (error) {
      const code = errorCode(error);
      this.options.emit('source:error', { operation, code, message: describeError(error), retryInMs: null });
      return [...byId.values()].map((message) => ({ message, code, retryable: true }));
    }
  }
}

export function errorCode(error: unknown): string {
  if (typeof error !== 'object' || error === null) return 'unknown';
  const { name, code } = error as { name?: unknown; code?: unknown };
  // The SDK renames a reset socket "TimeoutError"; the socket's own code says what happened.
  if (typeof code === 'string') return code;
  return typeof name === 'string' ? name : 'unknown';
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}
