// The ways to a quarantined message's sealed body. An officer's (quarantine show --reveal) goes
// through two functions of the schema owner's (see sql/0006): the audit row is committed first, and
// only then is the sealed body handed over, so no rollback can undo the audit. Replay runs as the
// owner and writes its audit row in the same transaction as the row it loads. Bodies are opened here,
// with the private key, never in the database.
import type { Pool, PoolClient } from '../db/pool.js';
import { quarantineContext, type SealedItem, type SealedItemOpener } from '../vault/sealed-box.js';

interface SealedRow {
  vault_key_id: string;
  ephemeral_public_key: Buffer;
  nonce: Buffer;
  ciphertext: Buffer;
}

/**
 * An officer's reveal of `pipeline`'s record: the audited sealed body, or undefined when the record
 * has none (vault off when it was written; nothing is audited then). Each step is its own
 * (autocommitted) statement.
 */
export async function revealSealedBody(pool: Pool, pipeline: string, messageId: string, reason: string): Promise<SealedItem | undefined> {
  const begun = await pool.query<{ id: string | null }>('SELECT sqs2pg_vault.begin_quarantine_reveal($1, $2, $3) AS id', [pipeline, messageId, reason]);
  const auditId = begun.rows[0]?.id ?? null;
  if (auditId === null) return undefined;
  const result = await pool.query<SealedRow>('SELECT * FROM sqs2pg_vault.revealed_quarantine_body($1)', [auditId]);
  return sealedItem(result.rows[0]);
}

/**
 * Replay, as the owner, before it takes the record: the sealed body alone, unaudited, to find an
 * extended-client pointer whose object is fetched outside the transaction. The record is audited
 * when it is taken (takeSealedBodyForReplay); one gone by then is not replayed, and audited as such
 * (auditReplayOpen); nothing of it is shown or kept.
 */
export async function peekSealedBody(pool: Pool, pipeline: string, messageId: string): Promise<SealedItem | undefined> {
  const result = await pool.query<SealedRow>(
    'SELECT vault_key_id, ephemeral_public_key, nonce, ciphertext FROM sqs2pg_vault.quarantine_bodies WHERE pipeline = $1 AND sqs_message_id = $2',
    [pipeline, messageId],
  );
  return sealedItem(result.rows[0]);
}

/** Replay, as the owner: the sealed body of `pipeline`'s record and its audit row, in the caller's transaction. */
export async function takeSealedBodyForReplay(client: PoolClient, pipeline: string, messageId: string, reason: string): Promise<SealedItem | undefined> {
  const result = await client.query<SealedRow>(
    'SELECT vault_key_id, ephemeral_public_key, nonce, ciphertext FROM sqs2pg_vault.quarantine_bodies WHERE pipeline = $1 AND sqs_message_id = $2',
    [pipeline, messageId],
  );
  const item = sealedItem(result.rows[0]);
  if (!item) return undefined;
  await auditReplayOpen(client, pipeline, messageId, reason);
  return item;
}

/**
 * Replay's audit row for a body it opened: in the transaction that loads it, or (`gone`) for one it
 * read ahead whose record was forgotten or taken by another replay before it could be.
 */
export async function auditReplayOpen(client: PoolClient, pipeline: string, messageId: string, reason: string, gone = false): Promise<void> {
  await client.query(
    `INSERT INTO sqs2pg_vault.audit (database_user, session_user_name, action, subject, reason, detail)
     VALUES (session_user, session_user, 'replay', $1, $2, jsonb_build_object('pipeline', $3::text) || CASE WHEN $4::boolean THEN '{"gone": true}'::jsonb ELSE '{}'::jsonb END)`,
    [messageId, reason, pipeline, gone],
  );
}

function sealedItem(row: SealedRow | undefined): SealedItem | undefined {
  return row && { vaultKeyId: row.vault_key_id, ephemeralPublicKey: row.ephemeral_public_key, nonce: row.nonce, ciphertext: row.ciphertext };
}

/** `opener`: the officer's keyring, which opens bodies sealed under each key pair it holds. */
export function openBody(item: SealedItem, messageId: string, opener: SealedItemOpener): string {
  return opener.open(item, quarantineContext(messageId)).toString('utf8');
}
