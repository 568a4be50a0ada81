// The vault cipher: what it seals opens again, only under its key and only for its own mask,
// field and key id; nothing of the value shows in what it stores.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMasker } from '../../../src/transform/mask.js';
import { createVaultCipher, VaultIntegrityError, type VaultEntry } from '../../../src/vault/cipher.js';
import { sealBatch } from '../../../src/vault/seal-batch.js';
import { createVaultOpener, createVaultSealer, entryContext, generateVaultKeyPair } from '../../../src/vault/sealed-box.js';

const KEY = Buffer.alloc(32, 7);
const OTHER_KEY = Buffer.alloc(32, 8);
const masker = createMasker(Buffer.alloc(32, 1), 'k1');
const cipher = createVaultCipher(KEY, 'v1');

function sealed(value = '203.0.113.9', field: 'ip' | 'device_id' = 'ip'): VaultEntry {
  return cipher.seal(masker.mask(field, value), field, value);
}

describe('createVaultCipher', () => {
  it('opens what it sealed, for any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.constantFrom('ip' as const, 'device_id' as const), (value, field) => {
        const entry = cipher.seal(masker.mask(field, value), field, value);
        expect(cipher.open(entry)).toBe(value);
        expect(entry.nonce).toHaveLength(12);
        expect(entry.ciphertext.length).toBe(Buffer.byteLength(value) + 16);
      }),
      { numRuns: 200 },
    );
  });

  it('draws a fresh nonce every time, so equal values give different ciphertexts', () => {
    const [a, b] = [sealed(), sealed()];
    expect(a.nonce.equals(b.nonce)).toBe(false);
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
  });

  it('gives every value of a batch its own nonce, and each opens', () => {
    const values = Array.from({ length: 200 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
    const entries = cipher.sealMany(values.map((value) => ({ maskedValue: masker.mask('ip', value), field: 'ip', value })));
    expect(new Set(entries.map((entry) => entry.nonce.toString('hex'))).size).toBe(200);
    expect(entries.map((entry) => cipher.open(entry))).toEqual(values);
  });

  it('stores nothing of the value in clear', () => {
    const entry = sealed('593-47-5928', 'device_id');
    const stored = Buffer.concat([entry.nonce, entry.ciphertext]);
    expect(stored.includes(Buffer.from('593-47-5928'))).toBe(false);
    expect(stored.includes(Buffer.from('593'))).toBe(false);
  });

  const tampered: [string, (entry: VaultEntry) => VaultEntry][] = [
    ['moved onto another mask', (e) => ({ ...e, maskedValue: masker.mask('ip', '198.51.100.1') })],
    ['relabelled as another field', (e) => ({ ...e, field: 'device_id' })],
    ['relabelled with another key id', (e) => ({ ...e, vaultKeyId: 'v2' })],
    ['with one ciphertext bit flipped', (e) => ({ ...e, ciphertext: flip(e.ciphertext, 0) })],
    ['with one tag bit flipped', (e) => ({ ...e, ciphertext: flip(e.ciphertext, e.ciphertext.length - 1) })],
    ['with another nonce', (e) => ({ ...e, nonce: Buffer.alloc(12) })],
    ['with a short nonce', (e) => ({ ...e, nonce: e.nonce.subarray(0, 8) })],
    ['cut short', (e) => ({ ...e, ciphertext: e.ciphertext.subarray(0, 10) })],
  ];
  it.each(tampered)('refuses an entry %s', (_name, change) => {
    expect(() => cipher.open(change(sealed()))).toThrow(VaultIntegrityError);
  });

  it('refuses an entry sealed under another key with the same key id', () => {
    const other = createVaultCipher(OTHER_KEY, 'v1');
    expect(() => other.open(sealed())).toThrow(VaultIntegrityError);
  });

  it('says which mask failed, and never the value', () => {
    const entry = { ...sealed('192.0.2.77'), vaultKeyId: 'v2' };
    try {
      cipher.open(entry);
      expect.unreachable();
    } catch (error) {
      expect((error as VaultIntegrityError).maskedValue).toBe(entry.maskedValue);
      expect(String(error)).not.toContain('192.0.2.77');
    }
  });
});

describe('sealBatch', () => {
  const pair = generateVaultKeyPair();
  const sealer = createVaultSealer(pair.publicKey, 'v2');
  const opener = createVaultOpener(pair.privateKey, 'v2');

  it('seals each distinct mask once, sorted by mask, to the public key, under one ephemeral key', () => {
    const values = ['10.0.0.1', '10.0.0.2', '10.0.0.1', '10.0.0.3', '10.0.0.2'];
    const originals = values.map((value) => ({ mask: masker.mask('ip', value), field: 'ip' as const, value }));
    const entries = sealBatch(originals, sealer);
    expect(entries).toHaveLength(3);
    const masks = entries.map((entry) => entry.maskedValue);
    expect(masks).toEqual([...new Set(originals.map((o) => o.mask))].sort());
    expect(new Set(entries.map((entry) => entry.ephemeralPublicKey?.toString('hex'))).size).toBe(1);
    for (const entry of entries) {
      const item = { vaultKeyId: entry.vaultKeyId, ephemeralPublicKey: entry.ephemeralPublicKey!, nonce: entry.nonce, ciphertext: entry.ciphertext };
      expect(opener.open(item, entryContext(entry.field, entry.maskedValue)).toString()).toBe(originals.find((o) => o.mask === entry.maskedValue)?.value);
      // A legacy cipher cannot open a sealed entry, whatever its key.
      expect(() => cipher.open(entry)).toThrow(VaultIntegrityError);
    }
  });

  it('gives nothing for nothing', () => {
    expect(sealBatch([], sealer)).toEqual([]);
  });
});

function flip(buffer: Buffer, index: number): Buffer {
  const copy = Buffer.from(buffer);
  copy[index] = (copy[index] ?? 0) ^ 1;
  return copy;
}
