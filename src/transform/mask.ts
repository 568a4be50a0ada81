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
  /**
   * `sealed:<32 hex>`: what a sealed column (pii: seal) holds, the name of its value's vault entry.
   * Keyed on the message's id as well as the value, so no two rows' references match (a sealed column
   * shows no duplicates, unlike a mask) and a redelivered message makes the same one. Never re-keyed:
   * it is a name, not a mask, and under no key id.
   */
  sealRef(label: string, messageId: string, value: string): string;
}

/** The shape of Masker.sealRef's references, which no mask has (32 hex digits, not 64). */
export const SEAL_REF = /^sealed:[0-9a-f]{32}$/;

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
  const sealKeys = new Map<string, KeyObject>();
  const hmac = (k: KeyObject, value: string) => `${keyId}:${createHmac('sha256', k).update(value, 'utf8').digest('hex')}`;
  return {
    keyId,
    mask: (label, value) => hmac(derived(labelKeys, 'sqs2pg mask v1', label), value),
    userKey: (userId) => hmac(userKey, userId),
    subjectKey: (scope, value) => hmac(derived(subjectKeys, 'sqs2pg subject key v1', scope), value),
    bodyHash: (body) => hmac(bodyKey, body),
    sealRef: (label, messageId, value) =>
      `sealed:${createHmac('sha256', derived(sealKeys, 'sqs2pg seal reference v1', label)).update(messageId, 'utf8').update('\u0000').update(value, 'utf8').digest('hex').slice(0, 32)}`,
  };
}

function deriveKey(key: Buffer, info: string): KeyObject {
  return createSecretKey(Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), info, 32)));
}
