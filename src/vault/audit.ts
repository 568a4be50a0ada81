// Rows of sqs2pg_vault.audit are written only by the schema owner's functions (sql/0005): the
// officer's reveal and forget write theirs inside those functions; rotate, run by the owner,
// through the same helper. Who and when are set by the server.
import type { PoolClient } from '../db/pool.js';

export type AuditAction = 'reveal' | 'forget_user' | 'forget_masked' | 'forget_subject' | 'rotate' | 'quarantine_reveal' | 'replay';

export interface AuditRecord {
  action: AuditAction;
  /** the mask concerned, where one is; never an original value */
  maskedValue?: string | undefined;
  reason?: string | undefined;
  /** counts and key ids: nothing that was erased */
  detail?: Record<string, string | number> | undefined;
}

export async function recordAudit(client: PoolClient, record: AuditRecord): Promise<void> {
  await client.query('SELECT sqs2pg_vault.record_audit($1, $2, $3, $4)', [
    record.action,
    record.maskedValue ?? null,
    record.reason ?? null,
    record.detail === undefined ? null : JSON.stringify(record.detail),
  ]);
}
