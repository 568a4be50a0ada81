// The vault's cipher: workers seal to a public key, only the holder of the private key opens.
// One design for everything the vault keeps (the value behind a mask, a quarantined body):
//
//   per batch:  an ephemeral X25519 key pair; shared = X25519(ephemeral private, vault public)
//               key = HKDF-SHA-256(shared, salt = ephemeral public || vault public, "sqs2pg vault v2")
//   per item:   AES-256-GCM under that key, a fresh random 96-bit nonce, and associated data that
//               binds the ciphertext to its context (what it is, e.g. field + mask, or message id)
//               and to the vault key id, so an item copied elsewhere or relabelled fails to open.
//
// A worker holds only the public key: a compromised worker host can add entries but read none.
// One key agreement per batch keeps the cost per item at one AES-GCM seal; the ephemeral public key
// is stored with each item (32 bytes), so any item opens on its own. node:crypto alone: no new
// dependency, and the construction is the one libsodium's sealed boxes and HPKE base mode follow.
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';

export const VAULT_KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
// DER prefixes of an X25519 key in PKCS#8 (private) and SPKI (public) form; the raw key follows.
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');

/** One sealed item, as the vault's tables store it. */
export interface SealedItem {
  vaultKeyId: string;
  /** the batch's ephemeral X25519 public key, 32 bytes */
  ephemeralPublicKey: Buffer;
  nonce: Buffer;
  /** AES-GCM ciphertext followed by its 16-byte tag */
  ciphertext: Buffer;
}

/** Seals the items of one batch under one ephemeral key. */
export interface BatchSealer {
  seal(context: string, plaintext: string | Buffer): SealedItem;
}

/** What a worker holds: the public key. */
export interface VaultSealer {
  readonly keyId: string;
  readonly publicKey: Buffer;
  /** a sealer for one batch: one key agreement, then one AES-GCM seal per item */
  batch(): BatchSealer;
}

/** What only an officer's command holds: the private key. */
export interface VaultOpener {
  readonly keyId: string;
  readonly publicKey: Buffer;
  /** the plaintext; throws SealedItemError unless it was sealed to this key, under this id, for this context */
  open(item: SealedItem, context: string): Buffer;
}

/** Opens items sealed under one key id (a VaultOpener) or several (an officer's keyring). */
export interface SealedItemOpener {
  /** the plaintext; throws SealedItemError unless one of its keys sealed it, under its id, for this context */
  open(item: SealedItem, context: string): Buffer;
}

/** An item that does not open: another key, another key id, another context, or altered bytes. */
export class SealedItemError extends Error {
  constructor() {
    super('vault item does not open with the configured private key');
    this.name = 'SealedItemError';
  }
}

/** The context of a vault entry: the value behind `mask` of `field`. */
export const entryContext = (field: string, mask: string): string => `entry\0${field}\0${mask}`;
/** The context of a quarantined body: the whole body of SQS message `messageId`. */
export const quarantineContext = (messageId: string): string => `quarantine\0${messageId}`;

export function generateVaultKeyPair(): { publicKey: Buffer; privateKey: Buffer } {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  return { publicKey: rawPublic(publicKey), privateKey: rawPrivate(privateKey) };
}

/** The public key that belongs to a raw private key. */
export function publicKeyOf(privateKey: Buffer): Buffer {
  return rawPublic(createPublicKey(privateKeyObject(privateKey)));
}

export function createVaultSealer(publicKey: Buffer, keyId: string): VaultSealer {
  const recipient = publicKeyObject(publicKey);
  return {
    keyId,
    publicKey,
    batch() {
      const ephemeral = generateKeyPairSync('x25519');
      const ephemeralPublicKey = rawPublic(ephemeral.publicKey);
      const key = deriveKey(diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipient }), ephemeralPublicKey, publicKey);
      return {
        seal(context, plaintext) {
          const nonce = randomBytes(NONCE_BYTES);
          const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
          cipher.setAAD(associatedData(context, keyId));
          const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
          const ciphertext = Buffer.concat([cipher.update(data), cipher.final(), cipher.getAuthTag()]);
          return { vaultKeyId: keyId, ephemeralPublicKey, nonce, ciphertext };
        },
      };
    },
  };
}

export function createVaultOpener(privateKey: Buffer, keyId: string): VaultOpener {
  const own = privateKeyObject(privateKey);
  const publicKey = rawPublic(createPublicKey(own));
  // A batch's items share their ephemeral key: derive its AES key once (bounded, as reveal and
  // rotation walk many batches).
  const keys = new Map<string, Buffer>();
  const keyFor = (ephemeralPublicKey: Buffer): Buffer => {
    const id = ephemeralPublicKey.toString('hex');
    let key = keys.get(id);
    if (key === undefined) {
      const shared = diffieHellman({ privateKey: own, publicKey: publicKeyObject(ephemeralPublicKey) });
      key = deriveKey(shared, ephemeralPublicKey, publicKey);
      if (keys.size >= 1024) keys.clear();
      keys.set(id, key);
    }
    return key;
  };
  return {
    keyId,
    publicKey,
    open(item, context) {
      if (item.vaultKeyId !== keyId || item.nonce.length !== NONCE_BYTES || item.ciphertext.length < TAG_BYTES || item.ephemeralPublicKey.length !== VAULT_KEY_BYTES) {
        throw new SealedItemError();
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', keyFor(item.ephemeralPublicKey), item.nonce, { authTagLength: TAG_BYTES });
        decipher.setAAD(associatedData(context, keyId));
        decipher.setAuthTag(item.ciphertext.subarray(-TAG_BYTES));
        return Buffer.concat([decipher.update(item.ciphertext.subarray(0, -TAG_BYTES)), decipher.final()]);
      } catch {
        throw new SealedItemError();
      }
    },
  };
}

function deriveKey(shared: Buffer, ephemeralPublicKey: Buffer, recipientPublicKey: Buffer): Buffer {
  // An all-zero shared secret means a low-order point was given as a public key: refuse it.
  if (shared.every((byte) => byte === 0)) throw new SealedItemError();
  const salt = Buffer.concat([ephemeralPublicKey, recipientPublicKey]);
  return Buffer.from(hkdfSync('sha256', shared, salt, 'sqs2pg vault v2 x25519 aes-256-gcm', 32));
}

function associatedData(context: string, keyId: string): Buffer {
  // NUL cannot occur in a key id, a field name, a mask or an SQS message id: the encoding is unambiguous.
  return Buffer.from(`sqs2pg vault v2\0${keyId}\0${context}`, 'utf8');
}

function publicKeyObject(raw: Buffer): KeyObject {
  if (raw.length !== VAULT_KEY_BYTES) throw new SealedItemError();
  return createPublicKey({ key: Buffer.concat([SPKI_X25519, raw]), format: 'der', type: 'spki' });
}

function privateKeyObject(raw: Buffer): KeyObject {
  if (raw.length !== VAULT_KEY_BYTES) throw new SealedItemError();
  return createPrivateKey({ key: Buffer.concat([PKCS8_X25519, raw]), format: 'der', type: 'pkcs8' });
}

function rawPublic(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'spki' }).subarray(SPKI_X25519.length);
}

function rawPrivate(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_X25519.length);
}
