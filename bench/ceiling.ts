// The ceiling: a consumer that does no work at all, receive(10) + DeleteMessageBatch with the
// same SDK client and the same number of pollers as sqs2pg. Like sqs2pg, a poller does not wait
// for its delete before it receives again (deletes overlap the next receives, at most `pollers`
// of them pending), so nothing but SQS and the SDK limits it. Exits once `expected` are deleted.
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { createSqsClient } from '../src/source/sqs/client.js';

const [endpoint = '', queueUrl = '', pollersText = '4', expectedText = '0'] = process.argv.slice(2);
const pollers = Number(pollersText);
const expected = Number(expectedText);
const client = createSqsClient({ region: 'us-east-1', endpoint, queueUrl, receiveWaitSec: 1, maxSockets: pollers * 2 + 8, env: {} });

let received = 0;
let deleted = 0;
const deleting = new Set<Promise<void>>();
const poll = async () => {
  // Stop receiving once every message is in hand: an empty queue would hold a poll for 1 s.
  while (received < expected) {
    while (deleting.size >= pollers) await Promise.race(deleting);
    const { Messages = [] } = await client.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    if (Messages.length === 0) continue;
    received += Messages.length;
    const deletion = client
      .send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: Messages.map((message, i) => ({ Id: String(i), ReceiptHandle: message.ReceiptHandle ?? '' })),
        }),
      )
      .then(() => {
        deleted += Messages.length;
      })
      .finally(() => deleting.delete(deletion));
    deleting.add(deletion);
  }
};
await Promise.all(Array.from({ length: pollers }, poll));
await Promise.all(deleting);
client.destroy();
if (deleted < expected) {
  console.error(`ceiling: deleted ${deleted} of ${expected}`);
  process.exitCode = 1;
}
