// The keys an officer's command opens vault entries with, by key id: the vault private key (and
// the previous one while rotating) for sealed v2 entries, and the legacy symmetric vault key (and
// its previous one) for v1 entries written before 0.2. Key ids come from the keys' fingerprints in
// the database, so a key this vault never saw opens nothing.
import { ConfigError } from '../errors.js';
import { createVaultCipher, VaultIntegrityError, type VaultCipher } from './cipher.js';
import type { VaultEntry } from './entry.js';
import { vaultPreviousPrivateKeyFrom, vaultPrivateKeyFrom, type VaultPreviousPrivateKeySettings, type VaultPrivateKeySettings } from './key-pair.js';
import { createVaultOpener, entryContext, publicKeyOf, SealedItemError, type SealedItem, type SealedItemOpener, type VaultOpener } from './sealed-box.js';

export interface LegacyVaultKeySettings {
  vaultKey?: Buffer | undefined;
  vaultKeyFile?: Buffer | undefined;
  vaultPreviousKey?: Buffer | undefined;
  vaultPreviousKeyFile?: Buffer | undefined;
}

export type OfficerKeySettings = LegacyVaultKeySettings & VaultPrivateKeySettings & VaultPreviousPrivateKeySettings & { maskKey?: Buffer | undefined };

export interface VaultKeys {
  /** the vault private key: opens v2 entries, and is what rotate re-seals to (its public key) */
  privateKey: Buffer | undefined;
  previousPrivateKey: Buffer | undefined;
  /** the legacy symmetric vault key and its predecessor: open v1 entries only */
  legacyKey: Buffer | undefined;
  legacyPreviousKey: Buffer | undefined;
}

/** An officer's vault keys, or undefined when none is set. */
export function vaultKeysFrom(settings: OfficerKeySettings): VaultKeys | undefined {
  const keys: VaultKeys = {
    privateKey: vaultPrivateKeyFrom(settings),
    previousPrivateKey: vaultPreviousPrivateKeyFrom(settings),
    legacyKey: oneOf(settings.vaultKey, settings.vaultKeyFile, '--vault-key (SQS2PG_VAULT_KEY)'),
    legacyPreviousKey: oneOf(settings.vaultPreviousKey, settings.vaultPreviousKeyFile, '--vault-previous-key (SQS2PG_VAULT_PREVIOUS_KEY)'),
  };
  const given = [keys.privateKey, keys.previousPrivateKey, keys.legacyKey, keys.legacyPreviousKey].filter((key) => key !== undefined);
  if (given.length === 0) return undefined;
  if (settings.maskKey && given.some((key) => key.equals(settings.maskKey!))) {
    throw new ConfigError('a vault key is the mask key; the vault has its own keys (sqs2pg keygen --vault), kept apart from the mask key');
  }
  if (new Set(given.map((key) => key.toString('hex'))).size !== given.length) {
    throw new ConfigError('two of the vault key settings hold the same key; the previous key is the one being rotated away from');
  }
  return keys;
}

function oneOf(direct: Buffer | undefined, file: Buffer | undefined, name: string): Buffer | undefined {
  if (direct !== undefined && file !== undefined) throw new ConfigError(`both ${name} and its _FILE variant are set; set only one`);
  return direct ?? file;
}

/** The vault key a fingerprint stands for: the public key of a private key, or the legacy key itself. */
export function fingerprintedKey(keys: VaultKeys, which: keyof VaultKeys): Buffer | undefined {
  const key = keys[which];
  if (key === undefined) return undefined;
  return which === 'privateKey' || which === 'previousPrivateKey' ? publicKeyOf(key) : key;
}

type Opener = { kind: 'sealed'; opener: VaultOpener } | { kind: 'legacy'; cipher: VaultCipher };

/** The keys a command can open entries with, by key id; sealed items too (bodies, tombstones' ids). */
export class VaultKeyring implements SealedItemOpener {
  private readonly openers = new Map<string, Opener>();

  /** `ids`: the key id each given key is known under in this database (undefined: not known there) */
  constructor(keys: VaultKeys, ids: Partial<Record<keyof VaultKeys, string | undefined>>) {
    const add = (which: keyof VaultKeys) => {
      const key = keys[which];
      const id = ids[which];
      if (key === undefined || id === undefined || this.openers.has(id)) return;
      const legacy = which === 'legacyKey' || which === 'legacyPreviousKey';
      this.openers.set(id, legacy ? { kind: 'legacy', cipher: createVaultCipher(key, id) } : { kind: 'sealed', opener: createVaultOpener(key, id) });
    };
    add('privateKey');
    add('previousPrivateKey');
    add('legacyKey');
    add('legacyPreviousKey');
  }

  get keyIds(): string[] {
    return [...this.openers.keys()];
  }

  /** The ids of the key pairs given (legacy symmetric keys seal nothing but entries). */
  get sealedKeyIds(): string[] {
    return [...this.openers].filter(([, opener]) => opener.kind === 'sealed').map(([id]) => id);
  }

  /** A sealed item (a quarantined body, a tombstone's user id) under whichever key pair sealed it. */
  open(item: SealedItem, context: string): Buffer {
    const opener = this.openers.get(item.vaultKeyId);
    if (opener?.kind !== 'sealed') throw new SealedItemError();
    return opener.opener.open(item, context);
  }

  /** Opens an entry under whichever of the keys sealed it; VaultIntegrityError when none can. */
  openEntry(entry: VaultEntry): string {
    const opener = this.openers.get(entry.vaultKeyId);
    if (!opener) throw new VaultIntegrityError(entry.maskedValue);
    if (opener.kind === 'legacy') return opener.cipher.open(entry);
    if (entry.ephemeralPublicKey === null) throw new VaultIntegrityError(entry.maskedValue);
    try {
      return opener.opener
        .open({ vaultKeyId: entry.vaultKeyId, ephemeralPublicKey: entry.ephemeralPublicKey, nonce: entry.nonce, ciphertext: entry.ciphertext }, entryContext(entry.field, entry.maskedValue))
        .toString('utf8');
    } catch (error) {
      if (error instanceof SealedItemError) throw new VaultIntegrityError(entry.maskedValue);
      throw error;
    }
  }
}
