// The bytes a worker holds, counted as they arrive rather than reserved for the worst case: answers
// are counted chunk by chunk while they stream in, messages by what they cost while held. When the
// budget is full an answer stops being read (its socket paused: TCP holds the rest at the sender)
// until messages in hand are committed and give their bytes back. Only when nothing is in hand (the
// budget full of answers half read, which nothing else would empty) does one answer go on, one at a
// time, so answers never wait on each other for ever: memory stays within the limit plus one answer.
// Large answers are read one at a time, full or not: past `largeAnswerBytes` an answer goes on only
// while no other large one is being read (the others wait there, holding what they read so far).
// Sixteen pollers' answers of ten 1 MiB bodies landing together were otherwise read and decoded side
// by side, and their garbage (each decoded once, then parsed bodies) piled up before V8 collected it.

/** One answer being read: how to let it go on once it was paused. */
export interface BudgetReader {
  resume(): void;
}

export class ByteBudget {
  private heldBytes = 0;
  /** of which messages in hand (charge/release); the rest is answers being read (take/returnAnswer) */
  private messageBytes = 0;
  /** the one answer that may go on reading while the budget is full */
  private passer: BudgetReader | undefined;
  /** answers paused because the budget was full, oldest first */
  private paused: BudgetReader[] = [];
  /** what each answer being read has counted so far */
  private readonly readerBytes = new Map<BudgetReader, number>();
  /** the one answer read past largeAnswerBytes, and the others waiting to be (oldest first) */
  private large: BudgetReader | undefined;
  private waitingLarge: BudgetReader[] = [];
  private readonly roomListeners = new Set<() => void>();
  /** held past heavyBytes: see onHeavy */
  private heavy = false;
  private readonly heavyListeners = new Set<(heavy: boolean) => void>();
  /** set aside for receives sent and not yet answered, by a client that cannot count answers as they arrive */
  private reservedBytes = 0;
  /** messages in hand waiting for their S3 payloads, the room given to those included (see payloadRoom) */
  private awaitingBytes = 0;
  /** payloads given room and being read */
  private payloadsReading = 0;
  private payloadWaiters: { bytes: number; grant: () => void }[] = [];

  constructor(
    readonly limitBytes: number,
    readonly largeAnswerBytes: number = LARGE_ANSWER_BYTES,
    /** past this much held, the budget is heavy (onHeavy): a quarter of its limit unless said */
    readonly heavyBytes: number = limitBytes / 4,
  ) {}

  get held(): number {
    return this.heldBytes;
  }

  get full(): boolean {
    return this.heldBytes >= this.limitBytes;
  }

  /** What receives in flight have set aside (see reserve): not held yet, but promised. */
  get reserved(): number {
    return this.reservedBytes;
  }

  /**
   * Sets `bytes` aside for a receive about to be sent: the SDK client decodes an answer in one go, so
   * its worst case is reserved before. Kept here, not by each pipeline, so that every pipeline of the
   * process sees what the others have promised.
   */
  reserve(bytes: number): void {
    this.reservedBytes += bytes;
  }

  /** The receive is answered (or failed): what it set aside is free again, for any pipeline waiting. */
  unreserve(bytes: number): void {
    if (bytes === 0) return;
    this.reservedBytes -= bytes;
    for (const listener of this.roomListeners) listener();
    this.grantPayloads();
  }

  /** Answers paused now, for room or for their turn as a large answer (for tests). */
  get pausedReaders(): number {
    return this.paused.length + this.waitingLarge.length;
  }

  /**
   * Counts `bytes` of `reader`'s answer, already in memory. False: the budget is full and another
   * answer is the one going on; the reader must pause until its `resume` is called.
   */
  take(reader: BudgetReader, bytes: number): boolean {
    this.heldBytes += bytes;
    this.weigh();
    const read = (this.readerBytes.get(reader) ?? 0) + bytes;
    this.readerBytes.set(reader, read);
    if (read > this.largeAnswerBytes && this.large !== reader) {
      if (this.large !== undefined) {
        this.waitingLarge.push(reader);
        // It cannot be the one going on past a full budget while it waits: the large one may be.
        if (this.passer === reader) {
          this.passer = undefined;
          if (this.messageBytes <= 0) this.handOn();
        }
        return false;
      }
      this.large = reader;
    }
    if (this.heldBytes <= this.limitBytes) return true;
    // Messages in hand will be committed and give bytes back: every answer waits for that.
    if (this.messageBytes <= 0) this.passer ??= reader;
    if (this.passer === reader) return true;
    this.paused.push(reader);
    return false;
  }

  /** Counts the bytes of a message in hand (received, not yet deleted or released). */
  charge(bytes: number): void {
    this.heldBytes += bytes;
    this.messageBytes += bytes;
    this.weigh();
  }

  /** Gives back the bytes of messages in hand; paused answers go on once there is room. */
  release(bytes: number): void {
    this.messageBytes -= bytes;
    this.giveBack(bytes);
  }

  /** Gives back the bytes `take` counted for an answer, once it is parsed (or has failed). */
  returnAnswer(bytes: number): void {
    this.giveBack(bytes);
  }

  private giveBack(bytes: number): void {
    this.heldBytes -= bytes;
    this.weigh();
    this.grantPayloads();
    if (this.heldBytes < this.limitBytes) {
      const paused = this.paused;
      this.paused = [];
      for (const reader of paused) reader.resume();
      for (const listener of this.roomListeners) listener();
    } else if (this.passer === undefined && this.messageBytes <= 0) {
      this.handOn();
    }
  }

  /** `reader`'s answer has ended (read whole, failed or aborted): it no longer waits or passes. */
  finished(reader: BudgetReader): void {
    const at = this.paused.indexOf(reader);
    if (at >= 0) this.paused.splice(at, 1);
    this.readerBytes.delete(reader);
    const waiting = this.waitingLarge.indexOf(reader);
    if (waiting >= 0) this.waitingLarge.splice(waiting, 1);
    if (this.large === reader) {
      // The next large answer's turn: it goes on, and meets the budget's own rule at its next bytes.
      this.large = this.waitingLarge.shift();
      this.large?.resume();
    }
    if (this.passer !== reader) return;
    this.passer = undefined;
    if (this.messageBytes <= 0) this.handOn();
  }

  /** Called whenever bytes given back leave the budget below its limit, and whenever a reservation ends. */
  onRoom(listener: () => void): () => void {
    this.roomListeners.add(listener);
    return () => this.roomListeners.delete(listener);
  }

  /**
   * Called with true when what is held passes heavyBytes, with false when it is back under: while
   * heavy, what answers leave behind once parsed is large too (run has V8 collect it sooner).
   */
  onHeavy(listener: (heavy: boolean) => void): () => void {
    this.heavyListeners.add(listener);
    return () => this.heavyListeners.delete(listener);
  }

  private weigh(): void {
    const heavy = this.heldBytes > this.heavyBytes;
    if (heavy === this.heavy) return;
    this.heavy = heavy;
    for (const listener of this.heavyListeners) listener(heavy);
  }

  /**
   * Room for `bytes` of an S3 payload, read into a message in hand that holds `waitingBytes`: resolves
   * once the room is counted (as a message's: charge), undefined when `signal` ends the wait first.
   * A message waiting for its payload gives nothing back until the payload is read, so a payload
   * waits for room only while other bytes in hand will be given back (a commit); when every message
   * in hand waits for a payload, one payload at a time is read past the limit. Memory stays within
   * the limit plus one payload (and one answer). The turn's `end` must follow the read, whatever it gave.
   */
  async payloadRoom(waitingBytes: number, bytes: number, signal: AbortSignal): Promise<{ end(): void } | undefined> {
    this.awaitingBytes += waitingBytes;
    const granted = await new Promise<boolean>((resolve) => {
      if (signal.aborted) return resolve(false);
      const settle = (value: boolean) => {
        signal.removeEventListener('abort', abort);
        resolve(value);
      };
      const waiter = { bytes, grant: () => settle(true) };
      const abort = () => {
        this.payloadWaiters.splice(this.payloadWaiters.indexOf(waiter), 1);
        settle(false);
      };
      signal.addEventListener('abort', abort, { once: true });
      this.payloadWaiters.push(waiter);
      this.grantPayloads();
    });
    if (!granted) {
      this.awaitingBytes -= waitingBytes;
      this.grantPayloads();
      return undefined;
    }
    let ended = false;
    return {
      end: () => {
        if (ended) return;
        ended = true;
        this.awaitingBytes -= waitingBytes + bytes;
        this.payloadsReading--;
        this.grantPayloads();
      },
    };
  }

  private grantPayloads(): void {
    for (let next = this.payloadWaiters[0]; next !== undefined; next = this.payloadWaiters[0]) {
      const fits = this.heldBytes + this.reservedBytes + next.bytes <= this.limitBytes;
      // Nothing in hand would give bytes back before some payload is read.
      const stuck = this.payloadsReading === 0 && this.messageBytes - this.awaitingBytes <= 0;
      if (!fits && !stuck) return;
      this.payloadWaiters.shift();
      this.charge(next.bytes);
      this.awaitingBytes += next.bytes;
      this.payloadsReading++;
      next.grant();
    }
  }

  /** The large answer, when paused, else the oldest paused answer becomes the one that goes on. */
  private handOn(): void {
    // The large one first: any other may soon wait for it, and none must wait on a waiter.
    const at = this.large === undefined ? -1 : this.paused.indexOf(this.large);
    const next = at >= 0 ? this.paused.splice(at, 1)[0] : this.paused.shift();
    if (next === undefined) return;
    this.passer = next;
    next.resume();
  }
}

/**
 * The least a worker's budget is heavy from (ByteBudget's heavyBytes): small events hold about 5 MB
 * at the 2,000 messages a worker may have in hand, which a clean drain must not take for a burst.
 */
export const HEAVY_FLOOR_BYTES = 8 * 1024 * 1024;

/**
 * An answer past this many counted bytes (128 KiB of answer: ten bodies of 13 KB) is large: read one
 * at a time. The others wait holding what they read to get here, so the less, the lower a burst's
 * peak: at 1 MiB of answer sixteen pollers' waiting answers held up to 15 MB of socket chunks beside
 * the one being read (a hostile burst on Node 24: 181-198 MB, 158-180 at this; docs/performance.md).
 * Answers of small events never pass it; 30 KB events drained at the same rate at either size.
 */
export const LARGE_ANSWER_BYTES = 256 * 1024;

/**
 * What one message costs while held beside its body: its ids and receipt handle (up to 1 KiB on
 * AWS), the objects that track it, its pending row or quarantine record. V8's heap measured ~0.5 KiB
 * a message with fauxqs's short receipt handles, before its row (docs/performance.md, "Memory").
 */
export const MESSAGE_OVERHEAD_BYTES = 2 * 1024;

/**
 * What a received message holds while in hand: V8 keeps a string of Latin-1 characters in one byte
 * each and any other string in two, whatever its UTF-8 length; plus 1/64 of that (V8's heap held
 * 0.4% more than the strings' bytes for 1 MiB hostile bodies), plus the message's fixed cost.
 * test/integration/byte-budget.test.ts holds the count to what V8 reports.
 */
export function heldBytesOf(body: string): number {
  let oneByte = true;
  for (let i = 0; i < body.length; i++) {
    if (body.charCodeAt(i) > 0xff) {
      oneByte = false;
      break;
    }
  }
  const stringBytes = oneByte ? body.length : 2 * body.length;
  return stringBytes + Math.ceil(stringBytes / 64) + MESSAGE_OVERHEAD_BYTES;
}

/** What a message's S3 payload holds in hand, once read (SqsSource.holdPayload). */
export interface PayloadHold {
  /** the payload has at most `utf8Bytes` (its stated length): the rest of its room is given back */
  shrink(utf8Bytes: number): void;
  /** the read has ended: the message holds `body` (absent: nothing) until it is let go */
  end(body?: string): void;
}

/** The most a payload of `utf8Bytes` holds as a string, as heldBytesOf counts it: V8 never takes more bytes than its UTF-8. */
export function payloadHeldBytes(utf8Bytes: number): number {
  return utf8Bytes + Math.ceil(utf8Bytes / 64);
}
