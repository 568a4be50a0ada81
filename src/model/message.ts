// The shapes that cross the transform boundary: a received message in, a row or a rejection out.

/** The login event's masked fields: their names are the labels their masks are made under. */
export type MaskedField = 'ip' | 'device_id';

/**
 * The label a mask's key is derived under and its vault entry's `field`: a login's `ip` or
 * `device_id`, or a declared column's maskLabel (ColumnSpec). A plain identifier, never a value.
 */
export type MaskLabel = string;

/** SQS's largest message body: its default MaximumMessageSize, and the most a queue may allow. */
export const SQS_MAX_BODY_BYTES = 1024 * 1024;

/** What the transform needs of an SQS message; receipt handles stay in the source. */
export interface InboundMessage {
  messageId: string;
  body: string;
  /** SentTimestamp, epoch milliseconds */
  sentAtMs: number;
  /** ApproximateReceiveCount */
  receiveCount: number;
}

/** One row of user_logins, plus the columns sqs2pg adds. */
export interface LoginRow {
  /** the SQS MessageId, or an unwrapped envelope's key (`sns:` or `eventbridge:` and its id; see envelope.ts) */
  messageId: string;
  userId: string;
  /** Masker.userKey(userId): what erasure tombstones are matched against; not a column */
  userKey: string;
  deviceType: string;
  maskedIp: string;
  maskedDeviceId: string;
  locale: string | null;
  appVersion: number;
  appVersionRaw: string;
  /** UTC date of SentTimestamp (an unwrapped envelope's time), YYYY-MM-DD, so a replay gives the same row */
  createDate: string;
  /** SentTimestamp (an unwrapped envelope's time), epoch milliseconds: what a record made of the row later is dated by */
  sentAtMs: number;
}

/**
 * A row of any pipeline's table, as the sink writes it: the login pipeline's and every declared
 * one's alike (storedColumnsOf gives the columns, in this order).
 */
export interface TableRow {
  /** the idempotency key, stored in sqs_message_id: the SQS MessageId or an unwrapped envelope's key */
  messageId: string;
  /** the keyed hash erasure matches (logins: Masker.userKey(user_id); declared: Masker.subjectKey); null: nobody's */
  subjectKey: string | null;
  /** the stored columns' values as text (PostgreSQL casts them); null is NULL */
  values: readonly (string | null)[];
  /** the masks the row holds: its vault entries are written only with it */
  masks: readonly string[];
  /** SentTimestamp, or an unwrapped envelope's time: a record made of the row (db_rejected) is dated as the row is */
  sentAtMs: number;
}

export const rejectReasons = [
  'not_json',
  'not_object',
  'missing_field',
  'bad_type',
  'too_long',
  'bad_char',
  'bad_ip',
  'bad_app_version',
  /** a value of the right JSON type that its column cannot hold (a date that is no day, 2^31 in an integer) */
  'bad_value',
  'too_large',
  'bad_envelope',
  'payload_unavailable',
  'db_rejected',
] as const;
export type RejectReason = (typeof rejectReasons)[number];

/** What a quarantine record says about a body: never one of its values. */
export interface BodyFacts {
  /** UTF-8 bytes, as SQS counts them */
  bytes: number;
  /** Masker.bodyHash of the body (a keyed HMAC-SHA-256): two copies of one bad message match */
  hash: string;
  /** ASCII JSON text of the body's shape (see body-shape.ts) */
  shape: string;
  /** masks of the ip values that could be read from it (the login pipeline's; empty for a declared one) */
  maskedIps: string[];
  maskedDeviceIds: string[];
  /**
   * A declared pipeline's: the masks of its `pii: mask` fields that could be read from it, by each
   * column's mask label (`{"masked_email": ["k1:…"]}`), as the row would have held them. Empty for logins.
   */
  maskedValues: Readonly<Record<MaskLabel, readonly string[]>>;
}

/** A message that cannot become a row, as the quarantine keeps it: no personal data in clear. */
export interface Rejection {
  /** as LoginRow's: an event unwrapped from an envelope is recorded under the envelope's key */
  messageId: string;
  reason: RejectReason;
  /** the offending field, when one is to blame */
  field: string | null;
  /** extra machine-readable detail, e.g. the SQLSTATE PostgreSQL answered */
  detail: string | null;
  receiveCount: number;
  sentAtMs: number;
  /** Masker.userKey of the body's user_id, when one can be read: tombstones and forget find the record by it */
  userKey: string | null;
  /** null in a minimal record: the one written when PostgreSQL refused the full one */
  body: BodyFacts | null;
}

/** A mask and the value it was made from: what the vault encrypts. Personal data in clear. */
export interface MaskedOriginal {
  mask: string;
  field: MaskLabel;
  /** the value as masked (an ip in its canonical form) */
  value: string;
}

/** A message's fate as the transform decides it: a row of its table (`R`), or a quarantine record. */
export type RowOutcome<R> = { kind: 'row'; row: R } | { kind: 'rejected'; rejection: Rejection };

/** The login transform's outcome (messageToRow). */
export type Outcome = RowOutcome<LoginRow>;

/** What a pipeline hands its sink: any pipeline's row, in its table's shape. */
export type TableOutcome = RowOutcome<TableRow>;
