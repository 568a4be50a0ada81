// The real CLI's exit codes and messages for settings it cannot use: exit 2 for a bad setting, exit 3
// for a server it cannot reach, each as one line on stderr that names the setting and says what to
// do, never echoing a secret; and every command's help, in two tiers: --help the settings most runs
// need, --help-all every setting it reads.
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usageOf } from '../../src/config/help.js';
import { isEssential, settingsFor, type CommandName } from '../../src/config/schema.js';
import { freePort } from '../../src/local/free-port.js';
import { createTestStack, runCli, startCli, type CliResult, type TestStack } from '../helpers/stack.js';
import { oneErrorLine } from '../helpers/cli-output.js';
import { startFakePostgres, type FakePostgres, type FakePostgresMode } from '../helpers/fake-postgres.js';

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
      contains: ['SQS2PG_MASK_KEY', 'decodes to 12 bytes, not 32', 'sqs2pg keygen'],
      absent: ['deadbeefcafe0123', 'deadbeef'],
    },
    {
      name: 'a mask key shorter than 32 bytes (flag)',
      args: ['--mask-key', 'c2hvcnRrZXlzaG9ydA=='],
      env: { SQS2PG_MASK_KEY: undefined },
      contains: ['--mask-key', 'decodes to 13 bytes, not 32', 'sqs2pg keygen'],
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

  it('a queue URL naming a queue the server does not have: it answered, and has these queues', async () => {
    const missing = queueUrl.replace(/[^/]+$/, 'no-such-queue-sqs2pg');
    expect(missing).not.toBe(queueUrl);
    const result = await runCli(['run', '--drain'], envWith({ SQS_QUEUE_URL: missing }), GIVE_UP_MS);
    expect(result.code, result.stderr).toBe(3);
    const line = oneErrorLine(result);
    expect(line).toContain(missing);
    expect(line).toContain('answered that it has no queue no-such-queue-sqs2pg; queues it has: ');
    expect(line).toContain('SQS_QUEUE_URL');
    expect(line).not.toContain('credentials');
  });

  // fauxqs knows a queue by its whole URL (http://sqs.us-east-1.localhost:PORT/…, a host that does not
  // resolve); the same path on 127.0.0.1 is the obvious fix, and it is another URL to fauxqs. It used
  // to say "it has no queue login-queue; queues it has: login-queue".
  it('a queue the server has, named on another host: the message says the host is what differs', async () => {
    const name = new URL(queueUrl).pathname.split('/').at(-1)!;
    const onLoopback = `${stack.sqsEndpoint}${new URL(queueUrl).pathname}`;
    expect(onLoopback).not.toBe(queueUrl);
    const env = envWith({ SQS_QUEUE_URL: onLoopback });
    delete env.AWS_ENDPOINT_URL_SQS;
    const result = await runCli(['run', '--drain'], env, GIVE_UP_MS);
    expect(result.code, result.stderr).toBe(3);
    const line = oneErrorLine(result);
    expect(line).not.toContain(`has no queue ${name}`);
    expect(line).toContain(`has a queue ${name}, but as ${queueUrl}`);
    expect(line).toContain(`host ${new URL(queueUrl).host}, not ${new URL(onLoopback).host}`);
    expect(line).toContain(`AWS_ENDPOINT_URL_SQS=${stack.sqsEndpoint}`);
  });

  it('AWS_ENDPOINT_URL_SQS on a closed port: refused, and no advice about credentials', async () => {
    const port = await freePort();
    const result = await runCli(['run', '--drain'], envWith({ AWS_ENDPOINT_URL_SQS: `http://127.0.0.1:${port}` }), GIVE_UP_MS);
    expect(result.code, result.stderr).toBe(3);
    const line = oneErrorLine(result);
    expect(line).toContain(`connection refused (ECONNREFUSED): nothing listens on 127.0.0.1:${port}`);
    expect(line).not.toMatch(/credentials|role/);
  });
});

describe('exit 3 within seconds: PostgreSQL refuses, and the line names why', () => {
  const fakes: FakePostgres[] = [];
  afterAll(async () => {
    for (const fake of fakes) await fake.close();
  });
  async function fake(mode: FakePostgresMode): Promise<FakePostgres> {
    const server = await startFakePostgres(mode);
    fakes.push(server);
    return server;
  }
  const commands: { args: string[]; code: number; env: (databaseUrl: string) => NodeJS.ProcessEnv }[] = [
    { args: ['run', '--drain'], code: 3, env: (databaseUrl) => envWith({ DATABASE_URL: databaseUrl }) },
    { args: ['migrate'], code: 3, env: (databaseUrl) => ({ PATH: process.env.PATH, DATABASE_URL: databaseUrl }) },
    { args: ['check'], code: 1, env: (databaseUrl) => envWith({ DATABASE_URL: databaseUrl }) },
  ];
  /** The line about PostgreSQL: the error line, or check's PostgreSQL line. */
  function databaseLine(result: CliResult, args: string[]): string {
    if (args[0] !== 'check') {
      expect(result.stdout).toBe('');
      return oneErrorLine(result);
    }
    expect(result.stderr).toBe('');
    const line = result.stdout.split('\n').find((text) => text.startsWith('problem  PostgreSQL: '));
    expect(line, result.stdout).toBeDefined();
    return line!;
  }

  // The server waits 60 s (authentication_timeout) for a password that never comes; so did the
  // CLI. GIVE_UP_MS is below that: a hang fails the test.
  for (const { args, code, env } of commands) {
    it(`${args[0]}: a server that asks for a password DATABASE_URL does not have`, async () => {
      const server = await fake('scram');
      const result = await runCli(args, env(`postgres://sqs2pg@127.0.0.1:${server.port}/logins`), GIVE_UP_MS);
      expect(result.code, result.stderr).toBe(code);
      const line = databaseLine(result, args);
      expect(line).toContain(`127.0.0.1:${server.port}/logins (the server asks for a password and DATABASE_URL has none); put it in DATABASE_URL`);
    });
  }

  it('a password the server refuses', async () => {
    const server = await fake('wrong-password');
    const result = await runCli(['migrate'], { PATH: process.env.PATH, DATABASE_URL: `postgres://sqs2pg:pw-Hunter2-secret@127.0.0.1:${server.port}/logins` }, GIVE_UP_MS);
    expect(result.code, result.stderr).toBe(3);
    const line = oneErrorLine(result);
    expect(line).toContain('(the server refused the password for sqs2pg); check the user and password in DATABASE_URL');
    expect(line).not.toContain('pw-Hunter2-secret');
  });

  it('a server that accepts only TLS', async () => {
    const server = await fake('tls-required');
    const result = await runCli(['migrate'], { PATH: process.env.PATH, DATABASE_URL: `postgres://sqs2pg:pw@127.0.0.1:${server.port}/logins` }, GIVE_UP_MS);
    expect(result.code, result.stderr).toBe(3);
    expect(oneErrorLine(result)).toContain('(the server accepts only encrypted (TLS) connections); add ?sslmode=require');
  });

  it('sslmode=require against a server without TLS: one line, and no pg security notice', async () => {
    const server = await fake('scram');
    const result = await runCli(['migrate'], { PATH: process.env.PATH, DATABASE_URL: `postgres://sqs2pg:pw@127.0.0.1:${server.port}/logins?sslmode=require` }, GIVE_UP_MS);
    expect(result.code, result.stderr).toBe(3);
    expect(oneErrorLine(result)).toContain('(the server does not offer TLS, and DATABASE_URL asks for it (sslmode=require))');
    expect(result.stderr).not.toContain('SECURITY WARNING');
  });

  it('a host name that does not resolve', async () => {
    const result = await runCli(['migrate'], { PATH: process.env.PATH, DATABASE_URL: 'postgres://sqs2pg:pw@no-such-host.invalid:5432/logins' }, GIVE_UP_MS);
    expect(result.code, result.stderr).toBe(3);
    expect(oneErrorLine(result)).toMatch(/\(the host name no-such-host\.invalid does not resolve \(DNS E[A-Z_]+\)\); check DATABASE_URL's host name/);
  });
});

describe('--help in tiers', () => {
  const commands: CommandName[] = ['run', 'demo', 'local', 'migrate', 'check', 'pipelines', 'reveal', 'forget', 'rotate', 'grants', 'keygen', 'quarantine', 'replay'];
  /** One block per option: its "  --flag" line and the indented lines under it, whitespace joined. */
  const blocksOf = (help: string) =>
    new Map(
      help
        .split(/\n(?= {2}--)/)
        .filter((block) => block.startsWith('  --'))
        .map((block) => [/^ {2}(--[a-z0-9-]+)/.exec(block)![1]!, block.replace(/\s+/g, ' ')]),
    );
  it('names the argument a command takes', () => {
    expect(usageOf('reveal')).toBe('sqs2pg reveal <masked-value> [options]');
    expect(usageOf('quarantine')).toBe('sqs2pg quarantine list | show <message-id> [options]');
    expect(usageOf('run')).toBe('sqs2pg run [options]');
    expect(usageOf('pipelines')).toBe('sqs2pg pipelines show [<name>] | validate <file> | schema [options]');
  });

  for (const command of commands) {
    it(`${command} --help: the options most runs need, within 45 lines of 100 columns; --help-all: every one`, async () => {
      // No environment at all: help must not need a key, a database or a queue.
      const env = { PATH: process.env.PATH };
      const [essential, all] = await Promise.all([runCli([command, '--help'], env, GIVE_UP_MS), runCli([command, '--help-all'], env, GIVE_UP_MS)]);
      for (const result of [essential, all]) {
        expect(result.code, result.stderr).toBe(0);
        expect(result.stderr).toBe('');
        expect(result.stdout).toContain(`Usage: ${usageOf(command)}`);
        for (const line of result.stdout.trimEnd().split('\n')) expect(line.length, line).toBeLessThanOrEqual(100);
      }
      expect(essential.stdout.trimEnd().split('\n').length).toBeLessThanOrEqual(45);

      const specs = settingsFor(command).map(([, spec]) => spec);
      const shown = blocksOf(essential.stdout);
      const every = blocksOf(all.stdout);
      for (const spec of specs) {
        const block = every.get(`--${spec.flag}`);
        expect(block, `--${spec.flag} missing from "${command} --help-all"`).toBeDefined();
        if (spec.env) expect(block).toContain(spec.env);
        else expect(block).toContain('(flag only)');
        expect(block).toContain((spec.docFor?.[command] ?? spec.doc).replace(/\s+/g, ' '));
        expect(shown.has(`--${spec.flag}`), `--${spec.flag} in "${command} --help"`).toBe(isEssential(spec, command));
      }
      // The help is this command's: nothing it does not accept, no other command's requirements.
      expect([...every.keys()].sort()).toEqual([...specs.map((spec) => `--${spec.flag}`), '--help', '--help-all'].sort());
      if (command !== 'reveal') expect(all.stdout).not.toContain('Required by reveal');
      const hidden = specs.filter((spec) => !isEssential(spec, command)).length;
      if (hidden > 0) expect(essential.stdout).toContain(`${hidden} more option${hidden === 1 ? '' : 's'} (`);
    });
  }

  it('--version, and the command list within 100 columns', async () => {
    const version = await runCli(['--version'], { PATH: process.env.PATH }, GIVE_UP_MS);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe((JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version);
    const usage = await runCli(['--help'], { PATH: process.env.PATH }, GIVE_UP_MS);
    expect(usage.code).toBe(0);
    for (const line of usage.stdout.trimEnd().split('\n')) expect(line.length, line).toBeLessThanOrEqual(100);
    for (const command of commands) expect(usage.stdout).toMatch(new RegExp(`^ {2}${command} `, 'm'));
  });
});
