// Fills a benchmark queue: the same generated data for every contender and every client.
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { generateSample } from '../src/local/sample.js';
import { createSqsClient } from '../src/source/sqs/client.js';
import { createQueue, LOGIN_QUEUE_MAX_MESSAGE_BYTES } from '../src/source/sqs/queue-admin.js';

/** A new queue on `endpoint` holding `count` generated login events, sent 10 a call by 16 senders. */
export async function fillQueue(endpoint: string, count: number, prefix: string): Promise<string> {
  const sqs = createSqsClient({ region: 'us-east-1', endpoint, queueUrl: endpoint, receiveWaitSec: 20, maxSockets: 32, env: {} });
  try {
    const queueUrl = await createQueue(sqs, `${prefix}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`, LOGIN_QUEUE_MAX_MESSAGE_BYTES);
    const bodies = generateSample({ count, malformed: 0, seed: 3 }).bodies;
    let next = 0;
    const worker = async () => {
      while (next < bodies.length) {
        const start = next;
        next += 10;
        const Entries = bodies.slice(start, start + 10).map((MessageBody, i) => ({ Id: String(i), MessageBody }));
        await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries }));
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    return queueUrl;
  } finally {
    sqs.destroy();
  }
}
