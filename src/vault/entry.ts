// One row of sqs2pg_vault.entries and the SQL that reads and writes them. An entry is sealed to
// the vault's public key (v2: it carries the batch's ephemeral public key) or, written before
// 0.2, encrypted under the old symmetric vault key (legacy v1: no ephemeral key).
import type { PoolClient } from '../db/pool.js';
import type { MaskLabel } from '../model/message.js';

export interface VaultEntry {
  maskedValue: string;
  field: MaskLabel;
  vaultKeyId: string;
  /** v2: the sealing batch's ephemeral X25519 public key; null: a legacy v1 (symmetric) entry */
  ephemeralPublicKey: Buffer | null;
  nonce: Buffer;
  /** AES-GCM ciphertext followed by its 16-byte tag */
  ciphertext: Buffer;
}

export interface EntryRow {
  masked_value: string;
  field: MaskLabel;
  vault_key_id: string;
  ephemeral_public_key: Buffer | null;
  nonce: Buffer;
  ciphertext: Buffer;
}

export const ENTRY_COLUMNS = 'masked_value, field, vault_key_id, ephemeral_public_key, nonce, ciphertext';

export function toVaultEntry(row: EntryRow): VaultEntry {
  return {
    maskedValue: row.masked_value,
    field: row.field,
    vaultKeyId: row.vault_key_id,
    ephemeralPublicKey: row.ephemeral_public_key,
    nonce: row.nonce,
    ciphertext: row.ciphertext,
  };
}

// No conflict target, so the worker needs no SELECT on the vault; the primary key is the only
// unique index. The entries arrive sorted by mask: concurrent batches lock shared masks in one order.
export const INSERT_ENTRIES = `
INSERT INTO sqs2pg_vault.entries (masked_value, field, vault_key_id, ephemeral_public_key, nonce, ciphertext)
SELECT * FROM unnest($1::varchar[], $2::text[], $3::text[], $4::bytea[], $5::bytea[], $6::bytea[])
ON CONFLICT DO NOTHING`;

export function entryColumns(entries: readonly VaultEntry[]): unknown[][] {
  return [
    entries.map((e) => e.maskedValue),
    entries.map((e) => e.field),
    entries.map((e) => e.vaultKeyId),
    entries.map((e) => e.ephemeralPublicKey),
    entries.map((e) => e.nonce),
    entries.map((e) => e.ciphertext),
  ];
}

/** The vault's part of a batch's transaction: inserts the entries (a mask already vaulted is skipped); resolves to how many were new. */
export async function insertEntries(client: Pick<PoolClient, 'query'>, entries: readonly VaultEntry[]): Promise<number> {
  if (entries.length === 0) return 0;
  return (await client.query(INSERT_ENTRIES, entryColumns(entries))).rowCount ?? 0;
}
