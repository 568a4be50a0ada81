// The embedded stack as `demo` and `local` start it: PostgreSQL with its data kept in a folder,
// an SQS server whose queue URLs work as printed, and the login queue (or one queue a pipeline of a
// file), ready to be filled.
import type { SQSClient } from '@aws-sdk/client-sqs';
import { createSqsClient } from '../source/sqs/client.js';
import { createQueue, LOGIN_QUEUE_MAX_MESSAGE_BYTES, sendBodies } from '../source/sqs/queue-admin.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { startEmbeddedSqs } from './embedded-sqs.js';
import { SQS_MAX_BODY_BYTES } from './event-file.js';

export const LOCAL_QUEUE_NAME = 'login-queue';
export const LOCAL_REGION = 'us-east-1';

export interface LocalStack {
  databaseUrl: string;
  /** the PostgreSQL data folder, absolute */
  dataDir: string;
  sqsEndpoint: string;
  /** the first queue's URL: the login queue's, without a pipeline file */
  queueUrl: string;
  /** every queue's URL, by its name */
  queueUrls: ReadonlyMap<string, string>;
  /** a client for filling the queue (sqs2pg's pipeline opens its own) */
  sqs: SQSClient;
  /** stops everything it started, in reverse order */
  stop(): Promise<void>;
}

export interface LocalStackOptions {
  /** the folder for PostgreSQL's files (kept between runs) */
  postgresDir: string;
  /** the largest body the queue must take (UTF-8 bytes); the login queue's 64 KiB when smaller */
  largestBody?: number;
  /** pollers the pipeline will run, so the client's sockets are sized alike */
  maxSockets: number;
  /** the queues to create, by name; default: the login queue alone */
  queues?: readonly string[];
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const postgres = await startEmbeddedPostgres({ dataDir: options.postgresDir, persistent: true });
  const stops: (() => Promise<void>)[] = [() => postgres.stop()];
  const stop = async () => {
    for (const step of stops) await step().catch(() => undefined);
  };
  try {
    const server = await startEmbeddedSqs({ loopbackQueueUrls: true });
    stops.unshift(() => server.stop());
    const sqs = createSqsClient({ region: LOCAL_REGION, endpoint: server.endpoint, queueUrl: server.endpoint, receiveWaitSec: 20, maxSockets: options.maxSockets, env: {} });
    stops.unshift(() => Promise.resolve(sqs.destroy()));
    // A login event is a few hundred bytes: the queue allows what the largest body needs, at least
    // the 64 KiB sqs2pg advises (queue-admin.ts), at most SQS's 1 MiB.
    const maxBytes = Math.min(SQS_MAX_BODY_BYTES, Math.max(LOGIN_QUEUE_MAX_MESSAGE_BYTES, options.largestBody ?? 0));
    const queueUrls = new Map<string, string>();
    for (const name of options.queues?.length ? options.queues : [LOCAL_QUEUE_NAME]) queueUrls.set(name, await createQueue(sqs, name, maxBytes));
    const queueUrl = queueUrls.values().next().value!;
    return { databaseUrl: postgres.url, dataDir: postgres.dataDir, sqsEndpoint: server.endpoint, queueUrl, queueUrls, sqs, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Sends the bodies to one of the stack's queues (the first by default); `onSent` hears the running total. */
export async function fillQueue(stack: LocalStack, bodies: readonly string[], onSent?: (sent: number) => void, queueUrl = stack.queueUrl): Promise<void> {
  await sendBodies(stack.sqs, queueUrl, bodies, 8, onSent);
}
