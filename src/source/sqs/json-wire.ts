// The three hot SQS calls in the AWS JSON 1.0 protocol, as pure functions: the request bodies,
// and the answers parsed and checked as strictly as the SDK does (MD5 of every body, Failed lists,
// error codes). No I/O here: lean-api.ts sends what this builds.
import { hash } from 'node:crypto';
import type { BatchEntry, BatchEntryFailure, ReceivedMessage, ReceiveRequest } from './sqs-api.js';

export type LeanOperation = 'ReceiveMessage' | 'DeleteMessageBatch' | 'ChangeMessageVisibilityBatch';

export const JSON_CONTENT_TYPE = 'application/x-amz-json-1.0';
const SYSTEM_ATTRIBUTES = ['SentTimestamp', 'ApproximateReceiveCount'];

export function receiveBody(request: ReceiveRequest): string {
  return JSON.stringify({
    QueueUrl: request.queueUrl,
    MaxNumberOfMessages: request.maxMessages,
    WaitTimeSeconds: request.waitSec,
    VisibilityTimeout: request.visibilityTimeoutSec,
    // Both lists, as sdk-api.ts sends them: AWS honours both, local-aws-sqs only AttributeNames.
    MessageSystemAttributeNames: SYSTEM_ATTRIBUTES,
    AttributeNames: SYSTEM_ATTRIBUTES,
    ...(request.attemptId === undefined ? {} : { ReceiveRequestAttemptId: request.attemptId }),
  });
}

export function deleteBatchBody(queueUrl: string, entries: readonly BatchEntry[]): string {
  return JSON.stringify({ QueueUrl: queueUrl, Entries: entries.map((entry) => ({ Id: entry.id, ReceiptHandle: entry.receiptHandle })) });
}

export function changeVisibilityBatchBody(queueUrl: string, entries: readonly BatchEntry[], visibilityTimeoutSec: number): string {
  return JSON.stringify({
    QueueUrl: queueUrl,
    Entries: entries.map((entry) => ({ Id: entry.id, ReceiptHandle: entry.receiptHandle, VisibilityTimeout: visibilityTimeoutSec })),
  });
}

/**
 * The most bytes a ReceiveMessage answer of up to 10 messages can take on this queue. A body may
 * grow six-fold in JSON (a character escaped as \u003c, as some servers do for <, > and &); each
 * message also carries ids, a receipt handle (≤ 1 KiB), an MD5 and attributes.
 */
export function receiveAnswerMaxBytes(maxMessageBytes: number): number {
  return 10 * (6 * maxMessageBytes + 8 * 1024) + 16 * 1024;
}

/** Batch answers hold at most 10 short entries each way; anything far larger is not SQS. */
export const BATCH_ANSWER_MAX_BYTES = 256 * 1024;

/** A 2xx answer that is not what the protocol promises: the SDK's deserializer fails the same way. */
export class AnswerShapeError extends SyntaxError {
  constructor(message: string) {
    super(message);
    this.name = 'SyntaxError';
  }
}

function parseObject(text: string, operation: LeanOperation): Record<string, unknown> {
  let value: unknown;
  try {
    value = text.length === 0 ? {} : JSON.parse(text);
  } catch {
    // Never the text itself: an answer may echo message bodies.
    throw new AnswerShapeError(`the ${operation} answer is not JSON (${text.length} characters)`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AnswerShapeError(`the ${operation} answer is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/**
 * The messages of a ReceiveMessage answer. Like the SDK, a message whose body does not match its
 * MD5OfBody (or that has none) fails the whole answer: it was corrupted on the way.
 */
export function parseReceiveAnswer(answer: string): ReceivedMessage[] {
  const output = parseObject(answer, 'ReceiveMessage');
  const list = output.Messages ?? [];
  if (!Array.isArray(list)) throw new AnswerShapeError('the ReceiveMessage answer has a Messages that is not a list');
  const messages: ReceivedMessage[] = [];
  const corrupted: string[] = [];
  for (const item of list as unknown[]) {
    if (typeof item !== 'object' || item === null) throw new AnswerShapeError('the ReceiveMessage answer has a message that is not an object');
    const message = item as Record<string, unknown>;
    const body = text(message.Body) ?? '';
    if (text(message.MD5OfBody) !== md5Hex(body)) corrupted.push(text(message.MessageId) ?? '(no id)');
    const messageId = text(message.MessageId);
    const receiptHandle = text(message.ReceiptHandle);
    // Dropped as sdk-api.ts drops them: nothing can be done with a message without these.
    if (!messageId || !receiptHandle) continue;
    const attributes = typeof message.Attributes === 'object' && message.Attributes !== null ? (message.Attributes as Record<string, unknown>) : {};
    messages.push({
      messageId,
      receiptHandle,
      body,
      sentTimestamp: text(attributes.SentTimestamp),
      approximateReceiveCount: text(attributes.ApproximateReceiveCount),
    });
  }
  // The SDK's own words, so logs and alerts keyed on them keep working.
  if (corrupted.length > 0) throw new Error(`Invalid MD5 checksum on messages: ${corrupted.join(', ')}`);
  return messages;
}

function md5Hex(body: string): string {
  // One call, no Hash object per body (hash() encodes a string as UTF-8, as update() does).
  return hash('md5', body, 'hex');
}

/** The `Failed` entries of a DeleteMessageBatch or ChangeMessageVisibilityBatch answer. */
export function parseBatchAnswer(answer: string, operation: LeanOperation): BatchEntryFailure[] {
  const output = parseObject(answer, operation);
  const failed = output.Failed ?? [];
  if (!Array.isArray(failed)) throw new AnswerShapeError(`the ${operation} answer has a Failed that is not a list`);
  return (failed as unknown[]).map((item) => {
    const entry = typeof item === 'object' && item !== null ? (item as Record<string, unknown>) : {};
    return { id: text(entry.Id) ?? '', code: text(entry.Code) ?? 'unknown', senderFault: entry.SenderFault === true };
  });
}

/** An SQS error answer, shaped as the SDK's: `name` the error, `Code` the query-compatible code. */
export class SqsServiceError extends Error {
  readonly $fault: 'client' | 'server';
  readonly $metadata: { httpStatusCode: number };
  constructor(
    name: string,
    readonly Code: string | undefined,
    message: string,
    status: number,
  ) {
    super(message);
    this.name = name;
    this.$fault = status >= 500 ? 'server' : 'client';
    this.$metadata = { httpStatusCode: status };
  }
}

/**
 * The error a non-2xx answer stands for. The name is the error's (`__type` after `#`, as the SDK
 * names its exceptions), the code the `x-amzn-query-error` header's, when the server sends one.
 */
export function errorFromAnswer(status: number, queryErrorHeader: string | undefined, answer: string): Error {
  const [headerCode] = queryErrorHeader?.split(';') ?? [];
  if (answer.trim().length === 0) return new SqsServiceError(headerCode || 'Unknown', headerCode || undefined, 'UnknownError', status);
  let output: Record<string, unknown>;
  try {
    output = parseObject(answer, 'ReceiveMessage');
  } catch {
    const error = new AnswerShapeError(`an SQS error answer (HTTP ${status}) is not JSON (${answer.length} characters)`);
    Object.assign(error, { $metadata: { httpStatusCode: status } });
    return error;
  }
  const type = text(output.__type) ?? text(output.code) ?? headerCode ?? 'Unknown';
  const name = type.replace(/^.*#/, '').replace(/:.*$/, '') || 'Unknown';
  const message = text(output.message) ?? text(output.Message) ?? name;
  return new SqsServiceError(name, headerCode || undefined, message, status);
}
