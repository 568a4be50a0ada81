// SqsApi with the three hot calls (receive, delete, change visibility) sent by hand over the JSON
// protocol (lean-transport.ts), and every other call through the SDK client it shares its
// region, endpoint and credentials with. Chosen by --sqs-client lean (the default) for JSON.
import type { SQSClient } from '@aws-sdk/client-sqs';
import {
  BATCH_ANSWER_MAX_BYTES,
  changeVisibilityBatchBody,
  deleteBatchBody,
  parseBatchAnswer,
  parseReceiveAnswer,
  receiveAnswerMaxBytes,
  receiveBody,
} from './json-wire.js';
import type { ByteBudget } from './byte-budget.js';
import { LeanTransport, type CountedAnswer } from './lean-transport.js';
import type { BatchEntry, BatchEntryFailure, QueueAttributeName, ReceivedMessage, ReceiveRequest, SqsApi } from './sqs-api.js';
import { SQS_MAX_BODY_BYTES } from '../../model/message.js';


export interface LeanSqsApiOptions {
  /** the SDK client: its resolved region, credentials and hash sign the lean calls */
  client: SQSClient;
  /** the SqsApi over that client, for the calls that are not on the hot path */
  sdk: SqsApi;
  endpoint: string;
  maxSockets: number;
  receiveWaitSec: number;
  checkingAnswers: () => boolean;
}

export class LeanSqsApi implements SqsApi {
  readonly countsAnswerBytes = true;
  private readonly transport: LeanTransport;
  private readonly sdk: SqsApi;
  private maxMessageBytes = SQS_MAX_BODY_BYTES;

  constructor(options: LeanSqsApiOptions) {
    const { config } = options.client;
    this.sdk = options.sdk;
    this.transport = new LeanTransport({
      endpoint: options.endpoint,
      region: config.region,
      credentials: config.credentials,
      sha256: config.sha256,
      maxSockets: options.maxSockets,
      receiveWaitSec: options.receiveWaitSec,
      checkingAnswers: options.checkingAnswers,
    });
  }

  async receive(request: ReceiveRequest, signal: AbortSignal, budget?: ByteBudget): Promise<ReceivedMessage[]> {
    const counted: CountedAnswer | undefined = budget && { budget, bytes: 0 };
    try {
      const answer = await this.transport.call('ReceiveMessage', receiveBody(request), receiveAnswerMaxBytes(this.maxMessageBytes), signal, counted);
      return parseReceiveAnswer(answer);
    } finally {
      // The raw answer is garbage once parsed: the caller counts the messages it keeps.
      counted?.budget.returnAnswer(counted.bytes);
    }
  }

  async deleteBatch(queueUrl: string, entries: readonly BatchEntry[], signal: AbortSignal): Promise<BatchEntryFailure[]> {
    const answer = await this.transport.call('DeleteMessageBatch', deleteBatchBody(queueUrl, entries), BATCH_ANSWER_MAX_BYTES, signal);
    return parseBatchAnswer(answer.toString('utf8'), 'DeleteMessageBatch');
  }

  async changeVisibilityBatch(
    queueUrl: string,
    entries: readonly BatchEntry[],
    visibilityTimeoutSec: number,
    signal: AbortSignal,
  ): Promise<BatchEntryFailure[]> {
    const answer = await this.transport.call(
      'ChangeMessageVisibilityBatch',
      changeVisibilityBatchBody(queueUrl, entries, visibilityTimeoutSec),
      BATCH_ANSWER_MAX_BYTES,
      signal,
    );
    return parseBatchAnswer(answer.toString('utf8'), 'ChangeMessageVisibilityBatch');
  }

  async queueAttributes(
    queueUrl: string,
    names: readonly QueueAttributeName[],
    signal: AbortSignal,
  ): Promise<Partial<Record<QueueAttributeName, string>>> {
    const attributes = await this.sdk.queueAttributes(queueUrl, names, signal);
    // The source asks for it at start: from then on answers are bounded by the queue's own size.
    const size = Number(attributes.MaximumMessageSize);
    if (Number.isInteger(size) && size >= 1024 && size <= SQS_MAX_BODY_BYTES) this.maxMessageBytes = size;
    return attributes;
  }

  listQueues(max: number, signal: AbortSignal, prefix?: string): Promise<string[]> {
    return this.sdk.listQueues(max, signal, prefix);
  }

  destroy(): void {
    this.transport.close();
    this.sdk.destroy();
  }
}
