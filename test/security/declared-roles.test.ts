// Attack: the three roles against what only a declared pipeline has, logged in as members of each
// (what each may do with a pipeline's table is roles.test.ts's, for logins and page_views alike).
// The worker inserts (ON CONFLICT) though it reads no row; none but the officer reads the registry;
// the officer erases only through forget_subject, which names
// pipelines, never tables: not one the registry lacks, not sqs2pg's own tables even if the registry
// were made to point there, not through a table name built to break out of its quotes. Grants rerun
// takes back what was granted by hand (PUBLIC's CREATE on the table's schema too) and covers a table
// registered since. And an officer who plants
// look-alikes in public (PostgreSQL 12–14 let every role create there; granted here to be the same)
// and calls forget_subject from a session that searches public first runs nothing as the owner.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyDeclaredTables } from '../../src/db/declared-tables.js';
import { assertKeyFingerprints } from '../../src/db/key-fingerprints.js';
import { createPool } from '../../src/db/pool.js';
import type { PipelineSpec } from '../../src/model/pipeline.js';
import { createMasker } from '../../src/transform/mask.js';
import { column, PAGE_VIEWS } from '../fixtures/pipelines.js';
import { loadAsWorker, subjectKey } from '../helpers/declared-load.js';
import { createTestStack, migrateWithCli, runCli, TEST_MASK_KEY, type TestStack } from '../helpers/stack.js';
import { attempt, createLoginRoles, type LoginRoles } from './login-roles.js';

const masker = createMasker(Buffer.from(TEST_MASK_KEY, 'hex'), 'k1');
const view = (visitor: string, n: number) =>
  JSON.stringify({ visitor: { id: visitor, email: `${visitor}@example.com` }, ip: `203.0.113.${n}`, page: { url: `https://example.com/${n}` }, viewed_at: '2024-01-01T00:00:00Z' });
/** A table whose name tries to close its quotes and run a statement of its own. */
const HOSTILE: PipelineSpec = { ...PAGE_VIEWS, name: 'hostile', table: { schema: null, name: 'v"; DELETE FROM sqs2pg_vault.audit; --' } };
const LATER: PipelineSpec = { ...PAGE_VIEWS, name: 'later', table: { schema: null, name: 'later_views' }, columns: [column('visitor_id', 'visitor.id', { kind: 'text' })] };
const FORGET = 'SELECT * FROM sqs2pg_vault.forget_subject($1, $2, $3, $4, NULL, NULL, NULL, NULL)';

let stack: TestStack;
let roles: LoginRoles;
let pool: pg.Pool;
/** The owner's look, in a session no planted object can reach. */
let owner: pg.Pool;

const count = async (sql: string, params: unknown[] = []) => Number((await owner.query<{ n: string }>(sql, params)).rows[0]?.n);
const forgetArgs = (pipeline: string, subject: string, spec: PipelineSpec = PAGE_VIEWS) => [pipeline, subject, [subjectKey(spec, masker, subject)], 'role test'];

beforeAll(async () => {
  stack = await createTestStack();
  await migrateWithCli(stack.databaseUrl);
  pool = createPool(stack.databaseUrl, 2);
  owner = new pg.Pool({ connectionString: stack.databaseUrl, max: 1, options: '-c search_path=pg_catalog,pg_temp' });
  await applyDeclaredTables(pool, [PAGE_VIEWS, HOSTILE]);
  await loadAsWorker(stack.pool, PAGE_VIEWS, 'public', { p1: view('ann', 1), p2: view('ann', 2), p3: view('bob', 3), p4: view('cy', 4), p5: view('dee', 5) }, masker);
  await loadAsWorker(stack.pool, HOSTILE, 'public', { h1: view('ann', 1), h2: view('eve', 6) }, masker);
  await assertKeyFingerprints(pool, [{ purpose: 'mask', keyId: 'k1', key: Buffer.from(TEST_MASK_KEY, 'hex') }]);
  roles = await createLoginRoles(stack);
}, 120_000);
afterAll(async () => {
  await pool?.end();
  await owner?.end();
  await roles?.drop();
  await stack?.close();
});

describe('the worker role on a declared table', () => {
  it('inserts, and a redelivery is skipped through ON CONFLICT (sqs_message_id)', async () => {
    const worker = roles.poolAs('worker');
    const insert = `INSERT INTO public.page_views (visitor_id, url, viewed_at, sqs_message_id) VALUES ('wo', 'u', now(), 'w-1') ON CONFLICT (sqs_message_id) DO NOTHING`;
    expect(await attempt(worker, insert)).toBe('ok');
    expect(await attempt(worker, insert)).toBe('ok');
    expect(await count("SELECT count(*) AS n FROM public.page_views WHERE sqs_message_id OPERATOR(pg_catalog.=) 'w-1'")).toBe(1);
  });

  // Reading and changing the table: roles.test.ts, for every pipeline.
  it('can neither read the registry nor erase', async () => {
    const worker = roles.poolAs('worker');
    expect(await attempt(worker, 'SELECT * FROM sqs2pg.pipelines')).toBe('42501');
    expect(await attempt(worker, "UPDATE sqs2pg.pipelines SET table_schema = 'sqs2pg_vault', table_name = 'audit'")).toBe('42501');
    expect(await attempt(worker, FORGET, forgetArgs('page_views', 'ann'))).toBe('42501');
  });
});

describe('the analyst role on a declared table', () => {
  it('can neither read the registry nor erase', async () => {
    const analyst = roles.poolAs('analyst');
    expect(await attempt(analyst, 'SELECT * FROM sqs2pg.pipelines')).toBe('42501');
    expect(await attempt(analyst, FORGET, forgetArgs('page_views', 'ann'))).toBe('42501');
  });
});

describe('the PII officer role on a declared table', () => {
  it('reads the registry but cannot point it elsewhere', async () => {
    const officer = roles.poolAs('officer');
    expect(await attempt(officer, 'SELECT name FROM sqs2pg.pipelines')).toBe('ok');
    expect(await attempt(officer, "INSERT INTO sqs2pg.pipelines (name, table_schema, table_name, subject_column) VALUES ('loot', 'sqs2pg_vault', 'audit', 'id')")).toBe('42501');
    expect(await attempt(officer, "UPDATE sqs2pg.pipelines SET table_schema = 'sqs2pg_vault', table_name = 'audit', subject_column = 'id'")).toBe('42501');
    expect(await attempt(officer, "DELETE FROM sqs2pg.pipelines WHERE name = 'page_views'")).toBe('42501');
  });

  it('erases a subject of the pipeline named, not of another whose table holds the same value', async () => {
    const result = await runCli(['forget', '--pipeline', 'page_views', '--subject', 'ann', '--reason', 'ER-30'], { PATH: process.env.PATH, DATABASE_URL: roles.urlAs('officer'), SQS2PG_MASK_KEY: TEST_MASK_KEY }, 20_000);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('removed 2 rows of public.page_views');
    // The officer's audit row: roles.test.ts, for every pipeline.
    // The other table with the same subject value is another pipeline's: untouched.
    expect(await count(`SELECT count(*) AS n FROM public."v""; DELETE FROM sqs2pg_vault.audit; --" WHERE visitor_id OPERATOR(pg_catalog.=) 'ann'`)).toBe(1);
  });

  it('names a pipeline, never a table: a table name, or a pipeline the registry lacks, is refused and erases nothing', async () => {
    const officer = roles.poolAs('officer');
    const before = await count('SELECT count(*) AS n FROM sqs2pg_vault.audit');
    for (const name of ['sqs2pg_vault.audit', 'audit', 'public.page_views', 'user_logins', "page_views'; --"]) {
      expect(await attempt(officer, FORGET, forgetArgs(name, 'bob')), name).toBe('42704');
    }
    expect(await count("SELECT count(*) AS n FROM public.page_views WHERE visitor_id OPERATOR(pg_catalog.=) 'bob'")).toBe(1);
    expect(await count('SELECT count(*) AS n FROM sqs2pg_vault.audit')).toBe(before);
  });

  it('erases from a table whose name tries to break out of its quotes, and only from it', async () => {
    const officer = roles.poolAs('officer');
    const before = await count('SELECT count(*) AS n FROM sqs2pg_vault.audit');
    expect(await attempt(officer, FORGET, forgetArgs('hostile', 'eve', HOSTILE))).toBe('ok');
    expect(await count(`SELECT count(*) AS n FROM public."v""; DELETE FROM sqs2pg_vault.audit; --"`)).toBe(1);
    expect(await count('SELECT count(*) AS n FROM sqs2pg_vault.audit')).toBe(before + 1);
  });

  it('cannot erase from sqs2pg\'s own tables even where the registry was made to point at them', async () => {
    await owner.query(
      `INSERT INTO sqs2pg.pipelines (name, table_schema, table_name, subject_column) VALUES ('bent', 'sqs2pg_vault', 'audit', 'reason')`,
    );
    try {
      const before = await count('SELECT count(*) AS n FROM sqs2pg_vault.audit');
      expect(await attempt(roles.poolAs('officer'), FORGET, ['bent', 'role test', [masker.subjectKey('audit', 'x')], 'role test'])).toBe('42501');
      expect(await count('SELECT count(*) AS n FROM sqs2pg_vault.audit')).toBe(before);
    } finally {
      await owner.query("DELETE FROM sqs2pg.pipelines WHERE name OPERATOR(pg_catalog.=) 'bent'");
    }
  });
});

describe('sqs2pg grants, run again', () => {
  it('takes back what was granted by hand on a declared table, and covers a table registered since', async () => {
    const group = pg.escapeIdentifier(`${roles.logins.worker.replace(/svc$/, '')}worker`);
    await owner.query(`GRANT SELECT, UPDATE, DELETE ON public.page_views TO ${group}`);
    await owner.query(`GRANT CREATE ON SCHEMA public TO ${group}, PUBLIC`);
    const worker = roles.poolAs('worker');
    expect(await attempt(worker, 'SELECT masked_email FROM public.page_views LIMIT 1')).toBe('ok');
    await applyDeclaredTables(pool, [LATER]);
    expect(await attempt(worker, "INSERT INTO public.later_views (visitor_id, sqs_message_id) VALUES ('x', 'l-1')")).toBe('42501');

    const prefix = roles.logins.worker.replace(/svc$/, '');
    const again = await runCli(['grants', '--role-prefix', prefix], { PATH: process.env.PATH, DATABASE_URL: stack.databaseUrl }, 30_000);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('"public"."later_views"');
    expect(again.stdout).toContain('"public"."page_views"');

    expect(await attempt(worker, 'SELECT masked_email FROM public.page_views LIMIT 1')).toBe('42501');
    expect(await attempt(worker, 'DELETE FROM public.page_views')).toBe('42501');
    // Its own CREATE on the schema, and PUBLIC's (PostgreSQL 12–14 give PUBLIC one, taken back by the schema's owner).
    const acl = await owner.query<{ privilege: string }>(
      `SELECT a.privilege_type AS privilege FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) AS a
        WHERE n.nspname OPERATOR(pg_catalog.=) 'public' AND a.grantee OPERATOR(pg_catalog.=) pg_catalog.to_regrole($1)`,
      [group],
    );
    expect(acl.rows).toEqual([{ privilege: 'USAGE' }]);
    expect((await owner.query(`SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname OPERATOR(pg_catalog.=) 'public' AND pg_catalog.has_schema_privilege('public', oid, 'CREATE')`)).rowCount).toBe(0);
    expect(await attempt(worker, "INSERT INTO public.later_views (visitor_id, sqs_message_id) VALUES ('x', 'l-1') ON CONFLICT (sqs_message_id) DO NOTHING")).toBe('ok');
    expect(await attempt(roles.poolAs('analyst'), 'SELECT * FROM public.later_views')).toBe('ok');
  });
});

// Planted as the officer: operators and functions forget_subject calls, each a better match than
// pg_catalog's for a caller searching public first, and a look-alike registry pointing at the audit.
const PLANT = `
CREATE TABLE public.loot (who name NOT NULL, via text NOT NULL);
GRANT INSERT ON public.loot TO PUBLIC;
CREATE FUNCTION public.sneak(via text) RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
  INSERT INTO public.loot (who, via) VALUES (current_user, via);
  BEGIN
    DELETE FROM sqs2pg_vault.audit;
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
END $$;
CREATE FUNCTION public.eq_varchar_text(a varchar, b text) RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN PERFORM public.sneak('=(varchar, text)'); RETURN a::text = b; END $$;
CREATE OPERATOR public.= (LEFTARG = varchar, RIGHTARG = text, FUNCTION = public.eq_varchar_text);
CREATE FUNCTION public.eq_name_text(a name, b text) RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN PERFORM public.sneak('=(name, text)'); RETURN a::text = b; END $$;
CREATE OPERATOR public.= (LEFTARG = name, RIGHTARG = text, FUNCTION = public.eq_name_text);
CREATE FUNCTION public.to_regclass(v varchar) RETURNS regclass LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN PERFORM public.sneak('to_regclass(varchar)'); RETURN to_regclass(v::text); END $$;
CREATE FUNCTION public.jsonb_array_elements(v json) RETURNS SETOF jsonb LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN PERFORM public.sneak('jsonb_array_elements(json)'); RETURN QUERY SELECT jsonb_array_elements(v::jsonb); END $$;
CREATE FUNCTION public.unnest(a varchar[]) RETURNS SETOF varchar LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN PERFORM public.sneak('unnest(varchar[])'); RETURN QUERY SELECT unnest(a); END $$;
CREATE FUNCTION public.hashtext(s varchar) RETURNS integer LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN PERFORM public.sneak('hashtext(varchar)'); RETURN hashtext(s::text); END $$;
CREATE TABLE public.pipelines (name text, table_schema name, table_name name, builtin boolean, subject_column name,
  subject_is_key boolean, subject_scope text, pii_columns jsonb);
INSERT INTO public.pipelines VALUES ('page_views', 'sqs2pg_vault', 'audit', false, 'reason', false, 'page_views', '[]');
`;

describe('the officer plants look-alikes in public and calls forget_subject searching public first', () => {
  it('erases from the real table, and the planted code runs as nobody but the officer', async () => {
    await owner.query('GRANT CREATE ON SCHEMA public TO PUBLIC');
    const officer = await roles.poolAs('officer').connect();
    try {
      await officer.query(PLANT);
      await officer.query('SET search_path = public, pg_catalog');
      await officer.query('CREATE TEMP TABLE pipelines (LIKE public.pipelines)');
      await officer.query("INSERT INTO pg_temp.pipelines SELECT * FROM public.pipelines");
      const auditBefore = await count('SELECT count(*) AS n FROM sqs2pg_vault.audit');
      const done = await officer.query<{ rows_deleted: string }>(FORGET, forgetArgs('page_views', 'bob'));
      expect(done.rows[0]?.rows_deleted).toBe('1');
      expect(await count("SELECT count(*) AS n FROM public.page_views WHERE visitor_id OPERATOR(pg_catalog.=) 'bob'")).toBe(0);
      expect(await count('SELECT count(*) AS n FROM sqs2pg_vault.audit')).toBe(auditBefore + 1);
      const cli = await runCli(['forget', '--pipeline', 'page_views', '--subject', 'cy', '--reason', 'search path test'], { PATH: process.env.PATH, DATABASE_URL: roles.urlAs('officer'), SQS2PG_MASK_KEY: TEST_MASK_KEY }, 20_000);
      expect(cli.code, cli.stderr).toBe(0);
      expect(cli.stdout).toContain('removed 1 row of public.page_views');
    } finally {
      officer.release();
    }
    const loot = await owner.query<{ who: string; via: string }>('SELECT DISTINCT who::text, via FROM public.loot ORDER BY 1, 2');
    expect(loot.rows.filter((row) => row.who !== roles.logins.officer), 'planted code that ran as another role').toEqual([]);
  });
});
