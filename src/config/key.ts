// Keys arrive as text (environment, flag or file): 32 or more random bytes in hex or base64.
// A short key would make the keyed masks guessable, so it is refused rather than stretched.
import { createHmac, hkdfSync } from 'node:crypto';

export const MIN_KEY_BYTES = 32;

/** Decodes hex or base64 key text; returns a reason instead of a key when it is not acceptable. */
export function decodeKey(text: string): Buffer | string {
  const trimmed = text.trim();
  let key: Buffer;
  if (/^(?:[0-9a-fA-F]{2})+$/.test(trimmed)) key = Buffer.from(trimmed, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) key = Buffer.from(trimmed, 'base64');
  else return 'is neither hex nor base64';
  if (key.length < MIN_KEY_BYTES) {
    return `decodes to ${key.length} bytes, fewer than ${MIN_KEY_BYTES} (make one with: openssl rand -base64 32)`;
  }
  return key;
}

/**
 * A fingerprint of a key, for the database to remember which key a key id stands for: an HMAC
 * under a key derived from it, so it reveals nothing about the key itself.
 */
export function keyFingerprint(key: Buffer, purpose: 'mask' | 'vault'): string {
  const checkKey = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'sqs2pg key fingerprint v1', 32));
  return createHmac('sha256', checkKey).update(purpose, 'utf8').digest('hex').slice(0, 32);
}
