// Queue set-up for the embedded demo, the tests and the benchmark: create a queue and fill it.
// Not used by the pipeline itself.
import { CreateQueueCommand, SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';

export async function createQueue(client: SQSClient, name: string): Promise<string> {
  const output = await client.send(new CreateQueueCommand({ QueueName: name }));
  if (!output.QueueUrl) throw new Error(`CreateQueue ${name} returned no QueueUrl`);
  return output.QueueUrl;
}

/**
 * Sends every body, 10 per SendMessageBatch call and `concurrency` calls at a time; throws if any
 * entry fails. `onSent` hears the running total after each call.
 */
export async function sendBodies(
  client: SQSClient,
  queueUrl: string,
  bodies: readonly string[],
  concurrency = 8,
  onSent?: (sent: number) => void,
): Promise<void> {
  let next = 0;
  let sent = 0;
  const worker = async () => {
    while (next < bodies.length) {
      const start = next;
      next += 10;
      const Entries = bodies.slice(start, start + 10).map((MessageBody, i) => ({ Id: String(i), MessageBody }));
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
