// Tombstones: what keeps an erased user erased. forget --user-id records the keyed hash of the
// user id (Masker.userKey, `<mask key id>:<hmac>`); every batch a worker (or replay) commits asks
// sqs2pg.stop_tombstoned which of its user keys are erased, in the same transaction, and drops
// their rows and quarantine records (the messages are still deleted from the queue: committed).
// With the vault on, the id is also sealed to the vault's public key so that rotate, which holds
// the private key, can re-key the tombstone under a new mask key (see rotateTombstones).
import type { PoolClient } from '../db/pool.js';
import type { Masker } from '../transform/mask.js';
import { type SealedItem, type VaultOpener, type VaultSealer } from './sealed-box.js';

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
  vault_key_id: string | null;
  ephemeral_public_key: Buffer | null;
  nonce: Buffer | null;
  sealed_user_id: Buffer | null;
}

export interface TombstoneRekeying {
  /** tombstones added under the new mask key id */
  rekeyed: number;
  /** tombstones under another mask key id that hold no sealed id (vault off at forget): forget again */
  unsealed: number;
}

/**
 * Gives every tombstone under another mask key id a twin under `masker`'s key id, from its sealed
 * user id, so workers given the new mask key keep stopping the user. The old tombstones stay:
 * workers still on the old key need them until every worker has the new one. Run by the owner.
 */
export async function rotateTombstones(client: PoolClient, masker: Masker, openers: ReadonlyMap<string, VaultOpener>, sealer: VaultSealer): Promise<TombstoneRekeying> {
  const prefix = `${masker.keyId}:`;
  const rows = await client.query<TombstoneRow>(
    `SELECT user_key, vault_key_id, ephemeral_public_key, nonce, sealed_user_id FROM sqs2pg.tombstones WHERE left(user_key, length($1)) <> $1`,
    [prefix],
  );
  let rekeyed = 0;
  let unsealed = 0;
  const batch = sealer.batch();
  for (const row of rows.rows) {
    const opener = row.vault_key_id === null ? undefined : openers.get(row.vault_key_id);
    if (!opener || row.ephemeral_public_key === null || row.nonce === null || row.sealed_user_id === null) {
      unsealed++;
      continue;
    }
    const userId = opener
      .open({ vaultKeyId: row.vault_key_id!, ephemeralPublicKey: row.ephemeral_public_key, nonce: row.nonce, ciphertext: row.sealed_user_id }, tombstoneContext(row.user_key))
      .toString('utf8');
    const userKey = masker.userKey(userId);
    const sealed = batch.seal(tombstoneContext(userKey), userId);
    const added = await client.query(
      `INSERT INTO sqs2pg.tombstones (user_key, vault_key_id, ephemeral_public_key, nonce, sealed_user_id) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (user_key) DO NOTHING`,
      [userKey, sealed.vaultKeyId, sealed.ephemeralPublicKey, sealed.nonce, sealed.ciphertext],
    );
    rekeyed += added.rowCount ?? 0;
  }
  return { rekeyed, unsealed };
}
