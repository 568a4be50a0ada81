// Reveal, in two steps that the officer cannot reorder: sqs2pg_vault.begin_reveal writes the
// audit row, which is committed at once (autocommit); only then does sqs2pg_vault.revealed_entry
// hand out the ciphertext, and only for a committed reveal of this login. Rolling back cannot
// take the audit row with it, and the officer has no other way to the entries.
import type { Pool } from '../db/pool.js';
import { toVaultEntry, type EntryRow, type VaultEntry } from './entry.js';

/** The opened value, or undefined when the vault holds no entry for the mask (nothing is audited then). */
export async function revealWithAudit(pool: Pool, maskedValue: string, reason: string, open: (entry: VaultEntry) => string): Promise<string | undefined> {
  const begun = await pool.query<{ id: string | null }>('SELECT sqs2pg_vault.begin_reveal($1, $2) AS id', [maskedValue, reason]);
  const auditId = begun.rows[0]?.id;
  if (auditId === null || auditId === undefined) return undefined;
  const entry = await pool.query<EntryRow>('SELECT * FROM sqs2pg_vault.revealed_entry($1)', [auditId]);
  const row = entry.rows[0];
  // Erased between the two steps: the reveal is audited, and nothing is shown.
  return row && open(toVaultEntry(row));
}
