import { describe, expect, it } from 'vitest';
import { holds, planTable, type CatalogTable } from '../../../src/db/declared-tables.js';
import { PAGE_VIEWS, column } from '../../fixtures/pipelines.js';

const table = (extra: Partial<CatalogTable> = {}): CatalogTable => ({
  schema: 'public',
  name: 'page_views',
  kind: 'r',
  columns: [
    ['visitor_id', 'character varying(64)'],
    ['masked_email', 'character varying(256)'],
    ['masked_ip', 'character varying(256)'],
    ['url', 'text'],
    ['duration_ms', 'integer'],
    ['viewed_at', 'timestamp with time zone'],
    ['tags', 'jsonb'],
    ['sqs_message_id', 'character varying(128)'],
  ].map(([name, type]) => ({ name: name as string, type: type as string, notNull: false, hasDefault: false })),
  idempotencyIndex: true,
  owner: { name: 'app', sqs2pg: 'app', trusted: true },
  ...extra,
});
const at = (found: CatalogTable | undefined) => ({ found, schema: 'public', schemaMissing: false });

describe('planTable', () => {
  it('has nothing to do for a table as declared', () => {
    expect(planTable(PAGE_VIEWS, at(table()))).toEqual({ pipeline: 'page_views', table: '"public"."page_views"', exists: true, actions: [], refusals: [] });
  });

  it.each([
    ['character varying(64)', 'varchar(64)', true],
    ['character varying(100)', 'varchar(64)', true],
    ['text', 'varchar(64)', true],
    ['character varying(63)', 'varchar(64)', false],
    ['text', 'integer', false],
    ['numeric(10,2)', 'numeric', false],
    ['timestamp without time zone', 'timestamptz', false],
    ['timestamp with time zone', 'timestamptz', true],
  ])('a %s column holds %s: %s', (existing, declared, expected) => {
    expect(holds(existing, declared)).toBe(expected);
  });

  it('adds the idempotency index to a plain table without it, and refuses a partitioned one, saying which index to create', () => {
    expect(planTable(PAGE_VIEWS, at(table({ idempotencyIndex: false }))).actions.map((a) => a.sql)).toEqual(['CREATE UNIQUE INDEX ON "public"."page_views" ("sqs_message_id")']);
    expect(planTable(PAGE_VIEWS, at(table({ kind: 'p', idempotencyIndex: false }))).refusals).toEqual([
      'pipeline page_views: public.page_views is partitioned and has no unique index on sqs_message_id; create one on (sqs_message_id, <its partition key>) as the table\'s owner',
    ]);
  });

  it('refuses a table whose owner cannot act as the owner of sqs2pg\'s tables, with nothing else to do, and says how to give it over', () => {
    const planted = planTable(PAGE_VIEWS, at(table({ owner: { name: 'svc', sqs2pg: 'app owner', trusted: false }, idempotencyIndex: false })));
    expect(planted.actions).toEqual([]);
    expect(planted.refusals).toHaveLength(1);
    expect(planted.refusals[0]).toMatch(/^pipeline page_views: public\.page_views is owned by role svc, which cannot act as the owner of sqs2pg's tables \(app owner\)/);
    expect(planted.refusals[0]).toContain('ALTER TABLE "public"."page_views" OWNER TO "app owner"');
  });

  it('refuses a view, two columns of one name, and a schema-less role', () => {
    expect(planTable(PAGE_VIEWS, at(table({ kind: 'v' }))).refusals[0]).toMatch(/is not a table \(pg_class\.relkind v\)/);
    const twice = { ...PAGE_VIEWS, columns: [...PAGE_VIEWS.columns, column('sqs_message_id', 'id', { kind: 'text' })] };
    expect(planTable(twice, at(undefined)).refusals[0]).toMatch(/two columns of table page_views are named sqs_message_id/);
    expect(planTable(PAGE_VIEWS, { found: undefined, schema: null, schemaMissing: false }).refusals[0]).toMatch(/names no schema that exists/);
  });
});
