// sqs2pg forget with the real CLI: erasing a user removes exactly their rows, the quarantine records
// naming them and the vault entries no other row uses (shared values stay revealable for the
// others), audited without the erased values; forget --masked crypto-shreds one value.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import { BEGIN_VAULT_WRITE } from '../../src/db/vault-lock.js';
import { createMasker } from '../../src/transform/mask.js';
import { entryColumns, INSERT_ENTRIES } from '../../src/vault/entry.js';
import { sealBatch } from '../../src/vault/seal-batch.js';
import { createVaultSealer } from '../../src/vault/sealed-box.js';
import { createTestStack, runCli, startCli, TEST_MASK_KEY, waitFor, type TestStack } from '../helpers/stack.js';
import { openVault, TEST_VAULT_PRIVATE_KEY, TEST_VAULT_PUBLIC_KEY } from '../helpers/vault.js';

const A = 'user-to-forget-a';
const B = 'user-b-shares-an-ip';
const C = 'user-c-shares-a-device';
const D = 'user-d-forgotten-during-a-batch';
const login = (user: string, ip: string, device: string, appVersion = '1.2.3') =>
  JSON.stringify({ user_id: user, app_version: appVersion, device_type: 'ios', ip, locale: 'DE', device_id: device });
// Addresses from the documentation ranges and device ids the sample generator cannot produce twice.
const BODIES = [
  login(A, '198.51.100.1', '900-00-0001'),
  login(A, '198.51.100.2', '900-00-0001'),
  login(A, '198.51.100.3', '900-00-0002'),
  login(B, '198.51.100.1', '900-00-0003'),
  login(B, '198.51.100.4', '900-00-0003'),
  login(C, '198.51.100.5', '900-00-0002'),
  login(D, '198.51.100.9', '900-00-0007'),
  // Quarantined: two name A (one valid JSON, one truncated), one names B.
  login(A, '198.51.100.6', '900-00-0004', 'not-a-version'),
  login(A, '198.51.100.7', '900-00-0005').slice(0, -12),
  login(B, '198.51.100.8', '900-00-0006', 'x.y'),
];
const A_VALUES = ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.6', '198.51.100.7', '900-00-0001', '900-00-0002', '900-00-0004', '900-00-0005'];

let stack: TestStack;
let cliEnv: NodeJS.ProcessEnv;
beforeAll(async () => {
  stack = await createTestStack();
  const queueUrl = await stack.newQueue();
  await stack.send(queueUrl, [...BODIES, ...generateSample({ count: 300, malformed: 0, seed: 61 }).bodies]);
  const result = await runCli(['run', '--drain'], stack.env(queueUrl, { SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY }), 60_000);
  expect(result.code, result.stderr).toBe(0);
  cliEnv = { PATH: process.env.PATH, DATABASE_URL: stack.databaseUrl, SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY, SQS2PG_MASK_KEY: TEST_MASK_KEY };
});
afterAll(async () => {
  await stack.close();
});

interface Snapshot {
  rows: Map<string, string>;
  vault: Map<string, string>;
  quarantine: Map<string, string>;
}

/** Every row, vault entry and quarantine record, as text keyed by its id. */
async function snapshot(): Promise<Snapshot> {
  const rows = await stack.pool.query<{ id: string; t: string }>('SELECT sqs_message_id AS id, row_to_json(u)::text AS t FROM user_logins u');
  const vault = await stack.pool.query<{ id: string; t: string }>('SELECT masked_value AS id, row_to_json(e)::text AS t FROM sqs2pg_vault.entries e');
  const quarantine = await stack.pool.query<{ id: string; t: string }>('SELECT sqs_message_id AS id, row_to_json(q)::text AS t FROM sqs2pg.quarantine q');
  const map = (result: { rows: { id: string; t: string }[] }) => new Map(result.rows.map((row) => [row.id, row.t]));
  return { rows: map(rows), vault: map(vault), quarantine: map(quarantine) };
}

async function masksOf(user: string): Promise<{ ip: string; device: string }[]> {
  const result = await stack.pool.query<{ ip: string; device: string }>(
    'SELECT masked_ip AS ip, masked_device_id AS device FROM user_logins WHERE user_id = $1',
    [user],
  );
  return result.rows;
}

/** The vault entry's mask for an original value (the test holds the vault key, like a PII officer). */
async function maskOfValue(value: string): Promise<string | undefined> {
  const vault = await openVault(stack.pool, { v1: { private: TEST_VAULT_PRIVATE_KEY } });
  return [...vault].find(([, entry]) => entry.value === value)?.[0];
}

describe('sqs2pg forget --user-id', () => {
  it('removes exactly the user\'s rows, quarantine records and unshared vault entries, and says so', async () => {
    const before = await snapshot();
    const aMasks = await masksOf(A);
    expect(aMasks).toHaveLength(3);
    const shared = [await maskOfValue('198.51.100.1'), await maskOfValue('900-00-0002')];
    const own = [await maskOfValue('198.51.100.2'), await maskOfValue('198.51.100.3'), await maskOfValue('900-00-0001')];
    for (const mask of [...shared, ...own]) expect(mask).toBeDefined();
    const userKey = (user: string) => createMasker(Buffer.from(TEST_MASK_KEY, 'hex'), 'k1').userKey(user);
    const aQuarantine = [...before.quarantine].filter(([, record]) => record.includes(userKey(A))).map(([id]) => id);
    for (const record of before.quarantine.values()) expect(record).not.toContain(A);
    expect(aQuarantine).toHaveLength(2);

    const result = await runCli(['forget', '--user-id', A, '--reason', 'erasure request ER-7'], cliEnv, 20_000);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe(
      'forgot the user: removed 3 rows of user_logins, 2 quarantine records and 3 vault entries no other row uses; kept 2 vault entries other rows still use; a tombstone keeps their later messages out (it has stopped 0 messages so far)',
    );
    expect(result.stderr).toBe('');

    const after = await snapshot();
    // Rows: all of A's gone, every other row as it was.
    const aIds = [...before.rows].filter(([, row]) => row.includes(`"user_id":"${A}"`)).map(([id]) => id);
    expect(aIds).toHaveLength(3);
    const expectedRows = new Map(before.rows);
    for (const id of aIds) expectedRows.delete(id);
    expect(after.rows).toEqual(expectedRows);
    // Vault: A's own three entries gone, the shared two and all others byte for byte as they were.
    const expectedVault = new Map(before.vault);
    for (const mask of own) expectedVault.delete(mask!);
    expect(after.vault).toEqual(expectedVault);
    for (const mask of shared) expect(after.vault.has(mask!)).toBe(true);
    // Quarantine: A's two records gone, B's kept.
    const expectedQuarantine = new Map(before.quarantine);
    for (const id of aQuarantine) expectedQuarantine.delete(id);
    expect(after.quarantine).toEqual(expectedQuarantine);
    expect([...after.quarantine.values()].some((record) => record.includes(userKey(B)))).toBe(true);

    // The shredded mask cannot be revealed; the shared one still can, for B's rows.
    const gone = await runCli(['reveal', own[0]!, '--reason', 'check erasure'], cliEnv, 15_000);
    expect(gone.code).toBe(4);
    const kept = await runCli(['reveal', shared[0]!, '--reason', 'check erasure'], cliEnv, 15_000);
    expect([kept.code, kept.stdout]).toEqual([0, '198.51.100.1\n']);

    // Audited: who, why and how much, but not whom or what.
    const audit = await stack.pool.query<{ action: string; masked_value: string | null; reason: string; detail: Record<string, number>; t: string }>(
      "SELECT action, masked_value, reason, detail, row_to_json(a)::text AS t FROM sqs2pg_vault.audit a WHERE action = 'forget_user'",
    );
    expect(audit.rows).toHaveLength(1);
    const row = audit.rows[0]!;
    expect([row.action, row.masked_value, row.reason]).toEqual(['forget_user', null, 'erasure request ER-7']);
    expect(row.detail).toEqual({ rows: 3, quarantined: 2, vaultEntries: 3, vaultEntriesKept: 2 });
    for (const secret of [A, ...A_VALUES, ...aMasks.flatMap((m) => [m.ip, m.device])]) expect(row.t).not.toContain(secret);
  });

  it('removes nothing more when run again', async () => {
    const before = await snapshot();
    const result = await runCli(['forget', '--user-id', A], cliEnv, 20_000);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('removed 0 rows of user_logins, 0 quarantine records and 0 vault entries');
    expect(await snapshot()).toEqual(before);
  });
});

describe('sqs2pg forget --masked', () => {
  it('deletes that one vault entry and leaves the rows with a mask nobody can reverse', async () => {
    const mask = (await masksOf(B))[0]!.device;
    const before = await snapshot();
    const result = await runCli(['forget', '--masked', mask, '--reason', 'device erasure ER-8'], cliEnv, 20_000);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe("forgot the value: removed 1 vault entry; 2 rows keep the mask (user_logins and every registered pipeline's table), which can no longer be revealed");
    const after = await snapshot();
    expect(after.rows).toEqual(before.rows);
    const expectedVault = new Map(before.vault);
    expectedVault.delete(mask);
    expect(after.vault).toEqual(expectedVault);
    expect((await runCli(['reveal', mask, '--reason', 'check erasure'], cliEnv, 15_000)).code).toBe(4);
    const audit = await stack.pool.query("SELECT masked_value, reason FROM sqs2pg_vault.audit WHERE action = 'forget_masked'");
    expect(audit.rows).toEqual([{ masked_value: mask, reason: 'device erasure ER-8' }]);
  });

  it.each([
    ['neither --user-id nor --masked', []],
    ['both', ['--user-id', B, '--masked', `k1:${'0'.repeat(64)}`]],
    ['--user-id and --subject', ['--user-id', B, '--pipeline', 'logins', '--subject', B]],
  ])('refuses %s in one line, exit 2', async (_name, args) => {
    const result = await runCli(['forget', ...args], cliEnv, 15_000);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([
      'sqs2pg: forget needs exactly one of --user-id <id>, --pipeline <name> --subject <value> or --masked <value>; see: sqs2pg forget --help',
    ]);
  });

  it.each([
    ['--subject without --pipeline', ['--subject', B], 'forget --subject needs --pipeline <name>'],
    ['--pipeline without --subject', ['--pipeline', 'logins', '--masked', `k1:${'0'.repeat(64)}`], 'forget --pipeline goes with --subject <value>'],
  ])('refuses %s in one line, exit 2, never echoing the subject', async (_name, args, says) => {
    const result = await runCli(['forget', ...args], cliEnv, 15_000);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(says);
    expect(result.stderr).not.toContain(B);
  });
});

describe('sqs2pg forget while a worker commits a batch', () => {
  it('waits for the batch, and keeps the vault entry its new row uses', async () => {
    // D's address is D's alone, until a batch in progress brings a new login from it.
    const [dRow] = await masksOf(D);
    const mask = dRow!.ip;
    const client = await stack.pool.connect();
    let forgetting: ReturnType<typeof startCli> | undefined;
    try {
      // Exactly what the sink sends: the row, then the vault entry, which exists and is skipped.
      await client.query(BEGIN_VAULT_WRITE);
      await client.query(
        `INSERT INTO user_logins (sqs_message_id, user_id, device_type, masked_ip, masked_device_id, app_version, app_version_raw, create_date)
         VALUES ('batch-in-progress', 'user-e-new-login', 'ios', $1, $2, 1002003, '1.2.3', '2024-01-15')`,
        [mask, dRow!.device],
      );
      const entries = sealBatch([{ mask, field: 'ip', value: '198.51.100.9' }], createVaultSealer(Buffer.from(TEST_VAULT_PUBLIC_KEY, 'hex'), 'v1'));
      expect((await client.query(INSERT_ENTRIES, entryColumns(entries))).rowCount).toBe(0);

      forgetting = startCli(['forget', '--user-id', D], cliEnv, 20_000);
      await waitFor(
        async () => {
          const waiting = await stack.pool.query<{ n: string }>(
            `SELECT count(*) AS n FROM pg_locks WHERE relation = 'sqs2pg.erasure_lock'::regclass AND NOT granted`,
          );
          return Number(waiting.rows[0]?.n) === 1;
        },
        15_000,
        'forget to wait for the batch',
      );
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const result = await forgetting.done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('removed 1 row of user_logins');
    // The new row's address is still revealable; without the lock its entry would have been shredded.
    const revealed = await runCli(['reveal', mask, '--reason', 'check the race'], cliEnv, 15_000);
    expect([revealed.code, revealed.stdout]).toEqual([0, '198.51.100.9\n']);
  });
});
