// The vault end to end with the real CLI: a drain with SQS2PG_VAULT_PUBLIC_KEY writes one sealed
// entry per distinct mask and nothing in clear; reveal, with the private key, gives the original
// back and audits it; entries of the legacy symmetric vault still reveal; every way reveal can be
// refused is one line and a non-zero exit; without the key nothing is vaulted. What a drain vaults,
// reveal and vaulting nothing without the key are the same tests run against the builtin logins and
// a declared pipeline (page_views); reveal's refusals and the key checks, the database's, once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migratePipelines, PIPELINES_UNDER_TEST, recordMasks, type PipelineName, type RecordMaskColumns } from '../helpers/page-views.js';
import { createTestStack, runCli, TEST_MASK_KEY, type TestStack } from '../helpers/stack.js';
import { oneErrorLine } from '../helpers/cli-output.js';
import { keyFingerprint } from '../../src/config/key.js';
import {
  insertLegacyEntries,
  openVault,
  originalsBySubject,
  rawValuesOf,
  rowMasks,
  rowMasksOf,
  TEST_MASK_KEY_2,
  TEST_VAULT_KEY,
  TEST_VAULT_PRIVATE_KEY,
  TEST_VAULT_PRIVATE_KEY_2,
  TEST_VAULT_PUBLIC_KEY,
  TEST_VAULT_PUBLIC_KEY_2,
  vaultDump,
} from '../helpers/vault.js';

/** Per pipeline, the workload of its drain: the logins at full scale, page_views smaller (the point holds at 200). */
const SCALE: Record<PipelineName, { count: number; malformed: number; seed: number }> = {
  logins: { count: 600, malformed: 12, seed: 51 },
  page_views: { count: 200, malformed: 10, seed: 53 },
};

/** Events of each pipeline beside its sample, each of its own subject, all with the same personal values. */
const REPEATS = 5;
const rowsOf = (name: PipelineName) => SCALE[name].count + REPEATS;

interface Drained {
  stack: TestStack;
  bodies: string[];
  env: NodeJS.ProcessEnv;
}
/** Each pipeline drained with the vault on into a database of its own (the vault is the database's). */
const drained = {} as Record<PipelineName, Drained>;
let stack: TestStack;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  for (const pipeline of PIPELINES_UNDER_TEST) {
    const own = await createTestStack();
    await migratePipelines(own.databaseUrl);
    const { count, malformed, seed } = SCALE[pipeline.name];
    // Subjects of their own sharing one ip and one other value: the vault keeps one entry a mask.
    const repeats = Array.from({ length: REPEATS }, (_, i) => pipeline.event(`repeat-${i}`, '192.0.2.7', 'repeated-other@example.com'));
    const bodies = [...pipeline.bodies(count, malformed, seed), ...repeats];
    const queueUrl = await own.newQueue();
    await own.send(queueUrl, bodies);
    const ownEnv = pipeline.env(own, queueUrl, { SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY, SQS2PG_BATCH_MAX_ROWS: '50' });
    drained[pipeline.name] = { stack: own, bodies, env: ownEnv };
    const result = await runCli(['run', '--drain'], ownEnv, 60_000);
    expect(result.code, result.stderr).toBe(0);
  }
  // What reveal and the keys do is the database's, not the pipeline's: asked of the logins' one.
  ({ stack, env } = drained.logins);
});
afterAll(async () => {
  for (const { stack: own } of Object.values(drained)) await own.close();
});

async function auditRows(): Promise<{ action: string; masked_value: string | null; reason: string | null; database_user: string; session_user_name: string; recent: boolean }[]> {
  const result = await stack.pool.query(
    `SELECT action, masked_value, reason, database_user::text, session_user_name::text, at <= now() AND at > now() - interval '1 hour' AS recent
       FROM sqs2pg_vault.audit ORDER BY id`,
  );
  return result.rows as Awaited<ReturnType<typeof auditRows>>;
}

const revealEnv = (extra: NodeJS.ProcessEnv = {}, own: TestStack = stack): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  DATABASE_URL: own.databaseUrl,
  SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY,
  ...extra,
});

describe.each(PIPELINES_UNDER_TEST)('the vault after a drain of $name', (pipeline) => {
  const labelOf = (column: string) => pipeline.spec.columns.find((c) => c.name === column)!.maskLabel;

  it('holds exactly one entry per distinct mask of its table, each opening to its value', async () => {
    const { stack: own, bodies } = drained[pipeline.name];
    const originals = originalsBySubject(pipeline.spec, bodies);
    const rows = await rowMasksOf(own.pool, pipeline.spec);
    expect(rows).toHaveLength(rowsOf(pipeline.name));
    const vault = await openVault(own.pool, { v1: { private: TEST_VAULT_PRIVATE_KEY } });
    const masks = new Set(rows.flatMap((row) => Object.values(row.masks)));
    // Not one entry per message: the repeats share theirs.
    expect(masks.size).toBeLessThanOrEqual(2 * rows.length - 2 * (REPEATS - 1));
    expect(new Set(vault.keys())).toEqual(masks);
    for (const row of rows) {
      const original = originals.get(row.subject);
      expect(original).toBeDefined();
      for (const column of pipeline.masked) {
        expect(vault.get(row.masks[column]!)).toEqual({ field: labelOf(column), keyId: 'v1', value: original![column], sealed: true });
      }
    }
  });

  it('keeps no original in clear, neither as text nor in the encrypted bytes', async () => {
    const { stack: own, bodies } = drained[pipeline.name];
    const values = rawValuesOf(pipeline.spec, bodies);
    expect(values.length).toBeGreaterThan(100);
    const { text, bytes } = await vaultDump(own.pool);
    expect(text.length).toBeGreaterThan(1000);
    for (const value of values) {
      expect(text).not.toContain(value);
      expect(bytes.includes(Buffer.from(value))).toBe(false);
    }
  });

  it('holds nothing for the quarantined messages (their values are kept as masks only)', async () => {
    const { stack: own } = drained[pipeline.name];
    const quarantine = await own.pool.query<RecordMaskColumns>('SELECT masked_ips, masked_device_ids, masked_values FROM sqs2pg.quarantine');
    expect(quarantine.rowCount).toBe(SCALE[pipeline.name].malformed);
    const rowMaskSet = new Set((await rowMasksOf(own.pool, pipeline.spec)).flatMap((row) => Object.values(row.masks)));
    const quarantineOnly = quarantine.rows.flatMap((row) => Object.values(recordMasks(pipeline, row)).flat()).filter((mask) => !rowMaskSet.has(mask));
    expect(quarantineOnly.length).toBeGreaterThan(0);
    const vaulted = await own.pool.query('SELECT 1 FROM sqs2pg_vault.entries WHERE masked_value = ANY($1)', [quarantineOnly]);
    expect(vaulted.rowCount).toBe(0);
  });

  it('reveal prints the original of each masked column, only that, and writes an audit row for each', async () => {
    const { stack: own, bodies } = drained[pipeline.name];
    const [row] = await rowMasksOf(own.pool, pipeline.spec);
    const original = originalsBySubject(pipeline.spec, bodies).get(row!.subject)!;
    const before = (await own.pool.query<{ id: string }>('SELECT coalesce(max(id), 0) AS id FROM sqs2pg_vault.audit')).rows[0]!.id;
    const [first, second] = pipeline.masked;
    const ip = await runCli(['reveal', row!.masks[first]!, '--reason', 'ticket SEC-101: fraud check'], revealEnv({}, own), 15_000);
    expect(ip.code, ip.stderr).toBe(0);
    expect(ip.stdout).toBe(`${original[first]}\n`);
    expect(ip.stderr).toBe('');
    const other = await runCli(['reveal', '--masked', row!.masks[second]!, '--reason', 'ticket SEC-102'], revealEnv({}, own), 15_000);
    expect(other.code, other.stderr).toBe(0);
    expect(other.stdout).toBe(`${original[second]}\n`);

    const user = (await own.pool.query<{ u: string }>('SELECT current_user::text AS u')).rows[0]!.u;
    const audit = await own.pool.query(
      `SELECT action, masked_value, reason, database_user::text, session_user_name::text, at <= now() AND at > now() - interval '1 hour' AS recent
         FROM sqs2pg_vault.audit WHERE id > $1 ORDER BY id`,
      [before],
    );
    expect(audit.rows).toEqual([
      { action: 'reveal', masked_value: row!.masks[first], reason: 'ticket SEC-101: fraud check', database_user: user, session_user_name: user, recent: true },
      { action: 'reveal', masked_value: row!.masks[second], reason: 'ticket SEC-102', database_user: user, session_user_name: user, recent: true },
    ]);
    const { text } = await vaultDump(own.pool);
    for (const column of pipeline.masked) expect(text).not.toContain(original[column]);
  });

  it('vaults nothing without the vault key, and loads as before', async () => {
    const { stack: own } = drained[pipeline.name];
    const other = await own.newQueue();
    await own.send(other, pipeline.bodies(50, 0, 52));
    const entries = async () => Number((await own.pool.query<{ n: string }>('SELECT count(*) AS n FROM sqs2pg_vault.entries')).rows[0]!.n);
    const before = await entries();
    const result = await runCli(['run', '--drain'], pipeline.env(own, other), 60_000);
    expect(result.code, result.stderr).toBe(0);
    expect((await rowMasksOf(own.pool, pipeline.spec)).length).toBe(rowsOf(pipeline.name) + 50);
    expect(await entries()).toBe(before);
  });
});

/**
 * The logins' rows whose masks the vault holds, in message-id order: the drain without the vault key
 * (above) added rows that have none, and a row picked among all of them could be one of those.
 */
async function vaultedRows(): Promise<Awaited<ReturnType<typeof rowMasks>>> {
  const held = new Set((await stack.pool.query<{ m: string }>('SELECT masked_value AS m FROM sqs2pg_vault.entries')).rows.map((row) => row.m));
  return (await rowMasks(stack.pool)).filter((row) => held.has(row.masked_ip) && held.has(row.masked_device_id));
}

describe('sqs2pg reveal', () => {
  it('refuses a vault key the vault was never written with', async () => {
    const [row] = await vaultedRows();
    const wrong = await runCli(['reveal', row!.masked_ip, '--reason', 'ticket SEC-103'], revealEnv({ SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY_2 }), 15_000);
    expect(wrong.code).toBe(2);
    expect(oneErrorLine(wrong)).toContain("is a key this database's vault was written with");
    expect(wrong.stdout).toBe('');
  });

  const refusals: { name: string; args: (mask: string) => string[]; env?: NodeJS.ProcessEnv; code: number; says: string[] }[] = [
    { name: 'without --reason', args: (mask) => [mask], code: 2, says: ['--reason', 'must be set'] },
    { name: 'without the vault key', args: (mask) => [mask, '--reason', 'ticket SEC-104'], env: { SQS2PG_VAULT_PRIVATE_KEY: '' }, code: 2, says: ['vault private key', 'SQS2PG_VAULT_PRIVATE_KEY'] },
    { name: 'with a short vault key', args: (mask) => [mask, '--reason', 'ticket SEC-105'], env: { SQS2PG_VAULT_PRIVATE_KEY: 'ab'.repeat(16) }, code: 2, says: ['not 32'] },
    {
      name: 'for a mask the vault does not hold',
      args: () => [`k1:${'0'.repeat(64)}`, '--reason', 'ticket SEC-106'],
      code: 4,
      says: ['no entry', `k1:${'0'.repeat(64)}`],
    },
    { name: 'for something that is not a mask', args: () => ['203.0.113.9', '--reason', 'ticket SEC-107'], code: 2, says: ['expected a masked value'] },
  ];
  for (const refusal of refusals) {
    it(`refuses ${refusal.name}: one line, exit ${refusal.code}, nothing printed or audited`, async () => {
      const before = (await auditRows()).length;
      const [row] = await vaultedRows();
      const result = await runCli(['reveal', ...refusal.args(row!.masked_ip)], revealEnv(refusal.env), 15_000);
      expect(result.code, result.stderr).toBe(refusal.code);
      expect(result.stdout).toBe('');
      const line = oneErrorLine(result);
      for (const text of refusal.says) expect(line).toContain(text);
      expect(line).not.toContain('203.0.113.9');
      expect(await auditRows()).toHaveLength(before);
    });
  }

  it('refuses an entry moved onto another mask (its ciphertext is bound to its own); the attempt is audited', async () => {
    const rows = await vaultedRows();
    const [a, b] = [rows[1]!.masked_ip, rows[2]!.masked_ip];
    expect(a).not.toBe(b);
    const before = (await auditRows()).length;
    const client = await stack.pool.connect();
    try {
      await client.query('BEGIN');
      // Copy b's ciphertext onto a: a reveal of a would otherwise show b's address.
      await client.query(
        `UPDATE sqs2pg_vault.entries SET nonce = o.nonce, ciphertext = o.ciphertext
           FROM (SELECT nonce, ciphertext FROM sqs2pg_vault.entries WHERE masked_value = $2) o WHERE masked_value = $1`,
        [a, b],
      );
      const result = await runCli(['reveal', a, '--reason', 'ticket SEC-108'], revealEnv(), 15_000);
      // The update is not committed yet: the CLI sees the real entry and succeeds.
      expect(result.code).toBe(0);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const moved = await runCli(['reveal', a, '--reason', 'ticket SEC-109'], revealEnv(), 15_000);
    expect(moved.code).toBe(1);
    expect(moved.stdout).toBe('');
    expect(oneErrorLine(moved)).toContain('does not open');
    // The audit row is committed before the ciphertext is handed out: the failed attempt is in it too.
    expect(await auditRows()).toHaveLength(before + 2);
  });

  it('still reveals entries of the legacy symmetric vault (v0), with the old key, beside sealed ones', async () => {
    const mask = `k1:${'e'.repeat(64)}`;
    await insertLegacyEntries(stack.pool, TEST_VAULT_KEY, 'v0', [{ mask, field: 'ip', value: '192.0.2.200' }]);
    await stack.pool.query("INSERT INTO sqs2pg.key_fingerprints (purpose, key_id, fingerprint) VALUES ('vault', 'v0', $1)", [
      keyFingerprint(Buffer.from(TEST_VAULT_KEY, 'hex'), 'vault'),
    ]);
    const both = await runCli(['reveal', mask, '--reason', 'ticket SEC-110'], revealEnv({ SQS2PG_VAULT_KEY: TEST_VAULT_KEY }), 15_000);
    expect([both.code, both.stdout], both.stderr).toEqual([0, '192.0.2.200\n']);
    const [row] = await vaultedRows();
    const legacyOnly = await runCli(['reveal', row!.masked_ip, '--reason', 'ticket SEC-111'], revealEnv({ SQS2PG_VAULT_PRIVATE_KEY: '', SQS2PG_VAULT_KEY: TEST_VAULT_KEY }), 15_000);
    // The legacy key opens no sealed entry.
    expect(legacyOnly.code).toBe(1);
    expect(legacyOnly.stdout).toBe('');
    await stack.pool.query("DELETE FROM sqs2pg_vault.entries WHERE vault_key_id = 'v0'");
  });
});

describe('sqs2pg run and the keys', () => {
  it('refuses at start, in one line, a vault key other than the one its key id was used with', async () => {
    const result = await runCli(['run', '--drain'], { ...env, SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY_2 }, 20_000);
    expect(result.code, result.stderr).toBe(2);
    expect(oneErrorLine(result)).toContain('vault key id "v1" was first used with');
  });

  it('refuses at start a mask key other than the one its key id was used with', async () => {
    const result = await runCli(['run', '--drain'], { ...env, SQS2PG_MASK_KEY: TEST_MASK_KEY_2 }, 20_000);
    expect(result.code, result.stderr).toBe(2);
    expect(oneErrorLine(result)).toContain('mask key id "k1" was first used with');
  });

  it('refuses one vault key under a second key id (a key has one id), in one line', async () => {
    const result = await runCli(['run', '--drain'], { ...env, SQS2PG_VAULT_KEY_ID: 'v9' }, 20_000);
    expect(result.code, result.stderr).toBe(2);
    expect(oneErrorLine(result)).toContain('first used here under vault key id "v1", not "v9"');
    const ids = await stack.pool.query("SELECT key_id FROM sqs2pg.key_fingerprints WHERE purpose = 'vault' AND key_id = 'v9'");
    expect(ids.rowCount).toBe(0);
  });

  it('refuses one mask key under a second key id', async () => {
    const result = await runCli(['run', '--drain'], { ...env, SQS2PG_MASK_KEY_ID: 'k9' }, 20_000);
    expect(result.code, result.stderr).toBe(2);
    expect(oneErrorLine(result)).toContain('first used here under mask key id "k1", not "k9"');
  });

  it('refuses the mask key as the vault public key', async () => {
    // A mask key is seldom even a point of the curve (about 1 in 32 is): refused as no public key.
    const result = await runCli(['run', '--drain'], { ...env, SQS2PG_VAULT_PUBLIC_KEY: TEST_MASK_KEY }, 20_000);
    expect(result.code).toBe(2);
    expect(oneErrorLine(result)).toMatch(/invalid --vault-public-key \(SQS2PG_VAULT_PUBLIC_KEY\): the key is not/);
    // One that is: refused as the mask key.
    const same = await runCli(['run', '--drain'], { ...env, SQS2PG_MASK_KEY: TEST_VAULT_PUBLIC_KEY_2, SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY_2 }, 20_000);
    expect(same.code).toBe(2);
    expect(oneErrorLine(same)).toContain('the vault public key is the mask key');
  });

  it('gives a worker nothing that decrypts: the legacy symmetric key and any private key are refused, unechoed', async () => {
    const legacy = await runCli(['run', '--drain'], { ...env, SQS2PG_VAULT_KEY: TEST_VAULT_KEY }, 20_000);
    expect(legacy.code).toBe(2);
    expect(oneErrorLine(legacy)).toContain('workers no longer take the symmetric vault key');
    expect(legacy.stderr).not.toContain(TEST_VAULT_KEY);
    const privateKey = await runCli(['run', '--drain', '--vault-private-key', TEST_VAULT_PRIVATE_KEY], env, 20_000);
    expect(privateKey.code).toBe(2);
    expect(privateKey.stderr).not.toContain(TEST_VAULT_PRIVATE_KEY);
  });
});
