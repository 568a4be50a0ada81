// Writes one batch of one pipeline in one transaction: its rows with one INSERT ... SELECT FROM
// unnest(...) into the pipeline's table, then it asks each stored concern to add its part: the
// quarantine its records (and sealed bodies), the vault its entries. A message id already present is
// skipped, which is what makes redelivery harmless; so is a mask already vaulted.
// First, in the same transaction, the batch's subject keys are checked against the erasure
// tombstones: an erased subject's rows, quarantine records, sealed bodies and vault entries are
// dropped here, so every path that writes through the sink (workers, replay) honours an erasure. The
// check also takes the erasure lock (shared, to the commit; sql/0007), which orders the batch against forget.
import type { Pool, PoolClient } from '../../db/pool.js';
import { inRolledBackTransaction, inTransaction } from '../../db/transaction.js';
import type { Rejection, TableRow } from '../../model/message.js';
import { insertQuarantine, insertSealedBodies, type SealedBody } from '../../quarantine/write.js';
import { insertEntries, type VaultEntry } from '../../vault/entry.js';
import { stopTombstoned } from '../../vault/tombstones.js';
import { insertRowsSql, type SinkTarget } from './conflict-target.js';

export type { SealedBody } from '../../quarantine/write.js';

const REHEARSAL_LOCK_TIMEOUT = '1s';

export interface WriteResult {
  /** rows inserted; rows.length - inserted were already present (redelivered) */
  inserted: number;
  quarantined: number;
  /** vault entries added (masks not vaulted before) */
  vaulted: number;
  /** messages of erased subjects: neither loaded nor quarantined (committed all the same, so deleted from the queue) */
  erased: number;
  /** of which rows (the rest were quarantine records) */
  erasedRows: number;
  /** the tombstoned subject keys the batch held */
  erasedKeys: ReadonlySet<string>;
  /** records not written: their message's row is here already (late copies whose S3 object went with its commit) */
  loadedAlready: ReadonlySet<string>;
}

export interface SinkBatch {
  rows: readonly TableRow[];
  rejections: readonly Rejection[];
  vault?: readonly VaultEntry[];
  /** vault on: the whole bodies of the rejections, sealed */
  sealedBodies?: readonly SealedBody[];
}

export class PostgresSink {
  private readonly insertRows: string;
  private readonly width: number;

  /** `target`: the pipeline's table as found in the database (sinkTargetOf). */
  constructor(
    private readonly pool: Pool,
    private readonly target: SinkTarget,
  ) {
    this.insertRows = insertRowsSql(target);
    this.width = target.columns.length;
  }

  /** the pipeline whose rows this sink writes */
  get pipeline(): string {
    return this.target.pipeline;
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
    const keys: string[] = [];
    for (const row of rows) if (row.subjectKey !== null) keys.push(row.subjectKey);
    for (const rejection of rejections) if (rejection.userKey !== null) keys.push(rejection.userKey);
    const erased = await stopTombstoned(client, keys);
    const loadedAlready = await rowsPresent(client, this.target.table, rejections);
    const recorded = loadedAlready.size === 0 ? rejections : rejections.filter((r) => !loadedAlready.has(r.messageId));
    const keptRows = erased.size === 0 ? rows : rows.filter((row) => row.subjectKey === null || !erased.has(row.subjectKey));
    const keptRejections = erased.size === 0 ? recorded : recorded.filter((r) => r.userKey === null || !erased.has(r.userKey));
    // An entry goes only with a row that stays, a sealed body only with a record that stays.
    const keptMasks = erased.size === 0 ? undefined : new Set(keptRows.flatMap((row) => row.masks));
    const keptVault = keptMasks ? vault.filter((entry) => keptMasks.has(entry.maskedValue)) : vault;
    const keptIds = keptRejections === rejections ? undefined : new Set(keptRejections.map((r) => r.messageId));
    const keptBodies = keptIds ? sealedBodies.filter((body) => keptIds.has(body.messageId)) : sealedBodies;
    const inserted = keptRows.length === 0 ? 0 : ((await client.query(this.insertRows, this.rowColumns(keptRows))).rowCount ?? 0);
    const quarantined = await insertQuarantine(client, this.target.pipeline, keptRejections);
    await insertSealedBodies(client, this.target.pipeline, keptBodies);
    // Last, so a worker never holds a vault entry while it waits on a row: with the entries sorted,
    // it cannot deadlock with another worker or a rotation.
    const vaulted = await insertEntries(client, keptVault);
    const erasedRows = rows.length - keptRows.length;
    return { inserted, quarantined, vaulted, erased: erasedRows + recorded.length - keptRejections.length, erasedRows, erasedKeys: erased, loadedAlready };
  }

  /** The message ids, then one array per stored column: the statement's parameters. */
  private rowColumns(rows: readonly TableRow[]): unknown[][] {
    const columns: (string | null)[][] = [rows.map((row) => row.messageId)];
    for (let c = 0; c < this.width; c++) {
      const column = new Array<string | null>(rows.length);
      for (let r = 0; r < rows.length; r++) column[r] = (rows[r] as TableRow).values[c] ?? null;
      columns.push(column);
    }
    return columns;
  }
}

const NONE: ReadonlySet<string> = new Set();

/**
 * The `payload_unavailable` records whose message already has its row: a late copy of a loaded
 * message (SNS's second delivery of a notification, SQS's rare second copy) whose S3 object went
 * with the first copy's commit (--s3-delete-after-commit). The row stands; a record beside it would
 * say the message was lost. Asked only when the batch holds such a record.
 */
async function rowsPresent(client: PoolClient, table: string, rejections: readonly Rejection[]): Promise<ReadonlySet<string>> {
  const ids = rejections.filter((r) => r.reason === 'payload_unavailable').map((r) => r.messageId);
  if (ids.length === 0) return NONE;
  const result = await client.query<{ id: string }>(`SELECT sqs_message_id AS id FROM ${table} WHERE sqs_message_id = ANY($1::varchar[])`, [ids]);
  return result.rows.length === 0 ? NONE : new Set(result.rows.map((row) => row.id));
}
