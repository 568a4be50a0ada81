// The SQL of sqs2pg rotate over rows and vault entries (the quarantine's and the tombstones' own
// passes are in quarantine/rekey.ts and vault/tombstones.ts), on one connection that holds the
// rotation's session lock. Each batch is one transaction under the vault's shared lock: rows are
// locked, their new masks' entries inserted, the rows updated, and all of it commits together, so
// a crash leaves every row either as it was or fully re-masked. What is left to do is read from
// the data itself (rows whose masks are not under the target key id, entries not under the target
// vault key id, or legacy v1 entries): a rerun resumes. Any pipeline's table is re-masked the same
// way, by the columns rotation-targets.ts found (user_logins' masked_ip and masked_device_id are
// one such target). Rotation reads every ciphertext, so it runs as the tables' owner, like
// migrate; the PII officer's role holds no privilege on the entries (see sql/0005).
import pg from 'pg';
import type { PoolClient } from '../db/pool.js';
import { BEGIN_VAULT_DELETE, BEGIN_VAULT_WRITE } from '../db/vault-lock.js';
import { recordAudit, type AuditRecord } from './audit.js';
import { ENTRY_COLUMNS, entryColumns, INSERT_ENTRIES, toVaultEntry, type EntryRow, type VaultEntry } from './entry.js';
import type { RemaskTarget } from './rotation-targets.js';

const ROTATION_LOCK = "hashtext('sqs2pg rotate')";

const q = pg.escapeIdentifier;
/** `column` holds a mask under another key id than the prefix in parameter `param`. */
const underOtherKey = (column: string, param: string) => `(${column} IS NOT NULL AND left(${column}, length(${param})) <> ${param})`;
const anyUnderOtherKey = (target: RemaskTarget, param: string, alias = '') => target.columns.map((c) => underOtherKey(alias + q(c.name), param)).join(' OR ');

// Rows with a mask (or subject key) under another key id, in message-id order from a cursor (the unique index).
const rowsToRemask = (target: RemaskTarget) => `
SELECT sqs_message_id, ${target.columns.map((c, i) => `${q(c.name)} AS c${i}`).join(', ')} FROM ${target.table}
 WHERE sqs_message_id > $1 AND (${anyUnderOtherKey(target, '$2')})
 ORDER BY sqs_message_id LIMIT $3
   FOR UPDATE`;

const updateMasks = (target: RemaskTarget) => `
UPDATE ${target.table} u
   SET ${target.columns.map((c, i) => `${q(c.name)} = COALESCE(v.c${i}, u.${q(c.name)})`).join(', ')}
  FROM unnest($1::varchar[], ${target.columns.map((_, i) => `$${i + 2}::varchar[]`).join(', ')}) AS v(id, ${target.columns.map((_, i) => `c${i}`).join(', ')})
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

/** Rows of one table still keyed by another mask key id. */
export interface RowsLeft {
  rows: number;
  /** how many a rerun can re-mask (written meanwhile by workers on the old key): an entry opens to their value */
  remaskable: number;
  /** how many sqs2pg did not write (no message id) */
  withoutMessageId: number;
  /** rows whose subject key is under another key id with no sealed subject to re-key it from */
  subjectKeysLeft: number;
}

export class RotationStore {
  constructor(private readonly client: PoolClient) {}

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

  /** Re-masks a batch of `target`'s rows whose masks (or subject key) are under another key id than `keyId`. */
  async remaskBatch(target: RemaskTarget, after: string, keyId: string, limit: number, remask: Remask): Promise<RemaskBatch> {
    return this.transaction(BEGIN_VAULT_WRITE, async () => {
      const prefix = `${keyId}:`;
      const width = target.columns.length;
      const rows = (await this.client.query<Record<string, string | null>>(rowsToRemask(target), [after, prefix, limit])).rows;
      const masksOf = (row: Record<string, string | null>) => Array.from({ length: width }, (_, i) => row[`c${i}`] ?? null);
      const old = new Set<string>();
      for (const row of rows) for (const mask of masksOf(row)) if (mask !== null && !mask.startsWith(prefix)) old.add(mask);
      const found = old.size === 0 ? [] : (await this.client.query<EntryRow>(
        `SELECT ${ENTRY_COLUMNS} FROM sqs2pg_vault.entries WHERE masked_value = ANY($1::varchar[])`,
        [[...old]],
      )).rows.map(toVaultEntry);
      const next = remask(found);
      const vaulted = await this.insertReplacements(next);
      const updates = rows
        .map((row) => ({ id: row.sqs_message_id!, masks: masksOf(row).map((mask) => (mask === null ? null : (next.get(mask)?.maskedValue ?? null))) }))
        .filter((update) => update.masks.some((mask) => mask !== null));
      if (updates.length > 0) {
        await this.client.query(updateMasks(target), [updates.map((u) => u.id), ...Array.from({ length: width }, (_, i) => updates.map((u) => u.masks[i]))]);
      }
      return {
        lastMessageId: rows.at(-1)?.sqs_message_id ?? undefined,
        rows: rows.length,
        remasked: updates.length,
        unvaulted: [...old].filter((mask) => !next.has(mask)).length,
        vaulted,
      };
    });
  }

  /** Inserts the new entries (sorted: concurrent writers lock shared masks in one order) and links each old one to its own. */
  private async insertReplacements(next: Map<string, VaultEntry>): Promise<number> {
    if (next.size === 0) return 0;
    const fresh = [...next.values()].sort((a, b) => (a.maskedValue < b.maskedValue ? -1 : a.maskedValue > b.maskedValue ? 1 : 0));
    const vaulted = (await this.client.query(INSERT_ENTRIES, entryColumns(fresh))).rowCount ?? 0;
    await this.client.query(LINK_REPLACED, [[...next.keys()], [...next.values()].map((entry) => entry.maskedValue)]);
    return vaulted;
  }

  /**
   * Crypto-shreds the entries of other mask key ids that no row of any target uses any more: their
   * rows now carry the new masks. Only entries of the fields the targets name (an entry of a
   * pipeline the registry does not know is left alone), and only masks: a sealed column's entry is
   * named by its reference, under no key id, whatever its label. Under the vault's delete lock, so a
   * worker still on the old key cannot commit a row whose entry this removes; it scans every target
   * table, and workers' commits wait meanwhile.
   */
  async deleteUnusedEntriesOfOtherMaskKeys(keyId: string, targets: readonly RemaskTarget[]): Promise<number> {
    const fields = [...new Set(targets.flatMap((t) => t.columns.map((c) => c.field)))];
    if (fields.length === 0) return 0;
    const unused = targets.flatMap((t) => t.columns.map((c) => `AND NOT EXISTS (SELECT 1 FROM ${t.table} u WHERE u.${q(c.name)} = e.masked_value)`));
    return this.transaction(BEGIN_VAULT_DELETE, async () => {
      const deleted = await this.client.query(
        `DELETE FROM sqs2pg_vault.entries e
          WHERE left(e.masked_value, length($1)) <> $1
            AND e.field = ANY($2::text[])
            AND e.masked_value ~ '^[a-z0-9]{1,16}:[0-9a-f]{64}$'
            ${unused.join('\n            ')}`,
        [`${keyId}:`, fields],
      );
      return deleted.rowCount ?? 0;
    });
  }

  /** `target`'s rows still carrying a mask (or subject key) under another key id than `keyId`. */
  async rowsNotOn(keyId: string, target: RemaskTarget): Promise<RowsLeft> {
    const masks = target.columns.map((c) => `u.${q(c.name)}`).join(', ');
    const subject = target.columns.find((c) => c.field.startsWith('subject:'));
    const subjectLeft = subject
      ? `count(*) FILTER (WHERE ${underOtherKey(`u.${q(subject.name)}`, '$1')} AND NOT EXISTS (SELECT 1 FROM sqs2pg_vault.entries e WHERE e.masked_value = u.${q(subject.name)}))`
      : '0';
    const result = await this.client.query<{ rows: string; remaskable: string; without_id: string; subject_left: string }>(
      `SELECT count(*) AS rows,
              count(*) FILTER (WHERE sqs_message_id IS NOT NULL AND EXISTS (
                SELECT 1 FROM sqs2pg_vault.entries e
                 WHERE e.masked_value IN (${masks}) AND left(e.masked_value, length($1)) <> $1)) AS remaskable,
              count(*) FILTER (WHERE sqs_message_id IS NULL) AS without_id,
              ${subjectLeft} AS subject_left
         FROM ${target.table} u
        WHERE ${anyUnderOtherKey(target, '$1', 'u.')}`,
      [`${keyId}:`],
    );
    const row = result.rows[0];
    return {
      rows: Number(row?.rows ?? 0),
      remaskable: Number(row?.remaskable ?? 0),
      withoutMessageId: Number(row?.without_id ?? 0),
      subjectKeysLeft: Number(row?.subject_left ?? 0),
    };
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
