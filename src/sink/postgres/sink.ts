// Writes one batch in one transaction: all its rows with one INSERT ... SELECT FROM unnest(...)
// and all its quarantine records with another. A message id already present is skipped, which is
// what makes redelivery harmless.
import type { Pool } from '../../db/pool.js';
import type { LoginRow, Rejection } from '../../transform/types.js';

const INSERT_ROWS = `
INSERT INTO user_logins
  (sqs_message_id, user_id, device_type, masked_ip, masked_device_id, locale, app_version, app_version_raw, create_date)
SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::varchar[],
                     $7::integer[], $8::varchar[], $9::date[])
ON CONFLICT (sqs_message_id) DO NOTHING`;

const INSERT_QUARANTINE = `
INSERT INTO sqs2pg.quarantine (sqs_message_id, reason, field, detail, receive_count, sent_at, redacted_body)
SELECT id, reason, field, detail, receive_count, to_timestamp(sent_ms / 1000.0), body
FROM unnest($1::varchar[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::bigint[], $7::text[])
  AS q(id, reason, field, detail, receive_count, sent_ms, body)
ON CONFLICT (sqs_message_id) DO NOTHING`;

export interface WriteResult {
  /** rows inserted; rows.length - inserted were already present (redelivered) */
  inserted: number;
  quarantined: number;
}

export class PostgresSink {
  constructor(private readonly pool: Pool) {}

  /** Commits the rows and the rejections together, or nothing; throws the database's error. */
  async write(rows: readonly LoginRow[], rejections: readonly Rejection[]): Promise<WriteResult> {
    const client = await this.pool.connect();
    let broken = false;
    // pg-pool stops listening for a checked-out client's errors: a socket reset mid-batch would
    // otherwise be an uncaught 'error' event. The query in flight fails, and the writer retries.
    const onError = () => {
      broken = true;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const inserted = rows.length === 0 ? 0 : ((await client.query(INSERT_ROWS, rowColumns(rows))).rowCount ?? 0);
      const quarantined =
        rejections.length === 0 ? 0 : ((await client.query(INSERT_QUARANTINE, rejectionColumns(rejections))).rowCount ?? 0);
      await client.query('COMMIT');
      return { inserted, quarantined };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw error;
    } finally {
      client.removeListener('error', onError);
      // A connection that failed is in an unknown state: do not hand it out again.
      client.release(broken);
    }
  }
}

function rowColumns(rows: readonly LoginRow[]): unknown[][] {
  return [
    rows.map((row) => row.messageId),
    rows.map((row) => row.userId),
    rows.map((row) => row.deviceType),
    rows.map((row) => row.maskedIp),
    rows.map((row) => row.maskedDeviceId),
    rows.map((row) => row.locale),
    rows.map((row) => row.appVersion),
    rows.map((row) => row.appVersionRaw),
    rows.map((row) => row.createDate),
  ];
}

function rejectionColumns(rejections: readonly Rejection[]): unknown[][] {
  return [
    rejections.map((r) => r.messageId),
    rejections.map((r) => r.reason),
    rejections.map((r) => r.field),
    rejections.map((r) => r.detail),
    rejections.map((r) => r.receiveCount),
    rejections.map((r) => r.sentAtMs),
    rejections.map((r) => r.redactedBody),
  ];
}
