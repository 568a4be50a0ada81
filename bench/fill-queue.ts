// Fills a benchmark queue: the same generated data for every contender and every client.
import { generateSample } from '../src/local/sample.js';
import { createSqsClient } from '../src/source/sqs/client.js';
import { createQueue, LOGIN_QUEUE_MAX_MESSAGE_BYTES, sendBodies } from '../src/source/sqs/queue-admin.js';

/**
 * The queues the bench drains: as AWS creates one without attributes (`default`: 1 MiB bodies, what
 * every user has), and one sized for login events (`64k`: MaximumMessageSize 64 KiB, the tuned case).
 */
export type QueueKind = 'default' | '64k';

/** A new queue on `endpoint` holding `count` generated login events, sent 10 a call by 16 senders. */
export async function fillQueue(endpoint: string, count: number, prefix: string, kind: QueueKind = 'default'): Promise<string> {
  const sqs = createSqsClient({ region: 'us-east-1', endpoint, queueUrl: endpoint, receiveWaitSec: 20, maxSockets: 32, env: {} });
  try {
    const name = `${prefix}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
    const queueUrl = await createQueue(sqs, name, kind === '64k' ? LOGIN_QUEUE_MAX_MESSAGE_BYTES : undefined);
    const bodies = generateSample({ count, malformed: 0, seed: 3 }).bodies;
    // The demo's sender: Failed entries are an error, so a short queue cannot pass for a full one.
    await sendBodies(sqs, queueUrl, bodies, 16);
    return queueUrl;
  } finally {
    sqs.destroy();
  }
}
