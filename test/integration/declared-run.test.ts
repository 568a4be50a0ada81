// run --config: the example file, two queues into two tables in one process, through the
// built CLI against PostgreSQL and the SQS-protocol server. A declared pipeline gets what logins
// get: its table made at start, its values typed, its personal fields masked (and vaulted under
// their labels), a bad message quarantined under its pipeline's name with nothing in clear; and
// --pipeline runs one pipeline, leaving the other's queue alone. (A redelivered message loaded once:
// redelivery.test.ts, the same tests for both pipelines.)
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import { createMasker } from '../../src/transform/mask.js';
import { createTestStack, migrateWithCli, runCli, startCli, TEST_MASK_KEY, waitFor, type TestStack } from '../helpers/stack.js';
import { openVault, TEST_VAULT_PRIVATE_KEY, TEST_VAULT_PUBLIC_KEY } from '../helpers/vault.js';

const dir = mkdtempSync(join(tmpdir(), 'sqs2pg-declared-run-'));
const FILE = join(dir, 'pipelines.yaml');
copyFileSync(new URL('../../examples/pipelines.yaml', import.meta.url), FILE);
const masker = createMasker(Buffer.from(TEST_MASK_KEY, 'hex'), 'k1');
const MASK = /^k1:[0-9a-f]{64}$/;
const LOGINS = 40;

let stack: TestStack;
let logins: string;
let pageViews: string;
beforeAll(async () => {
  stack = await createTestStack();
  await migrateWithCli(stack.databaseUrl);
});
afterAll(async () => {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  logins = await stack.newQueue();
  pageViews = await stack.newQueue();
  await stack.pool.query('TRUNCATE user_logins, sqs2pg.quarantine, sqs2pg_vault.entries, sqs2pg_vault.quarantine_bodies');
  await stack.pool.query('DROP TABLE IF EXISTS public.page_views');
});

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  // SQS_QUEUE_URL names a third queue: with a file, each pipeline reads its own and that one is not read.
  return stack.env('http://127.0.0.1:1/000000000000/not-read', { SQS2PG_CONFIG: FILE, LOGINS_QUEUE_URL: logins, PAGE_VIEWS_QUEUE_URL: pageViews, ...extra });
}

/** A page view of visitor `n`; every personal value tells which it was. */
function view(n: number): Record<string, unknown> {
  return {
    visitor: { id: `visitor-${n}`, email: `person${n}@example.com` },
    ip: `198.51.100.${n}`,
    page: { url: `https://shop.example/p/${n}` },
    duration_ms: 100 * n,
    viewed_at: `2024-05-01T10:00:${String(n).padStart(2, '0')}Z`,
    tags: ['home', n],
  };
}

const VIEWS = Array.from({ length: 12 }, (_, i) => view(i + 1));
// Fails page.url (required): its email and ip are personal, and must not reach the quarantine in clear.
const BAD_VIEW = { visitor: { id: 'visitor-bad', email: 'bad.person@example.com' }, ip: '203.0.113.99', viewed_at: '2024-05-01T10:00:00Z' };

interface ViewRow {
  sqs_message_id: string;
  visitor_id: string;
  masked_email: string;
  masked_ip: string;
  url: string;
  duration_ms: number;
  viewed_at: Date;
  tags: unknown;
}

async function viewRows(): Promise<ViewRow[]> {
  return (await stack.pool.query<ViewRow>('SELECT * FROM public.page_views ORDER BY visitor_id')).rows;
}

async function count(sql: string): Promise<number> {
  return Number((await stack.pool.query<{ n: string }>(sql)).rows[0]?.n);
}

describe('run --config with the example file', () => {
  it('loads both queues into both tables, the declared one made at start, masked and typed', async () => {
    await stack.send(logins, generateSample({ count: LOGINS, malformed: 0, seed: 25 }).bodies);
    await stack.send(pageViews, [...VIEWS.map((event) => JSON.stringify(event)), JSON.stringify(BAD_VIEW)]);
    expect(await count("SELECT count(*) AS n FROM pg_catalog.pg_class WHERE oid = pg_catalog.to_regclass('public.page_views')")).toBe(0);

    const result = await runCli(['run', '--drain', '--quiet'], env(), 60_000);
    expect(result.code, result.stderr).toBe(0);

    expect(await count('SELECT count(*) AS n FROM user_logins')).toBe(LOGINS);
    const rows = await viewRows();
    expect(rows).toHaveLength(VIEWS.length);
    for (const row of rows) {
      const n = Number(row.visitor_id.slice('visitor-'.length));
      expect(row).toMatchObject({
        visitor_id: `visitor-${n}`,
        masked_email: masker.mask('masked_email', `person${n}@example.com`),
        masked_ip: masker.mask('masked_ip', `198.51.100.${n}`),
        url: `https://shop.example/p/${n}`,
        duration_ms: 100 * n,
        tags: ['home', n],
      });
      expect(row.viewed_at.toISOString()).toBe(`2024-05-01T10:00:${String(n).padStart(2, '0')}.000Z`);
      expect(row.masked_email).toMatch(MASK);
      expect(row.masked_ip).toMatch(MASK);
    }
    // Nothing of a personal value in clear anywhere in the table.
    const text = JSON.stringify(rows);
    expect(text).not.toMatch(/@example\.com|198\.51\.100\./);

    // The bad view: quarantined under its pipeline's name, nothing of its values in clear.
    const records = await stack.pool.query<Record<string, unknown>>('SELECT * FROM sqs2pg.quarantine');
    expect(records.rows).toHaveLength(1);
    expect(records.rows[0]).toMatchObject({ pipeline: 'page_views', reason: 'missing_field', field: 'page.url' });
    expect(JSON.stringify(records.rows)).not.toMatch(/bad\.person|203\.0\.113\.99|visitor-bad/);
    // Both queues are empty.
    for (const queue of [logins, pageViews]) expect(await stack.queueDepth(queue)).toEqual({ visible: 0, notVisible: 0 });
  });

  it('with the vault on: every declared mask is vaulted under its label, and opens to its value', async () => {
    await stack.send(pageViews, VIEWS.slice(0, 3).map((event) => JSON.stringify(event)));
    const result = await runCli(['run', '--drain', '--quiet'], env({ SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY }), 60_000);
    expect(result.code, result.stderr).toBe(0);
    const vault = await openVault(stack.pool, { v1: { private: TEST_VAULT_PRIVATE_KEY } });
    const expected = new Map<string, { field: string; value: string }>();
    for (let n = 1; n <= 3; n++) {
      expected.set(masker.mask('masked_email', `person${n}@example.com`), { field: 'masked_email', value: `person${n}@example.com` });
      expected.set(masker.mask('masked_ip', `198.51.100.${n}`), { field: 'masked_ip', value: `198.51.100.${n}` });
    }
    expect(new Map([...vault].map(([mask, entry]) => [mask, { field: entry.field, value: entry.value }]))).toEqual(expected);
  });

  it('--pipeline page_views loads page views alone and leaves the logins queue untouched', async () => {
    await stack.send(logins, generateSample({ count: 10, malformed: 0, seed: 26 }).bodies);
    await stack.send(pageViews, VIEWS.slice(0, 2).map((event) => JSON.stringify(event)));
    const result = await runCli(['run', '--drain', '--quiet', '--pipeline', 'page_views'], env(), 60_000);
    expect(result.code, result.stderr).toBe(0);
    expect(await viewRows()).toHaveLength(2);
    expect(await count('SELECT count(*) AS n FROM user_logins')).toBe(0);
    expect(await stack.queueDepth(logins)).toEqual({ visible: 10, notVisible: 0 });
  });

  it('--pipeline naming no pipeline of the file is refused before anything runs', async () => {
    const result = await runCli(['run', '--drain', '--pipeline', 'purchases'], env(), 30_000);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--pipeline purchases names no pipeline');
    expect(await count("SELECT count(*) AS n FROM pg_catalog.pg_class WHERE oid = pg_catalog.to_regclass('public.page_views')")).toBe(0);
  });

  it('--workers 2: each worker runs every pipeline; every message is loaded once', async () => {
    await stack.send(logins, generateSample({ count: LOGINS, malformed: 0, seed: 27 }).bodies);
    await stack.send(pageViews, VIEWS.map((event) => JSON.stringify(event)));
    const result = await runCli(['run', '--drain', '--quiet', '--workers', '2'], env(), 90_000);
    expect(result.code, result.stderr).toBe(0);
    expect(await count('SELECT count(DISTINCT sqs_message_id) AS n FROM user_logins')).toBe(LOGINS);
    expect(await count('SELECT count(*) AS n FROM user_logins')).toBe(LOGINS);
    const rows = await viewRows();
    expect(rows).toHaveLength(VIEWS.length);
    expect(new Set(rows.map((row) => row.sqs_message_id)).size).toBe(VIEWS.length);
  });

  it('a fault in the file is one error before any worker starts, and nothing is received', async () => {
    const broken = join(dir, 'broken.yaml');
    copyFileSync(FILE, broken);
    await stack.send(pageViews, [JSON.stringify(VIEWS[0])]);
    const result = await runCli(['run', '--drain', '--workers', '2'], env({ SQS2PG_CONFIG: broken, PAGE_VIEWS_QUEUE_URL: '' }), 30_000);
    expect(result.code).toBe(2);
    expect(result.stderr.match(/PAGE_VIEWS_QUEUE_URL/g)).toHaveLength(1);
    expect(await stack.queueDepth(pageViews)).toEqual({ visible: 1, notVisible: 0 });
  });

  it("an erased subject's page views are neither loaded nor vaulted, and leave the queue", async () => {
    const erased = masker.subjectKey('page_views', 'visitor-2');
    await stack.pool.query("INSERT INTO sqs2pg.tombstones (user_key, scope) VALUES ($1, 'page_views')", [erased]);
    try {
      await stack.send(pageViews, VIEWS.slice(0, 3).map((event) => JSON.stringify(event)));
      const result = await runCli(['run', '--drain', '--quiet'], env({ SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY }), 60_000);
      expect(result.code, result.stderr).toBe(0);
      expect((await viewRows()).map((row) => row.visitor_id)).toEqual(['visitor-1', 'visitor-3']);
      const vault = await openVault(stack.pool, { v1: { private: TEST_VAULT_PRIVATE_KEY } });
      expect([...vault.values()].map((entry) => entry.value).sort()).toEqual(['198.51.100.1', '198.51.100.3', 'person1@example.com', 'person3@example.com']);
      expect(await count(`SELECT messages_stopped AS n FROM sqs2pg.tombstones WHERE user_key = '${erased}'`)).toBe(1);
      expect(await stack.queueDepth(pageViews)).toEqual({ visible: 0, notVisible: 0 });
    } finally {
      await stack.pool.query('DELETE FROM sqs2pg.tombstones');
    }
  });

  it('a queue that cannot be read stops the run before any pipeline receives a message', async () => {
    await stack.send(logins, generateSample({ count: 5, malformed: 0, seed: 28 }).bodies);
    const missing = `${pageViews}-missing`;
    const result = await runCli(['run', '--drain'], env({ PAGE_VIEWS_QUEUE_URL: missing }), 30_000);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('of the pipeline page_views');
    expect(await count('SELECT count(*) AS n FROM user_logins')).toBe(0);
    expect(await stack.queueDepth(logins)).toEqual({ visible: 5, notVisible: 0 });
  });

  it('a failure no retry fixes in one pipeline stops the other too, and the run fails', async () => {
    await stack.send(pageViews, [JSON.stringify(VIEWS[0])]);
    // A service, not a drain: only the failure can end it.
    const service = startCli(['run'], env({ SQS2PG_LOG_LEVEL: 'info' }), 60_000);
    try {
      await waitFor(async () => (await count("SELECT count(*) AS n FROM pg_catalog.pg_class WHERE oid = pg_catalog.to_regclass('public.page_views')")) === 1 && (await viewRows()).length === 1, 30_000, 'the first view loaded');
      // The table goes from under the running pipeline: its next batch is refused as no message can fix.
      await stack.pool.query('DROP TABLE public.page_views');
      await stack.send(pageViews, [JSON.stringify(VIEWS[1])]);
      const result = await service.done;
      expect(result.code).toBe(5);
      expect(result.stderr).toMatch(/"pipeline":"logins"[^\n]*stopping|stopping[^\n]*logins/);
      // Nothing of the refused view was deleted: it waits in the queue for a fixed table.
      const depth = await stack.queueDepth(pageViews);
      expect(depth.visible + depth.notVisible).toBe(1);
    } finally {
      if (service.child.exitCode === null && service.child.signalCode === null) service.child.kill('SIGKILL');
      await service.done;
    }
  });
});
