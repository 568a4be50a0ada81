// The vocabulary of a declared pipeline: one queue into one table, its columns read from the event
// by path, typed, and some of them personal. Types only and two pure helpers: the pipeline file
// (config/), the event reader (transform/) and the table planner (db/) all speak it.

/** Where a column's value comes from: a dotted path into the event, or a fact of the message. */
export type FieldSource =
  | { kind: 'path'; path: readonly string[] }
  /** `$sent_date`: the UTC date of SentTimestamp (YYYY-MM-DD), so a replay gives the same row */
  | { kind: 'sent_date' }
  /** `$sent_at`: SentTimestamp as a timestamptz */
  | { kind: 'sent_at' }
  /** `$message_id`: the SQS MessageId */
  | { kind: 'message_id' };

/** The message facts a column can name in `from:` instead of a path. */
export const MESSAGE_FACTS = {
  $sent_date: 'sent_date',
  $sent_at: 'sent_at',
  $message_id: 'message_id',
} as const satisfies Record<string, Exclude<FieldSource['kind'], 'path'>>;

export type ColumnType =
  | { kind: 'text' }
  | { kind: 'varchar'; length: number }
  | { kind: 'integer' }
  | { kind: 'bigint' }
  | { kind: 'numeric' }
  | { kind: 'boolean' }
  | { kind: 'date' }
  | { kind: 'timestamptz' }
  | { kind: 'jsonb' }
  /** an address in its canonical form (transform/ip.ts), stored as text */
  | { kind: 'ip' }
  /** today's app_version rule (transform/app-version.ts), stored as integer */
  | { kind: 'version' };

/**
 * What a column does with a personal value: `mask` stores `<keyId>:` + a keyed HMAC of the value's
 * canonical text (sealing the original in the vault when the vault is on); `seal` keeps only the
 * sealed original, in the vault, and stores the name of its entry (`sealed:` + 32 hex, one per row,
 * so no two rows match; NULL with the vault off).
 */
export type Pii = 'none' | 'mask' | 'seal';

export interface ColumnSpec {
  /** the table's column name */
  name: string;
  from: FieldSource;
  type: ColumnType;
  /** absent (or null, unless `nullable`) refuses the message as missing_field */
  required: boolean;
  /** a required field that may be null (the login event's locale) */
  nullable: boolean;
  pii: Pii;
  /**
   * The label a mask's key is derived under (`sqs2pg mask v1 <label>`): the column's own name by
   * default; the builtin logins pipeline keeps `ip` and `device_id` so its masks stay as they are.
   */
  maskLabel: string;
}

/** A table, optionally schema-qualified; both parts are plain identifiers (config/ checks them). */
export interface TableName {
  schema: string | null;
  name: string;
}

/** auto: unwrap a well-formed SNS or EventBridge envelope, leave every other body as it is; sns / eventbridge: require it (transform/envelope.ts) */
export const envelopeModes = ['auto', 'none', 'sns', 'eventbridge'] as const;
export type EnvelopeMode = (typeof envelopeModes)[number];

/** resolve: fetch the S3 object an SQS extended client pointer names and read it as the body; off: a pointer is a body like any other */
export const s3PayloadModes = ['resolve', 'off'] as const;
export type S3PayloadMode = (typeof s3PayloadModes)[number];

export interface PipelineSpec {
  /** the pipeline's name: a label on metrics, the quarantine's `pipeline` column, `--pipeline NAME` */
  name: string;
  /** true for the take-home's login pipeline, whatever the file says of its columns */
  builtin: boolean;
  /** the queue's URL (or name, resolved as today's queue setting is) */
  queue: string;
  table: TableName;
  /** the path to whose data a message is: erasure and tombstones match on it; null: nobody's */
  subject: readonly string[] | null;
  /** in the order faults are checked, so a body's reported reason is always the same one */
  columns: readonly ColumnSpec[];
  /** the envelopes around this queue's events; absent: the process's --envelope */
  envelope?: EnvelopeMode;
  /** this queue's S3-offloaded payloads; absent: the process's --s3-payloads */
  s3Payloads?: S3PayloadMode;
}

/** The PostgreSQL type a column is stored as. */
export function sqlTypeOf(type: ColumnType): string {
  switch (type.kind) {
    case 'varchar':
      return `varchar(${type.length})`;
    case 'ip':
      return 'text';
    case 'version':
      return 'integer';
    default:
      return type.kind;
  }
}

/** The column that stores the subject's value as read, when one does (same path, no pii). */
export function subjectColumnOf(spec: PipelineSpec): ColumnSpec | undefined {
  const subject = spec.subject;
  if (subject === null) return undefined;
  return spec.columns.find(
    (column) =>
      column.from.kind === 'path' &&
      column.pii === 'none' &&
      column.from.path.length === subject.length &&
      column.from.path.every((part, i) => part === subject[i]),
  );
}

/** sqs2pg's own column in every table it loads: the SQS message id, unique, so a redelivery is harmless. */
export const MESSAGE_ID_COLUMN = 'sqs_message_id';
/** The column that holds the subject's key when no column holds the subject as read. */
export const SUBJECT_KEY_COLUMN = 'sqs2pg_subject_key';
/**
 * The vault entry field of a keyed subject's sealed value (sql/0013): its mask is the subject's key
 * (Masker.subjectKey(scope, value)), so rotate can give the rows the key a new mask key gives. The
 * `subject:` prefix is no column's label: labels are plain identifiers.
 */
export const subjectEntryField = (scope: string): string => `subject:${scope}`;

/** The scope of a subject entry's field, or undefined for a column's label. */
export function subjectScopeOfField(field: string): string | undefined {
  return field.startsWith('subject:') ? field.slice('subject:'.length) : undefined;
}
/** Masks (`<keyId>:` + 64 hex) fit the take-home's masked columns, varchar(256). */
export const MASK_SQL_TYPE = 'varchar(256)';

/**
 * A column of the table as stored: a declared column's value, the text a `version` column was read
 * from (`<name>_raw`, as the login table's app_version_raw; only when not pii), or the subject's key.
 */
export interface StoredColumn {
  name: string;
  /** the PostgreSQL type it is created as */
  sqlType: string;
  role: 'value' | 'version_raw' | 'subject_key';
  /** the declared column it comes from; null for the subject's key */
  column: ColumnSpec | null;
}

/**
 * The table's columns in the order the event reader gives their values (sqs_message_id aside, which
 * the sink adds). A masked or sealed column holds a mask or NULL, whatever its value's type.
 */
export function storedColumnsOf(spec: PipelineSpec): StoredColumn[] {
  const stored: StoredColumn[] = [];
  for (const column of spec.columns) {
    stored.push({ name: column.name, sqlType: column.pii === 'none' ? sqlTypeOf(column.type) : MASK_SQL_TYPE, role: 'value', column });
    if (column.type.kind === 'version' && column.pii === 'none') {
      stored.push({ name: `${column.name}_raw`, sqlType: 'varchar(32)', role: 'version_raw', column });
    }
  }
  if (spec.subject !== null && !subjectColumnOf(spec)) stored.push({ name: SUBJECT_KEY_COLUMN, sqlType: MASK_SQL_TYPE, role: 'subject_key', column: null });
  return stored;
}
