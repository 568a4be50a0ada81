// What the vault tests share: public test keys, the workload's originals by user id, and a look
// at the vault as a PII officer would have it (every entry opened with the test keys).
import type pg from 'pg';
import { canonicalIp } from '../../src/transform/ip.js';
import { createVaultCipher } from '../../src/vault/cipher.js';
import { toVaultEntry, type EntryRow } from '../../src/vault/entry.js';
import { createVaultOpener, entryContext } from '../../src/vault/sealed-box.js';
import type { PipelineSpec } from '../../src/model/pipeline.js';
import { valueAt } from './declared-load.js';

/** Test vault key pairs (hex, 32 bytes each); public, like the test mask key. */
export const TEST_VAULT_PUBLIC_KEY = 'c8c0e32d2f3198911945feb5be09983113261b3a4f0da48a6628f52176c4661d';
export const TEST_VAULT_PRIVATE_KEY = '08558402254966377c6f9983d55dab7e494ea4a59d182f63d6ff4c1b4ae94e78';
export const TEST_VAULT_PUBLIC_KEY_2 = '1ad7c4add7fa25473bbc96bf20df0958e6b75786aa3a554bfe3d2db125537b26';
export const TEST_VAULT_PRIVATE_KEY_2 = '78b8efb5e4d02d03e7a807789c48dabfa5edad79c92a95d25fcb895ddbb74d6c';
/** Legacy (v1, symmetric) vault keys, for entries written before the vault was sealed. */
export const TEST_VAULT_KEY = '29ff5cd0a4514bcb8257061060ca91ec7da8c21a841564df22dbe28ebaf336fe';
export const TEST_VAULT_KEY_2 = '10580758f216c2797756dc362e0139c2941ea108580fabb065d6c47f8e680747';
/** A second mask key, for rotation. */
export const TEST_MASK_KEY_2 = 'df9bc54028245fa329dc355bef87cfedd8e62efb6952e97fe525f059ec5a1286';

/** Keys for openVault: a private key (sealed entries) or a legacy key, by key id. */
export type TestKeys = Record<string, { private: string } | { legacy: string }>;

export interface Original {
  ip: string;
  deviceId: string;
}

/** The canonical ip and the device id of every well-formed body, by user_id (unique in samples). */
export function originalsByUser(bodies: readonly string[]): Map<string, Original> {
  const byUser = new Map<string, Original>();
  for (const body of bodies) {
    try {
      const event = JSON.parse(body) as { user_id?: unknown; ip?: unknown; device_id?: unknown };
      if (typeof event.user_id !== 'string' || typeof event.ip !== 'string' || typeof event.device_id !== 'string') continue;
      const ip = canonicalIp(event.ip);
      if (ip !== null) byUser.set(event.user_id, { ip, deviceId: event.device_id });
    } catch {
      // a malformed body: not a row
    }
  }
  return byUser;
}

/** Every raw ip and device_id text of the workload, well-formed or not, for scans. */
export function rawValues(bodies: readonly string[]): string[] {
  const values = new Set<string>();
  for (const body of bodies) {
    for (const match of body.matchAll(/"(?:ip|device_id)"\s*:\s*"([^"]+)"/g)) if (match[1]) values.add(match[1]);
  }
  return [...values];
}

/** Every vault entry, opened with the given keys (by key id); throws if one does not open. */
export async function openVault(pool: pg.Pool, keys: TestKeys): Promise<Map<string, { field: string; keyId: string; value: string; sealed: boolean }>> {
  const rows = await pool.query<EntryRow>('SELECT masked_value, field, vault_key_id, ephemeral_public_key, nonce, ciphertext FROM sqs2pg_vault.entries');
  const opened = new Map<string, { field: string; keyId: string; value: string; sealed: boolean }>();
  for (const row of rows.rows) {
    const entry = toVaultEntry(row);
    const key = keys[row.vault_key_id];
    if (!key) throw new Error(`no test key for vault key id ${row.vault_key_id}`);
    let value: string;
    if ('legacy' in key) value = createVaultCipher(Buffer.from(key.legacy, 'hex'), row.vault_key_id).open(entry);
    else {
      if (entry.ephemeralPublicKey === null) throw new Error(`entry ${row.masked_value} is not sealed`);
      value = createVaultOpener(Buffer.from(key.private, 'hex'), row.vault_key_id)
        .open({ vaultKeyId: entry.vaultKeyId, ephemeralPublicKey: entry.ephemeralPublicKey, nonce: entry.nonce, ciphertext: entry.ciphertext }, entryContext(entry.field, entry.maskedValue))
        .toString('utf8');
    }
    opened.set(row.masked_value, { field: row.field, keyId: row.vault_key_id, value, sealed: entry.ephemeralPublicKey !== null });
  }
  return opened;
}

/** Writes legacy (v1) entries as sqs2pg before 0.2 did, for the upgrade tests. */
export async function insertLegacyEntries(pool: pg.Pool, legacyKeyHex: string, keyId: string, items: readonly { mask: string; field: 'ip' | 'device_id'; value: string }[]): Promise<void> {
  const cipher = createVaultCipher(Buffer.from(legacyKeyHex, 'hex'), keyId);
  for (const item of items) {
    const entry = cipher.seal(item.mask, item.field, item.value);
    await pool.query('INSERT INTO sqs2pg_vault.entries (masked_value, field, vault_key_id, nonce, ciphertext) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING', [
      entry.maskedValue,
      entry.field,
      entry.vaultKeyId,
      entry.nonce,
      entry.ciphertext,
    ]);
  }
}

export interface RowMasks {
  sqs_message_id: string;
  user_id: string;
  masked_ip: string;
  masked_device_id: string;
}

export async function rowMasks(pool: pg.Pool): Promise<RowMasks[]> {
  const result = await pool.query<RowMasks>('SELECT sqs_message_id, user_id, masked_ip, masked_device_id FROM user_logins ORDER BY sqs_message_id');
  return result.rows;
}

/** Every text the vault schema holds (entries and audit), as one string, plus the raw ciphertext bytes. */
export async function vaultDump(pool: pg.Pool): Promise<{ text: string; bytes: Buffer }> {
  const text = await pool.query<{ t: string | null }>(
    `SELECT (SELECT string_agg(row_to_json(e)::text, E'\\n') FROM sqs2pg_vault.entries e) || E'\\n' ||
            coalesce((SELECT string_agg(row_to_json(a)::text, E'\\n') FROM sqs2pg_vault.audit a), '') AS t`,
  );
  const bytes = await pool.query<{ b: Buffer | null }>("SELECT string_agg(nonce || ciphertext, '\\x00'::bytea) AS b FROM sqs2pg_vault.entries");
  return { text: text.rows[0]?.t ?? '', bytes: bytes.rows[0]?.b ?? Buffer.alloc(0) };
}

const maskedColumnsOf = (spec: PipelineSpec) => spec.columns.filter((column) => column.pii === 'mask' && column.from.kind === 'path');

/**
 * Any pipeline's originalsByUser: the personal values of every body whose subject and masked fields
 * are all text (an ip canonical), by masked column, by subject. The test decides which bodies are
 * rows; this reads what a row of each would hold.
 */
export function originalsBySubject(spec: PipelineSpec, bodies: readonly string[]): Map<string, Record<string, string>> {
  const bySubject = new Map<string, Record<string, string>>();
  for (const body of bodies) {
    let event: unknown;
    try {
      event = JSON.parse(body);
    } catch {
      continue;
    }
    const subject = spec.subject === null ? undefined : valueAt(event, spec.subject);
    if (typeof subject !== 'string') continue;
    const values: Record<string, string> = {};
    for (const column of maskedColumnsOf(spec)) {
      const value = column.from.kind === 'path' ? valueAt(event, column.from.path) : undefined;
      const text = typeof value !== 'string' ? null : column.type.kind === 'ip' ? canonicalIp(value) : value;
      if (text !== null) values[column.name] = text;
    }
    bySubject.set(subject, values);
  }
  return bySubject;
}

/** Any pipeline's rawValues: every raw text of a masked field's key in the workload, well-formed or not. */
export function rawValuesOf(spec: PipelineSpec, bodies: readonly string[]): string[] {
  const keys = maskedColumnsOf(spec).map((column) => (column.from.kind === 'path' ? column.from.path.at(-1)! : ''));
  const pattern = new RegExp(`"(?:${keys.join('|')})"\\s*:\\s*"([^"]+)"`, 'g');
  const values = new Set<string>();
  for (const body of bodies) for (const match of body.matchAll(pattern)) if (match[1]) values.add(match[1]);
  return [...values];
}

/** Any pipeline's rowMasks: each row's message id, subject and its masked columns' masks by column. */
export async function rowMasksOf(pool: pg.Pool, spec: PipelineSpec): Promise<{ sqs_message_id: string; subject: string; masks: Record<string, string> }[]> {
  const columns = maskedColumnsOf(spec).map((column) => column.name);
  const subject = spec.columns.find((column) => column.from.kind === 'path' && spec.subject !== null && column.from.path.join('.') === spec.subject.join('.'))!.name;
  const result = await pool.query<Record<string, string>>(`SELECT sqs_message_id, ${subject} AS subject, ${columns.join(', ')} FROM ${spec.table.name} ORDER BY sqs_message_id`);
  return result.rows.map((row) => ({ sqs_message_id: row.sqs_message_id!, subject: row.subject!, masks: Object.fromEntries(columns.map((column) => [column, row[column]!])) }));
}
