// What the vault tests share: public test keys, the workload's originals by user id, and a look
// at the vault as a PII officer would have it (every entry opened with the test key).
import type pg from 'pg';
import { canonicalIp } from '../../src/transform/ip.js';
import { createVaultCipher, type VaultEntry } from '../../src/vault/cipher.js';

/** Test vault keys (hex, 32 bytes); public, like the test mask key. */
export const TEST_VAULT_KEY = 'b7'.repeat(32);
export const TEST_VAULT_KEY_2 = 'c8'.repeat(32);
/** A second mask key, for rotation. */
export const TEST_MASK_KEY_2 = 'd9'.repeat(32);

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

interface EntryRow {
  masked_value: string;
  field: 'ip' | 'device_id';
  vault_key_id: string;
  nonce: Buffer;
  ciphertext: Buffer;
}

/** Every vault entry, opened with the given keys (by key id); throws if one does not open. */
export async function openVault(pool: pg.Pool, keys: Record<string, string>): Promise<Map<string, { field: string; keyId: string; value: string }>> {
  const rows = await pool.query<EntryRow>('SELECT masked_value, field, vault_key_id, nonce, ciphertext FROM sqs2pg_vault.entries');
  const ciphers = new Map(Object.entries(keys).map(([id, hex]) => [id, createVaultCipher(Buffer.from(hex, 'hex'), id)]));
  const opened = new Map<string, { field: string; keyId: string; value: string }>();
  for (const row of rows.rows) {
    const entry: VaultEntry = { maskedValue: row.masked_value, field: row.field, vaultKeyId: row.vault_key_id, nonce: row.nonce, ciphertext: row.ciphertext };
    const cipher = ciphers.get(row.vault_key_id);
    if (!cipher) throw new Error(`no test key for vault key id ${row.vault_key_id}`);
    opened.set(row.masked_value, { field: row.field, keyId: row.vault_key_id, value: cipher.open(entry) });
  }
  return opened;
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
