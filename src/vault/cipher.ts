// The legacy (v1) vault cipher, symmetric: entries written before the vault was sealed to a public
// key (sealed-box.ts) still open with it, for reveal, and for rotate, which moves them to v2.
// Workers no longer hold it: a key that encrypts here also decrypts.
//
// AES-256-GCM with a fresh random 96-bit nonce per seal, under a key derived (HKDF) from the vault
// key. The associated data binds each ciphertext to its mask, field and vault key id, so a row
// copied onto another mask, or relabelled with another key id, fails to open instead of revealing
// the wrong person's value. Deterministic encryption (AES-SIV) would let the database deduplicate
// ciphertexts, but the mask already does that, so nothing is gained for its extra construction.
// Random nonces are safe here: NIST allows 2^32 of them per key, and a vault seals once per
// distinct value (plus once per rotation), far fewer.
import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, randomBytes } from 'node:crypto';
import type { MaskLabel } from '../model/message.js';
import type { VaultEntry } from './entry.js';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export type { VaultEntry };

export interface Sealable {
  maskedValue: string;
  field: MaskLabel;
  value: string;
}

export interface VaultCipher {
  readonly keyId: string;
  seal(maskedValue: string, field: MaskLabel, value: string): VaultEntry;
  /** the same for many values, with their nonces drawn in one call (a batch's worth is cheap) */
  sealMany(items: readonly Sealable[]): VaultEntry[];
  /** the original value; throws VaultIntegrityError when the entry was not sealed by this key for this mask */
  open(entry: VaultEntry): string;
}

/** A ciphertext that does not open: another key under the same id, a tampered or a moved entry. */
export class VaultIntegrityError extends Error {
  constructor(readonly maskedValue: string) {
    super('vault entry does not decrypt with the configured key');
    this.name = 'VaultIntegrityError';
  }
}

export function createVaultCipher(vaultKey: Buffer, keyId: string): VaultCipher {
  const key = createSecretKey(Buffer.from(hkdfSync('sha256', vaultKey, Buffer.alloc(0), 'sqs2pg vault v1 aes-256-gcm', 32)));
  const sealOne = ({ maskedValue, field, value }: Sealable, nonce: Buffer): VaultEntry => {
    const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(associatedData(maskedValue, field, keyId));
    const ciphertext = Buffer.concat([cipher.update(value, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return { maskedValue, field, vaultKeyId: keyId, ephemeralPublicKey: null, nonce, ciphertext };
  };
  return {
    keyId,
    seal: (maskedValue, field, value) => sealOne({ maskedValue, field, value }, randomBytes(NONCE_BYTES)),
    sealMany(items) {
      const nonces = randomBytes(NONCE_BYTES * items.length);
      return items.map((item, i) => sealOne(item, nonces.subarray(i * NONCE_BYTES, (i + 1) * NONCE_BYTES)));
    },
    open(entry) {
      if (entry.vaultKeyId !== keyId || entry.ephemeralPublicKey !== null || entry.nonce.length !== NONCE_BYTES || entry.ciphertext.length < TAG_BYTES) {
        throw new VaultIntegrityError(entry.maskedValue);
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, entry.nonce, { authTagLength: TAG_BYTES });
        decipher.setAAD(associatedData(entry.maskedValue, entry.field, keyId));
        decipher.setAuthTag(entry.ciphertext.subarray(-TAG_BYTES));
        return Buffer.concat([decipher.update(entry.ciphertext.subarray(0, -TAG_BYTES)), decipher.final()]).toString('utf8');
      } catch {
        throw new VaultIntegrityError(entry.maskedValue);
      }
    },
  };
}

function associatedData(maskedValue: string, field: MaskLabel, keyId: string): Buffer {
  // NUL cannot occur in a mask, a field name or a key id, so the encoding is unambiguous.
  return Buffer.from(`sqs2pg vault v1\0${field}\0${maskedValue}\0${keyId}`, 'utf8');
}
