// What a mask-key rotation re-keys, from the database alone (rotate runs without the pipeline file):
// every registered pipeline's table with the columns that hold masks (pii: mask) and, where the
// subject is keyed, sqs2pg_subject_key. A sealed column (pii: seal) holds its entry's reference,
// under no key: nothing of it is re-keyed (its entries are re-sealed with every other). The catalog has the last word: a table or column the registry names that is not
// there (dropped, or not migrated yet) holds nothing to re-mask, and is said so.
import pg from 'pg';
import { MESSAGE_ID_COLUMN, subjectEntryField } from '../model/pipeline.js';
import type { RegisteredPipeline } from '../db/pipeline-registry.js';
import type { PoolClient } from '../db/pool.js';

/** A column whose values are masks (or subject keys), each the mask of a vault entry's value. */
export interface KeyedColumn {
  /** as named in the table */
  name: string;
  /** the field of the entries its values are the masks of: a label, or `subject:<scope>` */
  field: string;
}

export interface RemaskTarget {
  pipeline: string;
  /** schema-qualified and quoted, e.g. "public"."page_views" */
  table: string;
  columns: KeyedColumn[];
}

export interface RotationScope {
  targets: RemaskTarget[];
  /** registered pipelines that have nothing here (no such table, or none of its columns): for the operator */
  missing: { pipeline: string; table: string }[];
}

/** The table as a query names it. */
export const qualifiedTable = (pipeline: Pick<RegisteredPipeline, 'tableSchema' | 'tableName'>): string =>
  `${pg.escapeIdentifier(pipeline.tableSchema)}.${pg.escapeIdentifier(pipeline.tableName)}`;

/** What each pipeline asks to be re-keyed, before the catalog is asked. Pure. */
export function declaredScope(pipelines: readonly (RegisteredPipeline & { table?: string })[]): RemaskTarget[] {
  const targets: RemaskTarget[] = [];
  for (const pipeline of pipelines) {
    const columns: KeyedColumn[] = pipeline.piiColumns.filter((c) => c.pii === 'mask').map((c) => ({ name: c.column, field: c.label }));
    if (pipeline.subjectIsKey && pipeline.subjectColumn !== null && pipeline.subjectScope !== null) {
      columns.push({ name: pipeline.subjectColumn, field: subjectEntryField(pipeline.subjectScope) });
    }
    if (columns.length > 0) targets.push({ pipeline: pipeline.name, table: pipeline.table ?? qualifiedTable(pipeline), columns });
  }
  return targets;
}

const COLUMNS_OF = `
SELECT t.i AS i, a.attname AS name
  FROM unnest($1::text[]) WITH ORDINALITY AS t(tbl, i)
  JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass(t.tbl)
 WHERE a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped`;

/**
 * The pipelines' targets as the catalog has them: only the columns that exist, in tables that
 * exist and carry sqs2pg's message id (the cursor every batch walks).
 */
export async function rotationScope(client: Pick<PoolClient, 'query'>, pipelines: readonly (RegisteredPipeline & { table?: string })[]): Promise<RotationScope> {
  const declared = declaredScope(pipelines);
  if (declared.length === 0) return { targets: [], missing: [] };
  const found = await client.query<{ i: string; name: string }>(COLUMNS_OF, [declared.map((target) => target.table)]);
  const columnsOf = new Map<number, Set<string>>();
  for (const row of found.rows) {
    const i = Number(row.i) - 1;
    columnsOf.set(i, (columnsOf.get(i) ?? new Set()).add(row.name));
  }
  const targets: RemaskTarget[] = [];
  const missing: RotationScope['missing'] = [];
  declared.forEach((target, i) => {
    const present = columnsOf.get(i);
    const columns = target.columns.filter((column) => present?.has(column.name));
    if (!present?.has(MESSAGE_ID_COLUMN) || columns.length === 0) missing.push({ pipeline: target.pipeline, table: target.table });
    else targets.push({ ...target, columns });
  });
  return { targets, missing };
}
