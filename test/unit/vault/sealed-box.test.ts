// The vault's public-key cipher: a worker's sealer cannot open anything, the private key opens
// exactly what was sealed to it, for its own context and key id, and nothing of the plaintext shows.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createVaultOpener,
  createVaultSealer,
  entryContext,
  generateVaultKeyPair,
  publicKeyOf,
  quarantineContext,
  SealedItemError,
  type SealedItem,
} from '../../../src/vault/sealed-box.js';

const pair = generateVaultKeyPair();
const sealer = createVaultSealer(pair.publicKey, 'v2');
const opener = createVaultOpener(pair.privateKey, 'v2');

describe('sealed box', () => {
  it('opens what was sealed to its public key, for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.string(), (bytes, mask) => {
        const context = entryContext('ip', mask);
        const item = sealer.batch().seal(context, Buffer.from(bytes));
        expect(opener.open(item, context).equals(Buffer.from(bytes))).toBe(true);
        expect(item.ciphertext.length).toBe(bytes.length + 16);
      }),
      { numRuns: 200 },
    );
  });

  it('derives the public key from the private key, and a fresh pair each time', () => {
    expect(publicKeyOf(pair.privateKey).equals(pair.publicKey)).toBe(true);
    expect(opener.publicKey.equals(pair.publicKey)).toBe(true);
    const other = generateVaultKeyPair();
    expect(other.privateKey.equals(pair.privateKey)).toBe(false);
    expect([pair.publicKey.length, pair.privateKey.length]).toEqual([32, 32]);
  });

  it('shares one ephemeral key within a batch, a new one per batch, and a new nonce per item', () => {
    const batch = sealer.batch();
    const [a, b] = [batch.seal('x', 'same'), batch.seal('x', 'same')];
    const c = sealer.batch().seal('x', 'same');
    expect(a.ephemeralPublicKey.equals(b.ephemeralPublicKey)).toBe(true);
    expect(a.ephemeralPublicKey.equals(c.ephemeralPublicKey)).toBe(false);
    expect(a.nonce.equals(b.nonce)).toBe(false);
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
  });

  it('never shows the plaintext in what it stores', () => {
    const value = '2001:db8:85a3::8a2e:370:7334';
    const item = sealer.batch().seal(quarantineContext('m-1'), value);
    for (const part of [item.ciphertext, item.nonce, item.ephemeralPublicKey]) {
      expect(part.toString('latin1')).not.toContain(value);
      expect(part.toString('hex')).not.toContain(Buffer.from(value).toString('hex'));
    }
  });

  describe('refuses to open', () => {
    const context = entryContext('device_id', 'k1:abc');
    const item = sealer.batch().seal(context, 'A1B2C3D4');
    const refuses = (changed: SealedItem, as = context, by = opener) => expect(() => by.open(changed, as)).toThrow(SealedItemError);

    it('under another private key', () => refuses(item, context, createVaultOpener(generateVaultKeyPair().privateKey, 'v2')));
    it('in another context (a moved entry or body)', () => {
      refuses(item, entryContext('ip', 'k1:abc'));
      refuses(item, entryContext('device_id', 'k1:abd'));
      refuses(item, quarantineContext('k1:abc'));
    });
    it('relabelled with another key id', () => {
      refuses({ ...item, vaultKeyId: 'v3' });
      refuses(item, context, createVaultOpener(pair.privateKey, 'v3'));
    });
    it('with any byte altered', () => {
      for (const part of ['ciphertext', 'nonce', 'ephemeralPublicKey'] as const) {
        const changed = Buffer.from(item[part]);
        changed[0] = (changed[0] ?? 0) ^ 1;
        refuses({ ...item, [part]: changed });
      }
      refuses({ ...item, ciphertext: item.ciphertext.subarray(0, 10) });
    });
    it('with a low-order ephemeral key (an all-zero shared secret)', () => refuses({ ...item, ephemeralPublicKey: Buffer.alloc(32) }));
  });
});
