// Reads one vault entry and records the reveal in the audit table, in one transaction: the
// original is handed back only once the audit row is committed.
import { writeAudit } from './audit.js';
import type { Pool } from './pool.js';
import { inTransaction } from './transaction.js';
import type { VaultEntry } from '../vault/cipher.js';
import type { MaskedField } from '../transform/mask.js';

interface EntryRow {
  masked_value: string;
  field: MaskedField;
  vault_key_id: string;
  nonce: Buffer;
  ciphertext: Buffer;
}

export const ENTRY_COLUMNS = 'masked_value, field, vault_key_id, nonce, ciphertext';

export function toVaultEntry(row: EntryRow): VaultEntry {
  return { maskedValue: row.masked_value, field: row.field, vaultKeyId: row.vault_key_id, nonce: row.nonce, ciphertext: row.ciphertext };
}

export type { EntryRow };

/** The opened value, or undefined when the vault holds no entry for the mask (nothing is audited then). */
export async function revealWithAudit(
  pool: Pool,
  maskedValue: string,
  reason: string,
  open: (entry: VaultEntry) => string,
): Promise<string | undefined> {
  return inTransaction(pool, 'BEGIN', async (client) => {
    const result = await client.query<EntryRow>(`SELECT ${ENTRY_COLUMNS} FROM sqs2pg_vault.entries WHERE masked_value = $1`, [maskedValue]);
    const row = result.rows[0];
    if (!row) return undefined;
    const value = open(toVaultEntry(row));
    await writeAudit(client, { action: 'reveal', maskedValue, reason });
    return value;
  });
}
