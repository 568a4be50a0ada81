// The take-home's PostgreSQL image creates user_logins before sqs2pg ever runs. sqs2pg must load into
// that table as it is: its seven columns keep their types, lengths and places, and the values land
// in them as the take-home defines them (app_version as an integer, locale null kept, create_date
// the day the message was sent, in UTC).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import { countRows, createTestStack, runCli, type TestStack } from '../helpers/stack.js';

// Verbatim from the take-home's image.
const TAKE_HOME_DDL =
  'CREATE TABLE IF NOT EXISTS user_logins(user_id varchar(128), device_type varchar(32), masked_ip varchar(256), masked_device_id varchar(256), locale varchar(32), app_version integer, create_date date);';

const TAKE_HOME_COLUMNS = [
  { column_name: 'user_id', ordinal_position: 1, data_type: 'character varying', character_maximum_length: 128, is_nullable: 'YES' },
  { column_name: 'device_type', ordinal_position: 2, data_type: 'character varying', character_maximum_length: 32, is_nullable: 'YES' },
  { column_name: 'masked_ip', ordinal_position: 3, data_type: 'character varying', character_maximum_length: 256, is_nullable: 'YES' },
  { column_name: 'masked_device_id', ordinal_position: 4, data_type: 'character varying', character_maximum_length: 256, is_nullable: 'YES' },
  { column_name: 'locale', ordinal_position: 5, data_type: 'character varying', character_maximum_length: 32, is_nullable: 'YES' },
  { column_name: 'app_version', ordinal_position: 6, data_type: 'integer', character_maximum_length: null, is_nullable: 'YES' },
  { column_name: 'create_date', ordinal_position: 7, data_type: 'date', character_maximum_length: null, is_nullable: 'YES' },
];

interface Body {
  user_id: string;
  app_version: string;
  device_type: string;
  ip: string;
  locale: string | null;
  device_id: string;
}

// Bodies of our own, so the interesting app_version shapes are certainly there.
const OWN: { body: Body; appVersion: number }[] = [
  { body: own('own-two-part', '0.96', 'FR'), appVersion: 96_000 },
  { body: own('own-three-part', '2.3.0', 'DE'), appVersion: 2_003_000 },
  { body: own('own-one-part', '7', null), appVersion: 7_000_000 },
  { body: own('own-patch', '10.0.12', 'US'), appVersion: 10_000_012 },
  { body: own('own-largest', '999.999.999', null), appVersion: 999_999_999 },
  { body: own('own-zero', '0.0.0', 'JP'), appVersion: 0 },
];

function own(userId: string, appVersion: string, locale: string | null): Body {
  return { user_id: userId, app_version: appVersion, device_type: 'android', ip: '203.0.113.7', locale, device_id: '123-45-6789' };
}

/** major*1e6 + minor*1e3 + patch, missing parts 0: the take-home's integer, computed independently. */
function expectedAppVersion(text: string): number {
  const [major = 0, minor = 0, patch = 0] = text.split('.').map(Number);
  return major * 1_000_000 + minor * 1_000 + patch;
}

async function userLoginsOid(): Promise<number> {
  const result = await stack.pool.query<{ oid: number }>(`SELECT 'public.user_logins'::regclass::oid::int AS oid`);
  return result.rows[0]!.oid;
}

const utcToday = () => new Date().toISOString().slice(0, 10);

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
  await stack.pool.query(TAKE_HOME_DDL);
});
afterAll(async () => {
  await stack.close();
});

describe('sqs2pg run --drain into the take-home image\'s table', () => {
  it('loads every valid event into the existing table and leaves its seven columns as they were', async () => {
    const queueUrl = await stack.newQueue();
    const sample = generateSample({ count: 200, malformed: 8, seed: 2024 });
    const bodies = [...sample.bodies, ...OWN.map(({ body }) => JSON.stringify(body))];
    const tableOid = await userLoginsOid();
    const daysBefore = utcToday();
    await stack.send(queueUrl, bodies);

    const result = await runCli(['run', '--drain'], stack.env(queueUrl), 30_000);
    const days = new Set([daysBefore, utcToday()]);

    expect(result.code, result.stderr).toBe(0);
    expect(await countRows(stack.pool)).toEqual({ rows: 200 + OWN.length, distinctIds: 200 + OWN.length, quarantined: 8 });
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });

    // The same table, not a dropped and re-created one: same object id.
    expect(await userLoginsOid()).toBe(tableOid);
    // The take-home's seven columns: same names, types, lengths, nullability and places; sqs2pg's after them.
    const columns = await stack.pool.query<(typeof TAKE_HOME_COLUMNS)[number]>(
      `SELECT column_name, ordinal_position, data_type, character_maximum_length, is_nullable
         FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name = 'user_logins'
        ORDER BY ordinal_position`,
    );
    expect(columns.rows.slice(0, 7)).toEqual(TAKE_HOME_COLUMNS);
    expect(columns.rows.slice(7).map((column) => column.column_name).sort()).toEqual(['app_version_raw', 'sqs_message_id']);

    // Every row against the body it came from (user_ids are unique across the sample and our own).
    const valid = new Map<string, Body>();
    for (const text of bodies) {
      const body = parseValid(text);
      if (body) valid.set(body.user_id, body);
    }
    expect(valid.size).toBe(200 + OWN.length);
    const rows = await stack.pool.query<{
      user_id: string;
      device_type: string;
      locale: string | null;
      app_version: number;
      app_version_raw: string;
      create_date: string;
    }>('SELECT user_id, device_type, locale, app_version, app_version_raw, create_date::text AS create_date FROM user_logins');
    expect(rows.rows).toHaveLength(200 + OWN.length);
    let nullLocales = 0;
    let twoPart = 0;
    for (const row of rows.rows) {
      const body = valid.get(row.user_id);
      expect(body, `row for unknown user ${row.user_id}`).toBeDefined();
      expect(row).toEqual({
        user_id: body!.user_id,
        device_type: body!.device_type,
        locale: body!.locale,
        app_version: expectedAppVersion(body!.app_version),
        app_version_raw: body!.app_version,
        create_date: expect.any(String) as string,
      });
      expect(days).toContain(row.create_date);
      if (body!.locale === null) nullLocales += 1;
      if (body!.app_version.split('.').length === 2) twoPart += 1;
    }
    // The checks above covered the cases that matter, not just the easy ones.
    expect(nullLocales).toBeGreaterThan(10);
    expect(twoPart).toBeGreaterThan(10);

    // Our own bodies, spelled out.
    const ownRows = await stack.pool.query<{ user_id: string; app_version: number; locale: string | null }>(
      `SELECT user_id, app_version, locale FROM user_logins WHERE user_id LIKE 'own-%' ORDER BY user_id`,
    );
    expect(ownRows.rows).toEqual(
      OWN.map(({ body, appVersion }) => ({ user_id: body.user_id, app_version: appVersion, locale: body.locale })).sort((a, b) =>
        a.user_id < b.user_id ? -1 : 1,
      ),
    );
    const twoPartRow = await stack.pool.query<{ app_version: number }>(
      `SELECT app_version FROM user_logins WHERE app_version_raw = '0.96'`,
    );
    expect(twoPartRow.rows.map((row) => row.app_version)).toContain(96_000);
  });
});

/** The body as a login event when it is one the take-home would load; null for the malformed ones. */
function parseValid(text: string): Body | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const body = value as Partial<Body>;
  const ok =
    typeof body.user_id === 'string' &&
    body.user_id.length <= 128 &&
    typeof body.device_type === 'string' &&
    typeof body.ip === 'string' &&
    /^[\d.]+$|:/.test(body.ip) &&
    !body.ip.split('.').some((octet) => Number(octet) > 255) &&
    typeof body.device_id === 'string' &&
    typeof body.app_version === 'string' &&
    /^\d{1,3}(\.\d{1,3}){0,2}$/.test(body.app_version) &&
    (body.locale === null || typeof body.locale === 'string');
  return ok ? (body as Body) : null;
}
