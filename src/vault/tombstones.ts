// Tombstones: what keeps an erased user erased. forget --user-id records the keyed hash of the
// user id (Masker.userKey, `<mask key id>:<hmac>`); every batch a worker (or replay) commits asks
// sqs2pg.stop_tombstoned which of its user keys are erased, in the same transaction, and drops
// their rows and quarantine records (the messages are still deleted from the queue: committed).
// With the vault on, the id is also sealed to the vault's public key so that rotate, which holds
// the private key, can re-key the tombstone under a new mask key (see rotateTombstones), and moves
// that sealed id to each new vault key pair (resealTombstones), so no key change strands it.
import type { PoolClient } from '../db/pool.js';
import type { Masker } from '../transform/mask.js';
import type { SealedItem, SealedItemOpener, VaultSealer } from './sealed-box.js';

/** The context a user id is sealed under in its tombstone. */
export const tombstoneContext = (userKey: string): string => `tombstone\0${userKey}`;

export const STOP_TOMBSTONED = 'SELECT sqs2pg.stop_tombstoned($1::text[]) AS user_key';

/** The user keys among `userKeys` that are tombstoned; counts them as stopped (rolled back with the batch). */
export async function stopTombstoned(client: PoolClient, userKeys: readonly string[]): Promise<Set<string>> {
  if (userKeys.length === 0) return new Set();
  const result = await client.query<{ user_key: string }>(STOP_TOMBSTONED, [userKeys]);
  return new Set(result.rows.map((row) => row.user_key));
}

/** The user id sealed for its tombstone, or nulls when the vault is off. */
export function sealUserId(sealer: VaultSealer | undefined, userKey: string, userId: string): SealedItem | undefined {
  return sealer?.batch().seal(tombstoneContext(userKey), userId);
}

interface TombstoneRow {
  user_key: string;
  /** null: a login user's (Masker.userKey); else the declared pipeline's subject scope (Masker.subjectKey) */
  scope?: string | null;
  vault_key_id: string | null;
  ephemeral_public_key: Buffer | null;
  nonce: Buffer | null;
  sealed_user_id: Buffer | null;
}

/** The sealed user id of a tombstone row, or undefined when it holds none (vault off at forget). */
function sealedIdOf(row: TombstoneRow): SealedItem | undefined {
  if (row.vault_key_id === null || row.ephemeral_public_key === null || row.nonce === null || row.sealed_user_id === null) return undefined;
  return { vaultKeyId: row.vault_key_id, ephemeralPublicKey: row.ephemeral_public_key, nonce: row.nonce, ciphertext: row.sealed_user_id };
}

/** Where a batch of a pass over the tombstones ended (user_key order), and what it did. */
export interface TombstoneBatch {
  /** the cursor for the next batch; undefined when this one found nothing */
  last: string | undefined;
  /** tombstones changed (re-sealed, or given a twin) */
  changed: number;
}

/**
 * A vault key rotation: re-seals to `sealer`'s key pair a batch of the user ids sealed under
 * another key id, so that once the old private key is destroyed rotate can still re-key the
 * tombstone under a later mask key. The caller holds the transaction; workers' stop_tombstoned
 * waits on these rows for as long as it lasts.
 */
export async function resealTombstones(client: PoolClient, after: string, limit: number, opener: SealedItemOpener, sealer: VaultSealer): Promise<TombstoneBatch> {
  const rows = await client.query<TombstoneRow>(
    `SELECT user_key, vault_key_id, ephemeral_public_key, nonce, sealed_user_id FROM sqs2pg.tombstones
      WHERE user_key > $1 AND vault_key_id IS NOT NULL AND vault_key_id <> $2
      ORDER BY user_key LIMIT $3 FOR UPDATE`,
    [after, sealer.keyId, limit],
  );
  const batch = sealer.batch();
  const resealed = rows.rows.flatMap((row) => {
    const sealed = sealedIdOf(row);
    if (!sealed) return [];
    const context = tombstoneContext(row.user_key);
    return [{ userKey: row.user_key, ...batch.seal(context, opener.open(sealed, context)) }];
  });
  if (resealed.length > 0) {
    await client.query(
      `UPDATE sqs2pg.tombstones t SET vault_key_id = v.key_id, ephemeral_public_key = v.epk, nonce = v.nonce, sealed_user_id = v.sealed
         FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[], $5::bytea[]) AS v(user_key, key_id, epk, nonce, sealed)
        WHERE t.user_key = v.user_key`,
      [resealed.map((r) => r.userKey), resealed.map((r) => r.vaultKeyId), resealed.map((r) => r.ephemeralPublicKey), resealed.map((r) => r.nonce), resealed.map((r) => r.ciphertext)],
    );
  }
  return { last: rows.rows.at(-1)?.user_key, changed: resealed.length };
}

export interface TombstoneRekeying {
  /** tombstones added under the new mask key id */
  rekeyed: number;
  /** tombstones under another mask key id that hold no sealed id (vault off at forget): forget again */
  unsealed: number;
  /** the cursor for the next batch (user_key order); undefined when this one found nothing */
  last: string | undefined;
}

/**
 * Gives the tombstones under another mask key id a twin under `masker`'s key id, from their sealed
 * user ids (or subjects), so workers given the new mask key keep stopping the user. A declared
 * pipeline's subject is re-keyed in its scope (Masker.subjectKey), and its twin keeps that scope, so
 * a later rotation re-keys it the same way. The old tombstones stay:
 * workers still on the old key need them until every worker has the new one. Run by the owner, in
 * the caller's transaction; `limit` tombstones after `after` (all of them by default).
 */
export async function rotateTombstones(
  client: PoolClient,
  masker: Masker,
  opener: SealedItemOpener,
  sealer: VaultSealer,
  { after = '', limit = null, since }: { after?: string; limit?: number | null; since?: Date } = {},
): Promise<TombstoneRekeying> {
  const prefix = `${masker.keyId}:`;
  const rows = await client.query<TombstoneRow>(
    `SELECT user_key, scope, vault_key_id, ephemeral_public_key, nonce, sealed_user_id FROM sqs2pg.tombstones
      WHERE user_key > $2 AND left(user_key, length($1)) <> $1 AND ($4::timestamptz IS NULL OR created_at >= $4)
      ORDER BY user_key LIMIT $3`,
    [prefix, after, limit, since ?? null],
  );
  const result: TombstoneRekeying = { rekeyed: 0, unsealed: 0, last: rows.rows.at(-1)?.user_key };
  const batch = sealer.batch();
  for (const row of rows.rows) {
    const sealedId = sealedIdOf(row);
    if (!sealedId) {
      result.unsealed++;
      continue;
    }
    // SealedItemError for an altered one: rotate checked that a key given opens each key id.
    const userId = opener.open(sealedId, tombstoneContext(row.user_key)).toString('utf8');
    const scope = row.scope ?? null;
    const userKey = scope === null ? masker.userKey(userId) : masker.subjectKey(scope, userId);
    const sealed = batch.seal(tombstoneContext(userKey), userId);
    const added = await client.query(
      `INSERT INTO sqs2pg.tombstones (user_key, scope, vault_key_id, ephemeral_public_key, nonce, sealed_user_id) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (user_key) DO NOTHING`,
      [userKey, scope, sealed.vaultKeyId, sealed.ephemeralPublicKey, sealed.nonce, sealed.ciphertext],
    );
    result.rekeyed += added.rowCount ?? 0;
  }
  return result;
}
