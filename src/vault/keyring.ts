// The vault keys a command was given, checked against each other: the vault key from the
// environment, a flag or a file (one of them), never equal to the mask key, since keeping the two
// apart is what makes a stolen mask key worthless without the vault's.
import { ConfigError } from '../errors.js';
import { createVaultCipher, VaultIntegrityError, type VaultCipher, type VaultEntry } from './cipher.js';

export interface VaultKeySettings {
  vaultKey?: Buffer | undefined;
  vaultKeyFile?: Buffer | undefined;
  vaultPreviousKey?: Buffer | undefined;
  vaultPreviousKeyFile?: Buffer | undefined;
  maskKey?: Buffer | undefined;
}

export interface VaultKeys {
  key: Buffer;
  /** the key being rotated away from; its id is found from its fingerprint in the database */
  previousKey: Buffer | undefined;
}

/** The vault keys, or undefined when no vault key is set (the vault is off). */
export function vaultKeysFrom(settings: VaultKeySettings): VaultKeys | undefined {
  const key = oneOf(settings.vaultKey, settings.vaultKeyFile, '--vault-key (SQS2PG_VAULT_KEY)', '--vault-key-file (SQS2PG_VAULT_KEY_FILE)');
  const previousKey = oneOf(
    settings.vaultPreviousKey,
    settings.vaultPreviousKeyFile,
    '--vault-previous-key (SQS2PG_VAULT_PREVIOUS_KEY)',
    '--vault-previous-key-file (SQS2PG_VAULT_PREVIOUS_KEY_FILE)',
  );
  if (key === undefined) {
    if (previousKey !== undefined) throw new ConfigError('a previous vault key is set but no vault key; set SQS2PG_VAULT_KEY or SQS2PG_VAULT_KEY_FILE to the new key');
    return undefined;
  }
  if (settings.maskKey?.equals(key)) {
    throw new ConfigError('the vault key is the mask key; give the vault its own key (openssl rand -base64 32), kept apart from the mask key');
  }
  if (previousKey?.equals(key)) throw new ConfigError('the previous vault key is the vault key itself; set the new key as SQS2PG_VAULT_KEY and the old one as SQS2PG_VAULT_PREVIOUS_KEY');
  return { key, previousKey };
}

function oneOf(direct: Buffer | undefined, file: Buffer | undefined, directName: string, fileName: string): Buffer | undefined {
  if (direct !== undefined && file !== undefined) throw new ConfigError(`both ${directName} and ${fileName} are set; set only one`);
  return direct ?? file;
}

/** The ciphers a command can open entries with: the current key, and the previous one while rotating. */
export class VaultKeyring {
  private readonly ciphers = new Map<string, VaultCipher>();

  constructor(readonly current: VaultCipher, previous?: VaultCipher) {
    this.ciphers.set(current.keyId, current);
    if (previous) this.ciphers.set(previous.keyId, previous);
  }

  static of(keys: VaultKeys, keyId: string, previousKeyId: string | undefined): VaultKeyring {
    const previous = keys.previousKey && previousKeyId ? createVaultCipher(keys.previousKey, previousKeyId) : undefined;
    return new VaultKeyring(createVaultCipher(keys.key, keyId), previous);
  }

  get keyIds(): string[] {
    return [...this.ciphers.keys()];
  }

  /** Opens an entry under whichever of the keys sealed it; VaultIntegrityError when none can. */
  open(entry: VaultEntry): string {
    const cipher = this.ciphers.get(entry.vaultKeyId);
    if (!cipher) throw new VaultIntegrityError(entry.maskedValue);
    return cipher.open(entry);
  }
}
