// The ceiling: a consumer that does no work at all, receive(10) + DeleteMessageBatch with the
// same SDK client and the same number of pollers as sqs2pg, sent as plain SDK commands. Like sqs2pg,
// a poller does not wait for its delete before it receives again (client-drain.ts's loop), so
// nothing but SQS and the SDK limits it. Exits once `expected` are deleted.
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { createSqsClient } from '../src/source/sqs/client.js';
import { drain } from './client-drain.js';

const [endpoint = '', queueUrl = '', pollersText = '4', expectedText = '0'] = process.argv.slice(2);
const pollers = Number(pollersText);
const expected = Number(expectedText);
const client = createSqsClient({ region: 'us-east-1', endpoint, queueUrl, receiveWaitSec: 1, maxSockets: pollers * 2 + 8, env: {} });

const deleted = await drain(
  {
    receive: async () => {
      const { Messages = [] } = await client.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      return Messages.map((message, i) => ({ id: String(i), receiptHandle: message.ReceiptHandle ?? '' }));
    },
    deleteBatch: async (entries) => {
      await client.send(
        new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries.map((entry) => ({ Id: entry.id, ReceiptHandle: entry.receiptHandle })) }),
      );
    },
    close: () => client.destroy(),
  },
  pollers,
  expected,
);
if (deleted < expected) {
  console.error(`ceiling: deleted ${deleted} of ${expected}`);
  process.exitCode = 1;
}
