// The real CLI's exit codes and messages for settings it cannot use: exit 2 for a bad setting, exit 3
// for a server it cannot reach, each as one line on stderr that names the setting and says what to
// do, never echoing a secret; and every command's --help lists every setting it reads.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settingsFor, type CommandName } from '../../src/config/schema.js';
import { freePort } from '../../src/local/free-port.js';
import { createTestStack, runCli, startCli, type CliResult, type TestStack } from '../helpers/stack.js';
import { oneErrorLine } from '../helpers/cli-output.js';

/**
 * A CLI still running after this is killed, and then fails its test (no exit 3). A generous bound,
 * not a speed claim: it tells a start-up deadline of about 10 s (PostgreSQL's connect timeout, the
 * SQS calls' own) from the 3 x 30 s of a long poll's retries, on however busy a machine.
 */
const GIVE_UP_MS = 40_000;

let stack: TestStack;
let queueUrl: string;
// An "SQS endpoint" that accepts connections and never answers (a wrong port on some other service,
// a stuck proxy). The CLI facing it starts here, so its wait overlaps the other tests'.
let silent: Server;
const silentSockets: Socket[] = [];
let silentRun: { started: number; done: Promise<CliResult>; endpoint: string };
beforeAll(async () => {
  stack = await createTestStack();
  queueUrl = await stack.newQueue();
  silent = createServer((socket) => void silentSockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  const started = Date.now();
  const cli = startCli(['run', '--drain'], envWith({ AWS_ENDPOINT_URL_SQS: endpoint }), GIVE_UP_MS);
  silentRun = { started, done: cli.done, endpoint };
});
afterAll(async () => {
  await silentRun?.done;
  for (const socket of silentSockets) socket.destroy();
  await new Promise((resolve) => silent?.close(resolve));
  await stack.close();
});

/** The stack's working environment with some variables replaced (a value of undefined removes one). */
function envWith(overrides: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...stack.env(queueUrl) };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}


describe('exit 2: a setting sqs2pg cannot use', () => {
  // Every case runs `run --drain` on an otherwise working environment: if the bad setting were
  // accepted, the CLI would drain the empty queue and exit 0, and the case would fail.
  const cases: {
    name: string;
    args?: string[];
    env?: Record<string, string | undefined>;
    contains: string[];
    absent?: string[];
  }[] = [
    {
      name: 'run without SQS2PG_MASK_KEY',
      env: { SQS2PG_MASK_KEY: undefined },
      contains: ['SQS2PG_MASK_KEY', '--mask-key', 'must be set', 'see: sqs2pg run --help'],
    },
    {
      name: 'a mask key shorter than 32 bytes (environment)',
      env: { SQS2PG_MASK_KEY: 'deadbeefcafe0123' },
      contains: ['SQS2PG_MASK_KEY', 'not 32', 'sqs2pg keygen'],
      absent: ['deadbeefcafe0123', 'deadbeef'],
    },
    {
      name: 'a mask key shorter than 32 bytes (flag)',
      args: ['--mask-key', 'c2hvcnRrZXlzaG9ydA=='],
      env: { SQS2PG_MASK_KEY: undefined },
      contains: ['--mask-key', 'not 32', 'sqs2pg keygen'],
      absent: ['c2hvcnRrZXlzaG9ydA', 'shortkey'],
    },
    {
      name: '--pollers abc',
      args: ['--pollers', 'abc'],
      contains: ['--pollers', 'SQS2PG_POLLERS', '"abc"', 'whole number from 1 to 64', 'fix the flag or the environment variable'],
    },
    {
      name: '--visibility-timeout-sec 0',
      args: ['--visibility-timeout-sec', '0'],
      contains: ['--visibility-timeout-sec', 'SQS2PG_VISIBILITY_TIMEOUT_SEC', '"0"', 'at least 1'],
    },
    {
      name: 'an unknown flag',
      args: ['--no-such-flag'],
      contains: ['--no-such-flag', 'see: sqs2pg run --help'],
    },
    {
      name: "SQS_QUEUE_URL 'not a url'",
      env: { SQS_QUEUE_URL: 'not a url' },
      contains: ['--queue-url', 'SQS_QUEUE_URL', '"not a url"', 'http(s) URL', 'fix the flag or the environment variable'],
    },
    {
      name: 'a mysql:// DATABASE_URL',
      env: { DATABASE_URL: 'mysql://u:supersecret@h/db' },
      contains: ['--database-url', 'DATABASE_URL', 'postgres://', 'fix the flag or the environment variable'],
      absent: ['supersecret', 'mysql://'],
    },
  ];

  for (const testCase of cases) {
    it(testCase.name, async () => {
      const result = await runCli(['run', '--drain', ...(testCase.args ?? [])], envWith(testCase.env ?? {}), GIVE_UP_MS);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stdout).toBe('');
      const line = oneErrorLine(result);
      for (const text of testCase.contains) expect(line).toContain(text);
      for (const text of testCase.absent ?? []) expect(line).not.toContain(text);
    });
  }

  it('an unknown command', async () => {
    const result = await runCli(['frobnicate'], envWith({}), GIVE_UP_MS);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(oneErrorLine(result)).toBe('sqs2pg: unknown command "frobnicate"; run "sqs2pg --help" for the list');
  });

  it('migrate with a mysql:// DATABASE_URL', async () => {
    const result = await runCli(['migrate'], { PATH: process.env.PATH, DATABASE_URL: 'mysql://u:supersecret@h/db' }, GIVE_UP_MS);
    expect(result.code).toBe(2);
    const line = oneErrorLine(result);
    expect(line).toContain('DATABASE_URL');
    expect(line).not.toContain('supersecret');
  });
});

describe('exit 3: a server sqs2pg cannot reach, reported quickly', () => {
  it('DATABASE_URL on a closed port', async () => {
    const port = await freePort();
    const result = await runCli(
      ['run', '--drain'],
      envWith({ DATABASE_URL: `postgres://sqs2pg:pw-Hunter2-secret@127.0.0.1:${port}/logins` }),
      GIVE_UP_MS,
    );
    expect(result.code, result.stderr).toBe(3);
    const line = oneErrorLine(result);
    expect(line).toContain('PostgreSQL');
    expect(line).toContain(`127.0.0.1:${port}/logins`);
    expect(line).toContain('check DATABASE_URL');
    expect(line).not.toContain('pw-Hunter2-secret');
    expect(result.stdout).not.toContain('pw-Hunter2-secret');
  });

  it('migrate: DATABASE_URL on a closed port', async () => {
    const port = await freePort();
    const result = await runCli(
      ['migrate'],
      { PATH: process.env.PATH, DATABASE_URL: `postgres://sqs2pg:pw-Hunter2-secret@127.0.0.1:${port}/logins` },
      GIVE_UP_MS,
    );
    expect(result.code, result.stderr).toBe(3);
    const line = oneErrorLine(result);
    expect(line).toContain('PostgreSQL');
    expect(line).toContain('DATABASE_URL');
    expect(line).not.toContain('pw-Hunter2-secret');
  });

  it('AWS_ENDPOINT_URL_SQS on a closed port, with a working database', async () => {
    const port = await freePort();
    const result = await runCli(['run', '--drain'], envWith({ AWS_ENDPOINT_URL_SQS: `http://127.0.0.1:${port}` }), GIVE_UP_MS);
    expect(result.code, result.stderr).toBe(3);
    const line = oneErrorLine(result);
    expect(line).toContain('SQS');
    expect(line).toContain(`http://127.0.0.1:${port}`);
    expect(line).toContain('AWS_ENDPOINT_URL_SQS');
    // The working database URL's password is no business of an SQS message.
    expect(line).not.toContain(`:${new URL(stack.databaseUrl).password}@`);
  });

  // Regression: the start-up GetQueueAttributes has its own deadline, not the long poll's 30 s x 3 attempts.
  it('an SQS endpoint that accepts connections but never answers', async () => {
    const result = await silentRun.done;
    expect(result.code, `killed after ${Date.now() - silentRun.started} ms; stderr: ${result.stderr}`).toBe(3);
    const line = oneErrorLine(result);
    expect(line).toContain(silentRun.endpoint);
    expect(line).toContain('AWS_ENDPOINT_URL_SQS');
  });

  it('a queue URL naming a queue the server does not have', async () => {
    const missing = queueUrl.replace(/[^/]+$/, 'no-such-queue-sqs2pg');
    expect(missing).not.toBe(queueUrl);
    const result = await runCli(['run', '--drain'], envWith({ SQS_QUEUE_URL: missing }), GIVE_UP_MS);
    expect(result.code, result.stderr).toBe(3);
    const line = oneErrorLine(result);
    expect(line).toContain('SQS');
    expect(line).toContain(missing);
    expect(line).toContain('SQS_QUEUE_URL');
  });
});

describe('--help', () => {
  const commands: CommandName[] = ['run', 'demo', 'migrate', 'check', 'reveal', 'forget', 'rotate', 'grants'];
  for (const command of commands) {
    it(`${command} --help lists every flag of "${command}" with its environment variable`, async () => {
      // No environment at all: help must not need a key, a database or a queue.
      const result = await runCli([command, '--help'], { PATH: process.env.PATH }, GIVE_UP_MS);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toBe('');
      expect(result.stdout).toContain(command === 'reveal' ? 'Usage: sqs2pg reveal <masked-value> [options]' : `Usage: sqs2pg ${command} [options]`);

      // One block per option: its "  --flag" line and the indented lines under it.
      const blocks = result.stdout.split(/\n(?= {2}--)/).filter((block) => block.startsWith('  --'));
      const byFlag = new Map(blocks.map((block) => [/^ {2}(--[a-z-]+)/.exec(block)![1]!, block]));
      const specs = settingsFor(command);
      expect(specs.length).toBeGreaterThan(0);
      for (const [, spec] of specs) {
        const block = byFlag.get(`--${spec.flag}`);
        expect(block, `--${spec.flag} missing from "${command} --help"`).toBeDefined();
        expect(block).toContain(`env ${spec.env}`);
        expect(block).toContain(spec.doc);
      }
      // And nothing it does not accept.
      expect([...byFlag.keys()].sort()).toEqual([...specs.map(([, spec]) => `--${spec.flag}`), '--help'].sort());
    });
  }
});
