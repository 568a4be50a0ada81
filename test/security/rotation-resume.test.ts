// A vault key rotation moves the quarantine's sealed bodies and the tombstones' sealed user ids as
// it moves the entries: refused while something is sealed to a key no key given opens, killed half
// way it leaves every item opening with the key of its own key id, and a rerun finishes the job;
// then the old key id is retired, and the new private key alone opens everything.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMasker } from '../../src/transform/mask.js';
import { createVaultOpener, createVaultSealer, quarantineContext } from '../../src/vault/sealed-box.js';
import { sealUserId, tombstoneContext } from '../../src/vault/tombstones.js';
import { createTestStack, runCli, startCli, TEST_MASK_KEY, waitFor, type CliResult, type TestStack } from '../helpers/stack.js';
import { TEST_VAULT_PRIVATE_KEY, TEST_VAULT_PRIVATE_KEY_2, TEST_VAULT_PUBLIC_KEY } from '../helpers/vault.js';

const BODIES = 240;
const TOMBSTONES = 200;
const KEYS = { v1: TEST_VAULT_PRIVATE_KEY, v2: TEST_VAULT_PRIVATE_KEY_2 } as Record<string, string>;

let stack: TestStack;
const sent: string[] = [];

const owner = (keys: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({ ...keys, PATH: process.env.PATH, DATABASE_URL: stack.databaseUrl });
const toV2 = (extra: NodeJS.ProcessEnv = {}) =>
  owner({ SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY_2, SQS2PG_VAULT_KEY_ID: 'v2', SQS2PG_VAULT_PREVIOUS_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY, ...extra });

async function count(sql: string): Promise<number> {
  return Number((await stack.pool.query<{ n: string }>(sql)).rows[0]?.n ?? 0);
}
const bodiesOnV2 = () => count("SELECT count(*) AS n FROM sqs2pg_vault.quarantine_bodies WHERE vault_key_id = 'v2'");
const tombstonesOnV2 = () => count("SELECT count(*) AS n FROM sqs2pg.tombstones WHERE vault_key_id = 'v2'");

/** Every body and tombstone id opens with the private key of its own key id, to what was sealed. */
async function expectEachOpensUnderItsKeyId(): Promise<void> {
  type Row = { id: string; vault_key_id: string; ephemeral_public_key: Buffer; nonce: Buffer; ciphertext: Buffer };
  const open = (row: Row, context: string) =>
    createVaultOpener(Buffer.from(KEYS[row.vault_key_id]!, 'hex'), row.vault_key_id)
      .open({ vaultKeyId: row.vault_key_id, ephemeralPublicKey: row.ephemeral_public_key, nonce: row.nonce, ciphertext: row.ciphertext }, context)
      .toString('utf8');
  const bodies = await stack.pool.query<Row>('SELECT sqs_message_id AS id, vault_key_id, ephemeral_public_key, nonce, ciphertext FROM sqs2pg_vault.quarantine_bodies');
  expect(bodies.rows).toHaveLength(BODIES);
  const opened = new Set(bodies.rows.map((row) => open(row, quarantineContext(row.id))));
  expect(opened).toEqual(new Set(sent));
  const tombstones = await stack.pool.query<Row>('SELECT user_key AS id, vault_key_id, ephemeral_public_key, nonce, sealed_user_id AS ciphertext FROM sqs2pg.tombstones');
  expect(tombstones.rows).toHaveLength(TOMBSTONES);
  const masker = createMasker(Buffer.from(TEST_MASK_KEY, 'hex'), 'k1');
  for (const row of tombstones.rows) expect(masker.userKey(open(row, tombstoneContext(row.id)))).toBe(row.id);
}

async function killDuring(env: NodeJS.ProcessEnv, progress: () => Promise<number>, total: number, signal: NodeJS.Signals): Promise<CliResult> {
  const cli = startCli(['rotate', '--reason', 'R-9'], env, 120_000);
  await waitFor(
    async () => {
      const done = await progress();
      if (done >= total) throw new Error(`rotate moved all ${total} before it could be stopped`);
      return done > 0;
    },
    60_000,
    'rotate to be under way',
  );
  cli.child.kill(signal);
  return cli.done;
}

beforeAll(async () => {
  stack = await createTestStack();
  const queueUrl = await stack.newQueue();
  // Quarantined with the vault on (v1): each body sealed to it.
  for (let i = 0; i < BODIES; i++) {
    sent.push(JSON.stringify({ user_id: `q-${i}`, app_version: `not-a-version-${i}`, device_type: 'ios', ip: '198.51.100.4', locale: 'DE', device_id: `d-${i}` }));
  }
  await stack.send(queueUrl, sent);
  const drained = await runCli(['run', '--drain'], stack.env(queueUrl, { SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY }), 120_000);
  expect(drained.code, drained.stderr).toBe(0);
  // Erased users, as forget records them with the vault on (written here directly: many of them).
  const masker = createMasker(Buffer.from(TEST_MASK_KEY, 'hex'), 'k1');
  const sealer = createVaultSealer(Buffer.from(TEST_VAULT_PUBLIC_KEY, 'hex'), 'v1');
  for (let i = 0; i < TOMBSTONES; i++) {
    const userKey = masker.userKey(`erased-${i}`);
    const sealed = sealUserId(sealer, userKey, `erased-${i}`)!;
    await stack.pool.query('INSERT INTO sqs2pg.tombstones (user_key, vault_key_id, ephemeral_public_key, nonce, sealed_user_id) VALUES ($1, $2, $3, $4, $5)', [
      userKey,
      sealed.vaultKeyId,
      sealed.ephemeralPublicKey,
      sealed.nonce,
      sealed.ciphertext,
    ]);
  }
}, 180_000);

afterAll(async () => {
  await stack?.close();
});

describe('rotate to a new vault key pair, with quarantined bodies and tombstones', () => {
  it('is refused, naming what is sealed to the old key, without the old private key', async () => {
    const result = await runCli(['rotate'], toV2({ SQS2PG_VAULT_PREVIOUS_PRIVATE_KEY: '' }), 60_000);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      `sqs2pg: ${BODIES} quarantined bodies and ${TOMBSTONES} erased users' sealed ids are under vault key id "v1", which no key given opens; set SQS2PG_VAULT_PREVIOUS_PRIVATE_KEY (or SQS2PG_VAULT_KEY for entries written before 0.2) to that key`,
    );
    expect([await bodiesOnV2(), await tombstonesOnV2()]).toEqual([0, 0]);
  });

  it('killed or stopped half way, leaves each item opening under its own key id; a rerun finishes and retires v1', async () => {
    const slow = toV2({ SQS2PG_BATCH_MAX_ROWS: '5', SQS2PG_ROTATE_PAUSE_MS: '40' });
    const killed = await killDuring(slow, bodiesOnV2, BODIES, 'SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    await expectEachOpensUnderItsKeyId();
    const stopped = await killDuring(slow, tombstonesOnV2, TOMBSTONES, 'SIGTERM');
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout).toContain('stopped by a signal before the end: run sqs2pg rotate again to resume');
    expect(stopped.stdout).not.toContain('retired');
    await expectEachOpensUnderItsKeyId();
    const partial = await tombstonesOnV2();
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(TOMBSTONES);

    const rerun = await runCli(['rotate', '--reason', 'R-9 again'], toV2(), 120_000);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout).toContain(`re-sealed 0 quarantined bodies and ${TOMBSTONES - partial} erased users' sealed ids to vault key id "v2"`);
    expect(rerun.stdout).toContain('vault key id "v1" is retired');
    expect([await bodiesOnV2(), await tombstonesOnV2()]).toEqual([BODIES, TOMBSTONES]);
    await expectEachOpensUnderItsKeyId();

    // The new private key alone opens a body; the old public key is refused to a worker from now on.
    const id = (await stack.pool.query<{ id: string }>('SELECT sqs_message_id AS id FROM sqs2pg.quarantine LIMIT 1')).rows[0]!.id;
    const shown = await runCli(['quarantine', 'show', id, '--reveal', '--reason', 'R-9 check'], owner({ SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY_2 }), 60_000);
    expect(shown.code, shown.stderr).toBe(0);
    expect(sent).toContain((JSON.parse(shown.stdout) as { body: string }).body);
    const queueUrl = await stack.newQueue();
    const stale = await runCli(['run', '--drain'], stack.env(queueUrl, { SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY }), 60_000);
    expect(stale.code).toBe(2);
    expect(stale.stderr).toContain('vault key id "v1" was retired by sqs2pg rotate');
    // Nor can rotate move anything back to it.
    const back = await runCli(['rotate'], owner({ SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY, SQS2PG_VAULT_PREVIOUS_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY_2 }), 60_000);
    expect(back.code).toBe(2);
    expect(back.stderr).toContain('vault key id "v1" was retired by sqs2pg rotate');
  }, 300_000);
});
