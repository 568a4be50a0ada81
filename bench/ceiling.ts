// The ceiling: a consumer that does no work at all, receive(10) + DeleteMessageBatch with the
// same SDK and the same number of pollers as sqs2pg. Exits once `expected` messages are deleted.
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { createSqsClient } from '../src/source/sqs/client.js';

const [endpoint = '', queueUrl = '', pollersText = '4', expectedText = '0'] = process.argv.slice(2);
const pollers = Number(pollersText);
const expected = Number(expectedText);
const client = createSqsClient({ region: 'us-east-1', endpoint, queueUrl, receiveWaitSec: 1, maxSockets: pollers + 8, env: {} });

let deleted = 0;
const poll = async () => {
  while (deleted < expected) {
    const { Messages = [] } = await client.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    if (Messages.length === 0) continue;
    await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Messages.map((message, i) => ({ Id: String(i), ReceiptHandle: message.ReceiptHandle ?? '' })),
      }),
    );
    deleted += Messages.length;
  }
};
await Promise.all(Array.from({ length: pollers }, poll));
client.destroy();
