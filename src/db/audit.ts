// Rows of sqs2pg_vault.audit. Who and when are the columns' defaults (current_user, session_user,
// the client address, now()), set by the server inside the same transaction as the act audited.
import type { PoolClient } from './pool.js';

export type AuditAction = 'reveal' | 'forget_user' | 'forget_masked' | 'rotate';

export interface AuditRecord {
  action: AuditAction;
  /** the mask concerned, where one is; never an original value */
  maskedValue?: string | undefined;
  reason?: string | undefined;
  /** counts and key ids: nothing that was erased */
  detail?: Record<string, string | number> | undefined;
}

export async function writeAudit(client: PoolClient, record: AuditRecord): Promise<void> {
  await client.query('INSERT INTO sqs2pg_vault.audit (action, masked_value, reason, detail) VALUES ($1, $2, $3, $4)', [
    record.action,
    record.maskedValue ?? null,
    record.reason ?? null,
    record.detail === undefined ? null : JSON.stringify(record.detail),
  ]);
}
