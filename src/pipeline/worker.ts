// Everything between "configured" and "running": reach PostgreSQL, migrate, reach the queue,
// assemble the pipeline and rehearse one batch. Shared by `run` and `demo`; signals stay with the
// commands. Whatever can be found out before the first receive is: a worker that cannot work then
// fails without having taken a single message from the queue, however often it is started again.
import { assertKeyFingerprints, type KeyCheck } from '../db/key-fingerprints.js';
import { migrate } from '../db/migrate.js';
import { assertReachable, type Pool } from '../db/pool.js';
import { refusalCode } from '../db/denied.js';
import { requireUserLogins } from '../db/user-logins.js';
import { ConnectError, DatabaseRefusedError, describeError, Sqs2pgError } from '../errors.js';
import type { EventBus } from '../observability/events.js';
import { PostgresSink } from '../sink/postgres/sink.js';
import type { S3PayloadResolver } from '../source/s3/payload-resolver.js';
import type { SqsApi } from '../source/sqs/sqs-api.js';
import { explainQueueFailure } from '../source/sqs/queue-failure.js';
import { SQS_MAX_BODY_BYTES, SqsSource } from '../source/sqs/source.js';
import type { Masker } from '../transform/mask.js';
import type { VaultSealer } from '../vault/sealed-box.js';
import { Pipeline, type PipelineOptions } from './pipeline.js';

export interface WorkerParts {
  sqs: SqsApi;
  queueUrl: string;
  /** where SQS calls go, for messages: the endpoint or the queue URL */
  sqsTarget: string;
  pool: Pool;
  databaseUrl: string;
  masker: Masker;
  /** vault on: seals new vault entries to the vault's public key */
  vault?: VaultSealer | undefined;
  /** resolves SQS extended client pointers from S3 */
  payloads?: S3PayloadResolver | undefined;
  /** the keys to check against the ids this database has seen them under */
  keyChecks: readonly KeyCheck[];
  bus: EventBus;
  options: PipelineOptions & { visibilityTimeoutSec: number };
}

export async function prepareWorker(parts: WorkerParts): Promise<Pipeline> {
  await assertReachable(parts.pool, parts.databaseUrl);
  await migrate(parts.pool).catch((error: unknown) => {
    const code = refusalCode(error);
    if (code === undefined) throw error;
    throw new DatabaseRefusedError(code, `the database role may not apply sqs2pg's pending migrations (${describeError(error)}); run "sqs2pg migrate" as the owner of the tables, then start the workers again`, error);
  });
  await assertKeyFingerprints(parts.pool, parts.keyChecks);
  const source = new SqsSource(parts.sqs, {
    queueUrl: parts.queueUrl,
    visibilityTimeoutSec: parts.options.visibilityTimeoutSec,
    emit: parts.bus.emit,
    maxHeldBytes: parts.options.maxInFlightBytes,
    reserveAnswers: parts.options.answerBytes !== 'count',
  });
  try {
    await source.depth();
  } catch (error) {
    // Already one actionable line (e.g. an endpoint that speaks neither SQS protocol).
    if (error instanceof Sqs2pgError) throw error;
    const { cause, action } = await explainQueueFailure(error, parts.queueUrl, parts.sqsTarget, parts.sqs);
    throw new ConnectError('sqs_unreachable', `cannot read the SQS queue ${parts.queueUrl} via ${parts.sqsTarget} (${cause}); ${action}`, error);
  }
  // The SDK client's reservation is what an answer can hold, and a body up to the queue's maximum is an event.
  const maxMessageBytes = await source.maxMessageBytes().catch(() => SQS_MAX_BODY_BYTES);
  // After migrate, so a partitioned table already has its (sqs_message_id, create_date) index.
  const sink = new PostgresSink(parts.pool, await requireUserLogins(parts.pool));
  const pipeline = new Pipeline(source, sink, parts.masker, { ...parts.options, maxBodyBytes: parts.options.maxBodyBytes ?? maxMessageBytes }, parts.bus.emit, parts.vault ?? null, parts.payloads ?? null);
  await pipeline.rehearse();
  return pipeline;
}
