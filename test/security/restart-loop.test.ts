// Attack: take a privilege away from the worker role (or put a refusal in the database that no retry
// fixes) and watch what sqs2pg's own restarts do to the queue. A run must end promptly with the
// truth in its exit code, restart nothing that cannot get better, and leave no message's receive
// count climbing because of it: under `--workers 2`, as a lone worker an orchestrator starts again
// and again, and when the refusal only shows on some messages. A worker that keeps dying without
// committing anything is stopped. Real CLI, real PostgreSQL, real fauxqs; roles have unique names.
import { randomBytes } from 'node:crypto';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import { countRows, createTestStack, migrateWithCli, runCli, startCli, waitFor, type CliProcess, type CliResult, type TestStack } from '../helpers/stack.js';

const PREFIX = `t${randomBytes(4).toString('hex')}_`;
const GROUP = `${PREFIX}worker`;
const LOGIN = `${PREFIX}svc`;
const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;
/** Restarts after which the test calls a supervisor's run a loop and stops it. */
const LOOP = 5;

let stack: TestStack;
const started: CliProcess[] = [];

function workerUrl(): string {
  const url = new URL(stack.databaseUrl);
  url.username = LOGIN;
  url.password = PASSWORD;
  return url.toString();
}

const revokeInsert = () => stack.pool.query(`REVOKE INSERT ON user_logins FROM ${pg.escapeIdentifier(GROUP)}`);
const grantInsert = () => stack.pool.query(`GRANT INSERT ON user_logins TO ${pg.escapeIdentifier(GROUP)}`);

beforeAll(async () => {
  stack = await createTestStack();
  await migrateWithCli(stack.databaseUrl);
  const granted = await runCli(['grants', '--role-prefix', PREFIX], { PATH: process.env.PATH, DATABASE_URL: stack.databaseUrl }, 30_000);
  expect(granted.code, granted.stderr).toBe(0);
  await stack.pool.query(`CREATE ROLE ${pg.escapeIdentifier(LOGIN)} LOGIN PASSWORD '${PASSWORD}' IN ROLE ${pg.escapeIdentifier(GROUP)}`);
});
afterAll(async () => {
  for (const cli of started) if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  await Promise.all(started.map((cli) => cli.done));
  const roles = [LOGIN, GROUP, `${PREFIX}analyst`, `${PREFIX}pii_officer`];
  const existing = await stack.pool.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1)', [roles]);
  const names = existing.rows.map((row) => pg.escapeIdentifier(row.rolname));
  if (names.length > 0) await stack.pool.query(`DROP OWNED BY ${names.join(', ')}`);
  for (const role of roles) await stack.pool.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`);
  await stack.close();
});
beforeEach(async () => {
  await stack.pool.query('TRUNCATE user_logins, sqs2pg.quarantine');
  await grantInsert();
});

/** `sqs2pg run` as the worker login; the test's own ceiling only guards against a hang. */
function start(args: string[], queueUrl: string, extra: NodeJS.ProcessEnv = {}): CliProcess {
  const cli = startCli(['run', ...args], stack.env(queueUrl, { DATABASE_URL: workerUrl(), SQS2PG_RECEIVE_WAIT_SEC: '1', ...extra }), 300_000);
  started.push(cli);
  return cli;
}

const restartsIn = (stderr: string) => (stderr.match(/\) died \([^)]*\); restarting it/g) ?? []).length;
const running = (cli: CliProcess) => cli.child.exitCode === null && cli.child.signalCode === null;

/** Waits for the run to end by itself, or for it to restart workers `loop` times (then stops it and says so). */
async function endOrLoop(cli: CliProcess, loop = LOOP): Promise<CliResult & { restarts: number; stoppedByTest: boolean }> {
  await waitFor(() => !running(cli) || restartsIn(cli.output().stderr) >= loop, 240_000, 'the run to end or to loop');
  const stoppedByTest = running(cli);
  if (stoppedByTest) cli.child.kill('SIGTERM');
  const result = await cli.done;
  return { ...result, restarts: restartsIn(result.stderr), stoppedByTest };
}

/**
 * Every message of the queue, each with how many times sqs2pg received it (SQS's count, less the
 * one receive this makes). Waits for all `expected`, hidden ones too (they come back after their
 * visibility timeout), and hides them for 10 minutes so none is counted twice.
 */
async function receiveCounts(queueUrl: string, expected: number): Promise<number[]> {
  const counts = new Map<string, number>();
  await waitFor(
    async () => {
      const output = await stack.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 600, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }),
      );
      for (const message of output.Messages ?? []) counts.set(message.MessageId!, Number(message.Attributes?.ApproximateReceiveCount) - 1);
      return counts.size >= expected;
    },
    120_000,
    `${expected} messages back in the queue`,
  );
  return [...counts.values()];
}

const max = (values: readonly number[]) => values.reduce((a, b) => Math.max(a, b), 0);

describe('a refusal no retry fixes: INSERT on user_logins revoked from the worker role', () => {
  it('--workers 2 --drain ends at once with exit code 5, restarts nothing and receives no message twice', async () => {
    await revokeInsert();
    const queueUrl = await stack.newQueue();
    await stack.send(queueUrl, generateSample({ count: 200, malformed: 0, seed: 2201 }).bodies);
    const result = await endOrLoop(start(['--workers', '2', '--drain'], queueUrl));
    const counts = await receiveCounts(queueUrl, 200);
    console.log(`[security] INSERT revoked, --workers 2: exit ${result.code}, ${result.restarts} restarts, most receives of a message ${max(counts)}${result.stoppedByTest ? ' (looping: stopped by the test)' : ''}`);
    expect({ code: result.code, restarts: result.restarts, stoppedByTest: result.stoppedByTest }).toEqual({ code: 5, restarts: 0, stoppedByTest: false });
    expect(max(counts)).toBeLessThanOrEqual(1);
    expect(result.stderr).toMatch(/^sqs2pg: the database role of DATABASE_URL may not write what a worker writes at start-up[^\n]*42501: permission denied for table user_logins[^\n]*sqs2pg grants/m);
    expect(result.stderr).toMatch(/worker \d \(pid \d+\) ended with exit code 5, which no restart fixes[^\n]*stopping the others/);
  });

  it('as a lone worker started again and again (as an orchestrator would), it never receives a message twice', async () => {
    await revokeInsert();
    const queueUrl = await stack.newQueue();
    await stack.send(queueUrl, generateSample({ count: 100, malformed: 0, seed: 2202 }).bodies);
    const codes: (number | null)[] = [];
    for (let restart = 0; restart < 5; restart++) codes.push((await start(['--drain'], queueUrl).done).code);
    const counts = await receiveCounts(queueUrl, 100);
    console.log(`[security] INSERT revoked, a lone worker started 5 times: exit codes ${codes.join(', ')}, most receives of a message ${max(counts)}`);
    expect(codes).toEqual([5, 5, 5, 5, 5]);
    expect(max(counts)).toBeLessThanOrEqual(1);
  });

  it('revoked while --workers 2 runs: the run ends with exit code 5, restarts nothing, and each message was received at most once more', async () => {
    const queueUrl = await stack.newQueue();
    // Short: what the failing worker held comes back for the count below without a long wait.
    const cli = start(['--workers', '2'], queueUrl, { SQS2PG_VISIBILITY_TIMEOUT_SEC: '5' });
    await stack.send(queueUrl, generateSample({ count: 100, malformed: 0, seed: 2203 }).bodies);
    await waitFor(async () => (await countRows(stack.pool)).rows === 100, 120_000, 'the first 100 rows');
    await revokeInsert();
    await stack.send(queueUrl, generateSample({ count: 200, malformed: 0, seed: 2204 }).bodies);
    const result = await endOrLoop(cli);
    const counts = await receiveCounts(queueUrl, 200);
    console.log(`[security] INSERT revoked mid-run, --workers 2: exit ${result.code}, ${result.restarts} restarts, most receives of a message ${max(counts)}${result.stoppedByTest ? ' (looping: stopped by the test)' : ''}`);
    expect({ code: result.code, restarts: result.restarts, stoppedByTest: result.stoppedByTest }).toEqual({ code: 5, restarts: 0, stoppedByTest: false });
    expect(max(counts)).toBeLessThanOrEqual(2);
    expect(await countRows(stack.pool)).toMatchObject({ rows: 100 });
  });
});

describe('a refusal only some messages meet (a row-level security policy), which no start-up check can see', () => {
  beforeAll(async () => {
    await stack.pool.query('ALTER TABLE user_logins ENABLE ROW LEVEL SECURITY');
    await stack.pool.query('CREATE POLICY read_all ON user_logins FOR SELECT USING (true)');
    await stack.pool.query(`CREATE POLICY no_blocked ON user_logins FOR INSERT WITH CHECK (device_type IS DISTINCT FROM 'blocked')`);
  });
  afterAll(async () => {
    await stack.pool.query('DROP POLICY no_blocked ON user_logins');
    await stack.pool.query('DROP POLICY read_all ON user_logins');
    await stack.pool.query('ALTER TABLE user_logins DISABLE ROW LEVEL SECURITY');
  });

  it('started again and again, a lone worker receives the message no faster than once a visibility timeout', async () => {
    const visibilitySec = 5;
    const queueUrl = await stack.newQueue();
    const blocked = JSON.stringify({ user_id: 'u-blocked', app_version: '1.0.0', device_type: 'blocked', ip: '198.51.100.9', locale: null, device_id: 'd-blocked' });
    await stack.send(queueUrl, [blocked]);
    const codes: (number | null)[] = [];
    const startedAt = Date.now();
    for (let restart = 0; restart < 4; restart++) {
      codes.push((await start(['--drain'], queueUrl, { SQS2PG_VISIBILITY_TIMEOUT_SEC: String(visibilitySec) }).done).code);
    }
    const elapsedSec = (Date.now() - startedAt) / 1000;
    const [count] = await receiveCounts(queueUrl, 1);
    console.log(`[security] a message a policy refuses, a lone worker started 4 times: exit codes ${codes.join(', ')}, received ${count} times in ${elapsedSec.toFixed(1)} s (visibility timeout ${visibilitySec} s)`);
    expect(codes).toEqual([5, 5, 5, 5]);
    expect(count).toBeLessThanOrEqual(Math.floor(elapsedSec / visibilitySec) + 1);
  });
});

describe('a worker that keeps dying without committing anything', () => {
  beforeAll(async () => {
    // An error sqs2pg does not know (not a privilege, not a missing table): a restart might help, once.
    await stack.pool.query(`CREATE FUNCTION refuse_all() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by a trigger'; END $$`);
    await stack.pool.query('CREATE TRIGGER refuse_all BEFORE INSERT ON user_logins FOR EACH ROW EXECUTE FUNCTION refuse_all()');
  });
  afterAll(async () => {
    await stack.pool.query('DROP TRIGGER refuse_all ON user_logins');
    await stack.pool.query('DROP FUNCTION refuse_all()');
  });

  it('is stopped after a few restarts with exit code 6, and no message was received', async () => {
    const queueUrl = await stack.newQueue();
    await stack.send(queueUrl, generateSample({ count: 100, malformed: 0, seed: 2205 }).bodies);
    // Each of the two workers may die up to the limit (5) before the first to reach it stops the run.
    const result = await endOrLoop(start(['--workers', '2'], queueUrl), 3 * LOOP);
    const counts = await receiveCounts(queueUrl, 100);
    console.log(`[security] every insert refused by a trigger, --workers 2: exit ${result.code}, ${result.restarts} restarts, most receives of a message ${max(counts)}${result.stoppedByTest ? ' (looping: stopped by the test)' : ''}`);
    expect({ code: result.code, stoppedByTest: result.stoppedByTest }).toEqual({ code: 6, stoppedByTest: false });
    expect(result.restarts).toBeLessThanOrEqual(2 * (LOOP - 1));
    expect(result.stderr).toMatch(/^sqs2pg: worker \d died \d+ times in a row without committing anything/m);
    expect(max(counts)).toBe(0);
  });
});
