// Keyed, one-way masks for ip and device_id: HMAC-SHA-256 under a key derived per field from the
// mask key, so equal values stay equal (duplicates visible) but nobody without the key can test guesses.
import { createHmac, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import type { MaskedField } from '../model/message.js';

export type { MaskedField };

export interface Masker {
  readonly keyId: string;
  /** `<keyId>:<64 hex>`; the value must already be canonical (see ip.ts) */
  mask(field: MaskedField, value: string): string;
  /**
   * `<keyId>:<64 hex>`: a keyed hash of a user id under a key derived for that purpose alone, so
   * erasure tombstones and quarantine records can name a user without holding the id in clear.
   */
  userKey(userId: string): string;
  /**
   * `<keyId>:<64 hex>`: a keyed hash of a whole refused body, so two copies of it match in the
   * quarantine; unkeyed, a short body (one ip, say) could be found by hashing guesses.
   */
  bodyHash(body: string): string;
}

export function createMasker(key: Buffer, keyId: string): Masker {
  // A key per field: the same string as an ip and as a device_id must not give the same mask.
  // Key objects, imported once: an HMAC over a raw buffer copies the key in for every value.
  const fieldKeys: Record<MaskedField, KeyObject> = {
    ip: deriveFieldKey(key, 'ip'),
    device_id: deriveFieldKey(key, 'device_id'),
  };
  const userKey = createSecretKey(Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'sqs2pg user key v1', 32)));
  const bodyKey = createSecretKey(Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'sqs2pg body hash v1', 32)));
  return {
    keyId,
    mask: (field, value) => `${keyId}:${createHmac('sha256', fieldKeys[field]).update(value, 'utf8').digest('hex')}`,
    userKey: (userId) => `${keyId}:${createHmac('sha256', userKey).update(userId, 'utf8').digest('hex')}`,
    bodyHash: (body) => `${keyId}:${createHmac('sha256', bodyKey).update(body, 'utf8').digest('hex')}`,
  };
}

function deriveFieldKey(key: Buffer, field: MaskedField): KeyObject {
  return createSecretKey(Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), `sqs2pg mask v1 ${field}`, 32)));
}
