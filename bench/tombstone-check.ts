// What the erasure check costs on the hot path: the statement every batch runs before its inserts
// (sqs2pg.stop_tombstoned over the batch's user keys), measured alone, with 0 and with 100,000
// tombstones, and the whole batch write beside it for scale. Run in isolation, not inside
// `npm run bench`: a few seconds against the PostgreSQL that DATABASE_URL names (a scratch
// database is created and dropped). Usage: npm run bench:tombstones [-- --batches 200 --rows 500]
import { builtinLogins } from '../src/config/builtin-pipelines.js';
import { sinkTargetOf } from '../src/sink/postgres/conflict-target.js';
import { loginTableRow } from '../src/transform/login-table-row.js';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createPool } from '../src/db/pool.js';
import { requireUserLogins } from '../src/db/user-logins.js';
import { PostgresSink } from '../src/sink/postgres/sink.js';
import { createMasker } from '../src/transform/mask.js';
import type { LoginRow } from '../src/model/message.js';
import { STOP_TOMBSTONED } from '../src/vault/tombstones.js';

const { values } = parseArgs({ options: { batches: { type: 'string', default: '200' }, rows: { type: 'string', default: '500' }, tombstones: { type: 'string', default: '100000' } } });
const BATCHES = Number(values.batches);
const ROWS = Number(values.rows);
const TOMBSTONES = Number(values.tombstones);
const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) throw new Error('set DATABASE_URL to a PostgreSQL the bench may create a scratch database on');

const masker = createMasker(randomBytes(32), 'k1');
const name = `sqs2pg_bench_tomb_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`CREATE DATABASE ${name}`);
const url = new URL(adminUrl);
url.pathname = `/${name}`;
const pool = createPool(url.toString(), 1);

function batchOf(b: number): LoginRow[] {
  return Array.from({ length: ROWS }, (_, i) => {
    const userId = `user-${b}-${i}`;
    return {
      messageId: `m-${b}-${i}-${randomBytes(4).toString('hex')}`,
      userId,
      userKey: masker.userKey(userId),
      deviceType: 'ios',
      maskedIp: masker.mask('ip', `10.0.${b % 250}.${i % 250}`),
      maskedDeviceId: masker.mask('device_id', `dev-${b}-${i}`),
      locale: 'DE',
      appVersion: 1002003,
      appVersionRaw: '1.2.3',
      createDate: '2024-01-15',
      sentAtMs: Date.UTC(2024, 0, 15),
    };
  });
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;

async function measure(label: string): Promise<string> {
  const batches = Array.from({ length: BATCHES }, (_, b) => batchOf(b));
  const client = await pool.connect();
  const check: number[] = [];
  try {
    // Warm-up, then the check alone, in a transaction as the sink runs it (rolled back: counters untouched).
    for (const batch of batches.slice(0, 10)) await client.query(STOP_TOMBSTONED, [batch.map((row) => row.userKey)]);
    for (const batch of batches) {
      await client.query('BEGIN');
      const started = performance.now();
      await client.query(STOP_TOMBSTONED, [batch.map((row) => row.userKey)]);
      check.push(performance.now() - started);
      await client.query('ROLLBACK');
    }
  } finally {
    client.release();
  }
  const table = await requireUserLogins(pool);
  const sink = new PostgresSink(pool, sinkTargetOf(builtinLogins(''), table));
  const writes: number[] = [];
  for (const batch of batches) {
    const started = performance.now();
    await sink.write({ rows: batch.map(loginTableRow), rejections: [] });
    writes.push(performance.now() - started);
  }
  await pool.query(`TRUNCATE ${table.name}`);
  check.sort((a, b) => a - b);
  writes.sort((a, b) => a - b);
  const perMessageUs = (check.reduce((a, b) => a + b, 0) / check.length / ROWS) * 1000;
  return `| ${label} | ${percentile(check, 0.5).toFixed(2)} ms | ${percentile(check, 0.99).toFixed(2)} ms | ${perMessageUs.toFixed(2)} µs | ${percentile(writes, 0.5).toFixed(2)} ms |`;
}

try {
  // The built CLI migrates, as a deployment does (its sql/ folder sits beside dist/).
  const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
  const migrated = spawnSync(process.execPath, [cli, 'migrate'], { env: { PATH: process.env.PATH, DATABASE_URL: url.toString() }, encoding: 'utf8' });
  if (migrated.status !== 0) throw new Error(`sqs2pg migrate failed: ${migrated.stderr}`);
  const lines = ['| tombstones | check p50 per batch | check p99 | check per message (mean) | whole batch write p50 |', '|---|---|---|---|---|'];
  lines.push(await measure('0'));
  await pool.query(
    `INSERT INTO sqs2pg.tombstones (user_key) SELECT 'k1:' || encode(sha256(convert_to('erased-' || i, 'UTF8')), 'hex') FROM generate_series(1, $1) AS i`,
    [TOMBSTONES],
  );
  await pool.query('ANALYZE sqs2pg.tombstones');
  lines.push(await measure(TOMBSTONES.toLocaleString('en-US')));
  console.log(`batches of ${ROWS} rows, ${BATCHES} batches each, one connection, PostgreSQL at ${url.host}\n${lines.join('\n')}`);
} finally {
  await pool.end();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
