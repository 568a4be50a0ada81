// sqs2pg.pipelines (sql/0010): every pipeline's table and the columns that hold its masks, as the
// database knows them. Written by the owner when the tables are brought to their declaration; read
// by erasure, rotation and grants, which run without the pipeline file (or as other roles, through
// SECURITY DEFINER functions that take a pipeline's name, never a table's).
import { storedColumnsOf, subjectColumnOf, SUBJECT_KEY_COLUMN, type Pii, type PipelineSpec } from '../model/pipeline.js';
import type { PoolClient } from './pool.js';

export interface PiiColumn {
  column: string;
  /** the label its masks are made under (a vault entry's field) */
  label: string;
  pii: Exclude<Pii, 'none'>;
}

export interface RegisteredPipeline {
  name: string;
  tableSchema: string;
  tableName: string;
  builtin: boolean;
  /** the column a subject's rows are found by; null: the pipeline names no subject */
  subjectColumn: string | null;
  /** that column holds the subject's keyed hash (sqs2pg_subject_key), not the subject as read */
  subjectIsKey: boolean;
  /** the scope of Masker.subjectKey; null for the login pipeline (Masker.userKey) */
  subjectScope: string | null;
  piiColumns: PiiColumn[];
}

/** What the registry records of `spec`, loaded into `tableSchema`.`spec.table.name`. Pure. */
export function registrationOf(spec: PipelineSpec, tableSchema: string): RegisteredPipeline {
  const subjectColumn = spec.subject === null ? null : (subjectColumnOf(spec)?.name ?? SUBJECT_KEY_COLUMN);
  return {
    name: spec.name,
    tableSchema,
    tableName: spec.table.name,
    builtin: spec.builtin,
    subjectColumn,
    subjectIsKey: subjectColumn === SUBJECT_KEY_COLUMN,
    subjectScope: spec.subject === null || spec.builtin ? null : spec.table.name,
    piiColumns: storedColumnsOf(spec).flatMap((stored) =>
      stored.role === 'value' && stored.column !== null && stored.column.pii !== 'none'
        ? [{ column: stored.name, label: stored.column.maskLabel, pii: stored.column.pii }]
        : [],
    ),
  };
}

/**
 * sqs2pg.pipelines' oid, or NULL before the migrations make it, as a scalar subquery. Read from the
 * catalog, not through to_regclass, which a role without USAGE on schema sqs2pg is refused.
 */
export const REGISTRY_OID = `(SELECT r.oid FROM pg_catalog.pg_class r JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) r.relnamespace
  WHERE n.nspname OPERATOR(pg_catalog.=) 'sqs2pg' AND r.relname OPERATOR(pg_catalog.=) 'pipelines')`;

const UPSERT = `
INSERT INTO sqs2pg.pipelines (name, table_schema, table_name, builtin, subject_column, subject_is_key, subject_scope, pii_columns)
SELECT * FROM unnest($1::text[], $2::name[], $3::name[], $4::boolean[], $5::name[], $6::boolean[], $7::text[], $8::jsonb[])
ON CONFLICT (name) DO UPDATE SET
  table_schema = excluded.table_schema, table_name = excluded.table_name, builtin = excluded.builtin,
  subject_column = excluded.subject_column, subject_is_key = excluded.subject_is_key,
  subject_scope = excluded.subject_scope, pii_columns = excluded.pii_columns, registered_at = pg_catalog.now()`;

// A table is one pipeline's: a pipeline renamed in its file (or the builtin named otherwise than
// logins) takes its table's registration over, so erasure finds the table under the name in use.
const RELEASE_TABLES = `
DELETE FROM sqs2pg.pipelines p USING unnest($1::text[], $2::name[], $3::name[]) AS w(name, table_schema, table_name)
 WHERE p.table_schema OPERATOR(pg_catalog.=) w.table_schema AND p.table_name OPERATOR(pg_catalog.=) w.table_name
   AND p.name OPERATOR(pg_catalog.<>) w.name`;

/** Records (or updates) each pipeline, in the caller's transaction; the caller owns sqs2pg's tables. */
export async function registerPipelines(client: Pick<PoolClient, 'query'>, pipelines: readonly RegisteredPipeline[]): Promise<void> {
  if (pipelines.length === 0) return;
  await client.query(RELEASE_TABLES, [pipelines.map((p) => p.name), pipelines.map((p) => p.tableSchema), pipelines.map((p) => p.tableName)]);
  await client.query(UPSERT, [
    pipelines.map((p) => p.name),
    pipelines.map((p) => p.tableSchema),
    pipelines.map((p) => p.tableName),
    pipelines.map((p) => p.builtin),
    pipelines.map((p) => p.subjectColumn),
    pipelines.map((p) => p.subjectIsKey),
    pipelines.map((p) => p.subjectScope),
    pipelines.map((p) => JSON.stringify(p.piiColumns)),
  ]);
}

interface RegistryRow {
  name: string;
  table_schema: string;
  table_name: string;
  builtin: boolean;
  subject_column: string | null;
  subject_is_key: boolean;
  subject_scope: string | null;
  pii_columns: PiiColumn[];
}

/** Every registered pipeline, by name. */
export async function registeredPipelines(client: Pick<PoolClient, 'query'>): Promise<RegisteredPipeline[]> {
  const result = await client.query<RegistryRow>(
    'SELECT name, table_schema, table_name, builtin, subject_column, subject_is_key, subject_scope, pii_columns FROM sqs2pg.pipelines ORDER BY name',
  );
  return result.rows.map((row) => ({
    name: row.name,
    tableSchema: row.table_schema,
    tableName: row.table_name,
    builtin: row.builtin,
    subjectColumn: row.subject_column,
    subjectIsKey: row.subject_is_key,
    subjectScope: row.subject_scope,
    piiColumns: row.pii_columns,
  }));
}
