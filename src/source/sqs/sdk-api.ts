// SqsApi over one AWS SDK client. The SDK speaks both SQS protocols with the same commands
// (client.ts picks one); the only difference sqs2pg sees is which attribute list a server honours.
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  type BatchResultErrorEntry,
  type QueueAttributeName as QueueAttributeNameSdk,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type {
  BatchEntry,
  BatchEntryFailure,
  QueueAttributeName,
  ReceivedMessage,
  ReceiveRequest,
  SqsApi,
  SqsProtocol,
} from './sqs-api.js';

const SYSTEM_ATTRIBUTES = ['SentTimestamp', 'ApproximateReceiveCount'] as const;

export class SdkSqsApi implements SqsApi {
  constructor(
    private readonly client: SQSClient,
    readonly protocol: SqsProtocol,
  ) {}

  async receive(request: ReceiveRequest, signal: AbortSignal): Promise<ReceivedMessage[]> {
    const output = await this.client.send(
      new ReceiveMessageCommand({
        QueueUrl: request.queueUrl,
        MaxNumberOfMessages: request.maxMessages,
        WaitTimeSeconds: request.waitSec,
        VisibilityTimeout: request.visibilityTimeoutSec,
        MessageSystemAttributeNames: [...SYSTEM_ATTRIBUTES],
        ReceiveRequestAttemptId: request.attemptId,
        // In the query protocol both lists are sent as AttributeName.N, so one is enough. Over
        // JSON, AWS honours both, while some emulators (local-aws-sqs) read only the older
        // AttributeNames, which the SDK types as queue attribute names: same strings on the wire.
        ...(this.protocol === 'json' ? { AttributeNames: [...SYSTEM_ATTRIBUTES] as string[] as QueueAttributeNameSdk[] } : {}),
      }),
      { abortSignal: signal },
    );
    return (output.Messages ?? []).flatMap((message) =>
      message.MessageId && message.ReceiptHandle
        ? [
            {
              messageId: message.MessageId,
              receiptHandle: message.ReceiptHandle,
              body: message.Body ?? '',
              sentTimestamp: message.Attributes?.SentTimestamp,
              approximateReceiveCount: message.Attributes?.ApproximateReceiveCount,
            },
          ]
        : [],
    );
  }

  async deleteBatch(queueUrl: string, entries: readonly BatchEntry[], signal: AbortSignal): Promise<BatchEntryFailure[]> {
    const output = await this.client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: entries.map((entry) => ({ Id: entry.id, ReceiptHandle: entry.receiptHandle })),
      }),
      { abortSignal: signal },
    );
    return failures(output.Failed);
  }

  async changeVisibilityBatch(
    queueUrl: string,
    entries: readonly BatchEntry[],
    visibilityTimeoutSec: number,
    signal: AbortSignal,
  ): Promise<BatchEntryFailure[]> {
    const output = await this.client.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: entries.map((entry) => ({
          Id: entry.id,
          ReceiptHandle: entry.receiptHandle,
          VisibilityTimeout: visibilityTimeoutSec,
        })),
      }),
      { abortSignal: signal },
    );
    return failures(output.Failed);
  }

  async queueAttributes(
    queueUrl: string,
    names: readonly QueueAttributeName[],
    signal: AbortSignal,
  ): Promise<Partial<Record<QueueAttributeName, string>>> {
    const output = await this.client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: [...names] }), {
      abortSignal: signal,
    });
    const attributes: Partial<Record<QueueAttributeName, string>> = {};
    for (const name of names) {
      const value = output.Attributes?.[name];
      if (value !== undefined) attributes[name] = value;
    }
    return attributes;
  }

  async listQueues(max: number, signal: AbortSignal, prefix?: string): Promise<string[]> {
    const output = await this.client.send(new ListQueuesCommand({ MaxResults: max, QueueNamePrefix: prefix }), { abortSignal: signal });
    return (output.QueueUrls ?? []).slice(0, max);
  }

  destroy(): void {
    this.client.destroy();
  }
}

function failures(failed: BatchResultErrorEntry[] | undefined): BatchEntryFailure[] {
  return (failed ?? []).map((entry) => ({
    id: entry.Id ?? '',
    code: entry.Code ?? 'unknown',
    senderFault: entry.SenderFault === true,
  }));
}
