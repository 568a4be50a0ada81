// The private key as the quarantine's commands use it: one opener per key id a body was sealed under.
import { ConfigError, Sqs2pgError } from '../errors.js';
import { vaultOpenerFrom, type VaultPrivateKeySettings } from '../vault/key-pair.js';
import { SealedItemError, type VaultOpener } from '../vault/sealed-box.js';
import type { OpenerFor } from './sealed-body.js';

/** Throws a one-line ConfigError naming `command` when no private key is set. */
export function openersFrom(settings: VaultPrivateKeySettings, command: string, why: string): OpenerFor {
  if (vaultOpenerFrom(settings, 'check') === undefined) {
    throw new ConfigError(
      `${command} needs the vault private key (SQS2PG_VAULT_PRIVATE_KEY or SQS2PG_VAULT_PRIVATE_KEY_FILE): ${why}; quarantined bodies are only kept, sealed, when workers run with the vault public key`,
    );
  }
  const openers = new Map<string, VaultOpener>();
  return (keyId) => {
    let opener = openers.get(keyId);
    if (!opener) {
      opener = vaultOpenerFrom(settings, keyId)!;
      openers.set(keyId, opener);
    }
    return opener;
  };
}

/** A body that does not open: the wrong private key, or an altered record. */
export function rethrowSealed(error: unknown, messageId: string): void {
  if (error instanceof SealedItemError) {
    throw new Sqs2pgError(
      'vault_integrity',
      `the sealed body of ${messageId} does not open with the vault private key given (another key pair, or the record was altered); nothing was committed`,
      1,
    );
  }
}
