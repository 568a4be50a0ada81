// Replay: quarantined messages re-run through today's validation and masking from their sealed
// bodies, one record per transaction: the audit row, the row (through the workers' own sink
// statements), its vault entries and the record's removal commit together, or not at all. A
// record that still fails stays, with its new reason. Records are taken in message-id order with
// SKIP LOCKED, so a replay stopped half way resumes where it was and two replays never collide.
import type { Pool, PoolClient } from '../db/pool.js';
import { inTransaction } from '../db/transaction.js';
import { BEGIN_VAULT_WRITE } from '../db/vault-lock.js';
import { classifyFailure } from '../db/sqlstate.js';
import type { PostgresSink } from '../sink/postgres/sink.js';
import type { EnvelopeMode } from '../transform/envelope.js';
import type { Masker } from '../transform/mask.js';
import { messageToVaultedRow } from '../transform/message-to-row.js';
import { loginTableRow } from '../transform/pipeline-transform.js';
import { SQS_MAX_BODY_BYTES, type RejectReason } from '../model/message.js';
import { sealBatch } from '../vault/seal-batch.js';
import type { SealedItemOpener, VaultSealer } from '../vault/sealed-box.js';
import { openBody, takeSealedBodyForReplay } from '../quarantine/sealed-body.js';

export interface ReplayOptions {
  sink: PostgresSink;
  masker: Masker;
  /** the officer's keyring: bodies sealed under the current or the previous key pair */
  opener: SealedItemOpener;
  /** vault entries for the replayed rows' masks (null: the vault's entries are not written) */
  vault: VaultSealer | null;
  reason: string;
  /** as the workers': a sealed body is the whole message as received, its envelope included */
  envelope?: EnvelopeMode | undefined;
  whereReason?: RejectReason | undefined;
  limit?: number | undefined;
}

export interface ReplayResult {
  /** records that became rows (or whose row was already there) and were removed */
  loaded: number;
  /** records still refused, by their new reason */
  stillRefused: Partial<Record<RejectReason, number>>;
  /** records without a sealed body (written while the vault was off): nothing to replay */
  withoutBody: number;
}

type Fate = { kind: 'loaded' } | { kind: 'refused'; reason: RejectReason } | { kind: 'no_body' } | { kind: 'none' };

export async function replayQuarantined(pool: Pool, options: ReplayOptions): Promise<ReplayResult> {
  const result: ReplayResult = { loaded: 0, stillRefused: {}, withoutBody: 0 };
  let after = '';
  for (let done = 0; options.limit === undefined || done < options.limit; done++) {
    let id = '';
    // The erasure lock before the record's row lock: forget takes them in that order too.
    const fate = await inTransaction(pool, BEGIN_VAULT_WRITE, async (client) => {
      const record = await nextRecord(client, after, options.whereReason, options.sink.pipeline);
      if (!record) return { kind: 'none' } as const;
      id = record.id;
      return replayOne(client, record, options);
    });
    if (fate.kind === 'none') break;
    after = id;
    if (fate.kind === 'loaded') result.loaded++;
    else if (fate.kind === 'no_body') result.withoutBody++;
    else result.stillRefused[fate.reason] = (result.stillRefused[fate.reason] ?? 0) + 1;
  }
  return result;
}

interface RecordRow {
  id: string;
  receive_count: number;
  sent_ms: string;
}

/** The next record of `pipeline` (replay reads bodies as the login pipeline's: only its own records). */
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

async function replayOne(client: PoolClient, record: { id: string; receiveCount: number; sentAtMs: number }, options: ReplayOptions): Promise<Fate> {
  const sealed = await takeSealedBodyForReplay(client, record.id, options.reason);
  if (!sealed) return { kind: 'no_body' };
  const message = { messageId: record.id, body: openBody(sealed, record.id, options.opener), sentAtMs: record.sentAtMs, receiveCount: record.receiveCount };
  const { outcome, originals } = messageToVaultedRow(message, options.masker, { envelope: options.envelope, maxBodyBytes: SQS_MAX_BODY_BYTES });
  if (outcome.kind === 'rejected') {
    await setReason(client, record.id, outcome.rejection.reason, outcome.rejection.field, null);
    return { kind: 'refused', reason: outcome.rejection.reason };
  }
  await client.query('SAVEPOINT replay_row');
  try {
    await options.sink.writeIn(client, { rows: [loginTableRow(outcome.row)], rejections: [], vault: options.vault ? sealBatch(originals, options.vault) : [] });
  } catch (error) {
    const { kind, code } = classifyFailure(error);
    if (kind !== 'data') throw error;
    await client.query('ROLLBACK TO SAVEPOINT replay_row');
    await setReason(client, record.id, 'db_rejected', null, code);
    return { kind: 'refused', reason: 'db_rejected' };
  }
  // A row already there (a late redelivery loaded it) is as good: the record goes either way.
  await client.query('DELETE FROM sqs2pg.quarantine WHERE sqs_message_id = $1', [record.id]);
  return { kind: 'loaded' };
}

async function setReason(client: PoolClient, id: string, reason: RejectReason, field: string | null, detail: string | null): Promise<void> {
  await client.query('UPDATE sqs2pg.quarantine SET reason = $2, field = $3, detail = $4 WHERE sqs_message_id = $1', [id, reason, field, detail]);
}
