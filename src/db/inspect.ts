// Read-only looks at the loaded data, for the demo's report.
import pg from 'pg';
import type { PipelineSpec } from '../model/pipeline.js';
import type { Pool } from './pool.js';
import { requireUserLogins } from './user-logins.js';
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

/**
 * A pipeline's table at a glance (demo --config): its rows, those of its quarantine records, and a
 * few rows, each of `columns` as text (NULL as null), in message id order.
 */
export async function lookAtTable(
  pool: Pool,
  spec: PipelineSpec,
  columns: readonly string[],
  limit: number,
): Promise<{ rows: number; quarantined: number; sample: (string | null)[][] }> {
  // Sessions search pg_catalog only (pool.ts): user_logins where the role's path finds it, a declared table by its schema.
  const name = spec.builtin ? (await requireUserLogins(pool)).name : `${pg.escapeIdentifier(spec.table.schema ?? 'public')}.${pg.escapeIdentifier(spec.table.name)}`;
  const counts = await pool.query<{ rows: string; quarantined: string }>(
    `SELECT (SELECT count(*) FROM ${name}) AS rows, (SELECT count(*) FROM sqs2pg.quarantine WHERE pipeline = $1) AS quarantined`,
    [spec.name],
  );
  const sample = await pool.query<(string | null)[]>({
    text: `SELECT ${columns.map((column) => `${pg.escapeIdentifier(column)}::text`).join(', ')} FROM ${name} ORDER BY sqs_message_id LIMIT $1`,
    values: [limit],
    rowMode: 'array',
  });
  return { rows: Number(counts.rows[0]?.rows ?? 0), quarantined: Number(counts.rows[0]?.quarantined ?? 0), sample: sample.rows };
}
