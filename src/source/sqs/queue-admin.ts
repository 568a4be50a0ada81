// Queue set-up for the embedded demo, the tests and the benchmark: create a queue (standard or FIFO)
// and fill it.
// Not used by the pipeline itself.
import { CreateQueueCommand, SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';

/**
 * The MaximumMessageSize the demo and the benchmark give their queues, and the docs advise for a
 * login queue: an event is a few hundred bytes, and sqs2pg's byte budget reserves twice this for every
 * message a receive may bring, so a queue that allows 1 MiB leaves room for few receives at once.
 */
export const LOGIN_QUEUE_MAX_MESSAGE_BYTES = 64 * 1024;

/** `maxMessageBytes`: the queue's MaximumMessageSize (SQS's default, 1 MiB, when not given). */
export async function createQueue(client: SQSClient, name: string, maxMessageBytes?: number): Promise<string> {
  const Attributes = maxMessageBytes === undefined ? undefined : { MaximumMessageSize: String(maxMessageBytes) };
  const output = await client.send(new CreateQueueCommand({ QueueName: name, Attributes }));
  if (!output.QueueUrl) throw new Error(`CreateQueue ${name} returned no QueueUrl`);
  return output.QueueUrl;
}

/**
 * A FIFO queue: `name` plus the `.fifo` SQS requires. Without content-based deduplication: the
 * sender names each message's MessageDeduplicationId, as sendFifoBodies does.
 */
export async function createFifoQueue(client: SQSClient, name: string, maxMessageBytes?: number): Promise<string> {
  const Attributes: Record<string, string> = { FifoQueue: 'true', ContentBasedDeduplication: 'false' };
  if (maxMessageBytes !== undefined) Attributes.MaximumMessageSize = String(maxMessageBytes);
  const output = await client.send(new CreateQueueCommand({ QueueName: `${name}.fifo`, Attributes }));
  if (!output.QueueUrl) throw new Error(`CreateQueue ${name}.fifo returned no QueueUrl`);
  return output.QueueUrl;
}

/**
 * Sends every body to a FIFO queue, body i in message group `g<i % groups>`, one call at a time so
 * each group holds its bodies in order; each has a deduplication id of its own (`dedupPrefix`-i).
 * Resolves to the MessageIds, in the order of the bodies; throws if any entry fails.
 */
export async function sendFifoBodies(client: SQSClient, queueUrl: string, bodies: readonly string[], groups: number, dedupPrefix: string): Promise<string[]> {
  const ids: string[] = [];
  for (const batch of batchesOf(bodies)) {
    const first = ids.length;
    const Entries = batch.map((MessageBody, i) => ({
      Id: String(i),
      MessageBody,
      MessageGroupId: `g${(first + i) % groups}`,
      MessageDeduplicationId: `${dedupPrefix}-${first + i}`,
    }));
    const output = await client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries }));
    if (output.Failed && output.Failed.length > 0) {
      throw new Error(`SendMessageBatch: ${output.Failed.length} entries failed (${output.Failed[0]?.Code ?? 'unknown'})`);
    }
    const byEntry = new Map((output.Successful ?? []).map((entry) => [entry.Id, entry.MessageId]));
    for (const entry of Entries) {
      const id = byEntry.get(entry.Id);
      if (id === undefined) throw new Error(`SendMessageBatch: no MessageId for entry ${entry.Id}`);
      ids.push(id);
    }
  }
  return ids;
}

/** SQS's limits on one SendMessageBatch call: ten entries, and 1 MiB of bodies together. */
const BATCH_ENTRIES = 10;
const BATCH_BYTES = 1024 * 1024;

/**
 * Sends every body, up to 10 (and 1 MiB) per SendMessageBatch call and `concurrency` calls at a
 * time; throws if any entry fails. `onSent` hears the running total after each call.
 */
export async function sendBodies(
  client: SQSClient,
  queueUrl: string,
  bodies: readonly string[],
  concurrency = 8,
  onSent?: (sent: number) => void,
): Promise<void> {
  const batches = batchesOf(bodies);
  let next = 0;
  let sent = 0;
  const worker = async () => {
    while (next < batches.length) {
      const batch = batches[next++]!;
      const Entries = batch.map((MessageBody, i) => ({ Id: String(i), MessageBody }));
      const output = await client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries }));
      if (output.Failed && output.Failed.length > 0) {
        throw new Error(`SendMessageBatch: ${output.Failed.length} entries failed (${output.Failed[0]?.Code ?? 'unknown'})`);
      }
      sent += Entries.length;
      onSent?.(sent);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** The bodies in order, cut into batches SQS takes: a body alone may fill one. */
export function batchesOf(bodies: readonly string[]): string[][] {
  const batches: string[][] = [];
  let batch: string[] = [];
  let bytes = 0;
  for (const body of bodies) {
    const size = Buffer.byteLength(body, 'utf8');
    if (batch.length > 0 && (batch.length === BATCH_ENTRIES || bytes + size > BATCH_BYTES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(body);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}
