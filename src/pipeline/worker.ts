// Everything between "configured" and "running": reach PostgreSQL, migrate, bring the declared
// tables to their declaration, reach every pipeline's queue, assemble the pipelines and rehearse one
// batch of each. Shared by `run` and `demo`; signals stay with the commands. Whatever can be found
// out before the first receive is: a worker that cannot work then fails without having taken a
// single message from any queue, however often it is started again.
import { applyDeclaredTables } from '../db/declared-tables.js';
import { assertKeyFingerprints, type KeyCheck } from '../db/key-fingerprints.js';
import { migrate } from '../db/migrate.js';
import { assertReachable, type Pool } from '../db/pool.js';
import { refusalCode } from '../db/denied.js';
import { requireUserLogins, type UserLoginsTable } from '../db/user-logins.js';
import { ConnectError, DatabaseRefusedError, describeError, Sqs2pgError } from '../errors.js';
import type { PipelineSpec, S3PayloadMode } from '../model/pipeline.js';
import { withPipeline, type EventBus } from '../observability/events.js';
import { sinkTargetOf } from '../sink/postgres/conflict-target.js';
import { PostgresSink } from '../sink/postgres/sink.js';
import type { S3PayloadResolver } from '../source/s3/payload-resolver.js';
import { ByteBudget, HEAVY_FLOOR_BYTES, LARGE_ANSWER_BYTES } from '../source/sqs/byte-budget.js';
import type { SqsApi } from '../source/sqs/sqs-api.js';
import { explainQueueFailure } from '../source/sqs/queue-failure.js';
import { SQS_MAX_BODY_BYTES, SqsSource } from '../source/sqs/source.js';
import type { Masker } from '../transform/mask.js';
import { compileTransform } from '../transform/pipeline-transform.js';
import type { VaultSealer } from '../vault/sealed-box.js';
import { Pipeline, type PipelineOptions } from './pipeline.js';
import { Pipelines } from './pipelines.js';
import { rehearsalMessages } from './rehearsal.js';

/** The SQS client a queue is read through, and where its calls go (the endpoint or the queue URL's origin), for messages. */
export interface SqsFor {
  (queueUrl: string): { sqs: SqsApi; target: string };
}

export interface WorkerParts {
  /** the run's pipelines (without a pipeline file: the builtin logins on --queue-url) */
  specs: readonly PipelineSpec[];
  /** one client per endpoint, shared by the pipelines whose queues it serves */
  sqsFor: SqsFor;
  pool: Pool;
  databaseUrl: string;
  masker: Masker;
  /** vault on: seals new vault entries to the vault's public key */
  vault?: VaultSealer | undefined;
  /** resolves SQS extended client pointers from S3, for the pipelines that resolve them */
  payloads?: S3PayloadResolver | undefined;
  /** --s3-payloads, for the pipelines that do not set their own (absent: resolve, given `payloads`) */
  s3Payloads?: S3PayloadMode;
  /** the keys to check against the ids this database has seen them under */
  keyChecks: readonly KeyCheck[];
  bus: EventBus;
  options: PipelineOptions & { visibilityTimeoutSec: number };
  /** told when the run's byte budget becomes heavy, and light again (ByteBudget.onHeavy) */
  whileHeavy?: ((heavy: boolean) => void) | undefined;
}

/** A pipeline's table as found (or made): its quoted name, and whether it is partitioned (user_logins may be). */
type TableFound = Pick<UserLoginsTable, 'name' | 'partitioned'>;

export async function prepareWorker(parts: WorkerParts): Promise<Pipelines> {
  await assertReachable(parts.pool, parts.databaseUrl);
  await migrate(parts.pool).catch((error: unknown) => {
    const code = refusalCode(error);
    if (code === undefined) throw error;
    throw new DatabaseRefusedError(code, `the database role may not apply sqs2pg's pending migrations (${describeError(error)}); run "sqs2pg migrate" as the owner of the tables, then start the workers again`, error);
  });
  await assertKeyFingerprints(parts.pool, parts.keyChecks);
  const tables = await tablesOf(parts.pool, parts.specs);
  // One budget for the process: N pipelines hold what one may, not N times that.
  // Heavy from a quarter of the limit, never below HEAVY_FLOOR_BYTES: a clean drain must not pay for the heavy growth rule.
  const budget = new ByteBudget(parts.options.maxInFlightBytes, LARGE_ANSWER_BYTES, Math.max(parts.options.maxInFlightBytes / 4, HEAVY_FLOOR_BYTES));
  if (parts.whileHeavy) budget.onHeavy(parts.whileHeavy);
  const pipelines: Pipeline[] = [];
  for (const spec of parts.specs) pipelines.push(await preparePipeline(parts, spec, tables.get(spec.name) as TableFound, budget));
  return new Pipelines(pipelines);
}

/**
 * Where each pipeline's rows go. The login pipeline's user_logins is the take-home's DDL's, found
 * through the role's search path (after migrate, so a partitioned one already has its
 * (sqs_message_id, create_date) index); a declared table is created, or given the columns declared
 * since, here (applyDeclaredTables refuses a change it must not make and says what to do).
 */
async function tablesOf(pool: Pool, specs: readonly PipelineSpec[]): Promise<Map<string, TableFound>> {
  const tables = new Map<string, TableFound>();
  const declared = specs.filter((spec) => !spec.builtin);
  if (declared.length > 0) {
    const plans = await applyDeclaredTables(pool, declared).catch((error: unknown) => {
      const code = refusalCode(error);
      if (code === undefined) throw error;
      throw new DatabaseRefusedError(code, `the database role may not create or change the declared tables (${describeError(error)}); run "sqs2pg migrate --config FILE" as their owner, then start the workers again`, error);
    });
    for (const plan of plans) {
      if (plan.table === null) throw new DatabaseRefusedError('db_schema', `the pipeline ${plan.pipeline}'s table has no schema to be created in: name one in the pipeline file (table: schema.name)`);
      tables.set(plan.pipeline, { name: plan.table, partitioned: false });
    }
  }
  if (specs.some((spec) => spec.builtin)) {
    const logins = await requireUserLogins(pool);
    for (const spec of specs) if (spec.builtin) tables.set(spec.name, logins);
  }
  return tables;
}

async function preparePipeline(parts: WorkerParts, spec: PipelineSpec, table: TableFound, budget: ByteBudget): Promise<Pipeline> {
  const emit = withPipeline(parts.bus.emit, spec.name);
  const { sqs, target } = parts.sqsFor(spec.queue);
  const source = new SqsSource(sqs, {
    queueUrl: spec.queue,
    visibilityTimeoutSec: parts.options.visibilityTimeoutSec,
    emit,
    budget,
    reserveAnswers: parts.options.answerBytes === 'reserve',
  });
  try {
    await source.depth();
  } catch (error) {
    // Already one actionable line (e.g. an endpoint that speaks neither SQS protocol).
    if (error instanceof Sqs2pgError) throw error;
    const { cause, action } = await explainQueueFailure(error, spec.queue, target, sqs);
    throw new ConnectError('sqs_unreachable', `cannot read the SQS queue ${spec.queue} of the pipeline ${spec.name} via ${target} (${cause}); ${action}`, error);
  }
  // The SDK client's reservation is what an answer can hold, and a body up to the queue's maximum is an event.
  const maxMessageBytes = await source.maxMessageBytes().catch(() => SQS_MAX_BODY_BYTES);
  // The pipeline's own envelope and payload settings, where its file sets them, over the process's.
  const envelope = spec.envelope ?? parts.options.envelope ?? 'none';
  const options = { ...parts.options, envelope, maxBodyBytes: parts.options.maxBodyBytes ?? maxMessageBytes };
  const payloads = (spec.s3Payloads ?? parts.s3Payloads ?? 'resolve') === 'resolve' ? (parts.payloads ?? null) : null;
  const transform = compileTransform(spec, parts.masker, { envelope, maxBodyBytes: options.maxBodyBytes, vault: Boolean(parts.vault) });
  const sink = new PostgresSink(parts.pool, sinkTargetOf(spec, table));
  const pipeline = new Pipeline(source, sink, transform, options, emit, parts.vault ?? null, payloads);
  await pipeline.rehearse(rehearsalMessages(Date.now(), spec));
  return pipeline;
}
