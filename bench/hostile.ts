// npm run bench:hostile: peak memory and the longest event-loop block of `sqs2pg run --drain` for
// (a) 2,000 valid messages and (b) 2,000 messages of which 200 are ~1 MiB hostile bodies (IP-like
// tokens, deep nesting, long strings), vault off and on. Issue 10's goal: (b) under 1.5x (a) and
// under 200 MB. Runs the built CLI against the embedded SQS server and DATABASE_URL (a fresh
// database per run), each on 127.0.0.1. Prints one table.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import pg from 'pg';
import { startEmbeddedSqs } from '../src/local/embedded-sqs.js';
import { generateSample } from '../src/local/sample.js';
import { createQueue, LOGIN_QUEUE_MAX_MESSAGE_BYTES, sendBodies } from '../src/source/sqs/queue-admin.js';
import { generateVaultKeyPair } from '../src/vault/sealed-box.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist/cli.js');
const PRELOAD = join(ROOT, 'dist-bench/bench/measure-preload.js');
const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MiB = 1024 * 1024;
const TOTAL = 2_000;
const HOSTILE = 200;

/** ~1 MiB bodies of five hostile kinds, each just under SQS's maximum. */
function hostileBody(i: number): string {
  const size = MiB - 1024;
  switch (i % 5) {
    case 0:
      return '::1 '.repeat(size / 4);
    case 1:
      return '10.1.2.3 '.repeat(Math.floor(size / 9));
    case 2:
      return '['.repeat(size);
    case 3:
      return JSON.stringify({ user_id: `u-${i}`, ip: '10.1.2.3', device_id: 'd', pad: 'x'.repeat(size - 100) });
    default:
      return JSON.stringify({ ip: Array.from({ length: Math.floor(size / 11) }, (_, k) => `10.1.${k % 250}.${i % 250}`) }).slice(0, size);
  }
}

interface Measure {
  maxRssBytes: number;
  maxEventLoopDelayMs: number;
  p99EventLoopDelayMs: number;
  seconds: number;
}

/** `small`: a queue sized for login events (64 KiB) rather than one created without attributes (1 MiB). */
async function scenario(sqsEndpoint: string, hostile: number, vault: boolean, small = false): Promise<Measure> {
  const sqs = new SQSClient({ region: 'us-east-1', endpoint: sqsEndpoint, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const queueUrl = await createQueue(sqs, `bench-${randomBytes(4).toString('hex')}`, small ? LOGIN_QUEUE_MAX_MESSAGE_BYTES : undefined);
  const valid = generateSample({ count: TOTAL - hostile, malformed: 0, seed: 7 }).bodies;
  await sendBodies(sqs, queueUrl, valid);
  for (let i = 0; i < hostile; i++) await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: hostileBody(i) }));
  sqs.destroy();

  const database = `sqs2pg_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  const dir = mkdtempSync(join(tmpdir(), 'sqs2pg-bench-'));
  const measureFile = join(dir, 'measure.json');
  try {
    const started = performance.now();
    const code = await new Promise<number | null>((resolve) => {
      // BENCH_NODE_ARGS: V8 options for the measured process, e.g. "--max-old-space-size=128" or "--cpu-prof".
      const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
      const child = spawn(process.execPath, [...nodeArgs, '--import', PRELOAD, CLI, 'run', '--drain', '--quiet'], {
        stdio: ['ignore', process.env.BENCH_NODE_ARGS ? 'inherit' : 'ignore', 'inherit'],
        env: {
          PATH: process.env.PATH,
          DATABASE_URL: url.toString(),
          SQS_QUEUE_URL: queueUrl,
          AWS_ENDPOINT_URL_SQS: sqsEndpoint,
          AWS_ACCESS_KEY_ID: 'x',
          AWS_SECRET_ACCESS_KEY: 'x',
          // Fixed random bytes: low-entropy keys are refused (sec-keys).
          SQS2PG_MASK_KEY: '5e0d7c2a91f4b3e8d6a7c1f09b2e4d3a8c7f6e5d4b3a29180f1e2d3c4b5a6978',
          SQS2PG_HTTP_PORT: '0',
          SQS2PG_LOG_LEVEL: 'warn',
          SQS2PG_BENCH_MEASURE: measureFile,
          // SQS2PG_* settings in the bench's own environment reach sqs2pg (e.g. SQS2PG_SQS_CLIENT=sdk).
          ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('SQS2PG_') && name !== 'SQS2PG_MASK_KEY')),
          // glibc's malloc, as the container image sets it (see the Dockerfile), when the caller sets it.
          ...(process.env.MALLOC_ARENA_MAX ? { MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX } : {}),
          ...(process.env.MALLOC_MMAP_THRESHOLD_ ? { MALLOC_MMAP_THRESHOLD_: process.env.MALLOC_MMAP_THRESHOLD_ } : {}),
          ...(vault ? { SQS2PG_VAULT_PUBLIC_KEY: generateVaultKeyPair().publicKey.toString('hex') } : {}),
        },
      });
      child.on('close', resolve);
    });
    if (code !== 0) throw new Error(`sqs2pg exited ${code}`);
    const rows = new pg.Client({ connectionString: url.toString() });
    await rows.connect();
    const counts = await rows.query<{ r: string; q: string }>('SELECT (SELECT count(*) FROM user_logins) AS r, (SELECT count(*) FROM sqs2pg.quarantine) AS q');
    await rows.end();
    if (Number(counts.rows[0]?.r) !== TOTAL - hostile || Number(counts.rows[0]?.q) !== hostile) throw new Error(`unexpected counts ${JSON.stringify(counts.rows[0])}`);
    return { ...(JSON.parse(readFileSync(measureFile, 'utf8')) as Omit<Measure, 'seconds'>), seconds: (performance.now() - started) / 1000 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  }
}

const sqs = await startEmbeddedSqs();
try {
  // Queues created without attributes (1 MiB bodies), as users have them; (a) also on a 64 KiB queue.
  const runs: [string, number, boolean, boolean][] = [
    ['(a) 2,000 valid', 0, false, false],
    ['(b) 1,800 valid + 200 × ~1 MiB hostile', HOSTILE, false, false],
    ['(b) same, vault on (bodies sealed)', HOSTILE, true, false],
    ['(a) on a 64 KiB queue', 0, false, true],
  ];
  const results: [string, Measure][] = [];
  // BENCH_ONLY=1: the first hostile run alone (for profiling); BENCH_ONLY=ab: (a) and (b), the pair the targets compare.
  const only = process.env.BENCH_ONLY;
  for (const [name, hostile, vault, small] of only === 'ab' ? runs.slice(0, 2) : only ? runs.slice(1, 2) : runs) {
    results.push([name, await scenario(sqs.endpoint, hostile, vault, small)]);
  }
  const base = results[0]![1].maxRssBytes;
  console.log('| workload | peak RSS | vs (a) | longest event-loop block | p99 event-loop delay | drain time |');
  console.log('|---|---|---|---|---|---|');
  for (const [name, m] of results) {
    console.log(
      `| ${name} | ${(m.maxRssBytes / 1e6).toFixed(0)} MB | ${(m.maxRssBytes / base).toFixed(2)}× | ${m.maxEventLoopDelayMs.toFixed(0)} ms | ${m.p99EventLoopDelayMs.toFixed(0)} ms | ${m.seconds.toFixed(1)} s |`,
    );
  }
} finally {
  await sqs.stop();
}
