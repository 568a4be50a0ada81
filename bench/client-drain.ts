// One SQS client candidate in a no-work drain, like ceiling.ts: receive 10 + DeleteMessageBatch,
// `pollers` loops, deletes overlapping the next receives; exits once `expected` are deleted.
// Candidates: sdk (sqs2pg's SqsApi over @aws-sdk/client-sqs, as before the lean path), lean
// (sqs2pg's SqsApi over undici + @smithy/signature-v4), aws-lite (@aws-lite/client + @aws-lite/sqs).
import { setMaxListeners } from 'node:events';
import { createSqsApi } from '../src/source/sqs/create-sqs-api.js';
import type { BatchEntry } from '../src/source/sqs/sqs-api.js';

export const CLIENT_CANDIDATES = ['sdk', 'aws-lite', 'lean'] as const;
export type ClientCandidate = (typeof CLIENT_CANDIDATES)[number];

/** The two calls of the drain, whatever the client. */
export interface DrainCalls {
  receive(): Promise<BatchEntry[]>;
  deleteBatch(entries: BatchEntry[]): Promise<void>;
  close(): void;
}

async function open(candidate: ClientCandidate, endpoint: string, queueUrl: string, pollers: number): Promise<DrainCalls> {
  if (candidate === 'aws-lite') return openAwsLite(endpoint, queueUrl);
  const api = createSqsApi({
    protocol: 'json',
    sqsClient: candidate,
    target: endpoint,
    client: { region: 'us-east-1', endpoint, queueUrl, receiveWaitSec: 1, maxSockets: pollers * 2 + 8, env: {} },
    emit: () => undefined,
  });
  const never = new AbortController().signal;
  // Every call shares it, as the pipeline's pollers share their stop signal.
  setMaxListeners(0, never);
  return {
    receive: async () =>
      (await api.receive({ queueUrl, maxMessages: 10, waitSec: 1, visibilityTimeoutSec: 30 }, never)).map((message, i) => ({
        id: String(i),
        receiptHandle: message.receiptHandle,
      })),
    deleteBatch: async (entries) => {
      const failed = await api.deleteBatch(queueUrl, entries, never);
      if (failed.length > 0) throw new Error(`${failed.length} deletes failed`);
    },
    close: () => api.destroy(),
  };
}

interface AwsLiteMessage {
  ReceiptHandle?: string;
}
const AWS_LITE_SQS = '@aws-lite/sqs';
type AwsLiteCall = (request: Record<string, unknown>) => Promise<{ payload: unknown }>;

async function openAwsLite(endpoint: string, queueUrl: string): Promise<DrainCalls> {
  const { default: awsLite } = (await import('@aws-lite/client')) as unknown as {
    default: (config: Record<string, unknown>) => Promise<AwsLiteCall & { SQS: { ReceiveMessage(input: Record<string, unknown>): Promise<{ Messages?: AwsLiteMessage[] }> } }>;
  };
  const aws = await awsLite({
    region: 'us-east-1',
    endpoint,
    accessKeyId: 'test',
    secretAccessKey: 'test',
    // A name in a variable: the plugin has no type declarations for tsc to look for.
    plugins: [import(AWS_LITE_SQS)],
  });
  return {
    receive: async () => {
      const { Messages = [] } = await aws.SQS.ReceiveMessage({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 });
      return Messages.map((message, i) => ({ id: String(i), receiptHandle: message.ReceiptHandle ?? '' }));
    },
    // @aws-lite/sqs has no DeleteMessageBatch: the client's generic call, as its docs show.
    deleteBatch: async (entries) => {
      const { payload } = await aws({
        service: 'sqs',
        awsjson: false,
        headers: { 'X-Amz-Target': 'AmazonSQS.DeleteMessageBatch', 'content-type': 'application/x-amz-json-1.0' },
        payload: { QueueUrl: queueUrl, Entries: entries.map((entry) => ({ Id: entry.id, ReceiptHandle: entry.receiptHandle })) },
      });
      const failed = (payload as { Failed?: unknown[] } | undefined)?.Failed ?? [];
      if (failed.length > 0) throw new Error(`${failed.length} deletes failed`);
    },
    close: () => undefined,
  };
}

/**
 * `pollers` loops of receive + delete, none waiting for its delete before it receives again (at
 * most `pollers` deletes pending), until `expected` messages are in hand; resolves to those deleted.
 */
export async function drain(calls: DrainCalls, pollers: number, expected: number): Promise<number> {
  let received = 0;
  let deleted = 0;
  const deleting = new Set<Promise<void>>();
  const poll = async () => {
    // Stop receiving once every message is in hand: an empty queue would hold a poll for 1 s.
    while (received < expected) {
      while (deleting.size >= pollers) await Promise.race(deleting);
      const entries = await calls.receive();
      if (entries.length === 0) continue;
      received += entries.length;
      const deletion = calls
        .deleteBatch(entries)
        .then(() => {
          deleted += entries.length;
        })
        .finally(() => deleting.delete(deletion));
      deleting.add(deletion);
    }
  };
  try {
    await Promise.all(Array.from({ length: pollers }, poll));
    await Promise.all(deleting);
  } finally {
    calls.close();
  }
  return deleted;
}

if (process.argv[1]?.endsWith('client-drain.js')) {
  const [candidate = 'sdk', endpoint = '', queueUrl = '', pollersText = '16', expectedText = '0'] = process.argv.slice(2);
  if (!(CLIENT_CANDIDATES as readonly string[]).includes(candidate)) throw new Error(`unknown client ${candidate}`);
  const expected = Number(expectedText);
  const pollers = Number(pollersText);
  const deleted = await drain(await open(candidate as ClientCandidate, endpoint, queueUrl, pollers), pollers, expected);
  if (deleted < expected) {
    console.error(`client-drain ${candidate}: deleted ${deleted} of ${expected}`);
    process.exitCode = 1;
  }
}
