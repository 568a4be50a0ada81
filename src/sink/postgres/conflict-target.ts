// Where a pipeline's rows go: its table, its stored columns and their types, and which unique
// index makes the insert idempotent. A plain table has one on sqs_message_id; a user_logins
// partitioned by create_date can only have one that includes it, (sqs_message_id, create_date),
// which is as idempotent: create_date comes from SentTimestamp, the same for every copy of a message.
import pg from 'pg';
import type { UserLoginsTable } from '../../db/user-logins.js';
import { MESSAGE_ID_COLUMN, storedColumnsOf, type PipelineSpec } from '../../model/pipeline.js';

export type ConflictTarget = '(sqs_message_id)' | '(sqs_message_id, create_date)';

export function conflictTargetOf(table: Pick<UserLoginsTable, 'partitioned'>): ConflictTarget {
  return table.partitioned ? '(sqs_message_id, create_date)' : '(sqs_message_id)';
}

/** What the sink needs to write one pipeline's rows and records. */
export interface SinkTarget {
  /** the pipeline's name: its quarantine records' `pipeline` */
  pipeline: string;
  /** schema-qualified and quoted, e.g. "public"."page_views" */
  table: string;
  /** storedColumnsOf(spec), in TableRow.values' order: the quoted name and the type the text values are cast to */
  columns: readonly { name: string; castTo: string }[];
  conflictTarget: ConflictTarget;
}

/**
 * The target of `spec`'s rows in `table` (as found in the database: findUserLogins for the login
 * pipeline, the declared table's plan for another). Values are cast to each type without its
 * modifier: an explicit cast to varchar(n) would cut a longer text short, where the column's own
 * assignment refuses it (22001) and the row is quarantined.
 */
export function sinkTargetOf(spec: PipelineSpec, table: Pick<UserLoginsTable, 'name' | 'partitioned'>): SinkTarget {
  return {
    pipeline: spec.name,
    table: table.name,
    columns: storedColumnsOf(spec).map((column) => ({ name: pg.escapeIdentifier(column.name), castTo: column.sqlType.replace(/\(.*\)$/, '') })),
    conflictTarget: conflictTargetOf(table),
  };
}

/** One INSERT ... SELECT FROM unnest(...) for a batch of the target's rows; $1 the message ids, then a text array per column. */
export function insertRowsSql(target: SinkTarget): string {
  const names = [MESSAGE_ID_COLUMN, ...target.columns.map((column) => column.name)];
  const arrays = ['$1::varchar[]', ...target.columns.map((column, i) => `$${i + 2}::${column.castTo}[]`)];
  return `INSERT INTO ${target.table} (${names.join(', ')})
SELECT * FROM unnest(${arrays.join(', ')})
ON CONFLICT ${target.conflictTarget} DO NOTHING`;
}
