// Replay: one pipeline's quarantined messages re-run through its transform (today's validation and
// masking) from their sealed bodies, one record per transaction: the audit row, the row (through the
// workers' own sink statements, into the pipeline's table), its vault entries and the record's
// removal commit together, or not at all. A record that still fails stays, with its new reason.
// Records are taken in message-id order with SKIP LOCKED, so a replay stopped half way resumes where
// it was and two replays never collide. A sealed body that is an extended-client pointer (its object
// was missing) is fetched from S3 again, as the pipeline's workers would, never deleted from it, and
// before the transaction (which only writes): under the erasure lock, a forget would wait on S3.
import type { Pool, PoolClient } from '../db/pool.js';
import { inTransaction } from '../db/transaction.js';
import { BEGIN_VAULT_WRITE } from '../db/vault-lock.js';
import { classifyFailure } from '../db/sqlstate.js';
import { planDeclaredTables } from '../db/declared-tables.js';
import { requireUserLogins } from '../db/user-logins.js';
import { ConnectError, DatabaseRefusedError } from '../errors.js';
import { sinkTargetOf, type SinkTarget } from '../sink/postgres/conflict-target.js';
import type { PostgresSink } from '../sink/postgres/sink.js';
import type { Payload, PayloadRoom, S3PayloadResolver } from '../source/s3/payload-resolver.js';
import type { EnvelopeMode } from '../transform/envelope.js';
import type { Masker } from '../transform/mask.js';
import { compileTransform, type PipelineTransform } from '../transform/pipeline-transform.js';
import { pointerIn, type S3Pointer } from '../transform/s3-pointer.js';
import { SQS_MAX_BODY_BYTES, type RejectReason } from '../model/message.js';
import type { PipelineSpec } from '../model/pipeline.js';
import { sealBatch } from '../vault/seal-batch.js';
import type { SealedItemOpener, VaultSealer } from '../vault/sealed-box.js';
import { auditReplayOpen, openBody, peekSealedBody, takeSealedBodyForReplay } from '../quarantine/sealed-body.js';

export interface ReplayOptions {
  /** the pipeline's sink: its table and idempotency; its pipeline names the records replayed */
  sink: PostgresSink;
  /**
   * the pipeline's transform, compiled as its workers' (vault on, SQS's body limit): a sealed body is
   * the whole message as received, its envelope included
   */
  transform: PipelineTransform;
  /** the officer's keyring: bodies sealed under the current or the previous key pair */
  opener: SealedItemOpener;
  /** vault entries for the replayed rows' masks (null: the vault's entries are not written) */
  vault: VaultSealer | null;
  /**
   * the pipeline's S3 payloads, as its workers resolve them (absent: s3_payloads off, a pointer is
   * read as the event); `envelope` the pipeline's, to find a pointer an SNS Notification carries
   */
  payloads?: { resolver: S3PayloadResolver; envelope: EnvelopeMode } | undefined;
  reason: string;
  whereReason?: RejectReason | undefined;
  limit?: number | undefined;
}

/**
 * `spec`'s transform as replay reads a sealed body with it: as the pipeline's workers read the
 * message, under SQS's own body limit (a body the queue took is an event), with the vault on.
 */
export function replayTransform(spec: PipelineSpec, masker: Masker, envelope: EnvelopeMode): PipelineTransform {
  return compileTransform(spec, masker, { envelope, maxBodyBytes: SQS_MAX_BODY_BYTES, vault: true });
}

/**
 * Where each pipeline's replayed rows go: user_logins for the login pipeline, a declared pipeline's
 * table as it is. Replay changes no table: one that is not as declared (missing, a column declared
 * since, a type it cannot hold) is refused with what to do, before any record is touched.
 */
export async function replayTargets(pool: Pool, specs: readonly PipelineSpec[], file: string | undefined): Promise<Map<string, SinkTarget>> {
  const targets = new Map<string, SinkTarget>();
  const declared = specs.filter((spec) => !spec.builtin);
  const problems: string[] = [];
  for (const plan of declared.length === 0 ? [] : await planDeclaredTables(pool, declared)) {
    const spec = declared.find((candidate) => candidate.name === plan.pipeline)!;
    if (plan.refusals.length > 0) problems.push(...plan.refusals);
    else if (plan.table === null || !plan.exists || plan.actions.length > 0) {
      problems.push(`pipeline ${plan.pipeline}: its table is not as declared yet (${plan.actions.map((action) => action.what).join(', ')}); run "sqs2pg migrate --config ${file ?? 'FILE'}" as the tables' owner first`);
    } else targets.set(spec.name, sinkTargetOf(spec, { name: plan.table, partitioned: false }));
  }
  if (problems.length > 0) throw new DatabaseRefusedError('db_schema', `replay writes into each pipeline's table as declared: ${problems.join('; ')}`);
  if (specs.some((spec) => spec.builtin)) {
    const logins = await requireUserLogins(pool);
    for (const spec of specs) if (spec.builtin) targets.set(spec.name, sinkTargetOf(spec, logins));
  }
  return targets;
}

export interface ReplayResult {
  /** records that became rows (or whose row was already there) and were removed */
  loaded: number;
  /** records still refused, by their new reason */
  stillRefused: Partial<Record<RejectReason, number>>;
  /** records without a sealed body (written while the vault was off): nothing to replay */
  withoutBody: number;
}

type Fate = { kind: 'loaded' } | { kind: 'refused'; reason: RejectReason } | { kind: 'no_body' } | { kind: 'none' } | { kind: 'gone' };

export async function replayQuarantined(pool: Pool, options: ReplayOptions): Promise<ReplayResult> {
  const result: ReplayResult = { loaded: 0, stillRefused: {}, withoutBody: 0 };
  let after = '';
  for (let done = 0; options.limit === undefined || done < options.limit; ) {
    // A pointer's object is fetched before the erasure lock is taken, never under it: a forget
    // waiting for the lock would wait out S3's timeouts and retries (up to ~100 s) behind it.
    const ahead = options.payloads ? await fetchAhead(pool, after, options, options.payloads) : undefined;
    if (ahead === null) break;
    let id = ahead?.id ?? '';
    // The erasure lock before the record's row lock: forget takes them in that order too.
    const fate = await inTransaction(pool, BEGIN_VAULT_WRITE, async (client): Promise<Fate> => {
      const record = ahead ? await lockRecord(client, ahead.id, options.whereReason, options.sink.pipeline) : await nextRecord(client, after, options.whereReason, options.sink.pipeline);
      if (!record && ahead?.body !== undefined) {
        // Forgotten, or taken by another replay, since it was read ahead: not this replay's any
        // more, but its body was opened, and every body replay opens is audited.
        await auditReplayOpen(client, options.sink.pipeline, ahead.id, options.reason, true);
        return { kind: 'gone' };
      }
      if (!record) return { kind: ahead ? 'gone' : 'none' };
      id = record.id;
      return replayOne(client, record, options, ahead);
    });
    if (fate.kind === 'none') break;
    after = id;
    if (fate.kind === 'gone') continue;
    done++;
    if (fate.kind === 'loaded') result.loaded++;
    else if (fate.kind === 'no_body') result.withoutBody++;
    else result.stillRefused[fate.reason] = (result.stillRefused[fate.reason] ?? 0) + 1;
  }
  return result;
}

/** The next record, read ahead of its transaction: its body as sealed then, and its pointer's payload if it is one. */
interface FetchedAhead {
  id: string;
  body: string | undefined;
  payload: Extract<Payload, { kind: 'resolved' | 'refused' }> | undefined;
}

/**
 * The next record after `after` and, when its body is an extended-client pointer, the object it
 * names, fetched outside any transaction (null: no record left). The body is opened here in memory
 * only, to find the pointer; it is audited when the record is taken, under the lock (or found gone).
 * Throws when S3 does not answer or refuses the credentials: then nothing was written (as before,
 * when that transaction rolled its audit row back).
 */
async function fetchAhead(pool: Pool, after: string, options: ReplayOptions, payloads: NonNullable<ReplayOptions['payloads']>): Promise<FetchedAhead | null> {
  const pipeline = options.sink.pipeline;
  const next = await pool.query<{ id: string }>(
    `SELECT sqs_message_id AS id FROM sqs2pg.quarantine
      WHERE sqs_message_id > $1 AND ($2::text IS NULL OR reason = $2) AND pipeline = $3
      ORDER BY sqs_message_id LIMIT 1`,
    [after, options.whereReason ?? null, pipeline],
  );
  const id = next.rows[0]?.id;
  if (id === undefined) return null;
  const sealed = await peekSealedBody(pool, pipeline, id);
  if (!sealed) return { id, body: undefined, payload: undefined };
  const body = openBody(sealed, id, options.opener);
  const found = pointerIn(body, payloads.envelope);
  if (!found) return { id, body, payload: undefined };
  return { id, body, payload: await fetchPayload(payloads.resolver, found.pointer) };
}

/** A payload that is an answer about the object; throws when there is none (S3 silent, or the credentials refused). */
async function fetchPayload(resolver: S3PayloadResolver, pointer: S3Pointer): Promise<Extract<Payload, { kind: 'resolved' | 'refused' }>> {
  const payload = await resolver.fetch(pointer, oneAtATime, new AbortController().signal);
  // No answer about the object: this record and the rest wait for S3, untouched.
  if (payload.kind === 'transient') {
    throw new ConnectError('s3_unreachable', `S3 did not answer for a quarantined message's payload (${payload.code}); replay stopped, that record and the ones after it are left as they were: check --s3-endpoint (AWS_ENDPOINT_URL_S3), the credentials and the network, then replay again`);
  }
  if (payload.kind === 'credentials') {
    throw new ConnectError('s3_unreachable', `S3 refused the AWS credentials for a quarantined message's payload (${payload.code}); replay stopped, that record and the ones after it are left as they were: check the credentials S3 is given, the clock and AWS_REGION, then replay again`);
  }
  return payload;
}

interface RecordRow {
  id: string;
  receive_count: number;
  sent_ms: string;
}

/** The next record of `pipeline`: its bodies are read by that pipeline's transform alone. */
async function nextRecord(client: PoolClient, after: string, whereReason: RejectReason | undefined, pipeline: string): Promise<{ id: string; receiveCount: number; sentAtMs: number } | undefined> {
  const result = await client.query<RecordRow>(
    `SELECT sqs_message_id AS id, receive_count, (extract(epoch FROM sent_at) * 1000)::bigint AS sent_ms
       FROM sqs2pg.quarantine
      WHERE sqs_message_id > $1 AND ($2::text IS NULL OR reason = $2) AND pipeline = $3
      ORDER BY sqs_message_id LIMIT 1 FOR UPDATE SKIP LOCKED`,
    [after, whereReason ?? null, pipeline],
  );
  const row = result.rows[0];
  return row && { id: row.id, receiveCount: row.receive_count, sentAtMs: Number(row.sent_ms) };
}

/** The record read ahead, locked: undefined when it is gone since (forgotten, replayed) or another replay holds it. */
async function lockRecord(client: PoolClient, id: string, whereReason: RejectReason | undefined, pipeline: string): Promise<{ id: string; receiveCount: number; sentAtMs: number } | undefined> {
  const result = await client.query<RecordRow>(
    `SELECT sqs_message_id AS id, receive_count, (extract(epoch FROM sent_at) * 1000)::bigint AS sent_ms
       FROM sqs2pg.quarantine
      WHERE sqs_message_id = $1 AND ($2::text IS NULL OR reason = $2) AND pipeline = $3
      FOR UPDATE SKIP LOCKED`,
    [id, whereReason ?? null, pipeline],
  );
  const row = result.rows[0];
  return row && { id: row.id, receiveCount: row.receive_count, sentAtMs: Number(row.sent_ms) };
}

async function replayOne(client: PoolClient, record: { id: string; receiveCount: number; sentAtMs: number }, options: ReplayOptions, ahead: FetchedAhead | undefined): Promise<Fate> {
  const pipeline = options.sink.pipeline;
  const sealed = await takeSealedBodyForReplay(client, pipeline, record.id, options.reason);
  if (!sealed) return { kind: 'no_body' };
  const message = { messageId: record.id, body: openBody(sealed, record.id, options.opener), sentAtMs: record.sentAtMs, receiveCount: record.receiveCount };
  const { payloads } = options;
  const found = payloads && pointerIn(message.body, payloads.envelope);
  let read: ReturnType<PipelineTransform['read']>;
  if (payloads && found) {
    // The payload fetched ahead is this body's (a body is never rewritten, only sealed again by
    // rotate); were it another, it would be fetched here, as before.
    const payload = ahead?.body === message.body && ahead.payload ? ahead.payload : await fetchPayload(payloads.resolver, found.pointer);
    // Still missing (or too large, or unreadable for good): the record stays, under that reason, as its worker would have made it.
    if (payload.kind === 'refused') {
      await setReason(client, pipeline, record.id, payload.reason, null, payload.detail);
      return { kind: 'refused', reason: payload.reason };
    }
    // As a worker reads it: a payload an SNS Notification pointed to is the event itself.
    read = options.transform.read({ ...message, body: payload.body }, found.envelope ? 'none' : undefined);
  } else read = options.transform.read(message);
  const { outcome, originals = [] } = read;
  if (outcome.kind === 'rejected') {
    await setReason(client, pipeline, record.id, outcome.rejection.reason, outcome.rejection.field, null);
    return { kind: 'refused', reason: outcome.rejection.reason };
  }
  await client.query('SAVEPOINT replay_row');
  try {
    await options.sink.writeIn(client, { rows: [outcome.row], rejections: [], vault: options.vault ? sealBatch(originals, options.vault) : [] });
  } catch (error) {
    const { kind, code } = classifyFailure(error);
    if (kind !== 'data') throw error;
    await client.query('ROLLBACK TO SAVEPOINT replay_row');
    await setReason(client, pipeline, record.id, 'db_rejected', null, code);
    return { kind: 'refused', reason: 'db_rejected' };
  }
  // A row already there (a late redelivery loaded it) is as good: the record goes either way.
  await client.query('DELETE FROM sqs2pg.quarantine WHERE pipeline = $1 AND sqs_message_id = $2', [pipeline, record.id]);
  return { kind: 'loaded' };
}

/** Replay holds one payload at a time, outside any worker's byte budget. */
const oneAtATime: PayloadRoom = () => Promise.resolve({ shrink: () => undefined, end: () => undefined });

async function setReason(client: PoolClient, pipeline: string, id: string, reason: RejectReason, field: string | null, detail: string | null): Promise<void> {
  await client.query('UPDATE sqs2pg.quarantine SET reason = $3, field = $4, detail = $5 WHERE pipeline = $1 AND sqs_message_id = $2', [pipeline, id, reason, field, detail]);
}
