// Writes one batch in one transaction: all its rows with one INSERT ... SELECT FROM unnest(...),
// all its quarantine records with another, and (vault on) its vault entries with a third. A message
// id already present is skipped, which is what makes redelivery harmless; so is a mask already vaulted.
// First, in the same transaction, the batch's user keys are checked against the erasure tombstones:
// an erased user's rows, quarantine records, sealed bodies and vault entries are dropped here, so
// every path that writes through the sink (workers, replay) honours an erasure. The check also takes
// the erasure lock (shared, to the commit; sql/0007), which orders the whole batch against forget.
import type { Pool, PoolClient } from '../../db/pool.js';
import { inRolledBackTransaction, inTransaction } from '../../db/transaction.js';
import type { UserLoginsTable } from '../../db/user-logins.js';
import type { LoginRow, Rejection } from '../../model/message.js';
import { entryColumns, INSERT_ENTRIES, type VaultEntry } from '../../vault/entry.js';
import type { SealedItem } from '../../vault/sealed-box.js';
import { stopTombstoned } from '../../vault/tombstones.js';
import { conflictTargetOf } from './conflict-target.js';

const insertRows = (table: UserLoginsTable) => `
INSERT INTO ${table.name}
  (sqs_message_id, user_id, device_type, masked_ip, masked_device_id, locale, app_version, app_version_raw, create_date)
SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::varchar[],
                     $7::integer[], $8::varchar[], $9::date[])
ON CONFLICT ${conflictTargetOf(table)} DO NOTHING`;

// Masks are passed as array literals (key id, colon, hex: nothing to quote) because unnest would
// flatten an array of arrays; a declared pipeline's masks by label as JSON text (sql/0011).
const INSERT_QUARANTINE = `
INSERT INTO sqs2pg.quarantine
  (sqs_message_id, reason, field, detail, receive_count, sent_at, body_bytes, body_sha256, body_shape, masked_ips, masked_device_ids, user_key, masked_values)
SELECT id, reason, field, detail, receive_count, to_timestamp(sent_ms / 1000.0), bytes, sha256, shape, ips::varchar(256)[], devices::varchar(256)[], user_key, masked_values::jsonb
FROM unnest($1::varchar[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::bigint[], $7::integer[], $8::text[], $9::text[],
            $10::text[], $11::text[], $12::varchar[], $13::text[])
  AS q(id, reason, field, detail, receive_count, sent_ms, bytes, sha256, shape, ips, devices, user_key, masked_values)
ON CONFLICT (sqs_message_id) DO NOTHING`;

// One statement per body with binary parameters: an array of bytea would travel as hex text, twice
// the size of bodies that may each be 1 MiB. Quarantined messages are rare, so the round trips are too.
const INSERT_SEALED_BODY = `
INSERT INTO sqs2pg_vault.quarantine_bodies (sqs_message_id, vault_key_id, ephemeral_public_key, nonce, ciphertext)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT DO NOTHING`;

const REHEARSAL_LOCK_TIMEOUT = '1s';

/** A quarantined body sealed to the vault's public key (context: quarantineContext(messageId)). */
export interface SealedBody {
  messageId: string;
  sealed: SealedItem;
}


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

export interface SinkBatch {
  rows: readonly LoginRow[];
  rejections: readonly Rejection[];
  vault?: readonly VaultEntry[];
  /** vault on: the whole bodies of the rejections, sealed */
  sealedBodies?: readonly SealedBody[];
}

export class PostgresSink {
  private readonly insertRows: string;

  /** `table`: as findUserLogins found it (a partitioned user_logins needs its partition key in the conflict target). */
  constructor(
    private readonly pool: Pool,
    table: UserLoginsTable,
  ) {
    this.insertRows = insertRows(table);
  }

  /** Commits the rows, the rejections and the vault entries together, or nothing; throws the database's error. */
  async write(batch: SinkBatch): Promise<WriteResult> {
    // A socket reset mid-batch fails the query in flight (the writer retries) and the connection
    // is discarded: inTransaction listens for the checked-out client's errors, which pg-pool does not.
    return inTransaction(this.pool, 'BEGIN', (client) => this.writeIn(client, batch));
  }

  /**
   * Every statement `write` would send for this batch, then a rollback: throws what the database
   * would refuse a real batch (a privilege, a column, a trigger), and keeps nothing. It waits for no
   * lock longer than REHEARSAL_LOCK_TIMEOUT: a table locked by a migration or a person says nothing
   * about privileges, and the lock timeout's error (55P03) is transient, which the caller ignores.
   */
  async rehearse(batch: SinkBatch): Promise<void> {
    await inRolledBackTransaction(this.pool, `BEGIN; SET LOCAL lock_timeout = '${REHEARSAL_LOCK_TIMEOUT}'`, (client) => this.writeIn(client, batch));
  }

  /**
   * The same statements in a transaction the caller holds (replay deletes its records in it too).
   * A caller that locks rows before this must take the erasure lock first (BEGIN_VAULT_WRITE), or
   * forget, which takes it before its deletes, could wait on those rows while this waits on it.
   */
  async writeIn(client: PoolClient, { rows, rejections, vault = [], sealedBodies = [] }: SinkBatch): Promise<WriteResult> {
    const keys = [...rows.map((row) => row.userKey), ...rejections.flatMap((r) => (r.userKey === null ? [] : [r.userKey]))];
    const erased = await stopTombstoned(client, keys);
    const keptRows = erased.size === 0 ? rows : rows.filter((row) => !erased.has(row.userKey));
    const keptRejections = erased.size === 0 ? rejections : rejections.filter((r) => r.userKey === null || !erased.has(r.userKey));
    // An entry goes only with a row that stays, a sealed body only with a record that stays.
    const keptMasks = erased.size === 0 ? undefined : new Set(keptRows.flatMap((row) => [row.maskedIp, row.maskedDeviceId]));
    const keptVault = keptMasks ? vault.filter((entry) => keptMasks.has(entry.maskedValue)) : vault;
    const keptIds = erased.size === 0 ? undefined : new Set(keptRejections.map((r) => r.messageId));
    const keptBodies = keptIds ? sealedBodies.filter((body) => keptIds.has(body.messageId)) : sealedBodies;
    const inserted = keptRows.length === 0 ? 0 : ((await client.query(this.insertRows, rowColumns(keptRows))).rowCount ?? 0);
    const quarantined =
      keptRejections.length === 0 ? 0 : ((await client.query(INSERT_QUARANTINE, rejectionColumns(keptRejections))).rowCount ?? 0);
    for (const { messageId, sealed } of keptBodies) {
      await client.query(INSERT_SEALED_BODY, [messageId, sealed.vaultKeyId, sealed.ephemeralPublicKey, sealed.nonce, sealed.ciphertext]);
    }
    // Last, so a worker never holds a vault entry while it waits on a row: with the entries sorted,
    // it cannot deadlock with another worker or a rotation.
    const vaulted = keptVault.length === 0 ? 0 : ((await client.query(INSERT_ENTRIES, entryColumns(keptVault))).rowCount ?? 0);
    const erasedRows = rows.length - keptRows.length;
    return { inserted, quarantined, vaulted, erased: erasedRows + rejections.length - keptRejections.length, erasedRows, erasedKeys: erased };
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
    rejections.map((r) => r.body?.bytes ?? null),
    rejections.map((r) => r.body?.hash ?? null),
    rejections.map((r) => r.body?.shape ?? null),
    rejections.map((r) => (r.body ? `{${r.body.maskedIps.join(',')}}` : null)),
    rejections.map((r) => (r.body ? `{${r.body.maskedDeviceIds.join(',')}}` : null)),
    rejections.map((r) => r.userKey),
    rejections.map((r) => (r.body ? JSON.stringify(r.body.maskedValues) : null)),
  ];
}

