// Keyed, one-way masks: HMAC-SHA-256 under a key derived per label from the mask key, so equal
// values stay equal (duplicates visible) but nobody without the key can test guesses.
import { createHmac, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import type { MaskedField } from '../model/message.js';

export type { MaskedField };

export interface Masker {
  readonly keyId: string;
  /**
   * `<keyId>:<64 hex>` under the key derived for `label` (a declared column's maskLabel; the
   * login pipeline's `ip` and `device_id`); the value must already be canonical (see ip.ts).
   */
  mask(label: string, value: string): string;
  /**
   * `<keyId>:<64 hex>`: a keyed hash of a user id under a key derived for that purpose alone, so
   * erasure tombstones and quarantine records can name a user without holding the id in clear.
   */
  userKey(userId: string): string;
  /**
   * The same for a declared pipeline's subject, under a key derived for `scope` (the pipeline's
   * table name): one subject value in two tables gives two keys, so erasing it from one stops nothing else.
   */
  subjectKey(scope: string, value: string): string;
  /**
   * `<keyId>:<64 hex>`: a keyed hash of a whole refused body, so two copies of it match in the
   * quarantine; unkeyed, a short body (one ip, say) could be found by hashing guesses.
   */
  bodyHash(body: string): string;
}

export function createMasker(key: Buffer, keyId: string): Masker {
  // A key per label: the same string as an ip and as a device_id must not give the same mask.
  // Key objects, derived on first use and kept: an HMAC over a raw buffer copies the key in for
  // every value, and a derivation per value would cost more than the HMAC.
  const labelKeys = new Map<string, KeyObject>();
  const subjectKeys = new Map<string, KeyObject>();
  // Cached by the label itself: no string is built per value.
  const derived = (cache: Map<string, KeyObject>, prefix: string, label: string): KeyObject => {
    let found = cache.get(label);
    if (!found) cache.set(label, (found = deriveKey(key, `${prefix} ${label}`)));
    return found;
  };
  const userKey = deriveKey(key, 'sqs2pg user key v1');
  const bodyKey = deriveKey(key, 'sqs2pg body hash v1');
  const hmac = (k: KeyObject, value: string) => `${keyId}:${createHmac('sha256', k).update(value, 'utf8').digest('hex')}`;
  return {
    keyId,
    mask: (label, value) => hmac(derived(labelKeys, 'sqs2pg mask v1', label), value),
    userKey: (userId) => hmac(userKey, userId),
    subjectKey: (scope, value) => hmac(derived(subjectKeys, 'sqs2pg subject key v1', scope), value),
    bodyHash: (body) => hmac(bodyKey, body),
  };
}

function deriveKey(key: Buffer, info: string): KeyObject {
  return createSecretKey(Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), info, 32)));
}
