// Per-test-file resources on the shared servers: a fresh database, fresh queues, an SQS client,
// and the real CLI run as a child process. Everything made here is removed by `close()`.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import pg from 'pg';
import { inject } from 'vitest';
import { createQueue, sendBodies } from '../../src/source/sqs/queue-admin.js';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** A test mask key (hex, 32 bytes); public, like the demo's. */
// Fixed random bytes: public, like every test key, but shaped like a real key (low-entropy keys are refused).
export const TEST_MASK_KEY = 'ecfa96dd3f29bc244460689c0b9ccc3042fa97318679104bbe50bb0a90c805ce';

export interface TestStack {
  databaseUrl: string;
  pool: pg.Pool;
  sqsEndpoint: string;
  sqs: SQSClient;
  newQueue(): Promise<string>;
  send(queueUrl: string, bodies: readonly string[]): Promise<void>;
  queueDepth(queueUrl: string): Promise<{ visible: number; notVisible: number }>;
  /** the environment the CLI gets: this database, this SQS server, the test key */
  env(queueUrl: string, extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  close(): Promise<void>;
}

export interface TestStackOptions {
  /** another SQS-protocol server than the shared one (fauxqs), e.g. one that speaks the query protocol */
  sqsEndpoint?: string;
}

export async function createTestStack(options: TestStackOptions = {}): Promise<TestStack> {
  const adminUrl = inject('adminDatabaseUrl');
  const sqsEndpoint = options.sqsEndpoint ?? inject('sqsEndpoint');
  const name = `sqs2pg_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const sqs = new SQSClient({
    region: 'us-east-1',
    endpoint: sqsEndpoint,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  return {
    databaseUrl,
    pool,
    sqsEndpoint,
    sqs,
    newQueue: () => createQueue(sqs, `q-${randomBytes(6).toString('hex')}`),
    send: (queueUrl, bodies) => sendBodies(sqs, queueUrl, bodies),
    async queueDepth(queueUrl) {
      const output = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      return {
        visible: Number(output.Attributes?.ApproximateNumberOfMessages ?? 0),
        notVisible: Number(output.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
      };
    },
    env: (queueUrl, extra = {}) => ({
      PATH: process.env.PATH,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED,
      DATABASE_URL: databaseUrl,
      SQS_QUEUE_URL: queueUrl,
      AWS_ENDPOINT_URL_SQS: sqsEndpoint,
      // fauxqs answers S3 on the same port: offloaded payloads (and check's S3 line) stay local.
      AWS_ENDPOINT_URL_S3: sqsEndpoint,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      SQS2PG_MASK_KEY: TEST_MASK_KEY,
      // Many workers run at once in the tests: none serves HTTP unless a test gives it a port.
      SQS2PG_HTTP_PORT: '0',
      ...extra,
    }),
    async close() {
      sqs.destroy();
      await pool.end();
      await dropDatabase(adminUrl, name);
    },
  };
}

/**
 * Drops a test database once the server has seen every client of it go. `pool.end()` resolves
 * when its clients were told to end, not when their sessions are over: dropping WITH (FORCE) at
 * that moment terminates a session still closing, whose client then throws an unhandled 57P01.
 */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await waitFor(
      async () => {
        const sessions = await admin.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1', [name]);
        return Number(sessions.rows[0]?.n) === 0;
      },
      30_000,
      `every session of ${name} to end`,
    );
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  } finally {
    await admin.end();
  }
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  child: ChildProcess;
  done: Promise<CliResult>;
  /** everything written so far */
  output(): { stdout: string; stderr: string };
}

/** Starts the built CLI; it is killed if still running after `timeoutMs`. */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): CliProcess {
  // The SDK's Node 22 notice (Node 20 only) is the test run's to show or not: see vitest.config.ts.
  const notice = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED };
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...notice, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done, output: () => ({ stdout, stderr }) };
}

export function runCli(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs?: number): Promise<CliResult> {
  return startCli(args, env, timeoutMs).done;
}

/** Creates the tables with the real CLI, as a deployment's migrate job would; throws if it fails. */
export async function migrateWithCli(databaseUrl: string): Promise<void> {
  const result = await runCli(['migrate'], { PATH: process.env.PATH, DATABASE_URL: databaseUrl });
  if (result.code !== 0) throw new Error(`sqs2pg migrate exited ${result.code}: ${result.stderr}`);
}

/** Polls `probe` until it returns true, or fails after `timeoutMs`. */
export async function waitFor(probe: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export async function countRows(pool: pg.Pool): Promise<{ rows: number; distinctIds: number; quarantined: number }> {
  const result = await pool.query<{ rows: string; ids: string; quarantined: string }>(
    `SELECT (SELECT count(*) FROM user_logins) AS rows,
            (SELECT count(DISTINCT sqs_message_id) FROM user_logins) AS ids,
            (SELECT count(*) FROM sqs2pg.quarantine) AS quarantined`,
  );
  const row = result.rows[0];
  return { rows: Number(row?.rows), distinctIds: Number(row?.ids), quarantined: Number(row?.quarantined) };
}
