// Remembers which key each key id stands for (sqs2pg.key_fingerprints), so that a worker started
// with another key under a known id is refused at start: masks under one id always come from one
// key (equal values stay equal), and vault entries under one id always open with one key. And the
// other way: a key already known under one id is refused under another (one key, one id), which
// would otherwise make reveal call its entries altered and leave rotate unable to repair them.
import { keyFingerprint } from '../config/key.js';
import { ConfigError } from '../errors.js';
import type { Pool, PoolClient } from './pool.js';

export type KeyPurpose = 'mask' | 'vault';

export interface KeyCheck {
  purpose: KeyPurpose;
  keyId: string;
  key: Buffer;
}

const NAMES: Record<KeyPurpose, string> = {
  mask: 'the mask key (SQS2PG_MASK_KEY)',
  vault: 'the vault key (SQS2PG_VAULT_PUBLIC_KEY, or the public key of SQS2PG_VAULT_PRIVATE_KEY)',
};

/** Records a key id the first time it is used; throws a ConfigError when it was used with another key. */
export async function assertKeyFingerprints(db: Pool | PoolClient, checks: readonly KeyCheck[]): Promise<void> {
  for (const { purpose, keyId, key } of checks) {
    const fingerprint = keyFingerprint(key, purpose);
    const otherId = await idOfFingerprint(db, purpose, fingerprint);
    if (otherId !== undefined && otherId !== keyId) {
      throw new ConfigError(
        `${NAMES[purpose]} was first used here under ${purpose} key id "${otherId}", not "${keyId}": a key has one id; set the key id back to "${otherId}", or make a new key (sqs2pg keygen${purpose === 'vault' ? ' --vault' : ''}) for the new id`,
      );
    }
    // No conflict target: inferring one would need SELECT on more than the worker is given.
    await db.query('INSERT INTO sqs2pg.key_fingerprints (purpose, key_id, fingerprint) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
      purpose,
      keyId,
      fingerprint,
    ]);
    const known = await db.query<{ fingerprint: string }>('SELECT fingerprint FROM sqs2pg.key_fingerprints WHERE purpose = $1 AND key_id = $2', [
      purpose,
      keyId,
    ]);
    if (known.rows[0]?.fingerprint !== fingerprint) {
      throw new ConfigError(
        `${NAMES[purpose]} is not the key that ${purpose} key id "${keyId}" was first used with in this database; set that key, or give the new key a new key id (then run sqs2pg rotate)`,
      );
    }
  }
}

async function idOfFingerprint(db: Pool | PoolClient, purpose: KeyPurpose, fingerprint: string): Promise<string | undefined> {
  const result = await db.query<{ key_id: string }>('SELECT key_id FROM sqs2pg.key_fingerprints WHERE purpose = $1 AND fingerprint = $2 ORDER BY first_used_at LIMIT 1', [
    purpose,
    fingerprint,
  ]);
  return result.rows[0]?.key_id;
}

/** The checks whose key id this database knows under another key, or whose key under another id (read only). */
export async function mismatchedKeys(db: Pool | PoolClient, checks: readonly KeyCheck[]): Promise<KeyCheck[]> {
  const mismatched: KeyCheck[] = [];
  for (const check of checks) {
    const otherId = await idOfFingerprint(db, check.purpose, keyFingerprint(check.key, check.purpose));
    if (otherId !== undefined && otherId !== check.keyId) {
      mismatched.push(check);
      continue;
    }
    const known = await db.query<{ fingerprint: string }>('SELECT fingerprint FROM sqs2pg.key_fingerprints WHERE purpose = $1 AND key_id = $2', [
      check.purpose,
      check.keyId,
    ]);
    const fingerprint = known.rows[0]?.fingerprint;
    if (fingerprint !== undefined && fingerprint !== keyFingerprint(check.key, check.purpose)) mismatched.push(check);
  }
  return mismatched;
}

/** The id a key was used under, found by its fingerprint; undefined when this database has not seen it. */
export async function keyIdOf(db: Pool | PoolClient, purpose: KeyPurpose, key: Buffer): Promise<string | undefined> {
  const result = await db.query<{ key_id: string }>('SELECT key_id FROM sqs2pg.key_fingerprints WHERE purpose = $1 AND fingerprint = $2', [
    purpose,
    keyFingerprint(key, purpose),
  ]);
  return result.rows[0]?.key_id;
}
