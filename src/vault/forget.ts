// The right to erasure, each in one call of a SECURITY DEFINER function (sql/0005, 0007, 0012) that
// deletes, records the tombstone and writes the audit row in one transaction under the erasure
// lock. Deleting a vault entry is crypto-shredding: the mask stays, nothing turns it back.
import type { RegisteredPipeline } from '../db/pipeline-registry.js';
import type { Pool, PoolClient } from '../db/pool.js';
import type { Masker } from '../transform/mask.js';
import type { SealedItem, VaultSealer } from './sealed-box.js';
import { sealUserId } from './tombstones.js';

export interface ForgetUserResult {
  rows: number;
  quarantined: number;
  /** vault entries deleted: masks only this user's rows had */
  vaultEntries: number;
  /** vault entries kept because other rows use the same value */
  vaultEntriesKept: number;
  /** messages of the user the tombstone stopped since an earlier forget (0 the first time) */
  messagesStopped: number;
}

/** What forget_user and forget_subject answer: counts only, as text (bigint). */
type ErasureRow = { rows_deleted: string; quarantined: string; vault_entries: string; vault_entries_kept: string; messages_stopped: string };

function erasureCounts(row: ErasureRow | undefined): ForgetUserResult {
  return {
    rows: Number(row?.rows_deleted ?? 0),
    quarantined: Number(row?.quarantined ?? 0),
    vaultEntries: Number(row?.vault_entries ?? 0),
    vaultEntriesKept: Number(row?.vault_entries_kept ?? 0),
    messagesStopped: Number(row?.messages_stopped ?? 0),
  };
}

/**
 * `userKeys`: the user's keyed hash under the current mask key (its tombstone gets `sealedId`),
 * then under the previous mask key while a rotation is under way.
 */
export async function forgetUser(pool: Pool | PoolClient, userId: string, userKeys: readonly string[], reason: string | undefined, sealedId: SealedItem | undefined): Promise<ForgetUserResult> {
  const result = await pool.query<ErasureRow>(
    'SELECT * FROM sqs2pg_vault.forget_user($1, $2, $3, $4, $5, $6, $7)',
    [userId, userKeys, reason ?? null, sealedId?.vaultKeyId ?? null, sealedId?.ephemeralPublicKey ?? null, sealedId?.nonce ?? null, sealedId?.ciphertext ?? null],
  );
  return erasureCounts(result.rows[0]);
}

/**
 * Erasure under each of `maskers` (the current mask key, then the previous one while a mask-key
 * rotation is under way), one call each in the caller's transaction, so that every tombstone gets
 * the user id sealed under its own key (vault on): rotate can then re-key or re-seal each of them,
 * and never takes one for a tombstone made with the vault off. One audit row per mask key.
 */
export async function forgetUserUnder(client: PoolClient, userId: string, maskers: readonly Masker[], reason: string | undefined, sealer: VaultSealer | undefined): Promise<ForgetUserResult> {
  const total: ForgetUserResult = { rows: 0, quarantined: 0, vaultEntries: 0, vaultEntriesKept: 0, messagesStopped: 0 };
  for (const masker of maskers) {
    const userKey = masker.userKey(userId);
    const done = await forgetUser(client, userId, [userKey], reason, sealUserId(sealer, userKey, userId));
    for (const key of Object.keys(total) as (keyof ForgetUserResult)[]) total[key] += done[key];
  }
  return total;
}

/** The subject's keyed hash in a pipeline: the login pipeline's user key, or a declared one's subject key. */
export function subjectKeyOf(pipeline: Pick<RegisteredPipeline, 'subjectScope'>, masker: Masker, subject: string): string {
  return pipeline.subjectScope === null ? masker.userKey(subject) : masker.subjectKey(pipeline.subjectScope, subject);
}

/**
 * Erasure of one subject of a registered pipeline (sqs2pg_vault.forget_subject): the database finds
 * the table and its columns by the pipeline's name. `subjectKeys` as forgetUser takes them.
 */
export async function forgetSubject(
  client: Pool | PoolClient,
  pipeline: string,
  subject: string,
  subjectKeys: readonly string[],
  reason: string | undefined,
  sealedSubject: SealedItem | undefined,
): Promise<ForgetUserResult> {
  const result = await client.query<ErasureRow>(
    'SELECT * FROM sqs2pg_vault.forget_subject($1, $2, $3, $4, $5, $6, $7, $8)',
    [pipeline, subject, subjectKeys, reason ?? null, sealedSubject?.vaultKeyId ?? null, sealedSubject?.ephemeralPublicKey ?? null, sealedSubject?.nonce ?? null, sealedSubject?.ciphertext ?? null],
  );
  return erasureCounts(result.rows[0]);
}

/**
 * forgetUserUnder for any registered pipeline: one call per mask key, each tombstone with the
 * subject sealed under its own key (vault on), one audit row per mask key.
 */
export async function forgetSubjectUnder(
  client: PoolClient,
  pipeline: RegisteredPipeline,
  subject: string,
  maskers: readonly Masker[],
  reason: string | undefined,
  sealer: VaultSealer | undefined,
): Promise<ForgetUserResult> {
  const total: ForgetUserResult = { rows: 0, quarantined: 0, vaultEntries: 0, vaultEntriesKept: 0, messagesStopped: 0 };
  for (const masker of maskers) {
    const key = subjectKeyOf(pipeline, masker, subject);
    const done = await forgetSubject(client, pipeline.name, subject, [key], reason, sealUserId(sealer, key, subject));
    for (const field of Object.keys(total) as (keyof ForgetUserResult)[]) total[field] += done[field];
  }
  return total;
}

export interface ForgetMaskedResult {
  vaultEntries: number;
  /** rows that keep the mask, now irreversible */
  rowsUsingIt: number;
}

export async function forgetMasked(pool: Pool, maskedValue: string, reason: string | undefined): Promise<ForgetMaskedResult> {
  const result = await pool.query<{ vault_entries: string; rows_using_it: string }>('SELECT * FROM sqs2pg_vault.forget_masked($1, $2)', [maskedValue, reason ?? null]);
  return { vaultEntries: Number(result.rows[0]?.vault_entries ?? 0), rowsUsingIt: Number(result.rows[0]?.rows_using_it ?? 0) };
}
