// A user's own events, locally: `demo --input FILE` (a JSON array or JSON Lines) drains them with the
// demo's report, and `local` keeps the embedded servers running and prints an endpoint, a queue URL,
// a database URL and a mask key that work as printed, for the user's own `run`. The files are
// generated here; nothing depends on the take-home's sample being present.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import { oneErrorLine } from '../helpers/cli-output.js';
import { runCli, startCli, waitFor } from '../helpers/stack.js';

// A generous ceiling against a hang on a busy machine; each wait ends as soon as its state is there.
const CEILING_MS = 120_000;
let parent: string;
beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'sqs2pg-own-events-'));
  // As root the embedded server runs as `postgres`, which must be able to enter the folder.
  await chmod(parent, 0o755);
});
afterAll(() => rm(parent, { recursive: true, force: true }));

const valid = generateSample({ count: 40, malformed: 0, seed: 71 }).bodies.map((body) => JSON.parse(body) as Record<string, unknown>);
const ips = valid.map((event) => String(event.ip));
const env = () => ({ PATH: process.env.PATH });

function expectNoRawIp(output: string): void {
  for (const ip of ips) expect(output).not.toContain(ip);
}

describe('demo --input', () => {
  it('a JSON array: each element one message, drained with the demo report; bad ones quarantined', async () => {
    const events = [...valid, { foo: 'oops_wrong_msg_type', bar: '123' }, { ...valid[0], ip: '999.1.2.3' }];
    const path = join(parent, 'events.json');
    await writeFile(path, JSON.stringify(events, null, 2));
    const result = await runCli(['demo', '--input', path, '--data-dir', join(parent, 'array')], env(), CEILING_MS);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Sent 42 messages to login-queue from ${path} (JSON array).`);
    expect(result.stdout).toMatch(/^ {2}rows loaded {8}40$/m);
    expect(result.stdout).toMatch(/^ {2}quarantined {8}2 \((missing_field 1, bad_ip 1|bad_ip 1, missing_field 1)\)$/m);
    expect(result.stdout).toMatch(/^ {2}deleted from SQS {3}42$/m);
    expectNoRawIp(result.stdout + result.stderr);
  });

  it('JSON Lines: each line one message, as written, malformed lines quarantined as they would be from a queue', async () => {
    const lines = [...valid.slice(0, 10).map((event) => JSON.stringify(event)), 'not json at all', '', '{"user_id": "u-9",'];
    const path = join(parent, 'events.jsonl');
    await writeFile(path, `${lines.join('\n')}\n`);
    const result = await runCli(['demo', '--input', path, '--data-dir', join(parent, 'lines')], env(), CEILING_MS);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Sent 12 messages to login-queue from ${path} (JSON Lines).`);
    expect(result.stdout).toMatch(/^ {2}rows loaded {8}10$/m);
    expect(result.stdout).toMatch(/^ {2}quarantined {8}2 \(not_json 2\)$/m);
  });

  it('a file that is not one of events: one line, exit 2, before any server starts, nothing of it quoted', async () => {
    const path = join(parent, 'broken.json');
    await writeFile(path, `[${JSON.stringify(valid[0])}, {"ip": "${ips[1]}"`);
    const result = await runCli(['demo', '--input', path, '--data-dir', join(parent, 'broken')], env(), CEILING_MS);
    expect(result.code).toBe(2);
    expect(oneErrorLine(result)).toMatch(/^sqs2pg: --input \S+ starts like a JSON array but is not valid JSON \(position \d+\); /);
    expect(result.stdout).toBe('');
    expectNoRawIp(result.stderr);
    const missing = await runCli(['demo', '--input', join(parent, 'no-such-file.json')], env(), CEILING_MS);
    expect(missing.code).toBe(2);
    expect(oneErrorLine(missing)).toContain('cannot read --input');
  });
});

describe('local', () => {
  it('keeps the embedded servers running; what it prints works as printed, for run and check; Ctrl-C stops it', async () => {
    const path = join(parent, 'local.json');
    await writeFile(path, JSON.stringify(valid));
    const local = startCli(['local', '--input', path, '--data-dir', join(parent, 'local')], env(), CEILING_MS * 2);
    try {
      await waitFor(() => /run --drain\n/.test(local.output().stdout) || local.child.exitCode !== null, CEILING_MS, 'local to print how to reach it');
      const printed = local.output().stdout;
      expect(printed, local.output().stderr).toContain(`Sent 40 messages to login-queue from ${path} (JSON array).`);
      const exported = Object.fromEntries([...printed.matchAll(/^ {2}export ([A-Z_0-9]+)=(\S+)$/gm)].map(([, name, value]) => [name!, value!]));
      expect(Object.keys(exported).sort()).toEqual(['DATABASE_URL', 'SQS2PG_MASK_KEY_FILE', 'SQS_QUEUE_URL']);
      // The queue URL names a host that resolves (fauxqs's own would be sqs.us-east-1.localhost).
      expect(new URL(exported.SQS_QUEUE_URL!).hostname).toBe('127.0.0.1');
      expect(printed).toMatch(/^ {2}node \S*dist\/cli\.js run --drain$/m);

      // Only what was printed, and PATH: no endpoint, no credentials, no key but the file.
      const check = await runCli(['check'], { ...env(), ...exported, SQS2PG_HTTP_PORT: '0' }, CEILING_MS);
      expect(check.stdout).toMatch(/^ok {7}SQS queue: .* 40 visible/m);
      const run = await runCli(['run', '--drain'], { ...env(), ...exported, SQS2PG_HTTP_PORT: '0' }, CEILING_MS);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/^ {2}rows loaded {8}40$/m);
      // A second run, with the same printed key: the key the database registered under k1.
      const again = await runCli(['run', '--drain'], { ...env(), ...exported, SQS2PG_HTTP_PORT: '0' }, CEILING_MS);
      expect(again.code, again.stderr).toBe(0);

      const client = new pg.Client({ connectionString: exported.DATABASE_URL });
      await client.connect();
      try {
        const { rows } = await client.query<{ n: string }>("SELECT count(*) AS n FROM user_logins WHERE masked_ip LIKE 'k1:%'");
        expect(Number(rows[0]?.n)).toBe(40);
      } finally {
        await client.end();
      }
    } finally {
      local.child.kill('SIGINT');
    }
    const stopped = await local.done;
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout).toContain('sqs2pg local: stopping');
  });
});
