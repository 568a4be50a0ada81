// Which unique index makes the insert idempotent. A plain user_logins has one on sqs_message_id; a
// table partitioned by create_date can only have one that includes it, (sqs_message_id, create_date),
// which is as idempotent: create_date comes from SentTimestamp, the same for every copy of a message.
import type { UserLoginsTable } from '../../db/user-logins.js';

export type ConflictTarget = '(sqs_message_id)' | '(sqs_message_id, create_date)';

export function conflictTargetOf(table: UserLoginsTable): ConflictTarget {
  return table.partitioned ? '(sqs_message_id, create_date)' : '(sqs_message_id)';
}
