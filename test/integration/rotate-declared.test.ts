// sqs2pg rotate over declared pipelines, with the real CLI and a real PostgreSQL. Two declared tables
// (created by applyDeclaredTables, registered as migrate registers them) hold rows written as a
// worker writes them under mask key k1, with the vault on: page_views (two masked columns, its
// subject stored as read) and signups (a masked column, a sealed one, and a keyed subject, whose
// value is sealed as a `subject:signups` entry, sql/0013). After `rotate` to k2 every mask and
// subject key is the one k2 gives, every entry opens, reveal still opens them, nothing is in clear,
// k1 retires, a second run changes nothing, and a new vault key pair re-seals every declared entry.
// Killed half way and beside workers on either key: rotate.test.ts, for logins and page_views alike.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyFingerprint } from '../../src/config/key.js';
import { applyDeclaredTables } from '../../src/db/declared-tables.js';
import { migrate } from '../../src/db/migrate.js';
import { registerPipelines, registrationOf } from '../../src/db/pipeline-registry.js';
import { createPool } from '../../src/db/pool.js';
import { BEGIN_VAULT_WRITE } from '../../src/db/vault-lock.js';
import { storedColumnsOf, subjectEntryField, type PipelineSpec } from '../../src/model/pipeline.js';
import { compileEventReader } from '../../src/transform/event-reader.js';
import { canonicalIp } from '../../src/transform/ip.js';
import { createMasker, type Masker } from '../../src/transform/mask.js';
import { entryColumns, INSERT_ENTRIES } from '../../src/vault/entry.js';
import { createVaultSealer } from '../../src/vault/sealed-box.js';
import { sealBatch } from '../../src/vault/seal-batch.js';
import { column, PAGE_VIEWS } from '../fixtures/pipelines.js';
import { createTestStack, runCli, TEST_MASK_KEY, type TestStack } from '../helpers/stack.js';
import { openVault, TEST_MASK_KEY_2, TEST_VAULT_PRIVATE_KEY, TEST_VAULT_PRIVATE_KEY_2, TEST_VAULT_PUBLIC_KEY, vaultDump, type TestKeys } from '../helpers/vault.js';

const V1: TestKeys = { v1: { private: TEST_VAULT_PRIVATE_KEY } };
const oldMasker = createMasker(Buffer.from(TEST_MASK_KEY, 'hex'), 'k1');
const newMasker = createMasker(Buffer.from(TEST_MASK_KEY_2, 'hex'), 'k2');
const sealer = createVaultSealer(Buffer.from(TEST_VAULT_PUBLIC_KEY, 'hex'), 'v1');

/** A keyed subject (its path is read by a masked column only), a masked column and a sealed one. */
const SIGNUPS: PipelineSpec = {
  name: 'signups',
  builtin: false,
  queue: 'signups',
  table: { schema: null, name: 'signups' },
  subject: ['user', 'email'],
  columns: [
    column('masked_email', 'user.email', { kind: 'varchar', length: 256 }, { pii: 'mask', required: true }),
    column('phone', 'phone', { kind: 'text' }, { pii: 'seal' }),
    column('plan', 'plan', { kind: 'text' }),
  ],
};

interface PageView {
  id: string;
  email: string;
  ip: string;
}
interface Signup {
  id: string;
  email: string;
  phone: string;
}

/** Distinct values with repeats, so that equal values share a mask (and one vault entry). */
function pageViews(count: number, seed: string): PageView[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${seed}-pv-${String(i).padStart(6, '0')}`,
    email: `visitor${i % 97}.${seed}@example.org`,
    ip: `10.${i % 7}.${Math.floor(i / 7) % 250}.${(i * 13) % 250}`,
  }));
}
function signups(count: number, seed: string): Signup[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${seed}-su-${String(i).padStart(6, '0')}`,
    email: `person${i}.${seed}@example.net`,
    phone: `+44 7700 9${String(i % 50).padStart(5, '0')}`,
  }));
}

const pageViewBody = (v: PageView) =>
  JSON.stringify({ visitor: { id: `v-${v.email.length}-${v.id}`, email: v.email }, ip: v.ip, page: { url: 'https://example.com/a' }, viewed_at: '2026-12-07T10:00:00Z', duration_ms: 5 });
const signupBody = (s: Signup) => JSON.stringify({ user: { email: s.email }, phone: s.phone, plan: 'pro' });

/**
 * Writes rows as a worker under `masker` does: the reader's values into the declared table, and
 * with the vault on, one sealed entry per distinct mask (sealBatch), plus the keyed subject's value
 * as a `subject:<scope>` entry whose mask is the subject key (the contract of sql/0013).
 */
async function writeAsWorker(pool: pg.Pool, spec: PipelineSpec, items: readonly { id: string; body: string; subject?: string }[], masker: Masker, vault: boolean): Promise<void> {
  const read = compileEventReader(spec, masker, { originals: vault });
  const stored = storedColumnsOf(spec).map((c) => c.name);
  const client = await pool.connect();
  try {
    // A worker's batch holds the erasure lock shared from its first statement (stop_tombstoned) to its commit.
    await client.query(BEGIN_VAULT_WRITE);
    const originals: { mask: string; field: string; value: string }[] = [];
    for (const item of items) {
      const reading = read({ messageId: item.id, body: item.body, sentAtMs: Date.UTC(2026, 11, 7), receiveCount: 1 }, JSON.parse(item.body));
      if (!reading.ok) throw new Error(`${item.id}: ${reading.reason} ${reading.field}`);
      const names = ['sqs_message_id', ...stored].map((name) => pg.escapeIdentifier(name)).join(', ');
      const params = [item.id, ...reading.row.values];
      await client.query(`INSERT INTO public.${pg.escapeIdentifier(spec.table.name)} (${names}) VALUES (${params.map((_, i) => `$${i + 1}`).join(', ')})`, params);
      originals.push(...reading.row.originals.map((o) => ({ mask: o.mask, field: o.label, value: o.value })));
      if (vault && item.subject !== undefined && reading.row.subjectKey !== null && stored.includes('sqs2pg_subject_key')) {
        originals.push({ mask: reading.row.subjectKey, field: subjectEntryField(spec.table.name), value: item.subject });
      }
    }
    const entries = sealBatch(originals, sealer);
    if (entries.length > 0) await client.query(INSERT_ENTRIES, entryColumns(entries));
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

async function declare(stack: TestStack): Promise<pg.Pool> {
  const pool = createPool(stack.databaseUrl, 2);
  await migrate(pool);
  await applyDeclaredTables(pool, [PAGE_VIEWS, SIGNUPS]);
  await registerPipelines(pool, [registrationOf(PAGE_VIEWS, 'public'), registrationOf(SIGNUPS, 'public')]);
  // k1 is known to the database, as the workers that wrote under it recorded it.
  await pool.query("INSERT INTO sqs2pg.key_fingerprints (purpose, key_id, fingerprint) VALUES ('mask', 'k1', $1)", [keyFingerprint(Buffer.from(TEST_MASK_KEY, 'hex'), 'mask')]);
  return pool;
}

const rotateEnv = (stack: TestStack, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  DATABASE_URL: stack.databaseUrl,
  SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY,
  SQS2PG_MASK_KEY: TEST_MASK_KEY_2,
  SQS2PG_MASK_KEY_ID: 'k2',
  ...extra,
});

interface PageViewRow {
  sqs_message_id: string;
  masked_email: string;
  masked_ip: string;
}
interface SignupRow {
  sqs_message_id: string;
  masked_email: string;
  phone: string | null;
  sqs2pg_subject_key: string;
}
const pageViewRows = async (pool: pg.Pool) =>
  (await pool.query<PageViewRow>('SELECT sqs_message_id, masked_email, masked_ip FROM public.page_views ORDER BY sqs_message_id')).rows;
const signupRows = async (pool: pg.Pool) =>
  (await pool.query<SignupRow>('SELECT sqs_message_id, masked_email, phone, sqs2pg_subject_key FROM public.signups ORDER BY sqs_message_id')).rows;

/** The masker a row's masks were made under: every mask of a row under the same key id, or the row is half done. */
function maskerOfRow(masks: readonly string[]): Masker {
  const ids = new Set(masks.map((mask) => mask.slice(0, 3)));
  expect(ids.size, `a row with masks under ${[...ids].join(' and ')}`).toBe(1);
  return ids.has('k2:') ? newMasker : oldMasker;
}

/**
 * At any moment: each row is wholly under one key, its masks and subject key are the ones that
 * key gives its values, and each opens to its value in the vault (all but `unvaulted` rows).
 */
async function expectConsistent(pool: pg.Pool, views: Map<string, PageView>, ups: Map<string, Signup>, unvaulted: ReadonlySet<string> = new Set()) {
  const vault = await openVault(pool, V1);
  for (const row of await pageViewRows(pool)) {
    const view = views.get(row.sqs_message_id)!;
    const masker = maskerOfRow([row.masked_email, row.masked_ip]);
    expect([row.masked_email, row.masked_ip], row.sqs_message_id).toEqual([masker.mask('masked_email', view.email), masker.mask('masked_ip', canonicalIp(view.ip)!)]);
    expect([vault.get(row.masked_email)?.value, vault.get(row.masked_ip)?.value]).toEqual([view.email, canonicalIp(view.ip)]);
  }
  for (const row of await signupRows(pool)) {
    const signup = ups.get(row.sqs_message_id)!;
    const masker = maskerOfRow([row.masked_email, row.sqs2pg_subject_key]);
    // A sealed cell names its entry by a reference made once, under k1, and never re-keyed; NULL with the vault off.
    expect([row.masked_email, row.phone, row.sqs2pg_subject_key], row.sqs_message_id).toEqual([
      masker.mask('masked_email', signup.email),
      unvaulted.has(row.sqs_message_id) ? null : oldMasker.sealRef('phone', row.sqs_message_id, signup.phone),
      masker.subjectKey('signups', signup.email),
    ]);
    if (unvaulted.has(row.sqs_message_id)) continue;
    expect(vault.get(row.masked_email)?.value).toBe(signup.email);
    expect(vault.get(row.phone!)).toEqual(expect.objectContaining({ field: 'phone', value: signup.phone }));
    expect(vault.get(row.sqs2pg_subject_key)).toEqual(expect.objectContaining({ field: 'subject:signups', value: signup.email }));
  }
  return vault;
}

/** Everything sqs2pg stores, as text: the declared tables, the vault's entries and audit, the registry. */
async function everythingStored(pool: pg.Pool): Promise<string> {
  const tables = await pool.query<{ t: string | null }>(
    `SELECT (SELECT string_agg(row_to_json(p)::text, E'\\n') FROM public.page_views p) || E'\\n' ||
            (SELECT string_agg(row_to_json(s)::text, E'\\n') FROM public.signups s) || E'\\n' ||
            (SELECT string_agg(row_to_json(r)::text, E'\\n') FROM sqs2pg.pipelines r) AS t`,
  );
  const vault = await vaultDump(pool);
  return `${tables.rows[0]?.t ?? ''}\n${vault.text}\n${vault.bytes.toString('latin1')}`;
}

function expectNothingInClear(text: string, views: Iterable<PageView>, ups: Iterable<Signup>): void {
  const values = [...[...views].flatMap((v) => [v.email, v.ip]), ...[...ups].flatMap((s) => [s.email, s.phone])];
  const found = values.filter((value) => text.includes(value));
  expect(found.slice(0, 3)).toEqual([]);
}

describe('sqs2pg rotate --mask-key-id k2 over declared pipelines', () => {
  const views = pageViews(300, 'a');
  const ups = signups(120, 'a');
  const offVault = signups(5, 'off');
  const byId = <T extends { id: string }>(items: readonly T[]) => new Map(items.map((item) => [item.id, item]));
  const viewById = byId(views);
  const upById = byId([...ups, ...offVault]);
  let stack: TestStack;
  let pool: pg.Pool;
  beforeAll(async () => {
    stack = await createTestStack();
    pool = await declare(stack);
    await writeAsWorker(pool, PAGE_VIEWS, views.map((v) => ({ id: v.id, body: pageViewBody(v) })), oldMasker, true);
    await writeAsWorker(pool, SIGNUPS, ups.map((s) => ({ id: s.id, body: signupBody(s), subject: s.email })), oldMasker, true);
    // Loaded while the vault was off: their values and subjects are nowhere to re-key them from.
    await writeAsWorker(pool, SIGNUPS, offVault.map((s) => ({ id: s.id, body: signupBody(s) })), oldMasker, false);
  }, 60_000);
  afterAll(async () => {
    await pool.end();
    await stack.close();
  });

  it('re-masks every masked column and keyed subject, leaves sealed cells as they are, keeps reveal working, and leaves nothing in clear', async () => {
    const before = await expectConsistent(pool, viewById, upById, new Set(offVault.map((s) => s.id)));
    // One entry per sealed cell: 120 rows with the vault on, of 50 distinct phones.
    const sealedBefore = [...before.values()].filter((entry) => entry.field === 'phone');
    expect(sealedBefore).toHaveLength(120);

    const result = await runCli(['rotate', '--reason', 'yearly rotation'], rotateEnv(stack), 60_000);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n');
    const remasked = /^re-masked 420 rows under mask key id "k2" \((\d+) new vault entries\)$/.exec(lines.find((line) => line.startsWith('re-masked 420 rows')) ?? '');
    expect(remasked, result.stdout).not.toBeNull();
    expect(lines).toContain('pipeline "page_views": re-masked 300 rows; 0 can still be re-masked; 0 keep older masks for good');
    expect(lines).toContain('pipeline "signups": re-masked 120 rows; 0 can still be re-masked; 5 keep older masks for good');
    expect(lines).toContain(
      'pipeline "signups": 5 rows keep their subject key under an older mask key (their subject is not sealed in the vault: written while it was off, or erased): once that key is retired, forget --subject cannot find them',
    );
    expect(lines).toContain('5 rows keep older masks for good: their values are not in the vault (written while it was off, or erased)');
    expect(lines).toContain('mask key id "k1" is retired: everything that can be re-keyed is under "k2", and sqs2pg refuses its key from now on (the database refuses what a worker still given it would write, and that worker stops); the old mask key may be destroyed');

    const unvaulted = new Set(offVault.map((s) => s.id));
    const vault = await expectConsistent(pool, viewById, upById, unvaulted);
    for (const row of await pageViewRows(pool)) expect([row.masked_email.slice(0, 3), row.masked_ip.slice(0, 3)]).toEqual(['k2:', 'k2:']);
    for (const row of await signupRows(pool)) expect(row.sqs2pg_subject_key.slice(0, 3)).toBe(unvaulted.has(row.sqs_message_id) ? 'k1:' : 'k2:');
    // The vault holds exactly what the rows name: masks all under k2, and the sealed cells' references as they were.
    const signupsNow = (await signupRows(pool)).filter((row) => !unvaulted.has(row.sqs_message_id));
    const named = new Set([
      ...(await pageViewRows(pool)).flatMap((row) => [row.masked_email, row.masked_ip]),
      ...signupsNow.flatMap((row) => [row.masked_email, row.sqs2pg_subject_key]),
    ]);
    const references = new Set(signupsNow.map((row) => row.phone!));
    expect(new Set(vault.keys())).toEqual(new Set([...named, ...references]));
    expect(Number(remasked![1])).toBe(named.size);

    // reveal opens the new masks, a sealed cell and a subject key.
    const [view] = await pageViewRows(pool);
    const [signup] = await signupRows(pool);
    for (const [mask, value] of [
      [view!.masked_email, viewById.get(view!.sqs_message_id)!.email],
      [view!.masked_ip, canonicalIp(viewById.get(view!.sqs_message_id)!.ip)],
      [signup!.phone!, upById.get(signup!.sqs_message_id)!.phone],
      [signup!.sqs2pg_subject_key, upById.get(signup!.sqs_message_id)!.email],
    ] as const) {
      const reveal = await runCli(['reveal', mask, '--reason', 'after rotation'], rotateEnv(stack), 15_000);
      expect([reveal.code, reveal.stdout], reveal.stderr).toEqual([0, `${value}\n`]);
    }

    expectNothingInClear(`${await everythingStored(pool)}\n${result.stdout}\n${result.stderr}`, views, [...ups, ...offVault]);
    const audit = await pool.query<{ detail: Record<string, unknown> }>("SELECT detail FROM sqs2pg_vault.audit WHERE action = 'rotate'");
    expect(audit.rows.map((row) => row.detail.rows_remasked)).toEqual([420]);
  }, 120_000);

  it('a second run changes nothing', async () => {
    const snapshot = async () => ({
      views: await pageViewRows(pool),
      signups: await signupRows(pool),
      entries: (await pool.query('SELECT masked_value, field, vault_key_id, nonce, ciphertext, superseded_by FROM sqs2pg_vault.entries ORDER BY masked_value')).rows,
    });
    const before = await snapshot();
    // k1 is retired now: the rotation runs under k2 alone.
    const again = await runCli(['rotate', '--reason', 'again'], rotateEnv(stack), 60_000);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('re-masked 0 rows under mask key id "k2" (0 new vault entries)');
    expect(again.stdout).toContain('deleted 0 vault entries of older masks that no row uses any more');
    expect(await snapshot()).toEqual(before);
  }, 60_000);

  it('a new vault key pair re-seals the declared entries too: sealed columns and subjects open under v2 alone', async () => {
    const before = await openVault(pool, V1);
    const toV2 = rotateEnv(stack, { SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY_2, SQS2PG_VAULT_KEY_ID: 'v2', SQS2PG_VAULT_PREVIOUS_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY });
    const result = await runCli(['rotate', '--reason', 'new vault pair'], toV2, 60_000);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe(`re-sealed ${new Intl.NumberFormat('en-US').format(before.size)} vault entries to vault key id "v2"`);
    expect(result.stdout).toContain('vault key id "v1" is retired');
    const after = await openVault(pool, { v2: { private: TEST_VAULT_PRIVATE_KEY_2 } });
    const contents = (vault: typeof before) => [...vault].map(([mask, entry]) => `${mask} ${entry.field} ${entry.value}`).sort();
    expect(contents(after)).toEqual(contents(before));
    expect(new Set([...after.values()].map((entry) => entry.field))).toEqual(new Set(['masked_email', 'masked_ip', 'phone', 'subject:signups']));
    const [signup] = await signupRows(pool);
    const reveal = await runCli(['reveal', signup!.sqs2pg_subject_key, '--reason', 'after the vault rotation'], rotateEnv(stack, { SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY_2, SQS2PG_VAULT_KEY_ID: 'v2' }), 15_000);
    expect([reveal.code, reveal.stdout], reveal.stderr).toEqual([0, `${upById.get(signup!.sqs_message_id)!.email}\n`]);
  }, 60_000);
});
