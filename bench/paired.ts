// npm run bench:paired: the CPU per message of sqs2pg contenders run side by side, at the same time,
// so that a busy machine slows them alike. `npm run bench` runs its contenders one after another;
// on a shared host whose load changes from one minute to the next, their CPU per message then
// differs by more (0.85 to 1.08 for one pair) than the code between them does. Here every round
// starts each contender on its own queue and database at once and compares their CPU seconds
// (GNU time), round by round: the median of those ratios is the figure. See bench/README.md.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { DECLARED_TABLE, writeDeclaredLogins } from './declared-logins.js';
import { fillQueue } from './fill-queue.js';
import { buildPrevious, type PreviousBuild } from './previous-build.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HERE = fileURLToPath(new URL('./', import.meta.url));
const CLI = join(ROOT, 'dist/cli.js');
const MASK_KEY = '6b0f3a52c1d94e87a2f5b3c8d90e1f2a7c4b5d6e8f9a0b1c2d3e4f5061728394';

const { values: flags } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '3' },
    // builtin (run without a file), declared (run --config, the login event declared), @<ref> (the builtin of an earlier build); the first is the reference
    contenders: { type: 'string', default: 'builtin,declared' },
  },
});
const messages = Number(flags.messages);
const rounds = Number(flags.rounds);
const names = flags.contenders.split(',').filter(Boolean);
const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const children = new Set<ChildProcess>();
const declaredFile = writeDeclaredLogins();
const builds = new Map<string, PreviousBuild>();
for (const name of names) if (name.startsWith('@')) builds.set(name, buildPrevious(ROOT, name.slice(1), console.log));

interface Round {
  cpuSeconds: number;
  wallSeconds: number;
}

function start(command: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(command, args, { env: { PATH: process.env.PATH, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function runToEnd(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const child = start(command, args, env);
  return new Promise((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${args.join(' ')} exited ${code}`)))));
}

/** One contender's drain of `messages`, started when every contender of the round is ready. */
async function measure(name: string, endpoint: string, ready: () => Promise<void>): Promise<Round> {
  const cli = builds.get(name)?.cli ?? CLI;
  const database = `sqs2pg_paired_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  const timeFile = join(mkdtempSync(join(tmpdir(), 'sqs2pg-paired-')), 'time');
  try {
    await runToEnd('node', [cli, 'migrate'], { DATABASE_URL: url.toString() });
    const queueUrl = await fillQueue(endpoint, messages, 'paired');
    const env = {
      SQS_QUEUE_URL: queueUrl,
      BENCH_QUEUE_URL: queueUrl,
      AWS_ENDPOINT_URL_SQS: endpoint,
      DATABASE_URL: url.toString(),
      SQS2PG_MASK_KEY: MASK_KEY,
      SQS2PG_LOG_LEVEL: 'warn',
      SQS2PG_HTTP_PORT: '0',
    };
    await ready();
    const t0 = performance.now();
    await runToEnd('/usr/bin/time', ['-f', '%U %S', '-o', timeFile, 'node', cli, 'run', '--drain', ...(name === 'declared' ? ['--config', declaredFile] : [])], env);
    const wallSeconds = (performance.now() - t0) / 1000;
    const [user = NaN, system = NaN] = (readFileSync(timeFile, 'utf8').trim().split('\n').at(-1) ?? '').split(' ').map(Number);
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    const rows = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${name === 'declared' ? DECLARED_TABLE : 'user_logins'}`).finally(() => client.end());
    if (Number(rows.rows[0]?.n) !== messages) throw new Error(`${name} loaded ${rows.rows[0]?.n} of ${messages} messages`);
    return { cpuSeconds: user + system, wallSeconds };
  } finally {
    rmSync(join(timeFile, '..'), { recursive: true, force: true });
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

if (!existsSync('/usr/bin/time')) throw new Error('bench:paired needs GNU time (/usr/bin/time) for the CPU seconds');
const server = start('node', [join(HERE, 'sqs-server.js')], {});
try {
  const endpoint = await new Promise<string>((resolve, reject) => {
    server.stdout?.once('data', (chunk: Buffer) => resolve((JSON.parse(chunk.toString()) as { endpoint: string }).endpoint));
    server.once('exit', (code) => reject(new Error(`the SQS server exited with ${code}`)));
  });
  const results = names.map(() => [] as Round[]);
  for (let round = 0; round < rounds; round++) {
    let arrived = 0;
    let go = () => {};
    const all = new Promise<void>((resolve) => (go = resolve));
    const ready = () => {
      if (++arrived === names.length) go();
      return all;
    };
    const measured = await Promise.all(names.map((name) => measure(name, endpoint, ready)));
    measured.forEach((m, i) => results[i]?.push(m));
    console.log(`round ${round + 1}: ${names.map((name, i) => `${name} ${measured[i]?.cpuSeconds.toFixed(2)} CPU s in ${measured[i]?.wallSeconds.toFixed(0)} s`).join(' · ')}`);
  }
  const reference = results[0] ?? [];
  console.log(`\n${messages.toLocaleString('en-US')} messages × ${rounds} rounds, contenders side by side, Node ${process.version}\n`);
  console.log(`| contender | CPU s each round | µs CPU / message (median) | × ${names[0]}, round by round |`);
  console.log('|---|---|---|---|');
  names.forEach((name, i) => {
    const own = results[i] ?? [];
    const ratios = own.map((m, r) => m.cpuSeconds / (reference[r]?.cpuSeconds ?? NaN));
    console.log(`| ${name} | ${own.map((m) => m.cpuSeconds.toFixed(2)).join(' · ')} | ${((median(own.map((m) => m.cpuSeconds)) / messages) * 1e6).toFixed(0)} | ${median(ratios).toFixed(3)} (${ratios.map((x) => x.toFixed(3)).join(', ')}) |`);
  });
} finally {
  for (const child of children) child.kill('SIGTERM');
  for (const build of builds.values()) build.remove();
  rmSync(join(declaredFile, '..'), { recursive: true, force: true });
}
