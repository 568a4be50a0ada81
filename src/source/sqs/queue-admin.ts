// Queue set-up for the embedded demo, the tests and the benchmark: create a queue and fill it.
// Not used by the pipeline itself.
import { CreateQueueCommand, SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';

export async function createQueue(client: SQSClient, name: string): Promise<string> {
  const output = await client.send(new CreateQueueCommand({ QueueName: name }));
  if (!output.QueueUrl) throw new Error(`CreateQueue ${name} returned no QueueUrl`);
  return output.QueueUrl;
}

/** Sends every body, 10 per SendMessageBatch call and `concurrency` calls at a time; throws if any entry fails. */
export async function sendBodies(
  client: SQSClient,
  queueUrl: string,
  bodies: readonly string[],
  concurrency = 8,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < bodies.length) {
      const start = next;
      next += 10;
      const Entries = bodies.slice(start, start + 10).map((MessageBody, i) => ({ Id: String(i), MessageBody }));
      const output = await client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries }));
      if (output.Failed && output.Failed.length > 0) {
        throw new Error(`SendMessageBatch: ${output.Failed.length} entries failed (${output.Failed[0]?.Code ?? 'unknown'})`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
