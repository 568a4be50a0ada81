// An officer's keyring as this database knows it: each given key's id comes from its fingerprint
// (the public key of a private key; a legacy key itself), so a key this vault never saw opens nothing.
import { keyIdOf } from '../db/key-fingerprints.js';
import type { Pool, PoolClient } from '../db/pool.js';
import { fingerprintedKey, VaultKeyring, type VaultKeys } from './keyring.js';

export async function keyIdsOf(db: Pool | PoolClient, keys: VaultKeys): Promise<Partial<Record<keyof VaultKeys, string | undefined>>> {
  const ids: Partial<Record<keyof VaultKeys, string | undefined>> = {};
  for (const which of ['privateKey', 'previousPrivateKey', 'legacyKey', 'legacyPreviousKey'] as const) {
    const key = fingerprintedKey(keys, which);
    if (key !== undefined) ids[which] = await keyIdOf(db, 'vault', key);
  }
  return ids;
}

export async function officerKeyring(db: Pool | PoolClient, keys: VaultKeys): Promise<VaultKeyring> {
  return new VaultKeyring(keys, await keyIdsOf(db, keys));
}
