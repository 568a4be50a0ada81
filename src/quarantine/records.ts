// Reading the quarantine for operators: counts by reason and day, and one record's metadata.
// Nothing read here is personal data: the records hold shapes, hashes and masks only.
import type { Pool } from '../db/pool.js';

export interface ReasonDayCount {
  day: string;
  /** the pipeline whose queue the records came from (sql/0010; every earlier record is logins') */
  pipeline: string;
  reason: string;
  count: number;
  bytes: number;
}

/** Newest day first, then by pipeline and the most frequent reason; `pipeline`: that pipeline's only. */
export async function countsByReasonAndDay(pool: Pool, limit: number, pipeline?: string): Promise<ReasonDayCount[]> {
  const result = await pool.query<{ day: string; pipeline: string; reason: string; count: string; bytes: string | null }>(
    `SELECT to_char(date_trunc('day', quarantined_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day, pipeline, reason,
            count(*) AS count, sum(body_bytes) AS bytes
       FROM sqs2pg.quarantine WHERE $2::text IS NULL OR pipeline = $2::text
      GROUP BY 1, 2, 3 ORDER BY 1 DESC, 2, 4 DESC, 3 LIMIT $1`,
    [limit, pipeline ?? null],
  );
  return result.rows.map((row) => ({ day: row.day, pipeline: row.pipeline, reason: row.reason, count: Number(row.count), bytes: Number(row.bytes ?? 0) }));
}

/** The records of every pipeline but `except`'s, by pipeline (of `reason` only, when given). */
export async function countsOfOtherPipelines(pool: Pool, except: readonly string[], reason?: string): Promise<Map<string, number>> {
  const result = await pool.query<{ pipeline: string; count: string }>(
    `SELECT pipeline, count(*) AS count FROM sqs2pg.quarantine
      WHERE pipeline <> ALL ($1::text[]) AND ($2::text IS NULL OR reason = $2::text) GROUP BY 1 ORDER BY 1`,
    [except, reason ?? null],
  );
  return new Map(result.rows.map((row) => [row.pipeline, Number(row.count)]));
}

export interface QuarantineRecord {
  messageId: string;
  pipeline: string;
  reason: string;
  field: string | null;
  detail: string | null;
  receiveCount: number;
  sentAt: string;
  quarantinedAt: string;
  bodyBytes: number | null;
  bodySha256: string | null;
  bodyShape: unknown;
  maskedIps: string[];
  maskedDeviceIds: string[];
  /** a declared pipeline's masks by label (sql/0011); {} for logins and minimal records */
  maskedValues: Record<string, string[]>;
  userKey: string | null;
}

/** The records of `messageId` (one per pipeline that refused it, sql/0014), or `pipeline`'s alone. */
export async function findRecords(pool: Pool, messageId: string, pipeline?: string): Promise<QuarantineRecord[]> {
  const result = await pool.query<{
    sqs_message_id: string;
    pipeline: string;
    reason: string;
    field: string | null;
    detail: string | null;
    receive_count: number;
    sent_at: Date;
    quarantined_at: Date;
    body_bytes: number | null;
    body_sha256: string | null;
    body_shape: string | null;
    masked_ips: string[] | null;
    masked_device_ids: string[] | null;
    masked_values: Record<string, string[]> | null;
    user_key: string | null;
  }>(
    `SELECT sqs_message_id, pipeline, reason, field, detail, receive_count, sent_at, quarantined_at, body_bytes, body_sha256, body_shape,
            masked_ips, masked_device_ids, masked_values, user_key
       FROM sqs2pg.quarantine WHERE sqs_message_id = $1 AND ($2::text IS NULL OR pipeline = $2::text) ORDER BY pipeline`,
    [messageId, pipeline ?? null],
  );
  return result.rows.map((row) => ({
    messageId: row.sqs_message_id,
    pipeline: row.pipeline,
    reason: row.reason,
    field: row.field,
    detail: row.detail,
    receiveCount: row.receive_count,
    sentAt: row.sent_at.toISOString(),
    quarantinedAt: row.quarantined_at.toISOString(),
    bodyBytes: row.body_bytes,
    bodySha256: row.body_sha256,
    bodyShape: row.body_shape === null ? null : (JSON.parse(row.body_shape) as unknown),
    maskedIps: row.masked_ips ?? [],
    maskedDeviceIds: row.masked_device_ids ?? [],
    maskedValues: row.masked_values ?? {},
    userKey: row.user_key,
  }));
}
