// Declared tables against a real PostgreSQL, through sessions whose search path is pinned as sqs2pg
// pins it: created with the idempotency column and index and a subject index, a second apply that
// changes nothing, a column declared later added, a type change refused with nothing applied,
// two applies racing on a new table, and the take-home's table accepted as the builtin's.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyDeclaredTables, planDeclaredTables } from '../../src/db/declared-tables.js';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import type { PipelineSpec } from '../../src/model/pipeline.js';
import { column, LOGINS, PAGE_VIEWS } from '../fixtures/pipelines.js';
import { createTestStack, waitFor, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
let pool: pg.Pool;
beforeAll(async () => {
  stack = await createTestStack();
  pool = createPool(stack.databaseUrl, 4);
});
afterAll(async () => {
  await pool.end();
  await stack.close();
});

async function columnsOf(table: string): Promise<[string, string, boolean][]> {
  const result = await stack.pool.query<{ name: string; type: string; not_null: boolean }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS not_null
       FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [table],
  );
  return result.rows.map((row) => [row.name, row.type, row.not_null]);
}

async function indexesOf(table: string): Promise<string[]> {
  const result = await stack.pool.query<{ def: string }>(
    `SELECT regexp_replace(pg_get_indexdef(indexrelid), 'INDEX \\S+ ON', 'INDEX ON') AS def FROM pg_index WHERE indrelid = to_regclass($1) ORDER BY 1`,
    [table],
  );
  return result.rows.map((row) => row.def);
}

const withTable = (spec: PipelineSpec, name: string, schema: string | null = null): PipelineSpec => ({ ...spec, name, table: { schema, name } });

describe('a declared table that does not exist', () => {
  it('is created with its columns, sqs_message_id and its unique index, and an index on the subject column', async () => {
    const plans = await applyDeclaredTables(pool, [PAGE_VIEWS]);
    expect(plans[0]?.actions.map((action) => action.what)).toEqual([
      'create table "public"."page_views"',
      'create a unique index on "public"."page_views" (sqs_message_id)',
      'create an index on "public"."page_views" (visitor_id)',
    ]);
    expect(await columnsOf('public.page_views')).toEqual([
      ['visitor_id', 'character varying(64)', false],
      ['masked_email', 'character varying(256)', false],
      ['masked_ip', 'character varying(256)', false],
      ['url', 'text', false],
      ['duration_ms', 'integer', false],
      ['viewed_at', 'timestamp with time zone', false],
      ['tags', 'jsonb', false],
      ['sqs_message_id', 'character varying(128)', false],
    ]);
    expect(await indexesOf('public.page_views')).toEqual([
      'CREATE INDEX ON public.page_views USING btree (visitor_id)',
      'CREATE UNIQUE INDEX ON public.page_views USING btree (sqs_message_id)',
    ]);
    // The index is what makes a redelivery harmless.
    await stack.pool.query(`INSERT INTO page_views (visitor_id, url, viewed_at, sqs_message_id) VALUES ('v', 'u', now(), 'm-1')`);
    await expect(stack.pool.query(`INSERT INTO page_views (visitor_id, url, viewed_at, sqs_message_id) VALUES ('v', 'u', now(), 'm-1')`)).rejects.toMatchObject({ code: '23505' });
  });

  it('changes nothing when applied again: no action planned, the same columns and indexes', async () => {
    const before = [await columnsOf('public.page_views'), await indexesOf('public.page_views')];
    const plans = await applyDeclaredTables(pool, [PAGE_VIEWS]);
    expect(plans).toEqual([{ pipeline: 'page_views', table: '"public"."page_views"', exists: true, actions: [], refusals: [] }]);
    expect([await columnsOf('public.page_views'), await indexesOf('public.page_views')]).toEqual(before);
  });

  it('keys a subject no column holds in the clear, in a schema of its own, names quoted', async () => {
    await stack.pool.query('CREATE SCHEMA "Web Data"');
    const spec: PipelineSpec = {
      ...withTable(PAGE_VIEWS, 'Clicks', 'Web Data'),
      subject: ['email'],
      columns: [column('email', 'email', { kind: 'text' }, { pii: 'mask' }), column('v', 'v', { kind: 'version' })],
    };
    await applyDeclaredTables(pool, [spec]);
    expect(await columnsOf('"Web Data"."Clicks"')).toEqual([
      ['email', 'character varying(256)', false],
      ['v', 'integer', false],
      ['v_raw', 'character varying(32)', false],
      ['sqs2pg_subject_key', 'character varying(256)', false],
      ['sqs_message_id', 'character varying(128)', false],
    ]);
    expect(await indexesOf('"Web Data"."Clicks"')).toEqual([
      'CREATE INDEX ON "Web Data"."Clicks" USING btree (sqs2pg_subject_key)',
      'CREATE UNIQUE INDEX ON "Web Data"."Clicks" USING btree (sqs_message_id)',
    ]);
  });

  it('is refused in a schema that does not exist, saying to create it', async () => {
    await expect(applyDeclaredTables(pool, [withTable(PAGE_VIEWS, 'nowhere', 'no_such_schema')])).rejects.toThrow(/schema no_such_schema does not exist; create it/);
  });
});

describe('a declared table that exists', () => {
  it('gets a column declared later, nullable, its rows kept', async () => {
    const later = { ...PAGE_VIEWS, columns: [...PAGE_VIEWS.columns, column('referrer', 'referrer', { kind: 'varchar', length: 512 }, { required: true })] };
    const plans = await applyDeclaredTables(pool, [later]);
    expect(plans[0]?.actions.map((action) => action.what)).toEqual(['add column referrer varchar(512) to "public"."page_views"']);
    expect((await columnsOf('public.page_views')).at(-1)).toEqual(['referrer', 'character varying(512)', false]);
    expect((await stack.pool.query('SELECT count(*)::int AS n FROM page_views WHERE referrer IS NULL')).rows[0]).toEqual({ n: 1 });
  });

  it('refuses a type change, says what to do, and applies nothing of the same run', async () => {
    const retyped = {
      ...PAGE_VIEWS,
      columns: [...PAGE_VIEWS.columns.map((c) => (c.name === 'duration_ms' ? { ...c, type: { kind: 'bigint' as const } } : c)), column('added_too', 'x', { kind: 'text' })],
    };
    const before = await columnsOf('public.page_views');
    const refused = applyDeclaredTables(pool, [retyped]);
    await expect(refused).rejects.toMatchObject({ code: 'db_schema' });
    await expect(refused).rejects.toThrow(
      /column duration_ms of public\.page_views is integer, and the pipeline now stores bigint there; sqs2pg never changes a column's type: declare the column as it is.*ALTER TABLE "public"\."page_views" ALTER COLUMN "duration_ms" TYPE pg_catalog\.int8 USING/,
    );
    expect(await columnsOf('public.page_views')).toEqual(before);
  });

  it('accepts wider text where varchar(N) is declared, and refuses a NOT NULL column nothing fills', async () => {
    await stack.pool.query('CREATE TABLE public.hand_made (visitor_id text, url text, viewed_at timestamptz, sqs_message_id varchar(200) UNIQUE, owner text NOT NULL)');
    const spec = withTable({ ...PAGE_VIEWS, columns: PAGE_VIEWS.columns.filter((c) => ['visitor_id', 'url', 'viewed_at'].includes(c.name)) }, 'hand_made');
    await expect(planDeclaredTables(pool, [spec])).resolves.toMatchObject([
      { actions: [], refusals: [expect.stringMatching(/column owner of public\.hand_made is NOT NULL without a default and the pipeline does not fill it/)] },
    ]);
    await stack.pool.query('ALTER TABLE public.hand_made ALTER COLUMN owner SET DEFAULT current_user');
    await expect(applyDeclaredTables(pool, [spec])).resolves.toMatchObject([{ actions: [], refusals: [] }]);
  });
});

describe('two applies at once', () => {
  it('create a new table once: both wait on the migrations\' lock, one creates it, the other finds nothing to do', async () => {
    const spec = withTable(PAGE_VIEWS, 'raced');
    const other = createPool(stack.databaseUrl, 2);
    // A third session holds the lock until both applies have planned (no table yet) and wait for it.
    const holder = new pg.Client({ connectionString: stack.databaseUrl });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE sqs2pg.schema_migrations IN SHARE ROW EXCLUSIVE MODE');
      const both = Promise.all([applyDeclaredTables(pool, [spec]), applyDeclaredTables(other, [spec])]);
      both.catch(() => undefined);
      await waitFor(async () => {
        const waiting = await stack.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_locks WHERE relation = 'sqs2pg.schema_migrations'::regclass AND NOT granted`);
        return waiting.rows[0]?.n === 2;
      }, 20_000, 'both applies waiting on the lock');
      await holder.query('COMMIT');
      const [a, b] = await both;
      expect([a[0]?.actions.length, b[0]?.actions.length].sort()).toEqual([0, 3]);
    } finally {
      await holder.end();
      await other.end();
    }
    expect(await indexesOf('public.raced')).toEqual([
      'CREATE INDEX ON public.raced USING btree (visitor_id)',
      'CREATE UNIQUE INDEX ON public.raced USING btree (sqs_message_id)',
    ]);
  });
});

describe('the builtin logins', () => {
  it('asks for migrate before the take-home\'s table exists, and accepts it, as migrate makes it, with nothing to do', async () => {
    await expect(applyDeclaredTables(pool, [LOGINS])).rejects.toThrow(/finds no table user_logins; run "sqs2pg migrate"/);
    await migrate(pool);
    await expect(applyDeclaredTables(pool, [LOGINS, PAGE_VIEWS])).resolves.toEqual([
      { pipeline: 'logins', table: '"public"."user_logins"', exists: true, actions: [], refusals: [] },
      { pipeline: 'page_views', table: '"public"."page_views"', exists: true, actions: [], refusals: [] },
    ]);
  });
});
