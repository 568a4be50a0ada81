// What ordering erasure against every writer costs (issue 22): every batch holds the erasure lock
// shared from its tombstone check to its commit, and forget holds it exclusively while it deletes, so
// writers wait for as long as forget runs. Measured on a user_logins preloaded with --rows rows:
//   1. loading alone, with the index on user_id that sqs2pg adds and without it (what the index costs);
//   2. forget alone, both ways, vault off and on (what the writers would wait for);
//   3. loading while a user is forgotten every --forget-every-ms: batch latency and rows/s against 1.
// With --mask-indexes, a third table shape: indexes on masked_ip and masked_device_id too, which
// turn forget's remaining scan (vault on: which of the user's masks other rows still use) into lookups.
// Runs against the PostgreSQL that DATABASE_URL names (a scratch database is created and dropped).
// Usage: npm run bench:erasure [-- --rows 300000 --seconds 15 --rounds 3 --mask-indexes]
import { builtinLogins } from '../src/config/builtin-pipelines.js';
import { sinkTargetOf } from '../src/sink/postgres/conflict-target.js';
import { loginTableRow } from '../src/transform/login-table-row.js';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createPool } from '../src/db/pool.js';
import { requireUserLogins, type UserLoginsTable } from '../src/db/user-logins.js';
import { PostgresSink } from '../src/sink/postgres/sink.js';
import { createMasker } from '../src/transform/mask.js';
import type { LoginRow } from '../src/model/message.js';
import { forgetUser } from '../src/vault/forget.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '300000' },
    seconds: { type: 'string', default: '15' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '4' },
    batch: { type: 'string', default: '500' },
    'forget-every-ms': { type: 'string', default: '250' },
    'mask-indexes': { type: 'boolean', default: false },
  },
});
const PRELOAD = Number(values.rows);
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const CONNECTIONS = Number(values.connections);
const BATCH = Number(values.batch);
const FORGET_EVERY_MS = Number(values['forget-every-ms']);
const PRELOADED_USERS = 100_000;
const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) throw new Error('set DATABASE_URL to a PostgreSQL the bench may create a scratch database on');

const masker = createMasker(randomBytes(32), 'k1');
const name = `sqs2pg_bench_erasure_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`CREATE DATABASE ${name}`);
const url = new URL(adminUrl);
url.pathname = `/${name}`;
const pool = createPool(url.toString(), CONNECTIONS + 1);
const users = Array.from({ length: 20_000 }, () => randomUUID());

function batchOfLive(): LoginRow[] {
  return Array.from({ length: BATCH }, () => {
    const userId = users[Math.floor(Math.random() * users.length)]!;
    return {
      messageId: randomUUID(),
      userId,
      userKey: masker.userKey(userId),
      deviceType: 'ios',
      maskedIp: masker.mask('ip', `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`),
      maskedDeviceId: masker.mask('device_id', randomUUID()),
      locale: 'DE',
      appVersion: 1002003,
      appVersionRaw: '1.2.3',
      createDate: '2024-01-15',
      sentAtMs: Date.UTC(2024, 0, 15),
    };
  });
}

const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
const median = (values: readonly number[]) => percentile([...values].sort((a, b) => a - b), 0.5);
const ms = (value: number) => `${value.toFixed(value < 10 ? 1 : 0)} ms`;

/** Writers on every connection for SECONDS; optionally a forget of a preloaded user every FORGET_EVERY_MS. */
async function load(sink: PostgresSink, forgets: boolean): Promise<{ rowsPerSec: number; latencies: number[]; forgetMs: number[] }> {
  const stopAt = Date.now() + SECONDS * 1000;
  const latencies: number[] = [];
  const forgetMs: number[] = [];
  let rows = 0;
  const writers = Array.from({ length: CONNECTIONS }, async () => {
    while (Date.now() < stopAt) {
      const batch = batchOfLive();
      const started = performance.now();
      rows += (await sink.write({ rows: batch.map(loginTableRow), rejections: [] })).inserted;
      latencies.push(performance.now() - started);
    }
  });
  const forgetter = async () => {
    while (Date.now() < stopAt) {
      await new Promise((resolve) => setTimeout(resolve, FORGET_EVERY_MS));
      const userId = `preloaded-${Math.floor(Math.random() * PRELOADED_USERS)}`;
      const started = performance.now();
      await forgetUser(pool, userId, [masker.userKey(userId)], 'bench', undefined);
      forgetMs.push(performance.now() - started);
    }
  };
  await Promise.all([...writers, ...(forgets ? [forgetter()] : [])]);
  return { rowsPerSec: rows / SECONDS, latencies: latencies.sort((a, b) => a - b), forgetMs: forgetMs.sort((a, b) => a - b) };
}

type Shape = 'without the user_id index' | 'with the user_id index' | 'with user_id, masked_ip and masked_device_id indexes';
const SHAPES: Shape[] = ['with the user_id index', 'without the user_id index', ...(values['mask-indexes'] ? (['with user_id, masked_ip and masked_device_id indexes'] as const) : [])];

async function setIndexes(table: UserLoginsTable, shape: Shape): Promise<void> {
  const index = (name: string, column: string, on: boolean) =>
    pool.query(on ? `CREATE INDEX IF NOT EXISTS ${name} ON ${table.name} (${column})` : `DROP INDEX IF EXISTS ${table.schema}.${name}`);
  await index('user_logins_user_id_idx', 'user_id', shape !== 'without the user_id index');
  const masks = shape === 'with user_id, masked_ip and masked_device_id indexes';
  await index('bench_masked_ip_idx', 'masked_ip', masks);
  await index('bench_masked_device_id_idx', 'masked_device_id', masks);
  await pool.query(`VACUUM ANALYZE ${table.name}`);
}

/** forget alone: its duration for preloaded users, vault off (no entries for their masks) or on (entries for all). */
async function forgetAlone(table: UserLoginsTable, vault: boolean): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const userId = `preloaded-${Math.floor(Math.random() * PRELOADED_USERS)}`;
    if (vault) {
      await pool.query(
        `INSERT INTO sqs2pg_vault.entries (masked_value, field, vault_key_id, nonce, ciphertext)
         SELECT m, 'ip', 'v1', '\\x000000000000000000000000'::bytea, '\\x00000000000000000000000000000000'::bytea
           FROM ${table.name} u, LATERAL (VALUES (u.masked_ip), (u.masked_device_id)) AS v(m) WHERE u.user_id = $1 ON CONFLICT DO NOTHING`,
        [userId],
      );
    }
    const started = performance.now();
    await forgetUser(pool, userId, [masker.userKey(userId)], 'bench', undefined);
    times.push(performance.now() - started);
  }
  return median(times);
}

try {
  const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
  const migrated = spawnSync(process.execPath, [cli, 'migrate'], { env: { PATH: process.env.PATH, DATABASE_URL: url.toString() }, encoding: 'utf8' });
  if (migrated.status !== 0) throw new Error(`sqs2pg migrate failed: ${migrated.stderr}`);
  const table = await requireUserLogins(pool);
  await pool.query(
    `INSERT INTO ${table.name} (sqs_message_id, user_id, device_type, masked_ip, masked_device_id, locale, app_version, app_version_raw, create_date)
     SELECT 'preloaded-' || g, 'preloaded-' || (g % ${PRELOADED_USERS}), 'ios', 'k1:' || md5(g::text) || md5((g + 1)::text),
            'k1:' || md5((g * 7)::text) || md5((g + 3)::text), 'DE', 1002003, '1.2.3', DATE '2024-01-15'
       FROM generate_series(1, $1::int) AS g`,
    [PRELOAD],
  );
  const sink = new PostgresSink(pool, sinkTargetOf(builtinLogins(''), table));
  const result: Record<string, { rowsPerSec: number[]; p50: number[]; p99: number[]; max: number[]; forget: number[]; forgetMax: number[]; alone: number[]; aloneVault: number[] }> = {};
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first: the machine's speed drifts, and the table grows as it loads.
    for (const key of round % 2 === 0 ? SHAPES : [...SHAPES].reverse()) {
      await setIndexes(table, key);
      const row = (result[key] ??= { rowsPerSec: [], p50: [], p99: [], max: [], forget: [], forgetMax: [], alone: [], aloneVault: [] });
      const quiet = await load(sink, false);
      const busy = await load(sink, true);
      row.rowsPerSec.push(quiet.rowsPerSec, busy.rowsPerSec);
      row.p50.push(percentile(quiet.latencies, 0.5), percentile(busy.latencies, 0.5));
      row.p99.push(percentile(quiet.latencies, 0.99), percentile(busy.latencies, 0.99));
      row.max.push(percentile(quiet.latencies, 1), percentile(busy.latencies, 1));
      row.forget.push(percentile(busy.forgetMs, 0.5));
      row.forgetMax.push(percentile(busy.forgetMs, 1));
      row.alone.push(await forgetAlone(table, false));
      row.aloneVault.push(await forgetAlone(table, true));
      console.error(`round ${round + 1} ${key}: ${Math.round(quiet.rowsPerSec)} rows/s alone, ${Math.round(busy.rowsPerSec)} with forgets`);
    }
  }
  const rowsNow = Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table.name}`)).rows[0]?.n);
  // Each round pushed [alone, with forgets]: even places are alone.
  const pick = (values: number[], busy: boolean) => values.filter((_, i) => i % 2 === (busy ? 1 : 0));
  const lines = [
    `user_logins preloaded with ${PRELOAD.toLocaleString('en-US')} rows (${rowsNow.toLocaleString('en-US')} at the end); ${CONNECTIONS} connections, batches of ${BATCH}; medians of ${ROUNDS} rounds of ${SECONDS} s`,
    '| user_logins | loading alone | batch p50 / p99 / max | loading, a forget every ' + `${FORGET_EVERY_MS} ms` + ' | batch p50 / p99 / max | forget p50 / max (busy) | forget alone, vault off / on |',
    '|---|---|---|---|---|---|---|',
    ...Object.entries(result).map(
      ([key, r]) =>
        `| ${key} | ${Math.round(median(pick(r.rowsPerSec, false))).toLocaleString('en-US')} rows/s | ${ms(median(pick(r.p50, false)))} / ${ms(median(pick(r.p99, false)))} / ${ms(median(pick(r.max, false)))} ` +
        `| ${Math.round(median(pick(r.rowsPerSec, true))).toLocaleString('en-US')} rows/s | ${ms(median(pick(r.p50, true)))} / ${ms(median(pick(r.p99, true)))} / ${ms(median(pick(r.max, true)))} ` +
        `| ${ms(median(r.forget))} / ${ms(median(r.forgetMax))} | ${ms(median(r.alone))} / ${ms(median(r.aloneVault))} |`,
    ),
  ];
  console.log(lines.join('\n'));
} finally {
  await pool.end();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}

