// The SQL of sqs2pg rotate over rows and vault entries (the quarantine's and the tombstones' own
// passes are in quarantine/rekey.ts and vault/tombstones.ts), on one connection that holds the
// rotation's session lock. Each batch is one transaction under the vault's shared lock: rows are
// locked, their new masks' entries inserted, the rows updated, and all of it commits together, so
// a crash leaves every row either as it was or fully re-masked. What is left to do is read from
// the data itself (rows whose masks are not under the target key id, entries not under the target
// vault key id, or legacy v1 entries): a rerun resumes. Rotation reads every ciphertext, so it
// runs as the tables' owner, like migrate; the PII officer's role holds no privilege on the
// entries (see sql/0005).
import type { PoolClient } from '../db/pool.js';
import { BEGIN_VAULT_DELETE, BEGIN_VAULT_WRITE } from '../db/vault-lock.js';
import { recordAudit, type AuditRecord } from './audit.js';
import { ENTRY_COLUMNS, entryColumns, INSERT_ENTRIES, toVaultEntry, type EntryRow, type VaultEntry } from './entry.js';

const ROTATION_LOCK = "hashtext('sqs2pg rotate')";

// Rows with a mask under another key id, in message-id order from a cursor (the unique index).
const rowsToRemask = (table: string) => `
SELECT sqs_message_id, masked_ip, masked_device_id FROM ${table}
 WHERE sqs_message_id > $1
   AND ((masked_ip IS NOT NULL AND left(masked_ip, length($2)) <> $2)
     OR (masked_device_id IS NOT NULL AND left(masked_device_id, length($2)) <> $2))
 ORDER BY sqs_message_id LIMIT $3
   FOR UPDATE`;

const updateMasks = (table: string) => `
UPDATE ${table} u
   SET masked_ip = COALESCE(v.ip, u.masked_ip), masked_device_id = COALESCE(v.device_id, u.masked_device_id)
  FROM unnest($1::varchar[], $2::varchar[], $3::varchar[]) AS v(id, ip, device_id)
 WHERE u.sqs_message_id = v.id`;

// Each old entry names the entry that replaced it: forget follows the link (sql/0007), so an erased
// user's values leave no entry under the old key behind, even before the clean-up at the end.
const LINK_REPLACED = `
UPDATE sqs2pg_vault.entries e SET superseded_by = v.next
  FROM unnest($1::varchar[], $2::varchar[]) AS v(old, next)
 WHERE e.masked_value = v.old`;

const ENTRIES_TO_REENCRYPT = `
SELECT ${ENTRY_COLUMNS} FROM sqs2pg_vault.entries
 WHERE masked_value > $1 AND (vault_key_id <> $2 OR ephemeral_public_key IS NULL)
 ORDER BY masked_value LIMIT $3
   FOR UPDATE`;

const UPDATE_ENTRIES = `
UPDATE sqs2pg_vault.entries e
   SET vault_key_id = v.key_id, ephemeral_public_key = v.epk, nonce = v.nonce, ciphertext = v.ciphertext
  FROM unnest($1::varchar[], $2::text[], $3::bytea[], $4::bytea[], $5::bytea[]) AS v(masked_value, key_id, epk, nonce, ciphertext)
 WHERE e.masked_value = v.masked_value`;

const SEALED_BY_KEY_ID = `
SELECT id, kind, count(*) AS n FROM (
  SELECT vault_key_id AS id, 'entries' AS kind FROM sqs2pg_vault.entries
  UNION ALL SELECT vault_key_id, 'bodies' FROM sqs2pg_vault.quarantine_bodies
  UNION ALL SELECT vault_key_id, 'tombstones' FROM sqs2pg.tombstones WHERE vault_key_id IS NOT NULL
) sealed GROUP BY id, kind`;

/** How many items of each kind the vault holds sealed. */
export interface SealedCounts {
  entries: number;
  bodies: number;
  tombstones: number;
}

export interface RemaskBatch {
  /** the cursor for the next batch; undefined when this one found no row */
  lastMessageId: string | undefined;
  rows: number;
  /** rows that got at least one new mask */
  remasked: number;
  /** distinct old masks without a vault entry (vault off when written, or erased): left as they are */
  unvaulted: number;
  /** new vault entries (a worker under the new key may have vaulted some already) */
  vaulted: number;
}

/**
 * `remask` gets the entries of the batch's old masks and returns, per old mask, the entry of its
 * new mask (sealed under the current vault key).
 */
export type Remask = (entries: readonly VaultEntry[]) => Map<string, VaultEntry>;

export class RotationStore {
  /** `table`: user_logins, schema-qualified (see db/user-logins.ts). */
  constructor(
    private readonly client: PoolClient,
    private readonly table: string,
  ) {}

  /** The database's clock (tombstones are stamped by it). */
  async now(): Promise<Date> {
    const result = await this.client.query<{ now: Date }>('SELECT now() AS now');
    return result.rows[0]!.now;
  }

  /** The rotation's session lock: one rotation per database at a time; freed if the process dies. */
  async tryLock(): Promise<boolean> {
    const result = await this.client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(${ROTATION_LOCK}) AS ok`);
    return result.rows[0]?.ok === true;
  }

  async unlock(): Promise<void> {
    await this.client.query(`SELECT pg_advisory_unlock(${ROTATION_LOCK})`);
  }

  async remaskBatch(after: string, keyId: string, limit: number, remask: Remask): Promise<RemaskBatch> {
    return this.transaction(BEGIN_VAULT_WRITE, async () => {
      const prefix = `${keyId}:`;
      const rows = await this.client.query<{ sqs_message_id: string; masked_ip: string | null; masked_device_id: string | null }>(
        rowsToRemask(this.table),
        [after, prefix, limit],
      );
      const old = new Set<string>();
      for (const row of rows.rows) {
        for (const mask of [row.masked_ip, row.masked_device_id]) if (mask !== null && !mask.startsWith(prefix)) old.add(mask);
      }
      const found = old.size === 0 ? [] : (await this.client.query<EntryRow>(
        `SELECT ${ENTRY_COLUMNS} FROM sqs2pg_vault.entries WHERE masked_value = ANY($1::varchar[])`,
        [[...old]],
      )).rows.map(toVaultEntry);
      const next = remask(found);
      const fresh = [...next.values()].sort((a, b) => (a.maskedValue < b.maskedValue ? -1 : a.maskedValue > b.maskedValue ? 1 : 0));
      const vaulted = fresh.length === 0 ? 0 : ((await this.client.query(INSERT_ENTRIES, entryColumns(fresh))).rowCount ?? 0);
      if (next.size > 0) await this.client.query(LINK_REPLACED, [[...next.keys()], [...next.values()].map((entry) => entry.maskedValue)]);
      const updates = rows.rows
        .map((row) => ({
          id: row.sqs_message_id,
          ip: row.masked_ip === null ? null : (next.get(row.masked_ip)?.maskedValue ?? null),
          deviceId: row.masked_device_id === null ? null : (next.get(row.masked_device_id)?.maskedValue ?? null),
        }))
        .filter((update) => update.ip !== null || update.deviceId !== null);
      if (updates.length > 0) {
        await this.client.query(updateMasks(this.table), [updates.map((u) => u.id), updates.map((u) => u.ip), updates.map((u) => u.deviceId)]);
      }
      return {
        lastMessageId: rows.rows.at(-1)?.sqs_message_id,
        rows: rows.rows.length,
        remasked: updates.length,
        unvaulted: [...old].filter((mask) => !next.has(mask)).length,
        vaulted,
      };
    });
  }

  /**
   * Crypto-shreds the entries of other mask key ids that no row uses any more: their rows now
   * carry the new masks. Under the vault's delete lock, so a worker still on the old key cannot
   * commit a row whose entry this removes; it scans user_logins, and workers' commits wait meanwhile.
   */
  async deleteUnusedEntriesOfOtherMaskKeys(keyId: string): Promise<number> {
    return this.transaction(BEGIN_VAULT_DELETE, async () => {
      const deleted = await this.client.query(
        `DELETE FROM sqs2pg_vault.entries e
          WHERE left(e.masked_value, length($1)) <> $1
            AND NOT EXISTS (SELECT 1 FROM ${this.table} u WHERE u.masked_ip = e.masked_value)
            AND NOT EXISTS (SELECT 1 FROM ${this.table} u WHERE u.masked_device_id = e.masked_value)`,
        [`${keyId}:`],
      );
      return deleted.rowCount ?? 0;
    });
  }

  /**
   * Rows still carrying a mask under another key id: how many a rerun can re-mask (written
   * meanwhile by workers on the old key), and how many sqs2pg did not write (no message id).
   */
  async rowsNotOn(keyId: string): Promise<{ rows: number; remaskable: number; withoutMessageId: number }> {
    const result = await this.client.query<{ rows: string; remaskable: string; without_id: string }>(
      `SELECT count(*) AS rows,
              count(*) FILTER (WHERE sqs_message_id IS NOT NULL AND EXISTS (
                SELECT 1 FROM sqs2pg_vault.entries e
                 WHERE e.masked_value IN (u.masked_ip, u.masked_device_id) AND left(e.masked_value, length($1)) <> $1)) AS remaskable,
              count(*) FILTER (WHERE sqs_message_id IS NULL) AS without_id
         FROM ${this.table} u
        WHERE (masked_ip IS NOT NULL AND left(masked_ip, length($1)) <> $1)
           OR (masked_device_id IS NOT NULL AND left(masked_device_id, length($1)) <> $1)`,
      [`${keyId}:`],
    );
    const row = result.rows[0];
    return { rows: Number(row?.rows ?? 0), remaskable: Number(row?.remaskable ?? 0), withoutMessageId: Number(row?.without_id ?? 0) };
  }

  /** Everything sealed to the vault, by vault key id: entries, quarantined bodies, tombstones' user ids. */
  async sealedByKeyId(): Promise<Map<string, SealedCounts>> {
    const result = await this.client.query<{ id: string; kind: keyof SealedCounts; n: string }>(SEALED_BY_KEY_ID);
    const counts = new Map<string, SealedCounts>();
    for (const row of result.rows) {
      const entry = counts.get(row.id) ?? { entries: 0, bodies: 0, tombstones: 0 };
      entry[row.kind] = Number(row.n);
      counts.set(row.id, entry);
    }
    return counts;
  }

  /** What is still sealed to another vault key than `keyId` (legacy v1 entries included). */
  async sealedNotUnder(keyId: string): Promise<SealedCounts> {
    const result = await this.client.query<{ entries: string; bodies: string; tombstones: string }>(
      `SELECT (SELECT count(*) FROM sqs2pg_vault.entries WHERE vault_key_id <> $1 OR ephemeral_public_key IS NULL) AS entries,
              (SELECT count(*) FROM sqs2pg_vault.quarantine_bodies WHERE vault_key_id <> $1) AS bodies,
              (SELECT count(*) FROM sqs2pg.tombstones WHERE vault_key_id <> $1) AS tombstones`,
      [keyId],
    );
    const row = result.rows[0];
    return { entries: Number(row?.entries ?? 0), bodies: Number(row?.bodies ?? 0), tombstones: Number(row?.tombstones ?? 0) };
  }

  /**
   * The rotation's last step, in one transaction under the vault's delete lock, which forget also
   * takes (and which waits for the workers' vault writes in progress): what it finds left is all
   * there is, and no forget commits a tombstone under a key id between that count and a retirement.
   */
  async finishing<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    return this.transaction(BEGIN_VAULT_DELETE, () => work(this.client));
  }

  /** Re-encrypts a batch of entries not under `keyId`; returns the cursor and how many it did. */
  async reencryptBatch(
    after: string,
    keyId: string,
    limit: number,
    reseal: (entries: readonly VaultEntry[]) => VaultEntry[],
  ): Promise<{ lastMaskedValue: string | undefined; entries: number }> {
    return this.transaction(BEGIN_VAULT_WRITE, async () => {
      const rows = (await this.client.query<EntryRow>(ENTRIES_TO_REENCRYPT, [after, keyId, limit])).rows.map(toVaultEntry);
      const sealed = reseal(rows);
      if (sealed.length > 0) {
        await this.client.query(UPDATE_ENTRIES, [
          sealed.map((e) => e.maskedValue),
          sealed.map((e) => e.vaultKeyId),
          sealed.map((e) => e.ephemeralPublicKey),
          sealed.map((e) => e.nonce),
          sealed.map((e) => e.ciphertext),
        ]);
      }
      return { lastMaskedValue: rows.at(-1)?.maskedValue, entries: rows.length };
    });
  }

  async audit(record: AuditRecord): Promise<void> {
    await this.transaction('BEGIN', () => recordAudit(this.client, record));
  }

  /** Runs `work` in one transaction on the rotation's connection. */
  async inTransaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    return this.transaction('BEGIN', () => work(this.client));
  }

  private async transaction<T>(begin: string, work: () => Promise<T>): Promise<T> {
    await this.client.query(begin);
    try {
      const result = await work();
      await this.client.query('COMMIT');
      return result;
    } catch (error) {
      await this.client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }
}
