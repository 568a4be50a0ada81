// sqs2pg forget --pipeline NAME --subject VALUE with the real CLI, the same test run against the
// builtin logins, a declared pipeline whose subject a column holds (page_views), and one whose
// subject only its key names, in a schema whose name needs quoting: exactly the subject's rows, the
// pipeline's quarantine records naming it and the vault entries no row of any table still holds go;
// the audit has counts only; the tombstone names its scope and keeps the subject sealed; a batch's
// tombstone check (the sink's, on main) stops the subject's keys; reveal still opens what is kept.
// Then masks two tables hold, subjects a column's type cannot hold, and the refusals.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyDeclaredTables } from '../../src/db/declared-tables.js';
import { assertKeyFingerprints } from '../../src/db/key-fingerprints.js';
import { BEGIN_VAULT_WRITE } from '../../src/db/vault-lock.js';
import { createPool } from '../../src/db/pool.js';
import { subjectEntryField, type PipelineSpec } from '../../src/model/pipeline.js';
import { createMasker } from '../../src/transform/mask.js';
import { createVaultOpener, createVaultSealer } from '../../src/vault/sealed-box.js';
import { rotateTombstones, stopTombstoned, tombstoneContext } from '../../src/vault/tombstones.js';
import { column, LOGINS, PAGE_VIEWS } from '../fixtures/pipelines.js';
import { loadAsWorker, subjectKey } from '../helpers/declared-load.js';
import { createTestStack, migrateWithCli, runCli, startCli, TEST_MASK_KEY, waitFor, type TestStack } from '../helpers/stack.js';
import { openVault, TEST_MASK_KEY_2, TEST_VAULT_PRIVATE_KEY, TEST_VAULT_PUBLIC_KEY } from '../helpers/vault.js';

const masker = createMasker(Buffer.from(TEST_MASK_KEY, 'hex'), 'k1');
const sealer = createVaultSealer(Buffer.from(TEST_VAULT_PUBLIC_KEY, 'hex'), 'v1');
const opener = createVaultOpener(Buffer.from(TEST_VAULT_PRIVATE_KEY, 'hex'), 'v1');

/** A subject no column holds in clear: its key is stored; its ip column masks as the login's ip does (label ip). */
const CLICKS: PipelineSpec = {
  name: 'clicks',
  builtin: false,
  queue: 'clicks',
  // Lower-case, as a pipeline file's table must be; the schema's name is the one that needs quoting.
  table: { schema: 'Web Data', name: 'clicks' },
  subject: ['email'],
  columns: [
    column('masked_email', 'email', { kind: 'text' }, { pii: 'mask', required: true }),
    column('ip', 'ip', { kind: 'ip' }, { pii: 'mask', required: true }),
    column('device', 'device', { kind: 'text' }, { pii: 'mask' }),
    column('target', 'target', { kind: 'text' }),
  ],
};

interface Case {
  spec: PipelineSpec;
  schema: string;
  /** an event of `subject`, from `ip`, with one more personal value `other` */
  event: (subject: string, ip: string, other: string) => string;
  /** an event of `subject` the reader refuses */
  refused: (subject: string) => string;
  /** addresses of this case alone (an ip masks alike in logins and clicks) */
  net: string;
}

const CASES: Case[] = [
  {
    spec: LOGINS,
    schema: 'public',
    net: '198.51.100',
    event: (subject, ip, other) => JSON.stringify({ user_id: subject, app_version: '1.2.3', device_type: 'ios', ip, locale: 'DE', device_id: other }),
    refused: (subject) => JSON.stringify({ user_id: subject, app_version: 'not-a-version', device_type: 'ios', ip: '198.51.100.99', locale: 'DE', device_id: 'x' }),
  },
  {
    spec: PAGE_VIEWS,
    schema: 'public',
    net: '203.0.113',
    event: (subject, ip, other) =>
      JSON.stringify({ visitor: { id: subject, email: other }, ip, page: { url: 'https://example.com/a' }, duration_ms: 5, viewed_at: '2024-01-01T00:00:00Z', tags: ['x'] }),
    refused: (subject) => JSON.stringify({ visitor: { id: subject, email: 'x@example.com' }, ip: '203.0.113.99', viewed_at: '2024-01-01T00:00:00Z' }),
  },
  {
    spec: CLICKS,
    schema: 'Web Data',
    net: '192.0.2',
    event: (subject, ip, other) => JSON.stringify({ email: subject, ip, device: other, target: 'nav' }),
    refused: (subject) => JSON.stringify({ email: subject, ip: 'not an address', target: 'nav' }),
  },
];

let stack: TestStack;
let pool: pg.Pool;
let cliEnv: NodeJS.ProcessEnv;
beforeAll(async () => {
  stack = await createTestStack();
  await migrateWithCli(stack.databaseUrl);
  await stack.pool.query('CREATE SCHEMA "Web Data"');
  pool = createPool(stack.databaseUrl, 2);
  await applyDeclaredTables(pool, CASES.map((c) => c.spec));
  cliEnv = {
    PATH: process.env.PATH,
    DATABASE_URL: stack.databaseUrl,
    SQS2PG_MASK_KEY: TEST_MASK_KEY,
    SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY,
    SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY,
  };
  // The key ids forget checks against, as a worker's first start records them.
  await assertKeyFingerprints(pool, [
    { purpose: 'mask', keyId: 'k1', key: Buffer.from(TEST_MASK_KEY, 'hex') },
    { purpose: 'vault', keyId: 'v1', key: Buffer.from(TEST_VAULT_PUBLIC_KEY, 'hex') },
  ]);
});
afterAll(async () => {
  await pool.end();
  await stack.close();
});

const tableOf = (c: Case) => `${pg.escapeIdentifier(c.schema)}.${pg.escapeIdentifier(c.spec.table.name)}`;

async function rowsOf(c: Case): Promise<Map<string, string>> {
  const result = await stack.pool.query<{ id: string; t: string }>(`SELECT sqs_message_id AS id, row_to_json(t)::text AS t FROM ${tableOf(c)} t`);
  return new Map(result.rows.map((row) => [row.id, row.t]));
}

async function vaultEntries(): Promise<Map<string, string>> {
  const result = await stack.pool.query<{ id: string; t: string }>('SELECT masked_value AS id, row_to_json(e)::text AS t FROM sqs2pg_vault.entries e');
  return new Map(result.rows.map((row) => [row.id, row.t]));
}

async function quarantineIds(): Promise<string[]> {
  return (await stack.pool.query<{ id: string }>('SELECT sqs_message_id AS id FROM sqs2pg.quarantine ORDER BY 1')).rows.map((row) => row.id);
}

/** The vault entry's mask of an original value (the test holds the private key, like an officer). */
async function maskOf(value: string, label: string): Promise<string> {
  const vault = await openVault(stack.pool, { v1: { private: TEST_VAULT_PRIVATE_KEY } });
  const found = [...vault].find(([, entry]) => entry.value === value && entry.field === label)?.[0];
  if (!found) throw new Error(`no vault entry of ${label} ${value}`);
  return found;
}

describe.each(CASES)('forget --pipeline $spec.name --subject', (c) => {
  const name = c.spec.name;
  const [ann, bob] = [`ann-of-${name}`, `bob-of-${name}`];
  const ip = (n: number) => `${c.net}.${n}`;
  const labels = c.spec.columns.filter((col) => col.pii === 'mask').map((col) => col.maskLabel);
  const ipLabel = c.spec.columns.find((col) => col.type.kind === 'ip')!.maskLabel;
  const otherLabel = labels.find((label) => label !== ipLabel && !(c.spec === CLICKS && label === 'masked_email'))!;

  beforeAll(async () => {
    const loaded = await loadAsWorker(
      stack.pool,
      c.spec,
      c.schema,
      {
        [`${name}-a1`]: c.event(ann, ip(1), `${name}-ann-1`),
        [`${name}-a2`]: c.event(ann, ip(2), `${name}-ann-1`),
        [`${name}-a3`]: c.event(ann, ip(3), `${name}-ann-2`),
        [`${name}-b1`]: c.event(bob, ip(1), `${name}-bob-1`),
        [`${name}-b2`]: c.event(bob, ip(4), `${name}-bob-1`),
        [`${name}-aq`]: c.refused(ann),
        [`${name}-bq`]: c.refused(bob),
      },
      masker,
      sealer,
    );
    expect(loaded).toEqual({ rows: 5, quarantined: 2 });
    // A subject only its key names is vaulted under that key by the reader itself (field subject:<scope>,
    // sql/0013), so that rotate can re-key its rows: forget shreds it with the rest.
  });

  it('removes exactly the subject\'s rows, records and unshared vault entries, audits counts only, and says so', async () => {
    const [rowsBefore, vaultBefore, quarantineBefore] = [await rowsOf(c), await vaultEntries(), await quarantineIds()];
    const shared = await maskOf(ip(1), ipLabel);
    const own = [await maskOf(ip(2), ipLabel), await maskOf(ip(3), ipLabel), await maskOf(`${name}-ann-1`, otherLabel), await maskOf(`${name}-ann-2`, otherLabel)];
    if (c.spec === CLICKS) own.push(await maskOf(ann, 'masked_email'), await maskOf(ann, subjectEntryField(c.spec.table.name)));

    const result = await runCli(['forget', '--pipeline', name, '--subject', ann, '--reason', 'erasure request ER-25'], cliEnv, 20_000);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe(
      `forgot the subject of pipeline ${name}: removed 3 rows of ${c.schema}.${c.spec.table.name}, 1 quarantine record and ` +
        `${own.length} vault entries no other row uses; kept 1 vault entry other rows still use; a tombstone keeps their later messages out (it has stopped 0 messages so far)`,
    );

    const expectedRows = new Map(rowsBefore);
    for (const id of [`${name}-a1`, `${name}-a2`, `${name}-a3`]) expectedRows.delete(id);
    expect(await rowsOf(c)).toEqual(expectedRows);
    expect(await quarantineIds()).toEqual(quarantineBefore.filter((id) => id !== `${name}-aq`));
    const expectedVault = new Map(vaultBefore);
    for (const mask of own) expectedVault.delete(mask);
    expect(await vaultEntries()).toEqual(expectedVault);
    expect((await vaultEntries()).has(shared)).toBe(true);

    const audit = await stack.pool.query<{ action: string; masked_value: string | null; reason: string; detail: Record<string, unknown>; t: string }>(
      "SELECT action, masked_value, reason, detail, row_to_json(a)::text AS t FROM sqs2pg_vault.audit a WHERE action = 'forget_subject' ORDER BY id DESC LIMIT 1",
    );
    const row = audit.rows[0]!;
    expect([row.action, row.masked_value, row.reason]).toEqual(['forget_subject', null, 'erasure request ER-25']);
    expect(row.detail).toEqual({ pipeline: name, rows: 3, quarantined: 1, vaultEntries: own.length, vaultEntriesKept: 1 });
    for (const secret of [ann, ip(2), ip(3), `${name}-ann-1`, ...own, subjectKey(c.spec, masker, ann)]) expect(row.t).not.toContain(secret);
  });

  it('leaves a tombstone that names its scope and keeps the subject only sealed', async () => {
    const key = subjectKey(c.spec, masker, ann);
    const tombstone = await stack.pool.query<{ scope: string | null; vault_key_id: string; ephemeral_public_key: Buffer; nonce: Buffer; sealed_user_id: Buffer; t: string }>(
      'SELECT scope, vault_key_id, ephemeral_public_key, nonce, sealed_user_id, row_to_json(t)::text AS t FROM sqs2pg.tombstones t WHERE user_key = $1',
      [key],
    );
    expect(tombstone.rows).toHaveLength(1);
    const row = tombstone.rows[0]!;
    expect(row.scope).toBe(c.spec.builtin ? null : c.spec.table.name);
    expect(row.t).not.toContain(ann);
    expect(row.t).not.toContain(Buffer.from(ann).toString('hex'));
    const sealed = { vaultKeyId: row.vault_key_id, ephemeralPublicKey: row.ephemeral_public_key, nonce: row.nonce, ciphertext: row.sealed_user_id };
    expect(opener.open(sealed, tombstoneContext(key)).toString('utf8')).toBe(ann);
  });

  it('stops the subject\'s later messages at a batch\'s tombstone check, and a rerun removes nothing more', async () => {
    const [annKey, bobKey] = [subjectKey(c.spec, masker, ann), subjectKey(c.spec, masker, bob)];
    const client = await stack.pool.connect();
    try {
      await client.query('BEGIN');
      expect([...(await stopTombstoned(client, [annKey, bobKey, annKey]))]).toEqual([annKey]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const again = await runCli(['forget', '--pipeline', name, '--subject', ann], cliEnv, 20_000);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`removed 0 rows of ${c.schema}.${c.spec.table.name}, 0 quarantine records and 0 vault entries`);
    expect(again.stdout).toContain('it has stopped 2 messages so far');
  });

  it('reveal opens a kept mask of the pipeline, and not a shredded one', async () => {
    const kept = await runCli(['reveal', await maskOf(ip(1), ipLabel), '--reason', 'check erasure ER-25'], cliEnv, 15_000);
    expect([kept.code, kept.stdout, kept.stderr]).toEqual([0, `${ip(1)}\n`, '']);
    const bobs = await runCli(['reveal', await maskOf(`${name}-bob-1`, otherLabel), '--reason', 'check erasure ER-25'], cliEnv, 15_000);
    expect([bobs.code, bobs.stdout]).toEqual([0, `${name}-bob-1\n`]);
    const gone = await runCli(['reveal', masker.mask(ipLabel, ip(2)), '--reason', 'check erasure ER-25'], cliEnv, 15_000);
    expect(gone.code).toBe(4);
    const audit = await stack.pool.query("SELECT masked_value FROM sqs2pg_vault.audit WHERE action = 'reveal' AND masked_value = $1", [masker.mask(otherLabel, `${name}-bob-1`)]);
    expect(audit.rowCount).toBe(1);
  });

  it('forget --masked shreds one of the pipeline\'s values and counts the rows of its table that keep it', async () => {
    const mask = masker.mask(otherLabel, `${name}-bob-1`);
    const result = await runCli(['forget', '--masked', mask, '--reason', 'ER-27'], cliEnv, 20_000);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe(
      "forgot the value: removed 1 vault entry; 2 rows keep the mask (user_logins and every registered pipeline's table), which can no longer be revealed",
    );
    expect((await vaultEntries()).has(mask)).toBe(false);
    expect((await runCli(['reveal', mask, '--reason', 'check ER-27'], cliEnv, 15_000)).code).toBe(4);
  });
});

describe('a mask-key rotation\'s tombstone pass (rotateTombstones)', () => {
  it('gives each erased subject a twin under the new key in its own scope, which keeps stopping it', async () => {
    const next = createMasker(Buffer.from(TEST_MASK_KEY_2, 'hex'), 'k2');
    const client = await stack.pool.connect();
    try {
      await client.query('BEGIN');
      const done = await rotateTombstones(client, next, opener, sealer);
      await client.query('COMMIT');
      expect(done).toMatchObject({ rekeyed: CASES.length, unsealed: 0 });
    } finally {
      client.release();
    }
    for (const c of CASES) {
      const ann = `ann-of-${c.spec.name}`;
      const twin = subjectKey(c.spec, next, ann);
      const row = await stack.pool.query<{ scope: string | null }>('SELECT scope FROM sqs2pg.tombstones WHERE user_key = $1', [twin]);
      expect(row.rows, c.spec.name).toEqual([{ scope: c.spec.builtin ? null : c.spec.table.name }]);
      const batch = await stack.pool.connect();
      try {
        await batch.query('BEGIN');
        expect([...(await stopTombstoned(batch, [twin]))]).toEqual([twin]);
        await batch.query('ROLLBACK');
      } finally {
        batch.release();
      }
    }
  });
});

describe('a mask two tables hold (a declared column labelled ip masks as the login\'s ip)', () => {
  const [first, second] = ['100.64.0.1', '100.64.0.2'];
  beforeAll(async () => {
    const [logins, clicks] = [CASES[0]!, CASES[2]!];
    await loadAsWorker(stack.pool, LOGINS, 'public', { 'x-l1': logins.event('lena', first, 'lena-dev'), 'x-l2': logins.event('lars', second, 'lars-dev') }, masker, sealer);
    await loadAsWorker(stack.pool, CLICKS, 'Web Data', { 'x-c1': clicks.event('cleo', first, 'cleo-dev'), 'x-c2': clicks.event('carl', second, 'carl-dev') }, masker, sealer);
  });

  it('keeps the entry while a row of either table holds it, whichever is erased first, and shreds it with the last', async () => {
    const [mask1, mask2] = [masker.mask('ip', first), masker.mask('ip', second)];
    const byUser = await runCli(['forget', '--user-id', 'lena', '--reason', 'ER-26'], cliEnv, 20_000);
    expect(byUser.stdout).toContain('removed 1 row of user_logins, 0 quarantine records and 1 vault entry no other row uses; kept 1 vault entry');
    const bySubject = await runCli(['forget', '--pipeline', 'clicks', '--subject', 'carl', '--reason', 'ER-26'], cliEnv, 20_000);
    // The subject's vault entry (sql/0013) is shredded with the row's own masks; the ip the logins row shares is kept.
    expect(bySubject.stdout).toContain('removed 1 row of Web Data.clicks, 0 quarantine records and 3 vault entries no other row uses; kept 1 vault entry');
    expect([(await vaultEntries()).has(mask1), (await vaultEntries()).has(mask2)]).toEqual([true, true]);
    expect((await runCli(['reveal', mask1, '--reason', 'check ER-26'], cliEnv, 15_000)).stdout).toBe(`${first}\n`);

    await runCli(['forget', '--pipeline', 'clicks', '--subject', 'cleo', '--reason', 'ER-26'], cliEnv, 20_000);
    await runCli(['forget', '--user-id', 'lars', '--reason', 'ER-26'], cliEnv, 20_000);
    expect([(await vaultEntries()).has(mask1), (await vaultEntries()).has(mask2)]).toEqual([false, false]);
  });
});

describe('forget --subject while a worker commits a batch', () => {
  it('waits for the batch, and keeps the vault entry its new row holds', async () => {
    const views = CASES[1]!;
    const address = '203.0.113.50';
    await loadAsWorker(stack.pool, PAGE_VIEWS, 'public', { 'r-d1': views.event('dana', address, 'dana@example.com') }, masker, sealer);
    const mask = masker.mask('masked_ip', address);
    const client = await stack.pool.connect();
    let forgetting: ReturnType<typeof startCli> | undefined;
    try {
      // A batch half way: its tombstone check took the erasure lock shared; its row holds dana's
      // address for another visitor, and its vault entry exists already (skipped).
      await client.query(BEGIN_VAULT_WRITE);
      expect(await loadAsWorker(client, PAGE_VIEWS, 'public', { 'r-e1': views.event('ed', address, 'ed@example.com') }, masker, sealer)).toEqual({ rows: 1, quarantined: 0 });
      forgetting = startCli(['forget', '--pipeline', 'page_views', '--subject', 'dana', '--reason', 'ER-28'], cliEnv, 20_000);
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
    expect(result.stdout).toContain('removed 1 row of public.page_views, 0 quarantine records and 1 vault entry no other row uses; kept 1 vault entry');
    const revealed = await runCli(['reveal', mask, '--reason', 'check the race'], cliEnv, 15_000);
    expect([revealed.code, revealed.stdout]).toEqual([0, `${address}\n`]);
  });
});

describe('a subject column of another type than text', () => {
  const SCORES: PipelineSpec = {
    name: 'scores',
    builtin: false,
    queue: 'scores',
    table: { schema: null, name: 'scores' },
    subject: ['player'],
    columns: [column('player', 'player', { kind: 'integer' }, { required: true }), column('points', 'points', { kind: 'integer' })],
  };
  const CODES: PipelineSpec = { ...SCORES, name: 'codes', table: { schema: null, name: 'codes' }, subject: ['code'], columns: [column('code', 'code', { kind: 'varchar', length: 4 }, { required: true })] };
  beforeAll(async () => {
    await applyDeclaredTables(pool, [SCORES, CODES]);
    await loadAsWorker(stack.pool, SCORES, 'public', { s1: '{"player":42,"points":1}', s2: '{"player":42,"points":2}', s3: '{"player":7,"points":3}' }, masker);
    await loadAsWorker(stack.pool, CODES, 'public', { c1: '{"code":"abcd"}' }, masker);
  });

  it('finds an integer subject by its text, and a subject the column cannot hold has no rows but is still tombstoned', async () => {
    const players = await runCli(['forget', '--pipeline', 'scores', '--subject', '42'], cliEnv, 20_000);
    expect(players.stdout).toContain('removed 2 rows of public.scores');
    const nobody = await runCli(['forget', '--pipeline', 'scores', '--subject', 'forty-two'], cliEnv, 20_000);
    expect([nobody.code, nobody.stderr]).toEqual([0, '']);
    expect(nobody.stdout).toContain('removed 0 rows of public.scores');
    expect((await stack.pool.query('SELECT 1 FROM sqs2pg.tombstones WHERE user_key = $1', [masker.subjectKey('scores', 'forty-two')])).rowCount).toBe(1);
    expect((await stack.pool.query('SELECT player FROM scores')).rows).toEqual([{ player: 7 }]);
  });

  it('never cuts a longer subject down to a varchar column\'s length (someone else\'s)', async () => {
    const longer = await runCli(['forget', '--pipeline', 'codes', '--subject', 'abcdX'], cliEnv, 20_000);
    expect(longer.stdout).toContain('removed 0 rows of public.codes');
    const exact = await runCli(['forget', '--pipeline', 'codes', '--subject', 'abcd'], cliEnv, 20_000);
    expect(exact.stdout).toContain('removed 1 row of public.codes');
  });
});

describe('a sealed column (pii: seal)', () => {
  // Each row names its sealed value's entry by a reference of its own (no mask: two rows of one value
  // cannot be matched): reveal opens a cell, and forget finds the subject's entries through its rows.
  const SIGNUPS: PipelineSpec = {
    name: 'signups',
    builtin: false,
    queue: 'signups',
    table: { schema: null, name: 'signups' },
    subject: ['user'],
    columns: [column('user_id', 'user', { kind: 'text' }, { required: true }), column('phone', 'phone', { kind: 'text' }, { pii: 'seal' })],
  };
  const phone = (n: number) => `+44 7700 900${n}`;
  beforeAll(async () => {
    await applyDeclaredTables(pool, [SIGNUPS]);
    const bodies = { s1: { user: 'ann-s', phone: phone(1) }, s2: { user: 'ann-s', phone: phone(2) }, s3: { user: 'bob-s', phone: phone(1) } };
    await loadAsWorker(stack.pool, SIGNUPS, 'public', Object.fromEntries(Object.entries(bodies).map(([id, body]) => [id, JSON.stringify(body)])), masker, sealer);
  });

  const phones = async () => {
    const vault = await openVault(stack.pool, { v1: { private: TEST_VAULT_PRIVATE_KEY } });
    return [...vault.values()].filter((entry) => entry.field === 'phone').map((entry) => entry.value).sort();
  };

  it('holds a reference per row, not a mask: one value in two rows is two references, and reveal opens a cell', async () => {
    const cells = (await stack.pool.query<{ id: string; phone: string }>('SELECT sqs_message_id AS id, phone FROM signups ORDER BY 1')).rows;
    expect(cells.map((cell) => cell.phone)).toEqual([expect.stringMatching(/^sealed:[0-9a-f]{32}$/), expect.stringMatching(/^sealed:[0-9a-f]{32}$/), expect.stringMatching(/^sealed:[0-9a-f]{32}$/)]);
    expect(new Set(cells.map((cell) => cell.phone)).size).toBe(3);
    expect(await phones()).toEqual([phone(1), phone(1), phone(2)]);
    const revealed = await runCli(['reveal', cells[2]!.phone, '--reason', 'support ticket 7'], cliEnv, 20_000);
    expect([revealed.code, revealed.stderr, revealed.stdout.trim()]).toEqual([0, '', phone(1)]);
  });

  it('forget takes the subject\'s sealed values with its rows, and leaves another subject\'s equal value', async () => {
    const result = await runCli(['forget', '--pipeline', 'signups', '--subject', 'ann-s', '--reason', 'erasure request ER-26'], cliEnv, 20_000);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('removed 2 rows of public.signups');
    expect(await phones()).toEqual([phone(1)]);
  });
});

describe('refusals', () => {
  it('a pipeline this database has not registered: one line naming those it has, exit 2, nothing erased', async () => {
    const audit = await stack.pool.query('SELECT count(*)::int AS n FROM sqs2pg_vault.audit');
    const result = await runCli(['forget', '--pipeline', 'purchases', '--subject', 'someone'], cliEnv, 20_000);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([
      'sqs2pg: no pipeline purchases is registered in this database (registered: clicks, codes, logins, page_views, scores, signups); the tables\' owner registers a pipeline file\'s pipelines with sqs2pg migrate --config <file>',
    ]);
    expect((await stack.pool.query('SELECT count(*)::int AS n FROM sqs2pg_vault.audit')).rows).toEqual(audit.rows);
  });

  it('a pipeline that declares no subject, exit 2', async () => {
    const nobodys: PipelineSpec = { ...PAGE_VIEWS, name: 'metrics', table: { schema: null, name: 'metrics' }, subject: null, columns: [column('value', 'value', { kind: 'integer' })] };
    await applyDeclaredTables(pool, [nobodys]);
    const result = await runCli(['forget', '--pipeline', 'metrics', '--subject', 'someone'], cliEnv, 20_000);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('pipeline metrics declares no subject');
    expect(result.stderr).not.toContain('someone');
  });

  it('forget --subject without the mask key, exit 2', async () => {
    const result = await runCli(['forget', '--pipeline', 'page_views', '--subject', 'someone'], { ...cliEnv, SQS2PG_MASK_KEY: '' }, 15_000);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('forget --subject needs the mask key');
  });
});
