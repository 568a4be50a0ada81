// The right to erasure, each in one transaction under the vault's delete lock. Deleting a vault
// entry is crypto-shredding: the mask stays where it is, but nothing can turn it back into the value.
// Finding which masks are still used scans user_logins (its mask columns carry no index, which
// would slow every insert); workers' commits wait for that scan.
import { writeAudit } from './audit.js';
import type { Pool, PoolClient } from './pool.js';
import { inTransaction } from './transaction.js';
import { BEGIN_VAULT_DELETE } from './vault-lock.js';

export interface ForgetUserResult {
  rows: number;
  quarantined: number;
  /** vault entries deleted: masks only this user's rows had */
  vaultEntries: number;
  /** vault entries kept because other rows use the same value */
  vaultEntriesKept: number;
}

/** `userKeys`: Masker.userKey of the user id under each mask key that may have written records. */
export async function forgetUser(pool: Pool, userId: string, userKeys: readonly string[], reason: string | undefined): Promise<ForgetUserResult> {
  return inTransaction(pool, BEGIN_VAULT_DELETE, async (client) => {
    const gone = await client.query<{ masked_ip: string | null; masked_device_id: string | null }>(
      'DELETE FROM user_logins WHERE user_id = $1 RETURNING masked_ip, masked_device_id',
      [userId],
    );
    const masks = [...new Set(gone.rows.flatMap((row) => [row.masked_ip, row.masked_device_id]).filter((mask) => mask !== null))];
    const quarantined = await forgetQuarantined(client, userKeys);
    const { deleted, kept } = await deleteUnusedEntries(client, masks);
    const result = { rows: gone.rowCount ?? 0, quarantined, vaultEntries: deleted, vaultEntriesKept: kept };
    // Counts only: neither the user id nor the masks, which the erasure is meant to leave nowhere.
    await writeAudit(client, { action: 'forget_user', reason, detail: { ...result } });
    return result;
  });
}

export interface ForgetMaskedResult {
  vaultEntries: number;
  /** rows that keep the mask, now irreversible */
  rowsUsingIt: number;
}

export async function forgetMasked(pool: Pool, maskedValue: string, reason: string | undefined): Promise<ForgetMaskedResult> {
  return inTransaction(pool, BEGIN_VAULT_DELETE, async (client) => {
    const deleted = await client.query('DELETE FROM sqs2pg_vault.entries WHERE masked_value = $1', [maskedValue]);
    const using = await client.query<{ n: string }>('SELECT count(*) AS n FROM user_logins WHERE masked_ip = $1 OR masked_device_id = $1', [maskedValue]);
    const result = { vaultEntries: deleted.rowCount ?? 0, rowsUsingIt: Number(using.rows[0]?.n ?? 0) };
    // The mask itself may be recorded: the rows that keep it are still there.
    await writeAudit(client, { action: 'forget_masked', maskedValue, reason, detail: { ...result } });
    return result;
  });
}

/** Deletes the entries of `masks` that no row of user_logins uses any more. */
async function deleteUnusedEntries(client: PoolClient, masks: readonly string[]): Promise<{ deleted: number; kept: number }> {
  if (masks.length === 0) return { deleted: 0, kept: 0 };
  const result = await client.query<{ deleted: string; kept: string }>(
    `WITH used AS (
       SELECT masked_ip AS mask FROM user_logins WHERE masked_ip = ANY($1::varchar[])
       UNION
       SELECT masked_device_id FROM user_logins WHERE masked_device_id = ANY($1::varchar[])
     ), deleted AS (
       DELETE FROM sqs2pg_vault.entries
        WHERE masked_value = ANY($1::varchar[]) AND masked_value NOT IN (SELECT mask FROM used)
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM deleted) AS deleted,
            (SELECT count(*) FROM sqs2pg_vault.entries WHERE masked_value IN (SELECT mask FROM used)) AS kept`,
    [masks],
  );
  return { deleted: Number(result.rows[0]?.deleted ?? 0), kept: Number(result.rows[0]?.kept ?? 0) };
}

/** Quarantine records of the user, found by the user's key: the records hold no user id in clear. */
async function forgetQuarantined(client: PoolClient, userKeys: readonly string[]): Promise<number> {
  if (userKeys.length === 0) return 0;
  const deleted = await client.query('DELETE FROM sqs2pg.quarantine WHERE user_key = ANY($1::varchar[])', [userKeys]);
  return deleted.rowCount ?? 0;
}
