// npm run bench:fifo: `sqs2pg run --drain` of 2,000 messages on a FIFO queue in 200 message groups,
// beside the same drain of the same events on a standard queue, alternating, --rounds times. Issue
// 26's target: the FIFO drain at no less than half the standard one's rate. The built CLI with its
// default settings, fauxqs in a process of its own, DATABASE_URL's PostgreSQL (a fresh database per
// drain), all on 127.0.0.1. Prints one table; --write-readme puts it in docs/performance.md.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { generateSample } from '../src/local/sample.js';
import { createSqsClient } from '../src/source/sqs/client.js';
import { createFifoQueue, createQueue, sendBodies, sendFifoBodies } from '../src/source/sqs/queue-admin.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HERE = fileURLToPath(new URL('./', import.meta.url));
const CLI = join(ROOT, 'dist/cli.js');
const PAGE = join(ROOT, 'docs/performance.md');
const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MASK_KEY = '6b0f3a52c1d94e87a2f5b3c8d90e1f2a7c4b5d6e8f9a0b1c2d3e4f5061728394';
// A drain of a few thousand messages takes seconds: one that takes this long is stuck.
const DRAIN_LIMIT_MS = 10 * 60_000;

const { values: flags } = parseArgs({
  options: {
    messages: { type: 'string', default: '2000' },
    groups: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '3' },
    'sqs-client': { type: 'string', default: 'lean' },
    'write-readme': { type: 'boolean', default: false },
  },
});
const MESSAGES = Number(flags.messages);
const GROUPS = Number(flags.groups);
const ROUNDS = Math.max(1, Number(flags.rounds));
type Kind = 'standard' | 'fifo';

interface Drain {
  kind: Kind;
  /** from the CLI's start to the last row in the database */
  seconds: number;
  /** from the first row's insert to the last's: the drain without the process's start */
  loadSeconds: number;
}

const children = new Set<ChildProcess>();

/** `output`: keep stdout to read (the SQS server's endpoint); otherwise it is dropped. */
function startChild(command: string, args: readonly string[], env: NodeJS.ProcessEnv, output = false): ChildProcess {
  const child = spawn(command, args, {
    env: { PATH: process.env.PATH, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    stdio: ['ignore', output ? 'pipe' : 'ignore', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function startSqsServer(): Promise<string> {
  const child = startChild(process.execPath, [join(HERE, 'sqs-server.js')], {}, true);
  return new Promise((resolve, reject) => {
    child.stdout?.once('data', (chunk: Buffer) => resolve((JSON.parse(chunk.toString()) as { endpoint: string }).endpoint));
    child.once('exit', (code) => reject(new Error(`the SQS server exited ${code}`)));
  });
}

async function withDatabase<T>(use: (url: string, pool: pg.Pool) => Promise<T>): Promise<T> {
  const name = `sqs2pg_bench_fifo_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
  // Dropped WITH (FORCE) below: a session of it still closing then is ended, as expected.
  pool.on('error', () => undefined);
  try {
    return await use(url.toString(), pool);
  } finally {
    await pool.end();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

async function fill(endpoint: string, kind: Kind, bodies: readonly string[]): Promise<string> {
  const sqs = createSqsClient({ region: 'us-east-1', endpoint, queueUrl: endpoint, receiveWaitSec: 20, maxSockets: 16, env: {} });
  try {
    const name = `bench-${kind}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
    // The same events in the same order; both queues with SQS's default MaximumMessageSize (1 MiB).
    if (kind === 'standard') {
      const queueUrl = await createQueue(sqs, name);
      await sendBodies(sqs, queueUrl, bodies);
      return queueUrl;
    }
    const queueUrl = await createFifoQueue(sqs, name);
    await sendFifoBodies(sqs, queueUrl, bodies, GROUPS, name);
    return queueUrl;
  } finally {
    sqs.destroy();
  }
}

async function drain(endpoint: string, kind: Kind, bodies: readonly string[]): Promise<Drain> {
  return withDatabase(async (databaseUrl, pool) => {
    const migrate = startChild(process.execPath, [CLI, 'migrate'], { DATABASE_URL: databaseUrl });
    if ((await exitOf(migrate)) !== 0) throw new Error('sqs2pg migrate failed');
    await pool.query('ALTER TABLE user_logins ADD COLUMN bench_loaded_at timestamptz DEFAULT clock_timestamp()');
    const queueUrl = await fill(endpoint, kind, bodies);
    const started = performance.now();
    const child = startChild(process.execPath, [CLI, 'run', '--drain', '--sqs-client', flags['sqs-client']], {
      ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('SQS2PG_'))),
      DATABASE_URL: databaseUrl,
      SQS_QUEUE_URL: queueUrl,
      AWS_ENDPOINT_URL_SQS: endpoint,
      SQS2PG_MASK_KEY: MASK_KEY,
      SQS2PG_LOG_LEVEL: 'warn',
      SQS2PG_HTTP_PORT: '0',
    });
    const exited = exitOf(child);
    const deadline = Date.now() + DRAIN_LIMIT_MS;
    let seconds: number | undefined;
    while (seconds === undefined) {
      const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM user_logins');
      if (Number(rows[0]?.n) >= bodies.length) seconds = (performance.now() - started) / 1000;
      else if (child.exitCode !== null) throw new Error(`the ${kind} drain exited ${child.exitCode} with ${rows[0]?.n} of ${bodies.length} rows`);
      else if (Date.now() > deadline) throw new Error(`the ${kind} drain loaded ${rows[0]?.n} of ${bodies.length} rows in ${DRAIN_LIMIT_MS / 60_000} minutes`);
      else await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const code = await exited;
    if (code !== 0) throw new Error(`the ${kind} drain exited ${code}`);
    const { rows } = await pool.query<{ n: string; ids: string; span: number }>(
      `SELECT count(*) AS n, count(DISTINCT sqs_message_id) AS ids,
              extract(epoch FROM max(bench_loaded_at) - min(bench_loaded_at))::float8 AS span FROM user_logins`,
    );
    const [row] = rows;
    if (Number(row?.n) !== bodies.length || Number(row?.ids) !== bodies.length) {
      throw new Error(`the ${kind} drain left ${row?.n} rows, ${row?.ids} distinct ids, for ${bodies.length} messages`);
    }
    return { kind, seconds, loadSeconds: row?.span ?? NaN };
  });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function render(drains: readonly Drain[]): string {
  const rate = (d: Drain) => MESSAGES / d.seconds;
  const loadRate = (d: Drain) => MESSAGES / d.loadSeconds;
  const of = (kind: Kind) => drains.filter((d) => d.kind === kind);
  const pairs = of('fifo').map((fifo, i) => ({ fifo, standard: of('standard')[i]! }));
  const rounded = (n: number) => Math.round(n).toLocaleString('en-US');
  const lines = [
    '| queue | messages | msg/s, start to last row | msg/s, first row to last | each round (start to last row) |',
    '|---|---|---|---|---|',
  ];
  for (const kind of ['standard', 'fifo'] as const) {
    const runs = of(kind);
    const label = kind === 'fifo' ? `FIFO, ${GROUPS} groups` : 'standard';
    lines.push(`| ${label} | ${MESSAGES.toLocaleString('en-US')} | ${rounded(median(runs.map(rate)))} | ${rounded(median(runs.map(loadRate)))} | ${runs.map((d) => rounded(rate(d))).join(' · ')} |`);
  }
  const ratios = pairs.map(({ fifo, standard }) => rate(fifo) / rate(standard));
  const loadRatios = pairs.map(({ fifo, standard }) => loadRate(fifo) / loadRate(standard));
  lines.push(
    '',
    `FIFO over standard, round by round: ${median(ratios).toFixed(2)} × start to last row (${ratios.map((r) => r.toFixed(2)).join(' · ')}), ` +
      `${median(loadRatios).toFixed(2)} × first row to last (${loadRatios.map((r) => r.toFixed(2)).join(' · ')}); the target is 0.5 ×.`,
  );
  return lines.join('\n');
}

function writePage(table: string): void {
  const START = '<!-- bench-fifo:start (written by npm run bench:fifo -- --write-readme) -->';
  const END = '<!-- bench-fifo:end -->';
  const text = readFileSync(PAGE, 'utf8');
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start === -1 || end < start) throw new Error(`docs/performance.md has no ${START} ... ${END} section to write`);
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  const args = process.argv.slice(2).filter((arg) => arg !== '--write-readme');
  const command = ['npm run bench:fifo', ...(args.length > 0 ? ['--', ...args] : [])].join(' ');
  const section = [START, `Last run: ${new Date().toISOString().slice(0, 10)}, on ${machine}; \`${command}\`.`, '', table, END].join('\n');
  writeFileSync(PAGE, text.slice(0, start) + section + text.slice(end + END.length));
}

async function main(): Promise<void> {
  const endpoint = await startSqsServer();
  const bodies = generateSample({ count: MESSAGES, malformed: 0, seed: 26 }).bodies;
  const drains: Drain[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    // Alternating which goes first, so a busy neighbour's moment does not always fall on one kind.
    for (const kind of round % 2 === 1 ? (['standard', 'fifo'] as const) : (['fifo', 'standard'] as const)) {
      const measured = await drain(endpoint, kind, bodies);
      drains.push(measured);
      console.log(`round ${round} ${kind.padEnd(8)}: ${(MESSAGES / measured.seconds).toFixed(0)} msg/s start to last row (${measured.seconds.toFixed(2)} s), ${(MESSAGES / measured.loadSeconds).toFixed(0)} msg/s first row to last`);
    }
  }
  const table = render(drains);
  console.log(`\n${table}`);
  if (flags['write-readme']) writePage(table);
}

function stopChildren(): void {
  for (const child of children) child.kill('SIGTERM');
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    stopChildren();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

main().then(stopChildren, (error: unknown) => {
  console.error(`bench:fifo: ${error instanceof Error ? error.message : String(error)}`);
  stopChildren();
  process.exitCode = 1;
});
