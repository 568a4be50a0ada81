// Which vault keys a command ends up with: the worker a public key only (the legacy symmetric key
// refused), the officer's commands private and legacy keys; from the environment, a flag or a
// file, one of them, never the mask key, never one key twice; and never echoed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors.js';
import { createVaultCipher } from '../../../src/vault/cipher.js';
import { refuseLegacyVaultKey, vaultSealerFrom } from '../../../src/vault/key-pair.js';
import { VaultKeyring, vaultKeysFrom } from '../../../src/vault/keyring.js';
import { sealBatch } from '../../../src/vault/seal-batch.js';
import { createVaultSealer, generateVaultKeyPair, quarantineContext, SealedItemError } from '../../../src/vault/sealed-box.js';

const MASK_KEY = 'ecfa96dd3f29bc244460689c0b9ccc3042fa97318679104bbe50bb0a90c805ce';
const LEGACY_KEY = Buffer.from('29ff5cd0a4514bcb8257061060ca91ec7da8c21a841564df22dbe28ebaf336fe', 'hex');
const PAIR = generateVaultKeyPair();
const OLD_PAIR = generateVaultKeyPair();
const dir = mkdtempSync(join(tmpdir(), 'sqs2pg-keyring-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function configError(load: () => unknown): string {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(2);
    expect((error as ConfigError).message).not.toMatch(/[\r\n]/);
    return (error as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
}

const runConfig = (env: NodeJS.ProcessEnv, args: string[] = []) => loadConfig('run', args, { SQS2PG_MASK_KEY: MASK_KEY, ...env }).config;
const revealKeys = (env: NodeJS.ProcessEnv) => vaultKeysFrom(loadConfig('reveal', ['k1:' + '0'.repeat(64), '--reason', 'test'], env).config);

describe('the worker', () => {
  it('has no vault without a public key', () => {
    expect(vaultSealerFrom(runConfig({}))).toBeUndefined();
  });

  it.each([
    ['base64 in the environment', () => ({ SQS2PG_VAULT_PUBLIC_KEY: PAIR.publicKey.toString('base64') })],
    ['hex in the environment', () => ({ SQS2PG_VAULT_PUBLIC_KEY: PAIR.publicKey.toString('hex') })],
    ['base64 in a file, with a trailing newline', () => ({ SQS2PG_VAULT_PUBLIC_KEY_FILE: file('b64', `${PAIR.publicKey.toString('base64')}\n`) })],
  ])('gets the public key from %s', (_name, env) => {
    expect(vaultSealerFrom(runConfig(env()))?.publicKey.equals(PAIR.publicKey)).toBe(true);
  });

  it('refuses the legacy symmetric vault key, which also decrypts, without echoing it', () => {
    const message = configError(() => refuseLegacyVaultKey(runConfig({ SQS2PG_VAULT_KEY: LEGACY_KEY.toString('hex') })));
    expect(message).toContain('SQS2PG_VAULT_PUBLIC_KEY');
    expect(message).toContain('keygen --vault');
    expect(message).not.toContain(LEGACY_KEY.toString('hex'));
  });

  it('refuses a public key and a public key file together', () => {
    const message = configError(() =>
      vaultSealerFrom(runConfig({ SQS2PG_VAULT_PUBLIC_KEY: PAIR.publicKey.toString('hex'), SQS2PG_VAULT_PUBLIC_KEY_FILE: file('both', PAIR.publicKey.toString('hex')) })),
    );
    expect(message).toContain('only one');
  });
});

describe("an officer's keys", () => {
  it('are none without a key', () => {
    expect(revealKeys({})).toBeUndefined();
  });

  it('are the private key, and the legacy key for entries written before 0.2', () => {
    const keys = revealKeys({ SQS2PG_VAULT_PRIVATE_KEY: PAIR.privateKey.toString('base64'), SQS2PG_VAULT_KEY_FILE: file('legacy', LEGACY_KEY.toString('hex')) });
    expect(keys?.privateKey?.equals(PAIR.privateKey)).toBe(true);
    expect(keys?.legacyKey?.equals(LEGACY_KEY)).toBe(true);
  });

  it('refuse the mask key as a vault key, and one key given twice', () => {
    expect(configError(() => vaultKeysFrom({ vaultKey: Buffer.from(MASK_KEY, 'hex'), maskKey: Buffer.from(MASK_KEY, 'hex') }))).toContain('is the mask key');
    expect(configError(() => vaultKeysFrom({ vaultPrivateKey: PAIR.privateKey, vaultPreviousPrivateKey: PAIR.privateKey }))).toContain('same key');
  });
});

describe('VaultKeyring', () => {
  it('opens sealed entries of the current and previous private keys and legacy entries, by key id', () => {
    const ring = new VaultKeyring(
      { privateKey: PAIR.privateKey, previousPrivateKey: OLD_PAIR.privateKey, legacyKey: LEGACY_KEY, legacyPreviousKey: undefined },
      { privateKey: 'v3', previousPrivateKey: 'v2', legacyKey: 'v1' },
    );
    expect(ring.keyIds.sort()).toEqual(['v1', 'v2', 'v3']);
    const mask = `k1:${'0'.repeat(64)}`;
    const [current] = sealBatch([{ mask, field: 'ip', value: '10.1.2.3' }], { keyId: 'v3', publicKey: PAIR.publicKey, batch: () => sealerBatch(PAIR.publicKey, 'v3') });
    expect(ring.openEntry(current!)).toBe('10.1.2.3');
    const [old] = sealBatch([{ mask, field: 'ip', value: '10.1.2.4' }], { keyId: 'v2', publicKey: OLD_PAIR.publicKey, batch: () => sealerBatch(OLD_PAIR.publicKey, 'v2') });
    expect(ring.openEntry(old!)).toBe('10.1.2.4');
    expect(ring.openEntry(createVaultCipher(LEGACY_KEY, 'v1').seal(mask, 'ip', '10.1.2.5'))).toBe('10.1.2.5');
    // Relabelled: a sealed entry under the legacy id, a legacy entry under a sealed id.
    expect(() => ring.openEntry({ ...current!, vaultKeyId: 'v1' })).toThrow('does not decrypt');
    expect(() => ring.openEntry({ ...createVaultCipher(LEGACY_KEY, 'v3').seal(mask, 'ip', 'x') })).toThrow('does not decrypt');
    expect(() => ring.openEntry({ ...current!, vaultKeyId: 'v0' })).toThrow('does not decrypt');
  });

  it('opens sealed items (bodies, tombstones\' ids) of the current and the previous key pair, never with a legacy key', () => {
    const ring = new VaultKeyring(
      { privateKey: PAIR.privateKey, previousPrivateKey: OLD_PAIR.privateKey, legacyKey: LEGACY_KEY, legacyPreviousKey: undefined },
      { privateKey: 'v3', previousPrivateKey: 'v2', legacyKey: 'v1' },
    );
    expect(ring.sealedKeyIds.sort()).toEqual(['v2', 'v3']);
    const context = quarantineContext('m-1');
    const current = sealerBatch(PAIR.publicKey, 'v3').seal(context, 'body now');
    const old = sealerBatch(OLD_PAIR.publicKey, 'v2').seal(context, 'body before');
    expect(ring.open(current, context).toString()).toBe('body now');
    expect(ring.open(old, context).toString()).toBe('body before');
    expect(() => ring.open(old, quarantineContext('m-2'))).toThrow(SealedItemError);
    expect(() => ring.open({ ...old, vaultKeyId: 'v3' }, context)).toThrow(SealedItemError);
    expect(() => ring.open({ ...old, vaultKeyId: 'v1' }, context)).toThrow(SealedItemError);
  });
});


function sealerBatch(publicKey: Buffer, keyId: string) {
  return createVaultSealer(publicKey, keyId).batch();
}
