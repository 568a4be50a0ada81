// Which unique index makes the insert idempotent. A plain user_logins has one on sqs_message_id; a
// table partitioned by create_date can only have one that includes it, (sqs_message_id, create_date),
// which is as idempotent: create_date comes from SentTimestamp, the same for every copy of a message.
import type { Pool } from '../../db/pool.js';

export type ConflictTarget = '(sqs_message_id)' | '(sqs_message_id, create_date)';
export const CONFLICT_ON_MESSAGE_ID: ConflictTarget = '(sqs_message_id)';

/** Asks the catalogue whether user_logins is partitioned (needs no privilege beyond USAGE on the schema). */
export async function conflictTargetOf(pool: Pick<Pool, 'query'>): Promise<ConflictTarget> {
  const result = await pool.query<{ partitioned: boolean }>(
    `SELECT relkind = 'p' AS partitioned FROM pg_class WHERE oid = to_regclass('user_logins')`,
  );
  return result.rows[0]?.partitioned ? '(sqs_message_id, create_date)' : CONFLICT_ON_MESSAGE_ID;
}
