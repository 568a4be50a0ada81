// FIFO queues' ReceiveRequestAttemptId. A receive whose answer is lost (a reset, a timeout) has
// still hidden its messages, and on a FIFO queue their groups with them; sent again with the same
// id within five minutes, SQS answers with those same messages instead of nothing until the
// visibility timeout. Every receive after one that was answered gets a new id.
import { randomUUID } from 'node:crypto';

/** AWS honours an attempt id for five minutes after the first receive that carried it: keep a margin. */
export const ATTEMPT_ID_REUSE_MS = 4 * 60_000;

/** SQS names every FIFO queue `….fifo`, and only FIFO queues take an attempt id. */
export function isFifoQueueUrl(queueUrl: string): boolean {
  return new URL(queueUrl).pathname.replace(/\/+$/, '').endsWith('.fifo');
}

/** What a receive carries: its attempt id and, on a retry, the first attempt's message count. */
export interface ReceiveAttempt {
  id: string;
  maxMessages: number;
}

/**
 * One poller's receives on one queue, one at a time: the attempt id of the receive about to be sent.
 * On a standard queue there is none.
 */
export class ReceiveAttempts {
  private pending: (ReceiveAttempt & { firstSentAtMs: number }) | undefined;

  constructor(
    private readonly fifo: boolean,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The attempt for a receive of `maxMessages`: the unanswered one's, repeated as it was sent (the
   * same action, as AWS asks of a retry), while its id is still honoured; otherwise a new one.
   */
  next(maxMessages: number): ReceiveAttempt | undefined {
    if (!this.fifo) return undefined;
    const now = this.now();
    if (this.pending === undefined || now - this.pending.firstSentAtMs >= ATTEMPT_ID_REUSE_MS) {
      this.pending = { id: randomUUID(), maxMessages, firstSentAtMs: now };
    }
    return { id: this.pending.id, maxMessages: this.pending.maxMessages };
  }

  /** The receive was answered (with messages or none): the next one is a new attempt. */
  answered(): void {
    this.pending = undefined;
  }
}
