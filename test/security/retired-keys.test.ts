// A retired key seals and masks nothing more, enforced by PostgreSQL. rotate retires an old key id
// once nothing is left under it and tells its owner the key may be destroyed; a worker that was
// not restarted with the new key (a pod forgotten in the rolling restart, a host outside the
// deployment) kept writing under the retired id, and what it wrote then was stranded: sealed to a
// destroyed private key, or masked under a mask key no rotation will touch again. Now the database
// refuses any write under a retired key id (the batch rolls back whole), and the worker stops with
// exit code 2 and says which key to set; its messages stay in the queue, for a worker on the new key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestStack, runCli, startCli, TEST_MASK_KEY, waitFor, type CliProcess, type TestStack } from '../helpers/stack.js';
import { TEST_MASK_KEY_2, TEST_VAULT_PRIVATE_KEY, TEST_VAULT_PRIVATE_KEY_2, TEST_VAULT_PUBLIC_KEY, TEST_VAULT_PUBLIC_KEY_2 } from '../helpers/vault.js';

let stack: TestStack;
let queueUrl: string;
const clis: CliProcess[] = [];
let counter = 0;

const login = (): string => {
  counter++;
  return JSON.stringify({ user_id: `user-${counter}`, app_version: '2.3.4', device_type: 'ios', ip: `10.0.${counter >> 8}.${counter & 255}`, locale: 'DE', device_id: `device-${counter}` });
};
const logins = (n: number): string[] => Array.from({ length: n }, login);

interface WorkerKeys {
  mask: string;
  maskId: string;
  vaultPublic: string;
  vaultId: string;
}
const V1K1: WorkerKeys = { mask: TEST_MASK_KEY, maskId: 'k1', vaultPublic: TEST_VAULT_PUBLIC_KEY, vaultId: 'v1' };
const V2K1: WorkerKeys = { ...V1K1, vaultPublic: TEST_VAULT_PUBLIC_KEY_2, vaultId: 'v2' };
const V2K2: WorkerKeys = { ...V2K1, mask: TEST_MASK_KEY_2, maskId: 'k2' };

function startWorker(keys: WorkerKeys): CliProcess {
  const worker = startCli(
    ['run'],
    stack.env(queueUrl, {
      SQS2PG_MASK_KEY: keys.mask,
      SQS2PG_MASK_KEY_ID: keys.maskId,
      SQS2PG_VAULT_PUBLIC_KEY: keys.vaultPublic,
      SQS2PG_VAULT_KEY_ID: keys.vaultId,
      SQS2PG_RECEIVE_WAIT_SEC: '1',
    }),
    300_000,
  );
  clis.push(worker);
  return worker;
}

async function started(worker: CliProcess): Promise<void> {
  await waitFor(() => worker.output().stderr.includes('sqs2pg started') || worker.child.exitCode !== null, 120_000, 'the worker to start');
  expect(worker.child.exitCode, worker.output().stderr).toBeNull();
}

async function count(sql: string): Promise<number> {
  return Number((await stack.pool.query<{ n: string }>(sql)).rows[0]?.n ?? 0);
}
const rows = () => count('SELECT count(*) AS n FROM user_logins');

async function rotate(env: NodeJS.ProcessEnv, retired: string): Promise<void> {
  const result = await runCli(['rotate', '--reason', 'KEY-9'], { PATH: process.env.PATH, DATABASE_URL: stack.databaseUrl, ...env }, 120_000);
  expect(result.code, result.stderr).toBe(0);
  expect(result.stdout).toContain(retired);
}

beforeAll(async () => {
  stack = await createTestStack();
  queueUrl = await stack.newQueue();
}, 120_000);

afterAll(async () => {
  for (const cli of clis) if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  await Promise.all(clis.map((cli) => cli.done));
  await stack?.close();
}, 120_000);

describe('a worker left on a retired key', () => {
  it('writes nothing under the retired vault key id: it stops, and its messages wait for a worker on the new key', async () => {
    const stale = startWorker(V1K1);
    await started(stale);
    await stack.send(queueUrl, logins(5));
    await waitFor(async () => (await rows()) === 5, 120_000, 'the first rows');

    // rotate to v2 while the stale worker idles on v1: nothing is left under v1, so v1 is retired.
    await rotate(
      { SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY_2, SQS2PG_VAULT_KEY_ID: 'v2', SQS2PG_VAULT_PREVIOUS_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY },
      'vault key id "v1" is retired',
    );

    await stack.send(queueUrl, logins(5));
    const ended = await stale.done;
    expect(ended.code, ended.stderr).toBe(2);
    expect(ended.stderr).toContain('vault key id "v1" was retired');
    expect(await count("SELECT count(*) AS n FROM sqs2pg_vault.entries WHERE vault_key_id = 'v1'")).toBe(0);
    expect(await rows()).toBe(5);

    // A worker on the new key loads them: nothing was lost.
    const fresh = startWorker(V2K1);
    await started(fresh);
    await waitFor(async () => (await rows()) === 10, 120_000, 'the held messages to load under v2');
    expect(await count("SELECT count(*) AS n FROM sqs2pg_vault.entries WHERE vault_key_id <> 'v2'")).toBe(0);
    fresh.child.kill('SIGTERM');
    expect((await fresh.done).code).toBe(0);
  }, 600_000);

  it('masks nothing under the retired mask key id: it stops, and no row or record carries the old key', async () => {
    const stale = startWorker(V2K1);
    await started(stale);
    await rotate(
      { SQS2PG_MASK_KEY: TEST_MASK_KEY_2, SQS2PG_MASK_KEY_ID: 'k2', SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY_2, SQS2PG_VAULT_KEY_ID: 'v2' },
      'mask key id "k1" is retired',
    );
    const before = await rows();

    await stack.send(queueUrl, [...logins(4), '{"user_id": "user-bad", "app_version": "x"}']);
    const ended = await stale.done;
    expect(ended.code, ended.stderr).toBe(2);
    expect(ended.stderr).toContain('mask key id "k1" was retired');
    expect(await rows()).toBe(before);
    expect(await count("SELECT count(*) AS n FROM user_logins WHERE masked_ip LIKE 'k1:%'")).toBe(0);
    expect(await count("SELECT count(*) AS n FROM sqs2pg.quarantine WHERE user_key LIKE 'k1:%'")).toBe(0);

    const fresh = startWorker(V2K2);
    await started(fresh);
    await waitFor(async () => (await rows()) === before + 4, 120_000, 'the held messages to load under k2');
    await waitFor(async () => (await count('SELECT count(*) AS n FROM sqs2pg.quarantine')) === 1, 120_000, 'the bad body to be quarantined');
    expect(await count("SELECT count(*) AS n FROM user_logins WHERE masked_ip NOT LIKE 'k2:%'")).toBe(0);
    fresh.child.kill('SIGTERM');
    expect((await fresh.done).code).toBe(0);
  }, 600_000);
});
