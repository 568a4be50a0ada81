// Fills a benchmark queue: the same generated data for every contender and every client.
import { generateSample } from '../src/local/sample.js';
import { createSqsClient } from '../src/source/sqs/client.js';
import { createQueue, LOGIN_QUEUE_MAX_MESSAGE_BYTES, sendBodies } from '../src/source/sqs/queue-admin.js';

/** A new queue on `endpoint` holding `count` generated login events, sent 10 a call by 16 senders. */
export async function fillQueue(endpoint: string, count: number, prefix: string): Promise<string> {
  const sqs = createSqsClient({ region: 'us-east-1', endpoint, queueUrl: endpoint, receiveWaitSec: 20, maxSockets: 32, env: {} });
  try {
    const queueUrl = await createQueue(sqs, `${prefix}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`, LOGIN_QUEUE_MAX_MESSAGE_BYTES);
    const bodies = generateSample({ count, malformed: 0, seed: 3 }).bodies;
    // The demo's sender: Failed entries are an error, so a short queue cannot pass for a full one.
    await sendBodies(sqs, queueUrl, bodies, 16);
    return queueUrl;
  } finally {
    sqs.destroy();
  }
}
