// A declared pipeline's table against the database: planned from the catalog (create it, add a
// column declared later, or refuse and say what to do), then applied under the migrations' lock
// (lockSchemaChanges), so that two workers starting at once create a table once. sqs2pg never drops, renames or
// retypes a column: those are the table owner's decisions. Whoever owns a table reads every row of
// it, so a table is created only by a role that may register it (the owner of sqs2pg's tables), and
// one that exists is used only when its owner could act as that owner anyway.
import pg from 'pg';
import { DatabaseRefusedError } from '../errors.js';
import { MESSAGE_ID_COLUMN, storedColumnsOf, subjectColumnOf, SUBJECT_KEY_COLUMN, type PipelineSpec } from '../model/pipeline.js';
import { lockSchemaChanges } from './migrate.js';
import { REGISTRY_OID, registeredPipelines, registerPipelines, registrationOf, type RegisteredPipeline } from './pipeline-registry.js';
import { PINNED_SEARCH_PATH, type Pool, type PoolClient } from './pool.js';
import { inRolledBackTransaction, inTransaction } from './transaction.js';

const MESSAGE_ID_SQL_TYPE = 'varchar(128)';

export interface TableAction {
  /** what it does, for a person: `create table "public"."page_views"` */
  what: string;
  sql: string;
}

export interface TablePlan {
  pipeline: string;
  /** schema-qualified and quoted, once known (null: no schema to create it in) */
  table: string | null;
  exists: boolean;
  /** nothing to do when empty (and no refusals) */
  actions: TableAction[];
  /** why the table cannot be used as declared, each saying what to do; any refusal stops every action */
  refusals: string[];
}

/** What the catalog says of a table, as planTable needs it. */
export interface CatalogTable {
  schema: string;
  name: string;
  /** pg_class.relkind: r a table, p a partitioned one; anything else is refused */
  kind: string;
  columns: { name: string; type: string; notNull: boolean; hasDefault: boolean }[];
  /** a unique index whose first column is sqs_message_id (partitioned: it may go on with the partition key) */
  idempotencyIndex: boolean;
  /**
   * the table's owner; `sqs2pg`: the owner of sqs2pg's tables (of sqs2pg.pipelines); `trusted`: the
   * table's owner has that role's privileges already (is it, a member of it, or a superuser)
   */
  owner: { name: string; sqs2pg: string; trusted: boolean };
}

/** Where a declared table is, or would be created. */
export interface TableLocation {
  found: CatalogTable | undefined;
  /** the schema to create it in: the declared one, or the first the role's search path offers */
  schema: string | null;
  /** the declared schema does not exist */
  schemaMissing: boolean;
}

// The DDL spelling of each stored type, by pg_catalog's own names: nothing on a search path can stand in for them.
const DDL_TYPES: Record<string, string> = {
  text: 'pg_catalog.text',
  integer: 'pg_catalog.int4',
  bigint: 'pg_catalog.int8',
  numeric: 'pg_catalog.numeric',
  boolean: 'pg_catalog.bool',
  date: 'pg_catalog.date',
  timestamptz: 'pg_catalog.timestamptz',
  jsonb: 'pg_catalog.jsonb',
};
// And as format_type names them, which is what the catalog answers.
const CATALOG_TYPES: Record<string, string> = {
  text: 'text',
  integer: 'integer',
  bigint: 'bigint',
  numeric: 'numeric',
  boolean: 'boolean',
  date: 'date',
  timestamptz: 'timestamp with time zone',
  jsonb: 'jsonb',
};

const varcharLength = (sqlType: string): number | undefined => {
  const match = /^varchar\((\d+)\)$/.exec(sqlType);
  return match ? Number(match[1]) : undefined;
};

function ddlType(sqlType: string): string {
  const length = varcharLength(sqlType);
  return length === undefined ? (DDL_TYPES[sqlType] ?? sqlType) : `pg_catalog.varchar(${length})`;
}

function catalogType(sqlType: string): string {
  const length = varcharLength(sqlType);
  return length === undefined ? (CATALOG_TYPES[sqlType] ?? sqlType) : `character varying(${length})`;
}

/** A column holds what is declared when its type is the one sqs2pg would create, or (for varchar(N)) wider text. */
export function holds(existing: string, sqlType: string): boolean {
  if (existing === catalogType(sqlType)) return true;
  const length = varcharLength(sqlType);
  if (length === undefined) return false;
  if (existing === 'text' || existing === 'character varying') return true;
  const wider = /^character varying\((\d+)\)$/.exec(existing);
  return wider !== null && Number(wider[1]) >= length;
}

const q = (name: string) => pg.escapeIdentifier(name);

/** The plan for one declared table, from what the catalog says of it. Pure. */
export function planTable(spec: PipelineSpec, location: TableLocation): TablePlan {
  const stored = storedColumnsOf(spec);
  const plan: TablePlan = { pipeline: spec.name, table: null, exists: location.found !== undefined, actions: [], refusals: [] };
  const names = new Set<string>();
  for (const name of [...stored.map((column) => column.name), MESSAGE_ID_COLUMN]) {
    if (names.has(name)) plan.refusals.push(`pipeline ${spec.name}: two columns of table ${spec.table.name} are named ${name}; rename one in the pipeline file`);
    names.add(name);
  }
  const found = location.found;
  if (!found) {
    if (spec.builtin) {
      plan.refusals.push(`pipeline ${spec.name}: the role's search path finds no table ${spec.table.name}; run "sqs2pg migrate" as the tables' owner, which creates the take-home's table`);
      return plan;
    }
    if (location.schemaMissing || location.schema === null) {
      plan.refusals.push(
        location.schemaMissing
          ? `pipeline ${spec.name}: schema ${spec.table.schema ?? ''} does not exist; create it (CREATE SCHEMA ${q(spec.table.schema ?? '')}) or name another in the pipeline's table`
          : `pipeline ${spec.name}: the role's search path names no schema that exists, so there is nowhere to create ${spec.table.name}; name a schema in the pipeline's table (schema.table)`,
      );
      return plan;
    }
    if (plan.refusals.length > 0) return plan;
    const table = `${q(location.schema)}.${q(spec.table.name)}`;
    plan.table = table;
    const columns = [...stored.map((column) => `${q(column.name)} ${ddlType(column.sqlType)}`), `${q(MESSAGE_ID_COLUMN)} ${ddlType(MESSAGE_ID_SQL_TYPE)}`];
    plan.actions.push({ what: `create table ${table}`, sql: `CREATE TABLE ${table} (\n  ${columns.join(',\n  ')}\n)` });
    plan.actions.push({ what: `create a unique index on ${table} (${MESSAGE_ID_COLUMN})`, sql: `CREATE UNIQUE INDEX ON ${table} (${q(MESSAGE_ID_COLUMN)})` });
    // Erasure finds a subject's rows by the column that holds it, or by its key.
    const subject = spec.subject === null ? undefined : (subjectColumnOf(spec)?.name ?? SUBJECT_KEY_COLUMN);
    if (subject !== undefined) plan.actions.push({ what: `create an index on ${table} (${subject})`, sql: `CREATE INDEX ON ${table} (${q(subject)})` });
    return plan;
  }

  const table = `${q(found.schema)}.${q(found.name)}`;
  plan.table = table;
  const shown = `${found.schema}.${found.name}`;
  if (found.kind !== 'r' && found.kind !== 'p') {
    plan.refusals.push(`pipeline ${spec.name}: ${shown} is not a table (pg_class.relkind ${found.kind}); name a table in the pipeline file`);
    return plan;
  }
  if (!found.owner.trusted) {
    // Made by a role that could create there (PUBLIC may create in public before PostgreSQL 15): its
    // owner would read every row the workers write, grant it to anyone, or add a trigger.
    const { name: owner, sqs2pg } = found.owner;
    plan.refusals.push(
      `pipeline ${spec.name}: ${shown} is owned by role ${owner}, which cannot act as the owner of sqs2pg's tables (${sqs2pg}), and a table's owner reads every row of it and may grant it to anyone; ` +
        `sqs2pg writes into no such table: if ${owner} made it by right, give it over (ALTER TABLE ${table} OWNER TO ${q(sqs2pg)}), otherwise drop it, and run migrate again`,
    );
    return plan;
  }
  const existing = new Map(found.columns.map((column) => [column.name, column]));
  for (const column of [...stored, { name: MESSAGE_ID_COLUMN, sqlType: MESSAGE_ID_SQL_TYPE }]) {
    const present = existing.get(column.name);
    if (!present) {
      // Nullable, whatever the declaration requires: the rows already there have no value for it.
      plan.actions.push({ what: `add column ${column.name} ${column.sqlType} to ${table}`, sql: `ALTER TABLE ${table} ADD COLUMN ${q(column.name)} ${ddlType(column.sqlType)}` });
    } else if (!holds(present.type, column.sqlType)) {
      plan.refusals.push(
        `pipeline ${spec.name}: column ${column.name} of ${shown} is ${present.type}, and the pipeline now stores ${column.sqlType} there; ` +
          `sqs2pg never changes a column's type: declare the column as it is, or declare a new column under another name, ` +
          `or change it yourself (ALTER TABLE ${table} ALTER COLUMN ${q(column.name)} TYPE ${ddlType(column.sqlType)} USING ...) and run migrate again`,
      );
    }
  }
  // A NOT NULL column nothing fills would refuse every insert, and every message would go to quarantine.
  for (const column of found.columns) {
    if (column.notNull && !column.hasDefault && !names.has(column.name)) {
      plan.refusals.push(
        `pipeline ${spec.name}: column ${column.name} of ${shown} is NOT NULL without a default and the pipeline does not fill it, so every insert would fail; declare it, give it a default, or drop its NOT NULL`,
      );
    }
  }
  if (!found.idempotencyIndex) {
    if (found.kind === 'p') {
      plan.refusals.push(
        `pipeline ${spec.name}: ${shown} is partitioned and has no unique index on ${MESSAGE_ID_COLUMN}; create one on (${MESSAGE_ID_COLUMN}, <its partition key>) as the table's owner`,
      );
    } else {
      plan.actions.push({ what: `create a unique index on ${table} (${MESSAGE_ID_COLUMN})`, sql: `CREATE UNIQUE INDEX ON ${table} (${q(MESSAGE_ID_COLUMN)})` });
    }
  }
  return plan;
}

// In one transaction: the role's own search path finds the table (or offers the schema to create it
// in), then the session's pinned path comes back before anything else is asked.
const LOCATE = `SELECT pg_catalog.current_schema() AS creation_schema,
       pg_catalog.to_regnamespace($2) IS NOT NULL AS schema_exists,
       n.nspname AS schema, c.relname AS name, c.relkind::text AS kind, c.oid AS oid
  FROM (SELECT pg_catalog.to_regclass($1) AS oid) AS wanted
  LEFT JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) wanted.oid
  LEFT JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace`;

const COLUMNS = `SELECT a.attname AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS "notNull", a.atthasdef AS "hasDefault"
  FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`;

// The owner of sqs2pg's tables is the registry's; before the migrations have made it, the role asking.
const OWNER = `SELECT pg_catalog.pg_get_userbyid(c.relowner) AS name, pg_catalog.pg_get_userbyid(s.oid) AS sqs2pg,
       pg_catalog.pg_has_role(c.relowner, s.oid, 'USAGE') AS trusted
  FROM pg_catalog.pg_class c,
       (SELECT COALESCE((SELECT r.relowner FROM pg_catalog.pg_class r WHERE r.oid = ${REGISTRY_OID}),
                        (SELECT a.oid FROM pg_catalog.pg_roles a WHERE a.rolname = current_user)) AS oid) AS s
 WHERE c.oid = $1`;

const IDEMPOTENCY_INDEX = `SELECT EXISTS (
  SELECT 1 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
   WHERE i.indrelid = $1 AND i.indisunique AND a.attname = $2
     AND (i.indnatts = 1 OR (SELECT relkind FROM pg_catalog.pg_class WHERE oid = $1) = 'p')) AS ok`;

/** Where the declared table is and what it holds; `client` must be inside a transaction. */
export async function locateTable(client: Pick<PoolClient, 'query'>, spec: PipelineSpec): Promise<TableLocation> {
  const wanted = spec.table.schema === null ? q(spec.table.name) : `${q(spec.table.schema)}.${q(spec.table.name)}`;
  await client.query('SET LOCAL search_path TO DEFAULT');
  const located = await client.query<{ creation_schema: string | null; schema_exists: boolean; schema: string | null; name: string | null; kind: string | null; oid: number | null }>(
    LOCATE,
    [wanted, spec.table.schema === null ? 'pg_catalog' : q(spec.table.schema)],
  );
  await client.query(`SET LOCAL search_path TO ${PINNED_SEARCH_PATH}`);
  const row = located.rows[0];
  const schema = spec.table.schema ?? row?.creation_schema ?? null;
  if (!row || row.oid === null || row.schema === null || row.name === null || row.kind === null) {
    return { found: undefined, schema, schemaMissing: spec.table.schema !== null && row?.schema_exists !== true };
  }
  const columns = await client.query<CatalogTable['columns'][number]>(COLUMNS, [row.oid]);
  const index = await client.query<{ ok: boolean }>(IDEMPOTENCY_INDEX, [row.oid, MESSAGE_ID_COLUMN]);
  const owner = (await client.query<CatalogTable['owner']>(OWNER, [row.oid])).rows[0] ?? { name: '?', sqs2pg: '?', trusted: false };
  return {
    found: { schema: row.schema, name: row.name, kind: row.kind, columns: columns.rows, idempotencyIndex: index.rows[0]?.ok === true, owner },
    schema,
    schemaMissing: false,
  };
}

/** The plans, read-only (what `check` shows): no lock, nothing changed. */
export async function planDeclaredTables(pool: Pool, specs: readonly PipelineSpec[]): Promise<TablePlan[]> {
  return inRolledBackTransaction(pool, 'BEGIN', async (client) => {
    const plans: TablePlan[] = [];
    for (const spec of specs) plans.push(planTable(spec, await locateTable(client, spec)));
    return plans;
  });
}

/** What the registry says of a pipeline is what `wanted` says: erasure, rotation and grants read it. */
export function sameRegistration(found: RegisteredPipeline | undefined, wanted: RegisteredPipeline): boolean {
  if (!found) return false;
  const scalar = (['name', 'tableSchema', 'tableName', 'builtin', 'subjectColumn', 'subjectIsKey', 'subjectScope'] as const).every((key) => found[key] === wanted[key]);
  return (
    scalar &&
    found.piiColumns.length === wanted.piiColumns.length &&
    // jsonb keeps an object's keys in its own order: compared field by field, never as text.
    found.piiColumns.every((column, i) => {
      const other = wanted.piiColumns[i];
      return other !== undefined && column.column === other.column && column.label === other.label && column.pii === other.pii;
    })
  );
}

interface Planned {
  plans: TablePlan[];
  /** the registry rows to write: missing, or differing from the declaration */
  registrations: RegisteredPipeline[];
}

// The registry is read only where it exists (the migrations make it; a table planned before them is
// registered by the next apply) and where the role may read it. A role that may not write it (a
// worker) creates and changes no table: one it made would be its own, every row of it, and the
// owner's migrate would find it there. Nothing is registered for a plan that is refused.
const REGISTRY_ACCESS = `SELECT current_user AS role,
       CASE WHEN registry.oid IS NULL THEN 'absent'
            WHEN pg_catalog.has_table_privilege(registry.oid, 'INSERT') THEN 'writes'
            WHEN pg_catalog.has_table_privilege(registry.oid, 'SELECT') THEN 'reads'
            ELSE 'none' END AS access
  FROM (SELECT ${REGISTRY_OID} AS oid) AS registry`;

async function planWithRegistry(client: Pick<PoolClient, 'query'>, specs: readonly PipelineSpec[]): Promise<Planned> {
  const { role, access } = (await client.query<{ role: string; access: 'absent' | 'writes' | 'reads' | 'none' }>(REGISTRY_ACCESS)).rows[0] ?? { role: '?', access: 'none' };
  const readable = access === 'writes' || access === 'reads';
  const registered = readable ? new Map((await registeredPipelines(client)).map((row) => [row.name, row])) : undefined;
  const planned: Planned = { plans: [], registrations: [] };
  for (const spec of specs) {
    const location = await locateTable(client, spec);
    const plan = planTable(spec, location);
    if (access !== 'absent' && access !== 'writes' && plan.refusals.length === 0 && plan.actions.length > 0) {
      plan.refusals.push(
        `pipeline ${spec.name}: ${plan.table ?? spec.table.name} ${plan.exists ? 'is not as declared yet' : 'does not exist yet'}, and role ${role} may not register pipelines (sqs2pg.pipelines), ` +
          `so it makes and changes no pipeline's table (one it made would be its own, every row of it); run "sqs2pg migrate --config FILE" as the tables' owner, then start again`,
      );
    }
    planned.plans.push(plan);
    const schema = location.found?.schema ?? location.schema;
    if (!registered || schema === null || plan.refusals.length > 0) continue;
    const wanted = registrationOf(spec, schema);
    if (!sameRegistration(registered.get(spec.name), wanted)) planned.registrations.push(wanted);
  }
  return planned;
}

/**
 * Brings every declared table to its declaration, and the registry (sqs2pg.pipelines) to what the
 * declarations say, in one transaction under the migrations' lock, or changes nothing and throws a
 * db_schema error that lists every refusal. Returns the plans as applied (no actions: nothing was
 * to do). Up to date, tables and registry, needs no lock and no privilege to create or write.
 */
export async function applyDeclaredTables(pool: Pool, specs: readonly PipelineSpec[]): Promise<TablePlan[]> {
  const first = await inRolledBackTransaction(pool, 'BEGIN', (client) => planWithRegistry(client, specs));
  refuseIfAny(first.plans);
  if (first.plans.every((plan) => plan.actions.length === 0) && first.registrations.length === 0) return first.plans;
  return inTransaction(pool, 'BEGIN', async (client) => {
    await lockSchemaChanges(client);
    // Planned again under the lock: another worker may have done it all in the meantime.
    const again = await planWithRegistry(client, specs);
    refuseIfAny(again.plans);
    for (const plan of again.plans) for (const action of plan.actions) await client.query(action.sql);
    // A table created just now is registered in the schema it was planned (and so created) in.
    await registerPipelines(client, again.registrations);
    return again.plans;
  });
}

function refuseIfAny(plans: readonly TablePlan[]): void {
  const refusals = plans.flatMap((plan) => plan.refusals);
  if (refusals.length > 0) throw new DatabaseRefusedError('db_schema', refusals.join('; '));
}
