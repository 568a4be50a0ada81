// Writes one batch in one transaction: all its rows with one INSERT ... SELECT FROM unnest(...),
// all its quarantine records with another, and (vault on) its vault entries with a third. A message
// id already present is skipped, which is what makes redelivery harmless; so is a mask already vaulted.
// First, in the same transaction, the batch's user keys are checked against the erasure tombstones:
// an erased user's rows, quarantine records and vault entries are dropped here, so every path that
// writes through the sink (workers, replay) honours an erasure.
import type { Pool } from '../../db/pool.js';
import { inTransaction } from '../../db/transaction.js';
import { BEGIN_VAULT_WRITE } from '../../db/vault-lock.js';
import type { LoginRow, Rejection } from '../../transform/types.js';
import { entryColumns, INSERT_ENTRIES, type VaultEntry } from '../../vault/entry.js';
import { stopTombstoned } from '../../vault/tombstones.js';

const INSERT_ROWS = `
INSERT INTO user_logins
  (sqs_message_id, user_id, device_type, masked_ip, masked_device_id, locale, app_version, app_version_raw, create_date)
SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::varchar[],
                     $7::integer[], $8::varchar[], $9::date[])
ON CONFLICT (sqs_message_id) DO NOTHING`;

const INSERT_QUARANTINE = `
INSERT INTO sqs2pg.quarantine (sqs_message_id, reason, field, detail, receive_count, sent_at, redacted_body, user_key)
SELECT id, reason, field, detail, receive_count, to_timestamp(sent_ms / 1000.0), body, user_key
FROM unnest($1::varchar[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::bigint[], $7::text[], $8::text[])
  AS q(id, reason, field, detail, receive_count, sent_ms, body, user_key)
ON CONFLICT (sqs_message_id) DO NOTHING`;

export interface WriteResult {
  /** rows inserted; rows.length - inserted were already present (redelivered) */
  inserted: number;
  quarantined: number;
  /** vault entries added (masks not vaulted before) */
  vaulted: number;
  /** messages of erased users: neither loaded nor quarantined (committed all the same, so deleted from the queue) */
  erased: number;
  /** of which rows (the rest were quarantine records) */
  erasedRows: number;
  /** the tombstoned user keys the batch held */
  erasedKeys: ReadonlySet<string>;
}

export class PostgresSink {
  constructor(private readonly pool: Pool) {}

  /** Commits the rows, the rejections and the vault entries together, or nothing; throws the database's error. */
  async write(rows: readonly LoginRow[], rejections: readonly Rejection[], vault: readonly VaultEntry[] = []): Promise<WriteResult> {
    // A socket reset mid-batch fails the query in flight (the writer retries) and the connection
    // is discarded: inTransaction listens for the checked-out client's errors, which pg-pool does not.
    return inTransaction(this.pool, vault.length === 0 ? 'BEGIN' : BEGIN_VAULT_WRITE, async (client) => {
      const keys = [...rows.map((row) => row.userKey), ...rejections.flatMap((r) => (r.userKey === null ? [] : [r.userKey]))];
      const erased = await stopTombstoned(client, keys);
      const keptRows = erased.size === 0 ? rows : rows.filter((row) => !erased.has(row.userKey));
      const keptRejections = erased.size === 0 ? rejections : rejections.filter((r) => r.userKey === null || !erased.has(r.userKey));
      // An entry goes only with a row that stays: masks of erased users' rows are not vaulted.
      const keptMasks = erased.size === 0 ? undefined : new Set(keptRows.flatMap((row) => [row.maskedIp, row.maskedDeviceId]));
      const keptVault = keptMasks ? vault.filter((entry) => keptMasks.has(entry.maskedValue)) : vault;
      const inserted = keptRows.length === 0 ? 0 : ((await client.query(INSERT_ROWS, rowColumns(keptRows))).rowCount ?? 0);
      const quarantined =
        keptRejections.length === 0 ? 0 : ((await client.query(INSERT_QUARANTINE, rejectionColumns(keptRejections))).rowCount ?? 0);
      // Last, so a worker never holds a vault entry while it waits on a row: with the entries sorted,
      // it cannot deadlock with another worker or a rotation.
      const vaulted = keptVault.length === 0 ? 0 : ((await client.query(INSERT_ENTRIES, entryColumns(keptVault))).rowCount ?? 0);
      const erasedRows = rows.length - keptRows.length;
      return { inserted, quarantined, vaulted, erased: erasedRows + rejections.length - keptRejections.length, erasedRows, erasedKeys: erased };
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
    rejections.map((r) => r.userKey),
  ];
}
