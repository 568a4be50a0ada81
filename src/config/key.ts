// Keys arrive as text (environment, flag or file): exactly 32 random bytes, as 64 hex digits or
// as canonical base64. Anything else is refused rather than stretched or guessed at: a base64
// "decoding" of a passphrase, or an odd-length hex string read as base64, is not a key. Messages
// give the reason only, never the text, which may be a real key put in the wrong place.
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { publicKeyProblem } from './x25519-point.js';

export const KEY_BYTES = 32;
// 32 random bytes show ~30 distinct values; fewer than 16 happens by chance with probability
// below 1e-12, and is what a repeated pattern ("ab" x 32, 64 zeros) looks like.
const MIN_DISTINCT_BYTES = 16;
const MAKE_ONE = 'make one with: sqs2pg keygen';

/** Decodes key text; returns a reason instead of a key when it is not acceptable. */
export function decodeKey(text: string): Buffer | string {
  const key = decodeKeyText(text);
  if (typeof key === 'string') return key;
  const weakness = lowEntropy(key);
  if (weakness) return `${weakness}: it is not random (${MAKE_ONE})`;
  return key;
}

/**
 * A vault public key's text: 32 bytes, and a point the vault can seal to (see x25519-point.ts), which
 * is said before anything else, because a low-order point is an attack, not a typing mistake.
 */
export function decodeVaultPublicKey(text: string): Buffer | string {
  const key = decodeKeyText(text);
  if (typeof key === 'string') return key;
  const problem = publicKeyProblem(key);
  if (problem) return `${problem}; make a vault key pair with: sqs2pg keygen --vault`;
  return decodeKey(text);
}

/** 32 bytes as 64 hex digits or canonical base64, or the reason it is not. */
function decodeKeyText(text: string): Buffer | string {
  const trimmed = text.trim();
  let key: Buffer;
  if (/^[0-9a-fA-F]+$/.test(trimmed) && trimmed.length === KEY_BYTES * 2) key = Buffer.from(trimmed, 'hex');
  else if (/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) && Buffer.from(trimmed, 'base64').toString('base64') === trimmed) key = Buffer.from(trimmed, 'base64');
  else return `is not ${KEY_BYTES} bytes as 64 hex digits or canonical base64 (${MAKE_ONE})`;
  if (key.length !== KEY_BYTES) return `decodes to ${key.length} bytes, not ${KEY_BYTES} (${MAKE_ONE})`;
  return key;
}

/** Why a 32-byte key visibly did not come from a random generator, or undefined. */
export function lowEntropy(key: Buffer): string | undefined {
  if (new Set(key).size < MIN_DISTINCT_BYTES) return `has only ${new Set(key).size} distinct bytes`;
  // Random bytes are all printable ASCII with probability (95/256)^32, about 1e-14: this is text.
  if (key.every((byte) => byte >= 0x20 && byte <= 0x7e)) return 'is printable text (a passphrase)';
  return undefined;
}

/** A fresh key, as keygen prints it: 32 random bytes in canonical base64. */
export function freshKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

/** The mask key from the setting or its file (one of them), or undefined. */
export function maskKeyFrom(settings: { maskKey?: Buffer | undefined; maskKeyFile?: Buffer | undefined }): Buffer | undefined {
  if (settings.maskKey !== undefined && settings.maskKeyFile !== undefined) {
    throw new ConfigError('both --mask-key (SQS2PG_MASK_KEY) and --mask-key-file (SQS2PG_MASK_KEY_FILE) are set; set only one');
  }
  return settings.maskKey ?? settings.maskKeyFile;
}

/**
 * A fingerprint of a key, for the database to remember which key a key id stands for: an HMAC
 * under a key derived from it, so it reveals nothing about the key itself.
 */
export function keyFingerprint(key: Buffer, purpose: 'mask' | 'vault'): string {
  const checkKey = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'sqs2pg key fingerprint v1', 32));
  return createHmac('sha256', checkKey).update(purpose, 'utf8').digest('hex').slice(0, 32);
}
