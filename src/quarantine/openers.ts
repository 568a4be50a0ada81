// The private keys as the quarantine's commands use them: the officer's keyring, so that a body
// sealed under the previous key pair still opens while a vault key rotation is under way. Each key's
// id comes from its fingerprint in the database: a key this vault was never sealed to opens nothing.
import type { Pool } from '../db/pool.js';
import { ConfigError, Sqs2pgError } from '../errors.js';
import { vaultKeysFrom, type OfficerKeySettings, type VaultKeyring, type VaultKeys } from '../vault/keyring.js';
import { officerKeyring } from '../vault/officer-keyring.js';
import { SealedItemError } from '../vault/sealed-box.js';

/** The officer's keys, or a one-line ConfigError naming `command` when no private key is set (checked before connecting). */
export function privateKeysFrom(settings: OfficerKeySettings, command: string, why: string): VaultKeys & { privateKey: Buffer } {
  const keys = vaultKeysFrom(settings);
  if (!keys?.privateKey) {
    throw new ConfigError(
      `${command} needs the vault private key (SQS2PG_VAULT_PRIVATE_KEY or SQS2PG_VAULT_PRIVATE_KEY_FILE): ${why}; quarantined bodies are only kept, sealed, when workers run with the vault public key`,
    );
  }
  return { ...keys, privateKey: keys.privateKey };
}

/** The keyring of the keys given; a ConfigError when none of them is a key this vault was sealed to. */
export async function quarantineKeyring(pool: Pool, keys: VaultKeys): Promise<VaultKeyring> {
  const keyring = await officerKeyring(pool, keys);
  if (keyring.sealedKeyIds.length === 0) {
    throw new ConfigError(
      "no vault private key given is a key this database's vault was sealed to; set SQS2PG_VAULT_PRIVATE_KEY to the key pair the workers' public key belongs to (and SQS2PG_VAULT_PREVIOUS_PRIVATE_KEY to the previous one while a rotation is under way)",
    );
  }
  return keyring;
}

/** A body that does not open: the wrong private key, or an altered record. */
export function rethrowSealed(error: unknown, messageId: string): void {
  if (error instanceof SealedItemError) {
    throw new Sqs2pgError(
      'vault_integrity',
      `the sealed body of ${messageId} does not open with the vault private keys given (sealed to another key pair, or the record was altered; while a vault key rotation is under way, give the previous key as SQS2PG_VAULT_PREVIOUS_PRIVATE_KEY); nothing was committed`,
      1,
    );
  }
}
