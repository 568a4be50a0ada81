// npm run bench: sqs2pg beside a ceiling (a consumer that does nothing) and a baseline (what most
// people write), on the same data in the same run, on loopback and behind a 15 ms "AWS-like" proxy.
// Everything runs on 127.0.0.1 and every process it starts is stopped. See bench/README.md.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, chmodSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/local/embedded-postgres.js';
import { settings } from '../src/config/schema.js';
import { freePort } from '../src/local/free-port.js';
import { generateSample } from '../src/local/sample.js';
import { createSqsClient } from '../src/source/sqs/client.js';
import { createQueue } from '../src/source/sqs/queue-admin.js';
import { writeBenchCharts, type BenchFigures } from './charts.js';
import { fillQueue, type QueueKind } from './fill-queue.js';
import { buildPrevious } from './previous-build.js';
import { DECLARED_TABLE, writeDeclaredLogins } from './declared-logins.js';
import { measureClients, renderClientsTable } from './clients.js';
import { sampleTreeRss } from './tree-rss.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HERE = fileURLToPath(new URL('./', import.meta.url));
const CLI = join(ROOT, 'dist/cli.js');
// Where --write-readme writes its tables (the flag keeps its name from when they were in the README).
const README = join(ROOT, 'docs/performance.md');
const MASK_KEY = '6b0f3a52c1d94e87a2f5b3c8d90e1f2a7c4b5d6e8f9a0b1c2d3e4f5061728394';
// The ceiling gets sqs2pg's default concurrency; sqs2pg runs with its defaults, as a user runs it
// (sqs-consumer, the baseline, has its single loop).
const POLLERS = Number(settings.pollers.default);
// sqs2pg runs as a user runs it, metrics endpoint included, on a port nothing else holds.
const METRICS_PORT = await freePort();

const { values: flags } = parseArgs({
  options: {
    messages: { type: 'string', default: '100000' },
    profiles: { type: 'string', default: 'loopback,aws-like' },
    'latency-sec': { type: 'string', default: '10' },
    'write-readme': { type: 'boolean', default: false },
    'sqs2pg-only': { type: 'boolean', default: false },
    // the SQS client table alone (bench/clients.ts), and how many alternating runs per client
    'clients-only': { type: 'boolean', default: false },
    'client-rounds': { type: 'string', default: '2' },
    // every profile's contenders run this many times, in turn, so a busy moment hits all alike
    // (default 3; 1 with --sqs2pg-only, the memory check)
    rounds: { type: 'string' },
    // V8 options for every contender alike, e.g. "--max-semi-space-size=2" as the Docker image sets
    'node-options': { type: 'string', default: '' },
    // node/V8 options for sqs2pg alone, on its command line (any V8 flag; its workers get them too),
    // to compare settings without slowing the SQS server
    'sqs2pg-node-options': { type: 'string', default: '' },
    // sqs2pg's --workers on loopback, each its own row: 1,2 compares two workers with one
    workers: { type: 'string' },
    // the queues sqs2pg drains: default (created without attributes, 1 MiB bodies; every contender)
    // and 64k (MaximumMessageSize 64 KiB; sqs2pg alone, reported beside the default queue's)
    queues: { type: 'string', default: 'default,64k' },
    // runs of the start-to-exit timing of a drain of 100 messages (0: none)
    'drain-runs': { type: 'string', default: '3' },
    // skip the SQS client table (bench/clients.ts) before the contenders
    'no-clients': { type: 'boolean', default: false },
    // a git ref (the previous release, main before a change): its build runs beside this one, every round
    against: { type: 'string' },
    // skip the declared pipeline of the login event's width (run --config) that runs beside sqs2pg's builtin one
    'no-declared': { type: 'boolean', default: false },
  },
});
const messages = Number(flags.messages);
const rounds = Math.max(1, Number(flags.rounds ?? (flags['sqs2pg-only'] ? '1' : '3')));
// Each wait's limit: 15 minutes, and 1 ms more per message (fauxqs slows down with a million queued).
const DEADLINE_MS = 15 * 60_000 + messages;
const sqs2pgNodeArgs = flags['sqs2pg-node-options'].split(/\s+/).filter(Boolean);
const workerCounts = (flags.workers ?? (flags['sqs2pg-only'] ? '1' : '1,2')).split(',').map(Number);
const queueKinds = flags.queues.split(',').filter((kind): kind is QueueKind => kind === 'default' || kind === '64k');
const DRAIN_END_MESSAGES = 100;
const started = Date.now();
const children = new Set<ChildProcess>();
const cleanups: (() => Promise<void>)[] = [];
const DECLARED_FILE = writeDeclaredLogins();
const previous = flags.against ? buildPrevious(ROOT, flags.against, console.log) : undefined;
if (previous) cleanups.push(() => Promise.resolve(previous.remove()));
cleanups.push(() => Promise.resolve(rmSync(join(DECLARED_FILE, '..'), { recursive: true, force: true })));

interface Latency {
  p50: number;
  p99: number;
  rate: number;
  /** ms at each of LATENCY_QUANTILES, for the chart */
  quantiles: { quantile: number; ms: number }[];
}

const LATENCY_QUANTILES = [0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999];
const DOCS = join(ROOT, 'docs');

interface Measure {
  profile: string;
  /** 1..--rounds: every contender of a profile runs once per round, in turn */
  round: number;
  /**
   * previous: sqs2pg as built from --against's ref, run exactly as sqs2pg is; declared: this build
   * running the login event as a declared pipeline (DECLARED_FILE) into a table of its own
   */
  contender: 'ceiling' | 'baseline' | 'sqs2pg' | 'previous' | 'declared';
  /** sqs2pg's --workers */
  workers: number;
  /** the queue drained: every contender's default, and sqs2pg's 64 KiB beside it */
  queue: QueueKind;
  messages: number;
  seconds: number;
  cpuSeconds: number | null;
  peakRssMb: number | null;
}

async function main(): Promise<void> {
  const adminUrl = flags['clients-only'] ? '' : await startDatabase();
  const sqsServer = await startProcess('node', [join(HERE, 'sqs-server.js')]);
  if (!flags['sqs2pg-only'] && !flags['no-clients']) {
    const clients = renderClientsTable(await measureClients(sqsServer, messages, Number(flags['client-rounds']), console.log));
    console.log(`\n${clients}\n`);
    if (flags['write-readme']) writeReadme(clients, 'bench-clients');
    if (flags['clients-only']) return;
  }
  const results: Measure[] = [];
  let latency: Latency | undefined;
  let drainEnd: number[] = [];
  for (const profile of flags.profiles.split(',')) {
    const endpoint =
      profile === 'aws-like'
        ? (await startProcess('node', [join(HERE, 'latency-proxy.js'), sqsServer, '15'])) 
        : sqsServer;
    // Behind 15 ms per call the baseline manages a few hundred messages a second: a smaller run.
    const sizes = profile === 'aws-like'
      ? { ceiling: Math.min(messages, 50_000), sqs2pg: Math.min(messages, 50_000), baseline: Math.min(messages, 2_000) }
      : { ceiling: messages, sqs2pg: messages, baseline: Math.min(messages, 20_000) };
    const measured: Measure['contender'][] = flags['sqs2pg-only'] ? ['sqs2pg'] : ['ceiling', 'baseline', 'sqs2pg'];
    const contenders: Measure['contender'][] = [...measured, ...(flags['no-declared'] ? [] : ['declared' as const]), ...(previous ? ['previous' as const] : [])];
    for (let round = 1; round <= rounds; round++) {
      for (const contender of contenders) {
        for (const workers of contender === 'sqs2pg' && profile === 'loopback' ? workerCounts : [1]) {
          for (const queue of contender === 'sqs2pg' && workers === 1 ? queueKinds : (['default'] as const)) {
            const size = contender === 'previous' || contender === 'declared' ? sizes.sqs2pg : sizes[contender];
            const measure = { ...(await measureOne(profile, contender, size, endpoint, adminUrl, workers, queue)), round };
            results.push(measure);
            console.log(`${profile.padEnd(9)} ${labelOf(measure).padEnd(8)} round ${round}: ${format(measure)}`);
          }
        }
      }
    }
    if (profile === 'loopback') {
      const rate = median(runsOf(results, 'loopback', 'sqs2pg', 1).map(rateOf));
      if (!Number.isNaN(rate)) latency = await measureLatency(endpoint, adminUrl, 0.5 * rate);
      drainEnd = await measureDrainEnd(endpoint, adminUrl, Number(flags['drain-runs']));
    }
  }
  const table = renderTable(results, latency, drainEnd);
  console.log(`\n${table}`);
  if (flags['write-readme']) {
    writeReadme(table);
    if (!flags['sqs2pg-only']) {
      const figures: BenchFigures = {
        source: `npm run bench, ${new Date().toISOString().slice(0, 10)}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, Node ${process.version}`,
        contenders: summarise(results)
          .filter((row) => row.workers === 1 && row.queue === 'default' && row.contender !== 'previous' && row.contender !== 'declared')
          .map((row) => ({ profile: row.profile, contender: row.contender, messagesPerSec: row.rate, cpuPer100k: row.cpuPer100k })),
        ...(latency ? { latency: { rate: latency.rate, quantiles: latency.quantiles } } : {}),
      };
      for (const path of await writeBenchCharts(figures, DOCS)) console.log(`wrote ${path}`);
    }
  }
}

async function measureOne(
  profile: string,
  contender: Measure['contender'],
  count: number,
  endpoint: string,
  adminUrl: string,
  workers: number,
  queue: QueueKind,
): Promise<Omit<Measure, 'round'>> {
  const { url: databaseUrl, pool, drop } = await freshDatabase(adminUrl);
  try {
    // Each build migrates its own database: the previous one knows only its own migrations.
    await runToEnd('node', [contender === 'previous' && previous ? previous.cli : CLI, 'migrate'], { DATABASE_URL: databaseUrl });
    const queueUrl = await fillQueue(endpoint, count, 'bench', queue);
    const timeFile = join(mkdtempSync(join(tmpdir(), 'sqs2pg-bench-')), 'time');
    const command = commandFor(contender, endpoint, queueUrl, databaseUrl, count, workers);
    const t0 = performance.now();
    const child = spawnTimed(command.args, timeFile, { ...command.env });
    // Under GNU time, the measured processes are time's descendants; without it, the child and its own.
    const tree = sampleTreeRss(child.pid ?? 0, !existsSync('/usr/bin/time'));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let seconds: number;
    if (contender === 'ceiling') {
      const code = await exited;
      seconds = (performance.now() - t0) / 1000;
      if (code !== 0) throw new Error(`the ceiling exited with ${code} before deleting ${count} messages`);
    } else {
      await waitForRows(pool, count, child, contender === 'declared' ? DECLARED_TABLE : 'user_logins');
      seconds = (performance.now() - t0) / 1000;
      if (contender === 'baseline') stopMeasured(child);
      await exited;
    }
    const usage = readTime(timeFile);
    rmSync(join(timeFile, '..'), { recursive: true, force: true });
    const peak = tree.stop();
    return { profile, contender, workers, queue, messages: count, seconds, cpuSeconds: usage.cpuSeconds, peakRssMb: peak?.peakMb ?? usage.peakRssMb };
  } finally {
    await pool.end();
    await drop();
  }
}

function commandFor(
  contender: Measure['contender'],
  endpoint: string,
  queueUrl: string,
  databaseUrl: string,
  count: number,
  workers: number,
) {
  switch (contender) {
    case 'ceiling':
      return { args: ['node', join(HERE, 'ceiling.js'), endpoint, queueUrl, String(POLLERS), String(count)], env: {} };
    case 'baseline':
      return { args: ['node', join(HERE, 'baselines/sqs-consumer-pg.js'), endpoint, queueUrl, databaseUrl], env: {} };
    case 'declared':
      return {
        args: ['node', ...sqs2pgNodeArgs, CLI, 'run', '--drain', '--config', DECLARED_FILE],
        env: { ...sqs2pgEnv(queueUrl, endpoint, databaseUrl), BENCH_QUEUE_URL: queueUrl },
      };
    case 'sqs2pg':
    case 'previous':
      return {
        args: ['node', ...sqs2pgNodeArgs, contender === 'previous' && previous ? previous.cli : CLI, 'run', '--drain', ...(workers > 1 ? ['--workers', String(workers)] : [])],
        env: sqs2pgEnv(queueUrl, endpoint, databaseUrl),
      };
  }
}

function sqs2pgEnv(queueUrl: string, endpoint: string, databaseUrl: string): NodeJS.ProcessEnv {
  return {
    // SQS2PG_* settings in the bench's own environment reach sqs2pg (e.g. SQS2PG_BATCH_MAX_WAIT_MS=50).
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('SQS2PG_'))),
    SQS_QUEUE_URL: queueUrl,
    AWS_ENDPOINT_URL_SQS: endpoint,
    DATABASE_URL: databaseUrl,
    SQS2PG_MASK_KEY: MASK_KEY,
    SQS2PG_LOG_LEVEL: 'warn',
    SQS2PG_HTTP_PORT: String(METRICS_PORT),
  };
}

/** Service mode at a steady rate: the time from SendMessageBatch to the row's insert, per message. */
async function measureLatency(endpoint: string, adminUrl: string, rate: number) {
  const { url: databaseUrl, pool, drop } = await freshDatabase(adminUrl);
  const sqs = createSqsClient({ region: 'us-east-1', endpoint, queueUrl: endpoint, receiveWaitSec: 20, maxSockets: 16, env: {} });
  try {
    await runToEnd('node', [CLI, 'migrate'], { DATABASE_URL: databaseUrl });
    await pool.query('ALTER TABLE user_logins ADD COLUMN bench_loaded_at timestamptz DEFAULT clock_timestamp()');
    const queueUrl = await createQueue(sqs, `bench-latency-${Date.now()}`);
    const worker = startChild('node', [...sqs2pgNodeArgs, CLI, 'run'], sqs2pgEnv(queueUrl, endpoint, databaseUrl));
    // The service's latency, not its start: nothing is sent before it answers ready.
    await waitForReady(worker);
    const seconds = Number(flags['latency-sec']);
    const bodies = generateSample({ count: Math.ceil(rate * seconds), malformed: 0, seed: 5 }).bodies;
    const sentAt = new Map<string, number>();
    const intervalMs = (10 / rate) * 1000;
    const begin = performance.now();
    for (let i = 0; i < bodies.length; i += 10) {
      const due = begin + (i / 10) * intervalMs;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const t = Date.now();
      const chunk = bodies.slice(i, i + 10);
      void sqs
        .send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: chunk.map((MessageBody, j) => ({ Id: String(j), MessageBody })) }))
        .then((output) => {
          for (const entry of output.Successful ?? []) if (entry.MessageId) sentAt.set(entry.MessageId, t);
        });
    }
    await waitForRows(pool, bodies.length, worker);
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.kill('SIGTERM');
    await exited;
    const rows = await pool.query<{ id: string; at: Date }>('SELECT sqs_message_id AS id, bench_loaded_at AS at FROM user_logins');
    const delays = rows.rows.flatMap((row) => {
      const sent = sentAt.get(row.id);
      return sent === undefined ? [] : [row.at.getTime() - sent];
    });
    delays.sort((a, b) => a - b);
    const at = (q: number) => delays[Math.min(delays.length - 1, Math.floor(q * delays.length))] ?? NaN;
    return { p50: at(0.5), p99: at(0.99), rate: Math.round(rate), quantiles: LATENCY_QUANTILES.map((quantile) => ({ quantile, ms: at(quantile) })) };
  } finally {
    sqs.destroy();
    await pool.end();
    await drop();
  }
}

/**
 * How long `run --drain` takes from its start to its exit for a small queue (100 messages, a default
 * queue): start-up, the drain, and how soon it notices the queue is empty. Seconds, one per run.
 */
async function measureDrainEnd(endpoint: string, adminUrl: string, runs: number): Promise<number[]> {
  const seconds: number[] = [];
  for (let run = 0; run < runs; run++) {
    const { url: databaseUrl, pool, drop } = await freshDatabase(adminUrl);
    try {
      await runToEnd('node', [CLI, 'migrate'], { DATABASE_URL: databaseUrl });
      const queueUrl = await fillQueue(endpoint, DRAIN_END_MESSAGES, 'bench-drain-end');
      const t0 = performance.now();
      await runToEnd('node', [...sqs2pgNodeArgs, CLI, 'run', '--drain'], sqs2pgEnv(queueUrl, endpoint, databaseUrl));
      seconds.push((performance.now() - t0) / 1000);
      const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM user_logins');
      if (Number(rows[0]?.n) !== DRAIN_END_MESSAGES) throw new Error(`the drain of ${DRAIN_END_MESSAGES} loaded ${rows[0]?.n} rows`);
      console.log(`drain of ${DRAIN_END_MESSAGES}, start to exit: ${seconds.at(-1)!.toFixed(2)} s`);
    } finally {
      await pool.end();
      await drop();
    }
  }
  return seconds;
}

// ---- plumbing -------------------------------------------------------------------------------

async function startDatabase(): Promise<string> {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  const parent = mkdtempSync(join(tmpdir(), 'sqs2pg-bench-pg-'));
  chmodSync(parent, 0o755);
  const postgres = await startEmbeddedPostgres({ dataDir: join(parent, 'postgres'), persistent: false });
  cleanups.push(async () => {
    await postgres.stop();
    rmSync(parent, { recursive: true, force: true });
  });
  return postgres.url;
}

async function freshDatabase(adminUrl: string) {
  const name = `sqs2pg_bench_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
  // The database is dropped WITH (FORCE) after each measure: a session of it ending then is expected.
  pool.on('error', () => undefined);
  return {
    url: url.toString(),
    pool,
    drop: async () => {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

/** Until the child's /readyz answers 200 (connected, migrated, polling). */
async function waitForReady(child: ChildProcess): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`contender exited with ${child.exitCode} before it was ready`);
    const ready = await fetch(`http://127.0.0.1:${METRICS_PORT}/readyz`).then((answer) => answer.ok, () => false);
    if (ready) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('timed out waiting for the contender to be ready');
}

async function waitForRows(pool: pg.Pool, count: number, child: ChildProcess, table = 'user_logins'): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (Date.now() < deadline) {
    // The declared table is created by the run at its start: until then, nothing loaded.
    const exists = await pool.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [table]);
    const { rows } = exists.rows[0]?.ok ? await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`) : { rows: [{ n: '0' }] };
    if (Number(rows[0]?.n) >= count) return;
    if (child.exitCode !== null) throw new Error(`contender exited with ${child.exitCode} before loading ${count} rows`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${count} rows`);
}

/** Runs the contender under GNU time for its CPU seconds and peak RSS, when /usr/bin/time exists. */
function spawnTimed(args: string[], timeFile: string, env: NodeJS.ProcessEnv): ChildProcess {
  const [command = 'node', ...rest] = args;
  return existsSync('/usr/bin/time')
    ? startChild('/usr/bin/time', ['-f', '%U %S %M', '-o', timeFile, command, ...rest], env)
    : startChild(command, rest, env);
}

/** SIGTERM for the process GNU time runs (time itself would die and leave it orphaned). */
function stopMeasured(child: ChildProcess): void {
  const childrenFile = `/proc/${child.pid}/task/${child.pid}/children`;
  const pids = existsSync(childrenFile) ? readFileSync(childrenFile, 'utf8').trim().split(/\s+/).filter(Boolean) : [];
  if (pids.length === 0) child.kill('SIGTERM');
  for (const pid of pids) process.kill(Number(pid), 'SIGTERM');
}

function readTime(file: string): { cpuSeconds: number | null; peakRssMb: number | null } {
  if (!existsSync(file)) return { cpuSeconds: null, peakRssMb: null };
  const last = readFileSync(file, 'utf8').trim().split('\n').at(-1) ?? '';
  const [user, system, rssKb] = last.split(' ').map(Number);
  if (user === undefined || system === undefined || rssKb === undefined || Number.isNaN(user)) return { cpuSeconds: null, peakRssMb: null };
  return { cpuSeconds: user + system, peakRssMb: rssKb / 1024 };
}

function startChild(command: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(command, args, {
    env: {
      PATH: process.env.PATH,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...(flags['node-options'] ? { NODE_OPTIONS: flags['node-options'] } : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function runToEnd(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const child = startChild(command, args, env);
  return new Promise((resolve, reject) =>
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${args.join(' ')} exited ${code}`)))),
  );
}

/** Starts a helper process that prints {"endpoint": ...} and returns that endpoint. */
function startProcess(command: string, args: string[]): Promise<string> {
  const child = startChild(command, args, {});
  return new Promise((resolve, reject) => {
    child.stdout?.once('data', (chunk: Buffer) => resolve((JSON.parse(chunk.toString()) as { endpoint: string }).endpoint));
    child.once('exit', (code) => reject(new Error(`${args[0]} exited ${code}`)));
  });
}

function labelOf(m: Measure): string {
  const name = contenderName(m.contender);
  const label = m.workers > 1 ? `${name} --workers ${m.workers}` : name;
  return m.queue === '64k' ? `${label} (64 KiB queue)` : label;
}

function contenderName(contender: Measure['contender']): string {
  if (contender === 'previous') return `sqs2pg @ ${previous?.label ?? '?'}`;
  return contender === 'declared' ? 'sqs2pg, declared' : contender;
}

function format(m: Measure): string {
  const rate = Math.round(m.messages / m.seconds);
  const cpu = m.cpuSeconds === null ? 'n/a' : ((m.cpuSeconds * 100_000) / m.messages).toFixed(1);
  const rss = m.peakRssMb === null ? 'n/a' : m.peakRssMb.toFixed(0);
  return `${m.messages} messages in ${m.seconds.toFixed(1)} s: ${rate} msg/s, ${cpu} CPU s/100k, ${rss} MB peak RSS`;
}

const rateOf = (m: Measure): number => m.messages / m.seconds;
const cpuPer100kOf = (m: Measure): number | null => (m.cpuSeconds === null ? null : (m.cpuSeconds * 100_000) / m.messages);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function runsOf(results: readonly Measure[], profile: string, contender: Measure['contender'], workers: number, queue: QueueKind = 'default'): Measure[] {
  return results.filter((m) => m.profile === profile && m.contender === contender && m.workers === workers && m.queue === queue);
}

interface Summary {
  profile: string;
  contender: Measure['contender'];
  workers: number;
  queue: QueueKind;
  messages: number;
  /** medians over the rounds */
  rate: number;
  cpuPer100k: number | null;
  /** the largest over the rounds */
  peakRssMb: number | null;
  /** each round's rate, in round order */
  rates: number[];
  /** medians of each round's own ratio (the two ran minutes apart at most) */
  overCeiling: number;
  overBaseline: number;
  overOneWorker: number;
  /** the 64 KiB queue's rate over the default queue's, round by round */
  overDefaultQueue: number;
  /** this build's rate over --against's, round by round */
  overPrevious: number;
  /** the builtin login pipeline's rate over the same event declared, round by round */
  overDeclared: number;
}

function summarise(results: readonly Measure[]): Summary[] {
  const keys = [...new Map(results.map((m) => [`${m.profile}/${m.contender}/${m.workers}/${m.queue}`, m])).values()];
  return keys.map(({ profile, contender, workers, queue }) => {
    const runs = runsOf(results, profile, contender, workers, queue);
    const pairedRatio = (other: Measure['contender'], otherWorkers = 1) =>
      median(
        runs.flatMap((m) => {
          const peer = runsOf(results, profile, other, otherWorkers).find((r) => r.round === m.round);
          return peer ? [rateOf(m) / rateOf(peer)] : [];
        }),
      );
    const cpus = runs.map(cpuPer100kOf).filter((cpu): cpu is number => cpu !== null);
    const peaks = runs.map((m) => m.peakRssMb).filter((mb): mb is number => mb !== null);
    return {
      profile,
      contender,
      workers,
      queue,
      messages: runs[0]?.messages ?? 0,
      rate: median(runs.map(rateOf)),
      cpuPer100k: cpus.length > 0 ? median(cpus) : null,
      peakRssMb: peaks.length > 0 ? Math.max(...peaks) : null,
      rates: runs.map(rateOf),
      overCeiling: pairedRatio('ceiling'),
      overBaseline: pairedRatio('baseline'),
      overOneWorker: pairedRatio(contender, 1),
      overDefaultQueue: pairedRatio(contender, workers),
      overPrevious: pairedRatio('previous'),
      overDeclared: pairedRatio('declared'),
    };
  });
}

function renderTable(results: readonly Measure[], latency: { p50: number; p99: number; rate: number } | undefined, drainEnd: readonly number[] = []): string {
  const rounded = (n: number) => Math.round(n).toLocaleString('en-US');
  const ratio = (n: number) => (Number.isNaN(n) ? '' : n.toFixed(2));
  const cpu = (row: Summary) => (row.cpuPer100k === null ? 'n/a' : row.cpuPer100k.toFixed(1));
  const rss = (row: Summary) => (row.peakRssMb === null ? 'n/a' : `${row.peakRssMb.toFixed(0)} MB`);
  const summaries = summarise(results);
  const lines = [
    '| profile | contender | messages | msg/s | × ceiling | × baseline | CPU s / 100k msgs | peak RSS | msg/s, each round |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const row of summaries.filter((r) => r.workers === 1 && r.queue === 'default')) {
    lines.push(
      `| ${row.profile} | ${contenderName(row.contender)} | ${row.messages.toLocaleString('en-US')} | ${rounded(row.rate)} | ${ratio(row.overCeiling)} | ${ratio(row.overBaseline)} | ${cpu(row)} | ${rss(row)} | ${row.rates.map(rounded).join(' · ')} |`,
    );
  }
  for (const row of summaries.filter((r) => r.contender === 'sqs2pg' && r.workers === 1 && r.queue === 'default' && !Number.isNaN(r.overPrevious))) {
    const before = summaries.find((r) => r.contender === 'previous' && r.profile === row.profile);
    const cpuRatio = before?.cpuPer100k && row.cpuPer100k !== null ? ` and ${ratio(row.cpuPer100k / before.cpuPer100k)} × its CPU per message` : '';
    lines.push('', `This build beside ${previous?.label ?? '?'}, ${row.profile}: ${ratio(row.overPrevious)} × its rate, round by round${cpuRatio}.`);
  }
  for (const row of summaries.filter((r) => r.contender === 'sqs2pg' && r.workers === 1 && r.queue === 'default' && !Number.isNaN(r.overDeclared))) {
    const declared = summaries.find((r) => r.contender === 'declared' && r.profile === row.profile);
    const cpuRatio = declared?.cpuPer100k && row.cpuPer100k !== null ? `, ${ratio(declared.cpuPer100k / row.cpuPer100k)} × its CPU per message` : '';
    lines.push('', `The login event declared in a pipeline file (not builtin: the generic reader, its own table), ${row.profile}: ${ratio(1 / row.overDeclared)} × the builtin pipeline's rate, round by round${cpuRatio}.`);
  }
  lines.push('', 'Every queue created without attributes, as AWS and LocalStack create one (`MaximumMessageSize` 1 MiB), unless it says 64 KiB.');
  for (const row of summaries.filter((r) => r.queue === '64k')) {
    lines.push(
      '',
      `sqs2pg on a 64 KiB queue, ${row.profile}: ${rounded(row.rate)} msg/s; the default queue ran at ${ratio(1 / row.overDefaultQueue)} × this, round by round (${row.rates.map(rounded).join(' · ')} msg/s; ${cpu(row)} CPU s / 100k msgs, peak RSS ${rss(row)}).`,
    );
  }
  if (rounds > 1) {
    lines.push(
      '',
      `${rounds} rounds, each running every contender of a profile in turn: msg/s and CPU are medians over the rounds, × ceiling and × baseline the medians of each round's own ratios, peak RSS the largest.`,
    );
  }
  if (drainEnd.length > 0) {
    const times = drainEnd.map((s) => `${s.toFixed(1)} s`).join(' · ');
    lines.push('', `\`sqs2pg run --drain\` of ${DRAIN_END_MESSAGES} messages, start to exit (loopback): ${median(drainEnd).toFixed(1)} s, the median of ${times}.`);
  }
  for (const row of summaries.filter((r) => r.workers > 1)) {
    lines.push(
      '',
      `\`sqs2pg run --workers ${row.workers}\`, ${row.profile}: ${row.messages.toLocaleString('en-US')} messages at ${rounded(row.rate)} msg/s (${ratio(row.overOneWorker)} × one worker's, round by round), ${cpu(row)} CPU s / 100k msgs, peak RSS ${rss(row)} (supervisor and workers together).`,
    );
  }
  if (latency) {
    lines.push('', `Send → commit latency, \`sqs2pg run\` (service) at ${latency.rate.toLocaleString('en-US')} msg/s (50% of its loopback rate): p50 ${latency.p50} ms, p99 ${latency.p99} ms.`);
  }
  return lines.join('\n');
}

/** Rewrites docs/performance.md's section for this kind of run: the comparison, or (--sqs2pg-only) the memory check. */
function writeReadme(table: string, name = flags['sqs2pg-only'] ? 'bench-memory' : 'bench'): void {
  const START = `<!-- ${name}:start (written by npm run bench -- --write-readme) -->`;
  const END = `<!-- ${name}:end -->`;
  const text = readFileSync(README, 'utf8');
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start === -1 || end < start) throw new Error(`docs/performance.md has no ${START} ... ${END} section to write`);
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  const args = process.argv.slice(2).filter((arg) => arg !== '--write-readme').map((arg) => (/\s/.test(arg) ? `"${arg}"` : arg));
  const command = ['npm run bench', ...(args.length > 0 ? ['--', ...args] : [])].join(' ');
  const section = [START, `Last run: ${new Date().toISOString().slice(0, 10)}, on ${machine}; \`${command}\`.`, '', table, END].join('\n');
  writeFileSync(README, text.slice(0, start) + section + text.slice(end + END.length));
}

async function shutdown(): Promise<void> {
  for (const child of children) child.kill('SIGTERM');
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
}

const watchdog = setTimeout(() => {
  console.error('bench: over its time limit; stopping');
  void shutdown().then(() => process.exit(1));
}, DEADLINE_MS * 2);
watchdog.unref();
// Interrupted (Ctrl-C, a CI's timeout): the servers and contenders it started stop with it.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`bench: ${signal}; stopping what it started`);
    void shutdown().then(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

main().then(
  async () => {
    await shutdown();
    console.log(`bench: done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  },
  async (error: unknown) => {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
    await shutdown();
    process.exitCode = 1;
  },
);
