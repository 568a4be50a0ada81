// Which vault keys a command ends up with: from the environment, a flag or a file, one of them,
// never the mask key, and never one that is short or unreadable.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors.js';
import { createVaultCipher } from '../../../src/vault/cipher.js';
import { VaultKeyring, vaultKeysFrom } from '../../../src/vault/keyring.js';

const MASK_KEY = 'a1'.repeat(32);
const VAULT_KEY = Buffer.alloc(32, 0x5c);
const dir = mkdtempSync(join(tmpdir(), 'sqs2pg-keyring-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function keysFor(env: NodeJS.ProcessEnv, args: string[] = []) {
  return vaultKeysFrom(loadConfig('run', args, { SQS2PG_MASK_KEY: MASK_KEY, ...env }).config);
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

describe('vault keys', () => {
  it('are off without a vault key', () => {
    expect(keysFor({})).toBeUndefined();
  });

  it.each([
    ['base64 in the environment', { SQS2PG_VAULT_KEY: VAULT_KEY.toString('base64') }],
    ['hex in the environment', { SQS2PG_VAULT_KEY: VAULT_KEY.toString('hex') }],
    ['base64 in a file, with a trailing newline', { SQS2PG_VAULT_KEY_FILE: file('b64', `${VAULT_KEY.toString('base64')}\n`) }],
    ['hex in a file', { SQS2PG_VAULT_KEY_FILE: file('hex', VAULT_KEY.toString('hex')) }],
  ])('come from %s', (_name, env) => {
    expect(keysFor(env)?.key.equals(VAULT_KEY)).toBe(true);
  });

  it('come from the flag too', () => {
    expect(keysFor({}, ['--vault-key', VAULT_KEY.toString('hex')])?.key.equals(VAULT_KEY)).toBe(true);
  });

  it('refuse both a key and a key file', () => {
    const message = configError(() => keysFor({ SQS2PG_VAULT_KEY: VAULT_KEY.toString('hex'), SQS2PG_VAULT_KEY_FILE: file('both', VAULT_KEY.toString('hex')) }));
    expect(message).toContain('SQS2PG_VAULT_KEY_FILE');
    expect(message).toContain('only one');
  });

  it('refuse the mask key as the vault key', () => {
    expect(configError(() => keysFor({ SQS2PG_VAULT_KEY: MASK_KEY }))).toContain('the vault key is the mask key');
  });

  it.each([
    ['a short key', { SQS2PG_VAULT_KEY: 'ab'.repeat(16) }, 'fewer than 32', 'abababab'],
    ['a key that is neither hex nor base64', { SQS2PG_VAULT_KEY: 'my vault passphrase!' }, 'neither hex nor base64', 'passphrase'],
    ['a short key in a file', { SQS2PG_VAULT_KEY_FILE: file('short', 'cd'.repeat(20)) }, 'fewer than 32', 'cdcdcdcd'],
    ['a missing file', { SQS2PG_VAULT_KEY_FILE: join(dir, 'nope') }, 'ENOENT', '\u0000'],
  ])('refuse %s in one line, without echoing it', (_name, env, says, secret) => {
    const message = configError(() => keysFor(env));
    expect(message).toContain(says);
    expect(message).toMatch(/SQS2PG_VAULT_KEY/);
    expect(message).not.toContain(secret);
  });

  it('refuse a previous key without a key, and a previous key equal to the key', () => {
    const hex = VAULT_KEY.toString('hex');
    expect(configError(() => vaultKeysFrom({ vaultPreviousKey: VAULT_KEY }))).toContain('no vault key');
    expect(configError(() => vaultKeysFrom(loadConfig('rotate', [], { SQS2PG_VAULT_KEY: hex, SQS2PG_VAULT_PREVIOUS_KEY: hex }).config))).toContain(
      'previous vault key is the vault key',
    );
  });
});

describe('VaultKeyring', () => {
  it('opens entries of the current and the previous key, by their key id', () => {
    const old = createVaultCipher(Buffer.alloc(32, 1), 'v1');
    const ring = VaultKeyring.of({ key: VAULT_KEY, previousKey: Buffer.alloc(32, 1) }, 'v2', 'v1');
    const mask = `k1:${'0'.repeat(64)}`;
    expect(ring.open(old.seal(mask, 'ip', '10.1.2.3'))).toBe('10.1.2.3');
    expect(ring.open(ring.current.seal(mask, 'ip', '10.1.2.4'))).toBe('10.1.2.4');
    expect(ring.current.keyId).toBe('v2');
    expect(ring.keyIds.sort()).toEqual(['v1', 'v2']);
    expect(() => ring.open(createVaultCipher(Buffer.alloc(32, 2), 'v0').seal(mask, 'ip', 'x'))).toThrow('does not decrypt');
  });
});
