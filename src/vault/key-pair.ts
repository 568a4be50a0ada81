// The vault's public and private keys as commands are given them: one of the key or its file,
// exactly 32 bytes each. Workers get a sealer (public key only); officers' commands get openers.
import { publicKeyProblem } from '../config/x25519-point.js';
import { ConfigError } from '../errors.js';
import { createVaultOpener, createVaultSealer, publicKeyOf, VAULT_KEY_BYTES, type VaultOpener, type VaultSealer } from './sealed-box.js';

export interface VaultPublicKeySettings {
  vaultPublicKey?: Buffer | undefined;
  vaultPublicKeyFile?: Buffer | undefined;
  vaultKeyId: string;
}

export interface VaultPrivateKeySettings {
  vaultPrivateKey?: Buffer | undefined;
  vaultPrivateKeyFile?: Buffer | undefined;
}

export interface VaultPreviousPrivateKeySettings {
  vaultPreviousPrivateKey?: Buffer | undefined;
  vaultPreviousPrivateKeyFile?: Buffer | undefined;
}

/** The worker's sealer, or undefined when no vault public key is set (the vault is off). */
export function vaultSealerFrom(settings: VaultPublicKeySettings): VaultSealer | undefined {
  const key = vaultPublicKeyFrom(settings);
  return key && createVaultSealer(key, settings.vaultKeyId);
}

export function vaultPublicKeyFrom(settings: Omit<VaultPublicKeySettings, 'vaultKeyId'>): Buffer | undefined {
  const key = oneOf(settings.vaultPublicKey, settings.vaultPublicKeyFile, '--vault-public-key (SQS2PG_VAULT_PUBLIC_KEY)');
  // The settings refuse such a key already; this holds for callers that build settings themselves.
  const problem = key && publicKeyProblem(key);
  if (problem) throw new ConfigError(`--vault-public-key (SQS2PG_VAULT_PUBLIC_KEY): the key ${problem}; make a vault key pair with: sqs2pg keygen --vault`);
  return key;
}

export function vaultPrivateKeyFrom(settings: VaultPrivateKeySettings): Buffer | undefined {
  return oneOf(settings.vaultPrivateKey, settings.vaultPrivateKeyFile, '--vault-private-key (SQS2PG_VAULT_PRIVATE_KEY)');
}

export function vaultPreviousPrivateKeyFrom(settings: VaultPreviousPrivateKeySettings): Buffer | undefined {
  return oneOf(settings.vaultPreviousPrivateKey, settings.vaultPreviousPrivateKeyFile, '--vault-previous-private-key (SQS2PG_VAULT_PREVIOUS_PRIVATE_KEY)');
}

/**
 * A worker given the legacy symmetric vault key would hold a key that decrypts the vault: refused,
 * with what to do instead (the key still serves reveal and rotate for the entries written under it).
 */
export function refuseLegacyVaultKey(settings: { vaultKey?: Buffer | undefined; vaultKeyFile?: Buffer | undefined }): void {
  if (settings.vaultKey === undefined && settings.vaultKeyFile === undefined) return;
  throw new ConfigError(
    'workers no longer take the symmetric vault key (SQS2PG_VAULT_KEY / _FILE), which also decrypts; make a key pair with "sqs2pg keygen --vault", give workers SQS2PG_VAULT_PUBLIC_KEY with a new SQS2PG_VAULT_KEY_ID, and keep the old key for reveal and rotate only',
  );
}

/** An opener for the private key under `keyId`, or undefined when no private key is set. */
export function vaultOpenerFrom(settings: VaultPrivateKeySettings, keyId: string): VaultOpener | undefined {
  const key = vaultPrivateKeyFrom(settings);
  return key && createVaultOpener(key, keyId);
}

/** The sealer that belongs to a private key: rotate seals what it re-encrypts with it. */
export function sealerOfPrivateKey(privateKey: Buffer, keyId: string): VaultSealer {
  return createVaultSealer(publicKeyOf(privateKey), keyId);
}

function oneOf(direct: Buffer | undefined, file: Buffer | undefined, name: string): Buffer | undefined {
  if (direct !== undefined && file !== undefined) throw new ConfigError(`both ${name} and its _FILE variant are set; set only one`);
  const key = direct ?? file;
  if (key !== undefined && key.length !== VAULT_KEY_BYTES) {
    throw new ConfigError(`${name} must be exactly ${VAULT_KEY_BYTES} bytes (an X25519 key); make a pair with: sqs2pg keygen --vault`);
  }
  return key;
}
