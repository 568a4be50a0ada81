// The vault's public and private keys as commands are given them: one of the key or its file,
// exactly 32 bytes each. Workers get a sealer (public key only); officers' commands get an opener.
import { ConfigError } from '../errors.js';
import { createVaultOpener, createVaultSealer, VAULT_KEY_BYTES, type VaultOpener, type VaultSealer } from './sealed-box.js';

export interface VaultPublicKeySettings {
  vaultPublicKey?: Buffer | undefined;
  vaultPublicKeyFile?: Buffer | undefined;
  vaultKeyId: string;
}

export interface VaultPrivateKeySettings {
  vaultPrivateKey?: Buffer | undefined;
  vaultPrivateKeyFile?: Buffer | undefined;
}

/** The worker's sealer, or undefined when no vault public key is set (the vault is off). */
export function vaultSealerFrom(settings: VaultPublicKeySettings): VaultSealer | undefined {
  const key = oneOf(settings.vaultPublicKey, settings.vaultPublicKeyFile, 'public');
  return key && createVaultSealer(key, settings.vaultKeyId);
}

/** An opener for the private key under `keyId`, or undefined when no private key is set. */
export function vaultOpenerFrom(settings: VaultPrivateKeySettings, keyId: string): VaultOpener | undefined {
  const key = oneOf(settings.vaultPrivateKey, settings.vaultPrivateKeyFile, 'private');
  return key && createVaultOpener(key, keyId);
}

function oneOf(direct: Buffer | undefined, file: Buffer | undefined, kind: 'public' | 'private'): Buffer | undefined {
  const name = `--vault-${kind}-key (SQS2PG_VAULT_${kind.toUpperCase()}_KEY)`;
  if (direct !== undefined && file !== undefined) throw new ConfigError(`both ${name} and its _FILE variant are set; set only one`);
  const key = direct ?? file;
  if (key !== undefined && key.length !== VAULT_KEY_BYTES) {
    throw new ConfigError(`${name} must be exactly ${VAULT_KEY_BYTES} bytes (an X25519 key); make a pair with: sqs2pg keygen --vault`);
  }
  return key;
}
