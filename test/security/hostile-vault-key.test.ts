// Hostile vault public keys (issue 22, item 7). A low-order X25519 point passes every check a key
// text gets (32 bytes, random-looking), yet no value can be sealed to it: the shared secret is zero
// for every ephemeral key. It used to pass `check` as "ok", then fail `run` at its first batch as
// "PostgreSQL refused the batch" (under --workers, a restart loop). Now every command that takes the
// public key refuses it when it loads its settings: exit 2, one line, the key never shown, nothing
// read from the queue and nothing written. The full list of points is the unit test's
// (test/unit/config/x25519-point.test.ts); these are the ones that look like random keys.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestStack, runCli, type CliResult, type TestStack } from '../helpers/stack.js';

// The two points of order 8 (as RFC 7748's u-coordinates, little-endian), and each with bit 255 set,
// which X25519 ignores: the same points, written another way.
const ORDER_8 = ['e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157'];
const withTopBit = (hex: string) => hex.slice(0, 62) + (parseInt(hex.slice(62), 16) | 0x80).toString(16).padStart(2, '0');
const HOSTILE = [...ORDER_8, ...ORDER_8.map(withTopBit)];

let stack: TestStack;
let queueUrl: string;

beforeAll(async () => {
  stack = await createTestStack();
  queueUrl = await stack.newQueue();
  await stack.send(queueUrl, [
    JSON.stringify({ user_id: 'u-1', app_version: '1.2.3', device_type: 'ios', ip: '198.51.100.9', locale: 'DE', device_id: 'd-1' }),
    JSON.stringify({ user_id: 'u-2', app_version: 'not-a-version', device_type: 'ios', ip: '198.51.100.9', locale: 'DE', device_id: 'd-2' }),
  ]);
});
afterAll(async () => {
  await stack?.close();
});

function expectNoKey(result: CliResult, key: string): void {
  for (const text of [key, Buffer.from(key, 'hex').toString('base64')]) {
    expect(result.stdout).not.toContain(text);
    expect(result.stderr).not.toContain(text);
  }
}

async function untouched(): Promise<void> {
  const depth = await stack.queueDepth(queueUrl);
  expect(depth).toEqual({ visible: 2, notVisible: 0 });
  const tables = await stack.pool.query<{ t: string | null }>("SELECT to_regclass('user_logins')::text AS t");
  if (tables.rows[0]?.t) {
    const rows = await stack.pool.query<{ n: string }>('SELECT (SELECT count(*) FROM user_logins) + (SELECT count(*) FROM sqs2pg.quarantine) AS n');
    expect(Number(rows.rows[0]?.n)).toBe(0);
  }
}

describe('a low-order point as the vault public key', () => {
  it.each(HOSTILE)('check refuses %s: a problem with the configuration, exit 2', async (key) => {
    const result = await runCli(['check'], stack.env(queueUrl, { SQS2PG_VAULT_PUBLIC_KEY: key }), 60_000);
    expect(result.code, result.stdout).toBe(2);
    expect(result.stdout.trim()).toMatch(/^problem {2}configuration: invalid --vault-public-key \(SQS2PG_VAULT_PUBLIC_KEY\): .*low-order.*; /);
    expectNoKey(result, key);
  });

  it('run refuses it before it reads a message: one line, exit 2, the queue and the tables untouched', async () => {
    const key = HOSTILE[0]!;
    const result = await runCli(['run', '--drain'], stack.env(queueUrl, { SQS2PG_VAULT_PUBLIC_KEY: key }), 60_000);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^sqs2pg: invalid --vault-public-key \(SQS2PG_VAULT_PUBLIC_KEY\): .*low-order.*; /)]);
    expectNoKey(result, key);
    await untouched();
  });

  it('run --workers 2 refuses it once, in the supervisor: no worker starts, no restart loop', async () => {
    const key = HOSTILE[3]!;
    const result = await runCli(['run', '--drain', '--workers', '2'], stack.env(queueUrl, { SQS2PG_VAULT_PUBLIC_KEY: key }), 60_000);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expectNoKey(result, key);
    await untouched();
  });

  it('in a file, and given to forget: refused the same way', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sqs2pg-hostile-'));
    try {
      const file = join(dir, 'vault.pub');
      await writeFile(file, `${Buffer.from(HOSTILE[1]!, 'hex').toString('base64')}\n`);
      const run = await runCli(['run', '--drain'], stack.env(queueUrl, { SQS2PG_VAULT_PUBLIC_KEY_FILE: file }), 60_000);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(/--vault-public-key-file \(SQS2PG_VAULT_PUBLIC_KEY_FILE\): .*low-order/);
      expectNoKey(run, HOSTILE[1]!);
      const forget = await runCli(['forget', '--user-id', 'u-1'], stack.env(queueUrl, { SQS2PG_VAULT_PUBLIC_KEY: HOSTILE[2]! }), 60_000);
      expect(forget.code, forget.stderr).toBe(2);
      expect(forget.stderr).toMatch(/--vault-public-key \(SQS2PG_VAULT_PUBLIC_KEY\): .*low-order/);
      expectNoKey(forget, HOSTILE[2]!);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    await untouched();
  });
});
