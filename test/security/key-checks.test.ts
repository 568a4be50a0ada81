// Every key checked where it is used (issue 22, item 4). Each command that masks or matches masks
// (run, forget, replay, rotate, check) is given a key this database does not know under its id, as
// each role would run it; each must stop with exit 2 before it writes anything, in one line that
// names the key id and what to do, and never the key. A wrong key used to pass silently: forget
// reported success while its tombstone matched nothing, and replay wrote masks matching nothing.
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMasker } from '../../src/transform/mask.js';
import { createTestStack, runCli, TEST_MASK_KEY, type CliResult, type TestStack } from '../helpers/stack.js';
import { TEST_MASK_KEY_2, TEST_VAULT_PRIVATE_KEY, TEST_VAULT_PRIVATE_KEY_2, TEST_VAULT_PUBLIC_KEY, TEST_VAULT_PUBLIC_KEY_2 } from '../helpers/vault.js';
import { createLoginRoles, type LoginRoles } from './login-roles.js';

const U = 'user-asking-for-erasure';
const login = (user: string, fields: Record<string, string> = {}) =>
  JSON.stringify({ user_id: user, app_version: '1.2.3', device_type: 'ios', ip: '198.51.100.7', locale: 'DE', device_id: `device-of-${user}`, ...fields });

/** Keys of no deployment: fresh random bytes, public like every test key. */
const STRANGER_MASK_KEY = '5e0a0f3c8d1b27e4966ab1c3f0d2e4a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d';

let stack: TestStack;
let roles: LoginRoles;
let queueUrl: string;

async function send(bodies: readonly string[]): Promise<string[]> {
  const output = await stack.sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: bodies.map((MessageBody, i) => ({ Id: String(i), MessageBody })) }));
  expect(output.Failed ?? []).toEqual([]);
  return (output.Successful ?? []).map((ok) => ok.MessageId!);
}

/** Everything a command could write: rows, records, bodies, entries, tombstones, audit, fingerprints. */
async function snapshot(): Promise<string> {
  const tables = [
    'user_logins',
    'sqs2pg.quarantine',
    'sqs2pg.tombstones',
    'sqs2pg.key_fingerprints',
    'sqs2pg_vault.entries',
    'sqs2pg_vault.quarantine_bodies',
    'sqs2pg_vault.audit',
  ];
  const parts: string[] = [];
  for (const table of tables) {
    const result = await stack.pool.query<{ t: string | null }>(`SELECT string_agg(row_to_json(x)::text, E'\\n' ORDER BY row_to_json(x)::text) AS t FROM ${table} x`);
    parts.push(`${table}: ${result.rows[0]?.t ?? ''}`);
  }
  const depth = await stack.queueDepth(queueUrl);
  parts.push(`queue: ${depth.visible + depth.notVisible}`);
  return parts.join('\n');
}

// The deployment's mask key unless a test gives another; every other key only where a test gives it.
const asOwner = (keys: NodeJS.ProcessEnv) => ({ SQS2PG_MASK_KEY: TEST_MASK_KEY, ...keys, PATH: process.env.PATH, DATABASE_URL: stack.databaseUrl });
const asOfficer = (keys: NodeJS.ProcessEnv) => ({ SQS2PG_MASK_KEY: TEST_MASK_KEY, ...keys, PATH: process.env.PATH, DATABASE_URL: roles.urlAs('officer') });
const asWorker = (keys: NodeJS.ProcessEnv) => stack.env(queueUrl, { ...keys, DATABASE_URL: roles.urlAs('worker'), SQS2PG_RECEIVE_WAIT_SEC: '1' });

/** No key material in any output: neither as hex nor as base64. */
function expectNoKey(result: CliResult): void {
  const output = result.stdout + result.stderr;
  for (const key of [TEST_MASK_KEY, TEST_MASK_KEY_2, STRANGER_MASK_KEY, TEST_VAULT_PUBLIC_KEY, TEST_VAULT_PUBLIC_KEY_2, TEST_VAULT_PRIVATE_KEY, TEST_VAULT_PRIVATE_KEY_2]) {
    expect(output).not.toContain(key);
    expect(output).not.toContain(Buffer.from(key, 'hex').toString('base64'));
  }
}

/** Exit 2, one line on stderr naming `keyId` (with what to do), no key shown, nothing written. */
async function expectRefused(args: string[], env: NodeJS.ProcessEnv, keyId: string): Promise<string> {
  const before = await snapshot();
  const result = await runCli(args, env, 120_000);
  expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(2);
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^sqs2pg: .*; \S/);
  expect(lines[0]).toContain(keyId);
  expectNoKey(result);
  expect(await snapshot()).toBe(before);
  return lines[0]!;
}

beforeAll(async () => {
  stack = await createTestStack();
  roles = await createLoginRoles(stack);
  queueUrl = await stack.newQueue();
  // A deployment on k1 / v1: rows, a record that a dropped rule lets replay load, one that stays refused.
  await stack.pool.query(`ALTER TABLE user_logins ADD CONSTRAINT no_blackberry CHECK (device_type <> 'blackberry')`);
  await send([login(U), login('someone-else'), login('blackberry-user', { device_type: 'blackberry' }), login(U, { app_version: 'not-a-version' })]);
  const loaded = await runCli(['run', '--drain'], asWorker({ SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY }), 120_000);
  expect(loaded.code, loaded.stderr).toBe(0);
  await stack.pool.query('ALTER TABLE user_logins DROP CONSTRAINT no_blackberry');
  // Messages waiting in the queue: a refused run must leave them there.
  await send([login(U), login('someone-else')]);
}, 180_000);

afterAll(async () => {
  await roles?.drop();
  await stack?.close();
}, 60_000);

describe('a mask key that is not the one its key id stands for', () => {
  const wrongK1 = { SQS2PG_MASK_KEY: TEST_MASK_KEY_2, SQS2PG_MASK_KEY_ID: 'k1' };

  it('forget --user-id: refused, where it used to report success with a tombstone matching nothing', async () => {
    const line = await expectRefused(['forget', '--user-id', U, '--reason', 'ER-31'], asOfficer({ ...wrongK1, SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY }), 'mask key id "k1"');
    expect(line).toContain('SQS2PG_MASK_KEY');
  });

  it('replay: refused, where it used to load rows whose masks match nothing', async () => {
    await expectRefused(['replay', '--reason', 'Q-31'], asOwner({ ...wrongK1, SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY }), 'mask key id "k1"');
  });

  it('run, rotate and check: refused too', async () => {
    await expectRefused(['run', '--drain'], asWorker({ ...wrongK1, SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY }), 'mask key id "k1"');
    await expectRefused(['rotate', '--reason', 'R-31'], asOwner({ ...wrongK1, SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY }), 'mask key id "k1"');
    const before = await snapshot();
    const checked = await runCli(['check'], asWorker({ ...wrongK1, SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY }), 120_000);
    expect(checked.code, checked.stdout).toBe(2);
    expect(checked.stdout).toMatch(/^problem {2}keys: .*mask key id "k1"/m);
    expectNoKey(checked);
    expect(await snapshot()).toBe(before);
  });
});

describe('a mask key id this database has never seen, or a known key under another id', () => {
  it('forget --user-id: refused (its tombstone would match no worker)', async () => {
    await expectRefused(['forget', '--user-id', U, '--reason', 'ER-32'], asOfficer({ SQS2PG_MASK_KEY: STRANGER_MASK_KEY, SQS2PG_MASK_KEY_ID: 'k9' }), 'mask key id "k9"');
    await expectRefused(['forget', '--user-id', U, '--reason', 'ER-33'], asOfficer({ SQS2PG_MASK_KEY: TEST_MASK_KEY, SQS2PG_MASK_KEY_ID: 'k9' }), '"k1"');
  });

  it('replay: refused (its masks would match no row)', async () => {
    await expectRefused(['replay', '--reason', 'Q-32'], asOwner({ SQS2PG_MASK_KEY: STRANGER_MASK_KEY, SQS2PG_MASK_KEY_ID: 'k9', SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY }), 'mask key id "k9"');
  });
});

describe('a vault key that is not the one its key id stands for', () => {
  it('forget --user-id with another public key under v1: refused (rotate could never open the tombstone)', async () => {
    await expectRefused(['forget', '--user-id', U, '--reason', 'ER-34'], asOfficer({ SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY_2 }), 'vault key id "v1"');
  });

  it('replay with a private key this vault was never sealed to: refused before it opens or writes anything', async () => {
    const line = await expectRefused(['replay', '--reason', 'Q-33'], asOwner({ SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY_2 }), 'vault');
    expect(line).toContain('SQS2PG_VAULT_PRIVATE_KEY');
  });

  it('run and check with another public key under v1: refused', async () => {
    await expectRefused(['run', '--drain'], asWorker({ SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY_2 }), 'vault key id "v1"');
    const checked = await runCli(['check'], asWorker({ SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY_2 }), 120_000);
    expect(checked.code, checked.stdout).toBe(2);
    expect(checked.stdout).toMatch(/^problem {2}keys: .*vault key id "v1"/m);
    expectNoKey(checked);
  });
});

describe('the right keys', () => {
  it('forget and replay go ahead: the erasure holds for the workers, the replayed row has the workers\' masks', async () => {
    const forgot = await runCli(['forget', '--user-id', U, '--reason', 'ER-35'], asOfficer({ SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY }), 60_000);
    expect(forgot.code, forgot.stderr).toBe(0);
    expect(forgot.stdout).toContain('removed 1 row of user_logins, 1 quarantine record');
    const replayed = await runCli(['replay', '--reason', 'Q-34'], asOwner({ SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY }), 120_000);
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(replayed.stdout).toMatch(/^replayed: 1 loaded/);
    const drained = await runCli(['run', '--drain'], asWorker({ SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY }), 120_000);
    expect(drained.code, drained.stderr).toBe(0);
    // U's queued login was stopped by the tombstone; the blackberry row's device mask equals a worker's.
    const rows = await stack.pool.query<{ user_id: string }>('SELECT user_id FROM user_logins ORDER BY user_id');
    expect(rows.rows.map((row) => row.user_id)).toEqual(['blackberry-user', 'someone-else', 'someone-else']);
    const device = await stack.pool.query<{ mask: string }>("SELECT masked_device_id AS mask FROM user_logins WHERE user_id = 'blackberry-user'");
    expect(device.rows[0]?.mask).toBe(createMasker(Buffer.from(TEST_MASK_KEY, 'hex'), 'k1').mask('device_id', 'device-of-blackberry-user'));
  });
});
