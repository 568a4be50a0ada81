// Read-only looks at the loaded data, for the demo's report.
import type { Pool } from './pool.js';
import type { UserLoginsTable } from './user-logins.js';

export interface LoginRowView {
  user_id: string;
  device_type: string;
  masked_ip: string;
  masked_device_id: string;
  locale: string | null;
  app_version: number;
  create_date: string;
}

export async function sampleRows(pool: Pool, table: UserLoginsTable, limit: number): Promise<LoginRowView[]> {
  const result = await pool.query<LoginRowView>(
    `SELECT user_id, device_type, masked_ip, masked_device_id, locale, app_version, to_char(create_date, 'YYYY-MM-DD') AS create_date
     FROM ${table.name} ORDER BY sqs_message_id LIMIT $1`,
    [limit],
  );
  return result.rows;
}

export async function mostRepeatedDevice(
  pool: Pool,
  table: UserLoginsTable,
): Promise<{ maskedDeviceId: string; logins: number; users: number } | undefined> {
  const result = await pool.query<{ masked_device_id: string; logins: string; users: string }>(
    `SELECT masked_device_id, count(*) AS logins, count(DISTINCT user_id) AS users
     FROM ${table.name} GROUP BY masked_device_id ORDER BY count(*) DESC, masked_device_id LIMIT 1`,
  );
  const row = result.rows[0];
  return row && { maskedDeviceId: row.masked_device_id, logins: Number(row.logins), users: Number(row.users) };
}

export async function countRows(pool: Pool, table: UserLoginsTable): Promise<{ logins: number; quarantined: number }> {
  const result = await pool.query<{ logins: string; quarantined: string }>(
    `SELECT (SELECT count(*) FROM ${table.name}) AS logins, (SELECT count(*) FROM sqs2pg.quarantine) AS quarantined`,
  );
  return { logins: Number(result.rows[0]?.logins ?? 0), quarantined: Number(result.rows[0]?.quarantined ?? 0) };
}
