// The few SQS calls the pipeline makes, as one narrow interface, so the source does not care
// which wire protocol (AWS JSON 1.0 or the older query/XML one) carries them.
import type { ByteBudget } from './byte-budget.js';

export type SqsProtocol = 'json' | 'query';

export interface ReceiveRequest {
  queueUrl: string;
  /** 1..10 */
  maxMessages: number;
  waitSec: number;
  visibilityTimeoutSec: number;
  /** FIFO queues only: the same for a retry of a receive whose answer was lost (receive-attempt.ts) */
  attemptId?: string | undefined;
}

export interface ReceivedMessage {
  messageId: string;
  receiptHandle: string;
  body: string;
  /** system attributes, as SQS sends them (text); absent when the server did not */
  sentTimestamp: string | undefined;
  approximateReceiveCount: string | undefined;
}

export interface BatchEntry {
  id: string;
  receiptHandle: string;
}

/** One entry of a batch call's `Failed` list. */
export interface BatchEntryFailure {
  id: string;
  code: string;
  /** the caller's fault (a bad receipt handle): retrying the same entry will not help */
  senderFault: boolean;
}

export type QueueAttributeName =
  | 'ApproximateNumberOfMessages'
  | 'ApproximateNumberOfMessagesNotVisible'
  | 'ApproximateNumberOfMessagesDelayed'
  | 'MaximumMessageSize';

export interface SqsApi {
  /**
   * True when `receive` counts its answer into the budget it is given while the answer streams in
   * (and pauses reading when it is full); otherwise the caller must reserve the worst case.
   */
  readonly countsAnswerBytes?: boolean;
  /**
   * One (long) poll. Messages without an id or a receipt handle are dropped. With `budget` (and
   * countsAnswerBytes), the answer is counted while it is read and given back once parsed.
   */
  receive(request: ReceiveRequest, signal: AbortSignal, budget?: ByteBudget): Promise<ReceivedMessage[]>;
  /** DeleteMessageBatch; resolves to the entries that failed. */
  deleteBatch(queueUrl: string, entries: readonly BatchEntry[], signal: AbortSignal): Promise<BatchEntryFailure[]>;
  /** ChangeMessageVisibilityBatch, one timeout for every entry; resolves to the entries that failed. */
  changeVisibilityBatch(
    queueUrl: string,
    entries: readonly BatchEntry[],
    visibilityTimeoutSec: number,
    signal: AbortSignal,
  ): Promise<BatchEntryFailure[]>;
  queueAttributes(
    queueUrl: string,
    names: readonly QueueAttributeName[],
    signal: AbortSignal,
  ): Promise<Partial<Record<QueueAttributeName, string>>>;
  /** ListQueues: the URLs of up to `max` queues the endpoint has (named `prefix…`), for an error message. */
  listQueues(max: number, signal: AbortSignal, prefix?: string): Promise<string[]>;
  /** Closes the sockets. */
  destroy(): void;
}
