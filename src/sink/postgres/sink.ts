// Writes one batch in one transaction: all its rows with one INSERT ... SELECT FROM unnest(...),
// all its quarantine records with another, and (vault on) its vault entries with a third. A message
// id already present is skipped, which is what makes redelivery harmless; so is a mask already vaulted.
import type { Pool } from '../../db/pool.js';
import { inTransaction } from '../../db/transaction.js';
import { BEGIN_VAULT_WRITE } from '../../db/vault-lock.js';
import type { LoginRow, Rejection } from '../../transform/types.js';
import type { VaultEntry } from '../../vault/cipher.js';

const INSERT_ROWS = `
INSERT INTO user_logins
  (sqs_message_id, user_id, device_type, masked_ip, masked_device_id, locale, app_version, app_version_raw, create_date)
SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::varchar[],
                     $7::integer[], $8::varchar[], $9::date[])
ON CONFLICT (sqs_message_id) DO NOTHING`;

const INSERT_QUARANTINE = `
INSERT INTO sqs2pg.quarantine (sqs_message_id, reason, field, detail, receive_count, sent_at, redacted_body)
SELECT id, reason, field, detail, receive_count, to_timestamp(sent_ms / 1000.0), body
FROM unnest($1::varchar[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::bigint[], $7::text[])
  AS q(id, reason, field, detail, receive_count, sent_ms, body)
ON CONFLICT (sqs_message_id) DO NOTHING`;

// No conflict target, so the worker needs no SELECT on the vault; the primary key is the only
// unique index. The entries arrive sorted by mask: concurrent batches lock shared masks in one order.
export const INSERT_VAULT = `
INSERT INTO sqs2pg_vault.entries (masked_value, field, vault_key_id, nonce, ciphertext)
SELECT * FROM unnest($1::varchar[], $2::text[], $3::text[], $4::bytea[], $5::bytea[])
ON CONFLICT DO NOTHING`;

export interface WriteResult {
  /** rows inserted; rows.length - inserted were already present (redelivered) */
  inserted: number;
  quarantined: number;
  /** vault entries added (masks not vaulted before) */
  vaulted: number;
}

export class PostgresSink {
  constructor(private readonly pool: Pool) {}

  /** Commits the rows, the rejections and the vault entries together, or nothing; throws the database's error. */
  async write(rows: readonly LoginRow[], rejections: readonly Rejection[], vault: readonly VaultEntry[] = []): Promise<WriteResult> {
    // A socket reset mid-batch fails the query in flight (the writer retries) and the connection
    // is discarded: inTransaction listens for the checked-out client's errors, which pg-pool does not.
    return inTransaction(this.pool, vault.length === 0 ? 'BEGIN' : BEGIN_VAULT_WRITE, async (client) => {
      const inserted = rows.length === 0 ? 0 : ((await client.query(INSERT_ROWS, rowColumns(rows))).rowCount ?? 0);
      const quarantined =
        rejections.length === 0 ? 0 : ((await client.query(INSERT_QUARANTINE, rejectionColumns(rejections))).rowCount ?? 0);
      // Last, so a worker never holds a vault entry while it waits on a row: with the entries sorted,
      // it cannot deadlock with another worker or a rotation.
      const vaulted = vault.length === 0 ? 0 : ((await client.query(INSERT_VAULT, vaultColumns(vault))).rowCount ?? 0);
      return { inserted, quarantined, vaulted };
    });
  }
}

function rowColumns(rows: readonly LoginRow[]): unknown[][] {
  return [
    rows.map((row) => row.messageId),
    rows.map((row) => row.userId),
    rows.map((row) => row.deviceType),
    rows.map((row) => row.maskedIp),
    rows.map((row) => row.maskedDeviceId),
    rows.map((row) => row.locale),
    rows.map((row) => row.appVersion),
    rows.map((row) => row.appVersionRaw),
    rows.map((row) => row.createDate),
  ];
}

function rejectionColumns(rejections: readonly Rejection[]): unknown[][] {
  return [
    rejections.map((r) => r.messageId),
    rejections.map((r) => r.reason),
    rejections.map((r) => r.field),
    rejections.map((r) => r.detail),
    rejections.map((r) => r.receiveCount),
    rejections.map((r) => r.sentAtMs),
    rejections.map((r) => r.redactedBody),
  ];
}

export function vaultColumns(entries: readonly VaultEntry[]): unknown[][] {
  return [
    entries.map((e) => e.maskedValue),
    entries.map((e) => e.field),
    entries.map((e) => e.vaultKeyId),
    entries.map((e) => e.nonce),
    entries.map((e) => e.ciphertext),
  ];
}
