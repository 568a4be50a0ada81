// Remembers which key each key id stands for (sqs2pg.key_fingerprints), so that a worker started
// with another key under a known id is refused at start: masks under one id always come from one
// key (equal values stay equal), and vault entries under one id always open with one key. And the
// other way: a key already known under one id is refused under another (one key, one id), which
// would otherwise make reveal call its entries altered and leave rotate unable to repair them.
// A key id that rotate has moved everything away from is retired: no command may use it again, so
// nothing new is masked or sealed under a key its owner has been told they may destroy.
import { keyFingerprint } from '../config/key.js';
import { ConfigError } from '../errors.js';
import type { Pool, PoolClient } from './pool.js';

export type KeyPurpose = 'mask' | 'vault';

export interface KeyCheck {
  purpose: KeyPurpose;
  keyId: string;
  key: Buffer;
}

/** What is wrong with a key as this database knows it. */
export type KeyProblem =
  | { kind: 'other_key'; check: KeyCheck }
  | { kind: 'other_id'; check: KeyCheck; knownId: string }
  | { kind: 'retired'; check: KeyCheck; retiredOn: string; current: string | undefined }
  | { kind: 'unknown'; check: KeyCheck; known: string[] };

interface KnownKey {
  keyId: string;
  fingerprint: string;
  /** ISO date, or null while in use */
  retiredAt: string | null;
}

const NAMES: Record<KeyPurpose, string> = {
  mask: 'the mask key (SQS2PG_MASK_KEY)',
  vault: 'the vault key (SQS2PG_VAULT_PUBLIC_KEY, or the public key of SQS2PG_VAULT_PRIVATE_KEY)',
};
const SETTINGS: Record<KeyPurpose, string> = {
  mask: 'SQS2PG_MASK_KEY and SQS2PG_MASK_KEY_ID',
  vault: 'SQS2PG_VAULT_PUBLIC_KEY (or SQS2PG_VAULT_PRIVATE_KEY) and SQS2PG_VAULT_KEY_ID',
};

/** One line a person can act on: the key id and what to do, never the key. */
export function describeKeyProblem(problem: KeyProblem): string {
  const { purpose, keyId } = problem.check;
  switch (problem.kind) {
    case 'other_id':
      return `${NAMES[purpose]} was first used here under ${purpose} key id "${problem.knownId}", not "${keyId}": a key has one id; set the key id back to "${problem.knownId}", or make a new key (sqs2pg keygen${purpose === 'vault' ? ' --vault' : ''}) for the new id`;
    case 'other_key':
      return `${NAMES[purpose]} is not the key that ${purpose} key id "${keyId}" was first used with in this database; set that key, or give the new key a new key id (then run sqs2pg rotate)`;
    case 'retired':
      return `${purpose} key id "${keyId}" was retired by sqs2pg rotate on ${problem.retiredOn} (everything that could be was moved ${problem.current ? `to ${purpose} key id "${problem.current}"` : 'to a newer key'}); set ${SETTINGS[purpose]} to the key in use`;
    case 'unknown':
      return `${purpose} key id "${keyId}" was never used in this database (${problem.known.length > 0 ? `it knows ${problem.known.map((id) => `"${id}"`).join(', ')}` : 'no worker has registered a key yet'}), so nothing here was made with it; set ${SETTINGS[purpose]} to the key and id the workers use`;
  }
}

// The retirement column is read through to_jsonb, so that these questions also work (and answer
// "not retired") on a database whose migrations have not reached sql/0008 yet.
async function knownKeys(db: Pool | PoolClient, purpose: KeyPurpose): Promise<KnownKey[]> {
  const result = await db.query<{ key_id: string; fingerprint: string; retired_at: string | null }>(
    `SELECT key_id, fingerprint, (to_jsonb(k) ->> 'retired_at')::timestamptz::date::text AS retired_at
       FROM sqs2pg.key_fingerprints k WHERE purpose = $1 ORDER BY first_used_at, key_id`,
    [purpose],
  );
  return result.rows.map((row) => ({ keyId: row.key_id, fingerprint: row.fingerprint, retiredAt: row.retired_at }));
}

/** What is wrong with `check` given the keys this database knows (pure). */
function problemOf(check: KeyCheck, known: readonly KnownKey[]): KeyProblem | undefined {
  const fingerprint = keyFingerprint(check.key, check.purpose);
  const byKey = known.find((k) => k.fingerprint === fingerprint);
  if (byKey && byKey.keyId !== check.keyId) return { kind: 'other_id', check, knownId: byKey.keyId };
  const byId = known.find((k) => k.keyId === check.keyId);
  if (byId === undefined) return { kind: 'unknown', check, known: known.filter((k) => k.retiredAt === null).map((k) => k.keyId) };
  if (byId.fingerprint !== fingerprint) return { kind: 'other_key', check };
  if (byId.retiredAt !== null) return { kind: 'retired', check, retiredOn: byId.retiredAt, current: known.filter((k) => k.retiredAt === null).at(-1)?.keyId };
  return undefined;
}

/**
 * For commands that may be the first to use a key (run, rotate): records a key id the first time it
 * is used; throws a ConfigError (exit 2) when the id stands for another key, the key for another id,
 * or the id is retired. Nothing else is written before this passes.
 */
export async function assertKeyFingerprints(db: Pool | PoolClient, checks: readonly KeyCheck[]): Promise<void> {
  for (const check of checks) {
    const problem = problemOf(check, await knownKeys(db, check.purpose));
    if (problem && problem.kind !== 'unknown') throw new ConfigError(describeKeyProblem(problem));
    if (!problem) continue;
    // No conflict target: inferring one would need SELECT on more than the worker is given.
    await db.query('INSERT INTO sqs2pg.key_fingerprints (purpose, key_id, fingerprint) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
      check.purpose,
      check.keyId,
      keyFingerprint(check.key, check.purpose),
    ]);
    // Another process may have recorded another key under the id at the same moment.
    const again = problemOf(check, await knownKeys(db, check.purpose));
    if (again) throw new ConfigError(describeKeyProblem(again));
  }
}

/**
 * For commands that match what workers made (forget, replay): read only, and a key id this database
 * has never seen is as wrong as a wrong key, since nothing here was made with it. Throws a ConfigError.
 */
export async function assertKnownKeys(db: Pool | PoolClient, checks: readonly KeyCheck[]): Promise<void> {
  for (const check of checks) {
    const problem = problemOf(check, await knownKeys(db, check.purpose));
    if (problem) throw new ConfigError(describeKeyProblem(problem));
  }
}

/** What `run` would refuse, read only (for check): an id not yet used is a first use, not a problem. */
export async function keyProblems(db: Pool | PoolClient, checks: readonly KeyCheck[]): Promise<KeyProblem[]> {
  const problems: KeyProblem[] = [];
  for (const check of checks) {
    const problem = problemOf(check, await knownKeys(db, check.purpose));
    if (problem && problem.kind !== 'unknown') problems.push(problem);
  }
  return problems;
}

/** The id a key was used under, found by its fingerprint; undefined when this database has not seen it. */
export async function keyIdOf(db: Pool | PoolClient, purpose: KeyPurpose, key: Buffer): Promise<string | undefined> {
  const fingerprint = keyFingerprint(key, purpose);
  return (await knownKeys(db, purpose)).find((k) => k.fingerprint === fingerprint)?.keyId;
}

/**
 * The id of a key known here and not retired, for a command that finds its key id from the key
 * (replay's private key); throws a ConfigError naming what to set otherwise.
 */
export async function keyIdInUse(db: Pool | PoolClient, purpose: KeyPurpose, key: Buffer, setting: string): Promise<string> {
  const keyId = await keyIdOf(db, purpose, key);
  if (keyId === undefined) {
    const what = purpose === 'vault' ? "vault was sealed to; set the private key of the pair whose public key the workers have" : 'masks were made with; set the key the workers use';
    throw new ConfigError(`${setting} is not a key this database's ${what}`);
  }
  await assertKnownKeys(db, [{ purpose, keyId, key }]);
  return keyId;
}

/**
 * Retires every key id of `purpose` but `keepId` (run by rotate, as the owner, once nothing under
 * them is left to move); returns the ids it retired now.
 */
export async function retireKeyIdsBut(db: Pool | PoolClient, purpose: KeyPurpose, keepId: string): Promise<string[]> {
  const result = await db.query<{ key_id: string }>(
    'UPDATE sqs2pg.key_fingerprints SET retired_at = now() WHERE purpose = $1 AND key_id <> $2 AND retired_at IS NULL RETURNING key_id',
    [purpose, keepId],
  );
  return result.rows.map((row) => row.key_id).sort();
}
