// The byte budget reserves what an answer can hold: the source reads the queue's MaximumMessageSize
// from a real SQS-protocol server, and falls back to SQS's own maximum when the queue allows it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqsApi } from '../../src/source/sqs/create-sqs-api.js';
import { createQueue, LOGIN_QUEUE_MAX_MESSAGE_BYTES } from '../../src/source/sqs/queue-admin.js';
import { SQS_MAX_BODY_BYTES, SqsSource } from '../../src/source/sqs/source.js';
import { createTestStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(async () => {
  await stack.close();
});

async function maxMessageBytesOf(queueUrl: string): Promise<number> {
  const api = createSqsApi({
    protocol: 'json',
    target: stack.sqsEndpoint,
    client: { region: 'us-east-1', endpoint: stack.sqsEndpoint, queueUrl, receiveWaitSec: 1, maxSockets: 2, env: {} },
    emit: () => undefined,
  });
  try {
    return await new SqsSource(api, { queueUrl, visibilityTimeoutSec: 30, emit: () => undefined }).maxMessageBytes();
  } finally {
    api.destroy();
  }
}

describe('SqsSource.maxMessageBytes', () => {
  it("is the queue's MaximumMessageSize, or SQS's 1 MiB for a queue created without one", async () => {
    const sized = await createQueue(stack.sqs, `sized-${Date.now()}`, LOGIN_QUEUE_MAX_MESSAGE_BYTES);
    expect(await maxMessageBytesOf(sized)).toBe(LOGIN_QUEUE_MAX_MESSAGE_BYTES);
    expect(await maxMessageBytesOf(await stack.newQueue())).toBe(SQS_MAX_BODY_BYTES);
  });
});
