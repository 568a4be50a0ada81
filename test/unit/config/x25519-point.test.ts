// Which 32 bytes are a vault public key. Every low-order point, in every encoding X25519 accepts,
// is refused; so is any point outside the prime-order subgroup, on the twist, or written in a
// non-canonical form. Every key a private key gives is accepted. The verdicts are held to oracles
// this module does not share: Node's own X25519 (OpenSSL), which refuses exactly the low-order
// points (an all-zero shared secret), and affine point addition written out here, which makes
// mixed-order points that OpenSSL accepts and that give the same shared secret as the key inside.
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { publicKeyProblem } from '../../../src/config/x25519-point.js';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors.js';
import { publicKeyOf } from '../../../src/vault/sealed-box.js';

const P = (1n << 255n) - 19n;
const A = 486662n;
const mod = (v: bigint) => ((v % P) + P) % P;
function pow(b: bigint, e: bigint): bigint {
  let r = 1n;
  for (b = mod(b); e > 0n; e >>= 1n, b = mod(b * b)) if (e & 1n) r = mod(r * b);
  return r;
}
const inverse = (v: bigint) => pow(v, P - 2n);
const toBytes = (v: bigint): Buffer => Buffer.from(Array.from({ length: 32 }, (_, i) => Number((v >> BigInt(8 * i)) & 255n)));
const fromBytes = (b: Buffer): bigint => b.reduceRight((acc, byte) => (acc << 8n) | BigInt(byte), 0n);
const withTopBit = (b: Buffer): Buffer => Buffer.concat([b.subarray(0, 31), Buffer.from([b[31]! | 0x80])]);

/** The low-order points of Curve25519 and its twist, as u-coordinates (libsodium's list, RFC 7748). */
const LOW_ORDER_U = [
  0n, // order 2 (on both)
  1n, // order 4
  P - 1n, // order 4
  fromBytes(Buffer.from('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'hex')), // order 8
  fromBytes(Buffer.from('5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157', 'hex')), // order 8
];
/** Every encoding X25519 reads as one of them: canonical, u + p where it fits in 255 bits, and each with bit 255 set. */
const LOW_ORDER_ENCODINGS: Buffer[] = (() => {
  const canonical = [...LOW_ORDER_U, ...LOW_ORDER_U.map((u) => u + P).filter((v) => v < 1n << 255n)].map(toBytes);
  return [...canonical, ...canonical.map(withTopBit)];
})();

// Node's X25519, for the oracle: raw 32-byte keys in their DER wrappers.
const spki = (raw: Buffer): KeyObject => createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), raw]), format: 'der', type: 'spki' });
const pkcs8 = (raw: Buffer): KeyObject => createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), raw]), format: 'der', type: 'pkcs8' });
/** OpenSSL's shared secret, or undefined where it refuses (an all-zero result: a low-order point). */
function openSslShared(privateKey: Buffer, publicKey: Buffer): Buffer | undefined {
  try {
    return diffieHellman({ privateKey: pkcs8(privateKey), publicKey: spki(publicKey) });
  } catch {
    return undefined;
  }
}
const privateKey32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b));

/** A square root modulo p (p = 5 mod 8), or undefined for a non-residue. */
function sqrt(v: bigint): bigint | undefined {
  const r = pow(v, (P + 3n) / 8n);
  if (mod(r * r) === mod(v)) return r;
  const i = pow(2n, (P - 1n) / 4n);
  const ri = mod(r * i);
  return mod(ri * ri) === mod(v) ? ri : undefined;
}
const curve = (u: bigint) => mod(u * u * u + A * u * u + u);
/** Affine addition on v^2 = u^3 + A u^2 + u, for two distinct u. */
function add(p1: [bigint, bigint], p2: [bigint, bigint]): bigint {
  const lambda = mod((p2[1] - p1[1]) * inverse(p2[0] - p1[0]));
  return mod(lambda * lambda - A - p1[0] - p2[0]);
}
/** The low-order points of the curve itself (not the twist), with a v. */
const TORSION_ON_CURVE = LOW_ORDER_U.flatMap((u) => {
  const v = sqrt(curve(u));
  return v === undefined ? [] : [[u, v] as [bigint, bigint]];
});

describe('publicKeyProblem', () => {
  it('refuses every low-order point in every encoding X25519 reads: 14, which OpenSSL refuses too', () => {
    expect(LOW_ORDER_ENCODINGS).toHaveLength(14);
    const anyPrivate = generateKeyPairSync('x25519').privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(16);
    for (const encoding of LOW_ORDER_ENCODINGS) {
      expect(publicKeyProblem(encoding), encoding.toString('hex')).toMatch(/^is a low-order X25519 point/);
      expect(openSslShared(anyPrivate, encoding), encoding.toString('hex')).toBeUndefined();
    }
  });

  it('accepts the public key of any private key (property)', () => {
    fc.assert(
      fc.property(privateKey32, (privateKey) => {
        expect(publicKeyProblem(publicKeyOf(privateKey))).toBeUndefined();
      }),
      { numRuns: 60 },
    );
  });

  it('refuses a key with a low-order point added, which OpenSSL accepts and treats as the key itself (property)', () => {
    expect(TORSION_ON_CURVE.length).toBeGreaterThanOrEqual(3);
    fc.assert(
      fc.property(privateKey32, privateKey32, fc.constantFrom(...TORSION_ON_CURVE), (keyOwner, peer, torsion) => {
        const publicKey = publicKeyOf(keyOwner);
        const u = fromBytes(publicKey);
        const point: [bigint, bigint] = [u, sqrt(curve(u))!];
        const mixed = toBytes(add(point, torsion));
        expect(publicKeyProblem(mixed)).toMatch(/prime-order subgroup/);
        // X25519 clamps every private key to a multiple of 8, which sends the low-order part to nothing.
        expect(openSslShared(peer, mixed)?.toString('hex')).toBe(openSslShared(peer, publicKey)!.toString('hex'));
      }),
      { numRuns: 40 },
    );
  });

  it('refuses a valid key written with bit 255 set, and the values from p to 2^255 - 1', () => {
    const key = publicKeyOf(generateKeyPairSync('x25519').privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(16));
    expect(publicKeyProblem(key)).toBeUndefined();
    expect(publicKeyProblem(withTopBit(key))).toMatch(/canonical/);
    for (let u = 2n; u <= 18n; u++) expect(publicKeyProblem(toBytes(P + u))).toMatch(/canonical|low-order/);
  });

  it('refuses points of the twist, and any length but 32 bytes', () => {
    let twist = 0;
    for (let u = 2n; twist < 20; u++) {
      if (sqrt(curve(u)) !== undefined) continue;
      twist++;
      expect(publicKeyProblem(toBytes(u))).toMatch(/twist|low-order/);
    }
    expect(publicKeyProblem(Buffer.alloc(31, 7))).toMatch(/31 bytes/);
  });

  it('over random bytes: what it accepts OpenSSL accepts with a non-zero secret; what it calls low-order OpenSSL refuses (property)', () => {
    fc.assert(
      fc.property(privateKey32, privateKey32, (candidate, peer) => {
        const problem = publicKeyProblem(candidate);
        const shared = openSslShared(peer, candidate);
        if (problem === undefined) expect(shared && !shared.every((b) => b === 0)).toBe(true);
        if (problem?.startsWith('is a low-order')) expect(shared).toBeUndefined();
        if (shared === undefined) expect(problem).toMatch(/^is a low-order/);
      }),
      { numRuns: 300 },
    );
  });
});

describe('the vault public key setting', () => {
  const env = { SQS2PG_MASK_KEY: 'ecfa96dd3f29bc244460689c0b9ccc3042fa97318679104bbe50bb0a90c805ce' };
  it.each(['run', 'check', 'forget'] as const)('%s: a low-order key is refused when the settings load, the key never shown', (command) => {
    for (const encoding of LOW_ORDER_ENCODINGS) {
      for (const text of [encoding.toString('hex'), encoding.toString('base64')]) {
        let error: unknown;
        try {
          loadConfig(command, [], { ...env, SQS2PG_VAULT_PUBLIC_KEY: text });
        } catch (caught) {
          error = caught;
        }
        expect(error).toBeInstanceOf(ConfigError);
        const message = (error as ConfigError).message;
        expect((error as ConfigError).exitCode).toBe(2);
        expect(message).toMatch(/^invalid --vault-public-key \(SQS2PG_VAULT_PUBLIC_KEY\): the key /);
        expect(message).not.toContain(text);
      }
    }
  });
});
