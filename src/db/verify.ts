// Read-only questions `sqs2pg check` asks PostgreSQL: the columns of user_logins against the
// take-home's DDL, the idempotency index, and the privileges the worker needs.
import type { Pool } from './pool.js';
import { REGISTRY_OID } from './pipeline-registry.js';

/** The take-home's user_logins (sql/0001_user_logins.sql), as PostgreSQL's format_type names them. */
export const takehomeColumns: readonly { name: string; type: string }[] = [
  { name: 'user_id', type: 'character varying(128)' },
  { name: 'device_type', type: 'character varying(32)' },
  { name: 'masked_ip', type: 'character varying(256)' },
  { name: 'masked_device_id', type: 'character varying(256)' },
  { name: 'locale', type: 'character varying(32)' },
  { name: 'app_version', type: 'integer' },
  { name: 'create_date', type: 'date' },
];

export interface TableShape {
  /** the table's name with its schema, e.g. public.user_logins */
  qualifiedName: string;
  columns: Map<string, string>;
  /** a unique index on sqs_message_id (partitioned: with create_date): what makes redelivery harmless */
  idempotencyIndex: boolean;
}

/** The table's columns and types, or undefined when there is no such table (`table`: schema-qualified). */
export async function tableShape(pool: Pool, table: string): Promise<TableShape | undefined> {
  const found = await pool.query<{ oid: number | null; name: string | null }>(
    `SELECT c.oid, n.nspname || '.' || c.relname AS name
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)`,
    [table],
  );
  const oid = found.rows[0]?.oid;
  if (!oid) return undefined;
  const columns = await pool.query<{ name: string; type: string }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type
     FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [oid],
  );
  const index = await pool.query<{ n: string }>(
    // A table partitioned by create_date can only have (sqs_message_id, create_date), which the insert then targets.
    `SELECT count(*) AS n FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
       LEFT JOIN pg_attribute b ON b.attrelid = i.indrelid AND b.attnum = i.indkey[1]
     WHERE i.indrelid = $1 AND i.indisunique AND a.attname = 'sqs_message_id'
       AND (i.indnatts = 1 OR (i.indnatts = 2 AND b.attname = 'create_date' AND (SELECT relkind FROM pg_class WHERE oid = $1) = 'p'))`,
    [oid],
  );
  return {
    qualifiedName: found.rows[0]?.name ?? table,
    columns: new Map(columns.rows.map((row) => [row.name, row.type])),
    idempotencyIndex: Number(index.rows[0]?.n) > 0,
  };
}

export interface Privilege {
  /** e.g. INSERT on user_logins */
  what: string;
  /** the statement that grants it, for the role in question */
  grant: (role: string) => string;
  /** SQL that is true when the object exists: a privilege on a missing object cannot be asked about */
  exists: string;
  query: string;
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;
const quoteLiteral = (text: string) => `'${text.replaceAll("'", "''")}'`;

const columnExists = (table: string, column: string) =>
  `SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(${quoteLiteral(table)}) AND attname = '${column}' AND NOT attisdropped) AS ok`;

// INSERT ... ON CONFLICT (sqs_message_id) reads that column to find a conflict: PostgreSQL wants
// SELECT on it besides INSERT (measured: "permission denied" without it). `userLogins`: the table,
// schema-qualified (sqs2pg's sessions do not search the schema it is in; see user-logins.ts).
export const workerPrivileges = (userLogins: string): readonly Privilege[] => [
  {
    what: 'USAGE on schema sqs2pg',
    grant: (role) => `GRANT USAGE ON SCHEMA sqs2pg TO ${quoteIdent(role)}`,
    exists: `SELECT to_regnamespace('sqs2pg') IS NOT NULL AS ok`,
    query: `SELECT has_schema_privilege('sqs2pg', 'USAGE') AS ok`,
  },
  {
    what: 'SELECT on sqs2pg.schema_migrations',
    grant: (role) => `GRANT SELECT ON sqs2pg.schema_migrations TO ${quoteIdent(role)}`,
    exists: `SELECT to_regclass('sqs2pg.schema_migrations') IS NOT NULL AS ok`,
    query: `SELECT has_table_privilege('sqs2pg.schema_migrations', 'SELECT') AS ok`,
  },
  {
    what: 'INSERT on user_logins',
    grant: (role) => `GRANT INSERT ON ${userLogins} TO ${quoteIdent(role)}`,
    exists: `SELECT to_regclass(${quoteLiteral(userLogins)}) IS NOT NULL AS ok`,
    query: `SELECT has_table_privilege(${quoteLiteral(userLogins)}, 'INSERT') AS ok`,
  },
  {
    what: 'SELECT (sqs_message_id) on user_logins',
    grant: (role) => `GRANT SELECT (sqs_message_id) ON ${userLogins} TO ${quoteIdent(role)}`,
    exists: columnExists(userLogins, 'sqs_message_id'),
    query: `SELECT has_column_privilege(${quoteLiteral(userLogins)}, 'sqs_message_id', 'SELECT') AS ok`,
  },
  {
    what: 'INSERT on sqs2pg.quarantine',
    grant: (role) => `GRANT INSERT ON sqs2pg.quarantine TO ${quoteIdent(role)}`,
    exists: `SELECT to_regclass('sqs2pg.quarantine') IS NOT NULL AS ok`,
    query: `SELECT has_table_privilege('sqs2pg.quarantine', 'INSERT') AS ok`,
  },
  {
    what: 'SELECT (sqs_message_id) on sqs2pg.quarantine',
    grant: (role) => `GRANT SELECT (sqs_message_id) ON sqs2pg.quarantine TO ${quoteIdent(role)}`,
    exists: columnExists('sqs2pg.quarantine', 'sqs_message_id'),
    query: `SELECT has_column_privilege('sqs2pg.quarantine', 'sqs_message_id', 'SELECT') AS ok`,
  },
  // At start the worker records, or checks, which key each of its key ids stands for.
  {
    what: 'SELECT, INSERT on sqs2pg.key_fingerprints',
    grant: (role) => `GRANT SELECT, INSERT ON sqs2pg.key_fingerprints TO ${quoteIdent(role)}`,
    exists: `SELECT to_regclass('sqs2pg.key_fingerprints') IS NOT NULL AS ok`,
    // Both: with a list, has_table_privilege is true when any one of them is held.
    query: `SELECT has_table_privilege('sqs2pg.key_fingerprints', 'SELECT') AND has_table_privilege('sqs2pg.key_fingerprints', 'INSERT') AS ok`,
  },
  // Every batch asks which of its users are erased (tombstones), through the owner's function.
  {
    what: 'EXECUTE on sqs2pg.stop_tombstoned',
    grant: (role) => `GRANT EXECUTE ON FUNCTION sqs2pg.stop_tombstoned(text[]) TO ${quoteIdent(role)}`,
    exists: `SELECT to_regprocedure('sqs2pg.stop_tombstoned(text[])') IS NOT NULL AS ok`,
    query: `SELECT has_function_privilege('sqs2pg.stop_tombstoned(text[])', 'EXECUTE') AS ok`,
  },
];

/** What the worker needs besides, with the vault on: writing entries (and never reading them). */
export const vaultWorkerPrivileges: readonly Privilege[] = [
  {
    what: 'USAGE on schema sqs2pg_vault',
    grant: (role) => `GRANT USAGE ON SCHEMA sqs2pg_vault TO ${quoteIdent(role)}`,
    exists: `SELECT to_regnamespace('sqs2pg_vault') IS NOT NULL AS ok`,
    query: `SELECT has_schema_privilege('sqs2pg_vault', 'USAGE') AS ok`,
  },
  {
    what: 'INSERT on sqs2pg_vault.entries',
    grant: (role) => `GRANT INSERT ON sqs2pg_vault.entries TO ${quoteIdent(role)}`,
    exists: `SELECT to_regclass('sqs2pg_vault.entries') IS NOT NULL AS ok`,
    query: `SELECT has_table_privilege('sqs2pg_vault.entries', 'INSERT') AS ok`,
  },
];

export interface PrivilegeReport {
  role: string;
  missing: Privilege[];
  /** privileges not asked about because their object does not exist yet */
  unknown: Privilege[];
}

export async function missingPrivileges(pool: Pool, privileges: readonly Privilege[]): Promise<PrivilegeReport> {
  const role = (await pool.query<{ role: string }>('SELECT current_user AS role')).rows[0]?.role ?? 'unknown';
  const missing: Privilege[] = [];
  const unknown: Privilege[] = [];
  for (const privilege of privileges) {
    if ((await pool.query<{ ok: boolean }>(privilege.exists)).rows[0]?.ok !== true) {
      unknown.push(privilege);
      continue;
    }
    const answer = await pool.query<{ ok: boolean }>(privilege.query);
    if (answer.rows[0]?.ok !== true) missing.push(privilege);
  }
  return { role, missing, unknown };
}

const SQS2PG_TABLES = ['sqs2pg.quarantine', 'sqs2pg.schema_migrations', 'sqs2pg.key_fingerprints', 'sqs2pg.tombstones', 'sqs2pg_vault.entries', 'sqs2pg_vault.audit'];

/**
 * What the connected role holds beyond a worker's needs: superuser, ownership, any read of the
 * vault. Asked of the catalogs by oid, since a role without USAGE on sqs2pg_vault (as a worker
 * should be) cannot even name its objects.
 */
export async function excessPrivileges(pool: Pool, userLogins: string | undefined): Promise<{ role: string; excess: string[] }> {
  const answer = await pool.query<{ role: string; superuser: boolean; owned: string[] | null; reads_vault: boolean }>(
    `WITH tables AS (
       SELECT c.oid, n.nspname || '.' || c.relname AS name, c.relowner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname || '.' || c.relname = ANY ($1::text[]) OR c.oid = to_regclass($2)
     ), vault AS (SELECT oid FROM pg_namespace WHERE nspname = 'sqs2pg_vault')
     SELECT current_user AS role,
            (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
            (SELECT array_agg(DISTINCT name) FROM tables WHERE pg_has_role(current_user, relowner, 'USAGE')) AS owned,
            coalesce((SELECT has_schema_privilege(oid, 'USAGE') FROM vault), false) AND (
              coalesce((SELECT has_table_privilege(t.oid, 'SELECT') FROM tables t WHERE t.name = 'sqs2pg_vault.entries'), false)
              OR coalesce((SELECT bool_or(has_function_privilege(p.oid, 'EXECUTE')) FROM pg_proc p, vault
                            WHERE p.pronamespace = vault.oid AND p.proname = 'revealed_entry'), false)) AS reads_vault`,
    [SQS2PG_TABLES, userLogins ?? null],
  );
  const row = answer.rows[0];
  const excess: string[] = [];
  if (row?.superuser) excess.push('is a superuser');
  if (row?.owned && row.owned.length > 0) excess.push(`owns ${row.owned.join(', ')}`);
  if (row?.reads_vault) excess.push('can read the vault');
  return { role: row?.role ?? 'unknown', excess };
}

/**
 * The schemas on the connected role's own search path in which PUBLIC may create objects (as on
 * PostgreSQL 12–14 by default): a function or operator planted there is a candidate for whatever a
 * session of that role calls without naming a schema. sqs2pg's own sessions search pg_catalog only;
 * psql and the other clients of these roles do not.
 */
export async function schemasPublicMayCreateIn(pool: Pool): Promise<{ role: string; schemas: string[] }> {
  // One transaction of its own, with the role's own path; the question names pg_catalog's functions.
  const results = (await pool.query(`BEGIN; SET LOCAL search_path TO DEFAULT;
SELECT current_user AS role, ARRAY(SELECT s::text FROM pg_catalog.unnest(pg_catalog.current_schemas(false)) AS s
                                    WHERE pg_catalog.has_schema_privilege('public', s, 'CREATE')) AS schemas;
COMMIT`)) as unknown as { rows: { role: string; schemas: string[] }[] }[];
  const row = results[2]?.rows[0];
  return { role: row?.role ?? 'unknown', schemas: row?.schemas ?? [] };
}

/** Of the schemas named (a pipeline file's tables'), those that exist and PUBLIC may create in. */
export async function namedSchemasPublicMayCreateIn(pool: Pool, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const result = await pool.query<{ schema: string }>(
    `SELECT n.nspname AS schema FROM pg_catalog.pg_namespace n
      WHERE n.nspname = ANY ($1::text[]) AND pg_catalog.has_schema_privilege('public', n.oid, 'CREATE') ORDER BY 1`,
    [names],
  );
  return result.rows.map((row) => row.schema);
}

/** What takes that right back, for one schema. */
export function revokePublicCreate(schema: string): string {
  return `REVOKE CREATE ON SCHEMA ${/^[a-z_][a-z0-9_]*$/.test(schema) ? schema : quoteIdent(schema)} FROM PUBLIC;`;
}

/**
 * Whether the session's role could apply a declared table's plan itself, as run does at start: make
 * the table (CREATE on its schema), or change one that exists (only its owner, or a member of the
 * owner's role, may), and in either case register the pipeline (applyDeclaredTables lets no other
 * role make or change a table). `table`: the plan's quoted, schema-qualified name.
 */
export async function mayApplyTablePlan(pool: Pool, table: string, exists: boolean): Promise<{ role: string; may: boolean }> {
  const registers = await pool.query<{ role: string; may: boolean }>(
    `SELECT current_user AS role, registry.oid IS NULL OR pg_catalog.has_table_privilege(registry.oid, 'INSERT') AS may FROM (SELECT ${REGISTRY_OID} AS oid) AS registry`,
  );
  if (registers.rows[0]?.may !== true) return { role: registers.rows[0]?.role ?? '?', may: false };
  if (exists) {
    const owner = await pool.query<{ role: string; may: boolean | null }>(
      `SELECT current_user AS role,
              (SELECT pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE') FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass($1)) AS may`,
      [table],
    );
    return { role: owner.rows[0]?.role ?? '?', may: owner.rows[0]?.may === true };
  }
  const schema = /^"((?:[^"]|"")*)"\./.exec(table)?.[1]?.replaceAll('""', '"');
  const create = await pool.query<{ role: string; may: boolean | null }>(
    `SELECT current_user AS role,
            CASE WHEN pg_catalog.to_regnamespace(pg_catalog.quote_ident($1)) IS NULL THEN false
                 ELSE pg_catalog.has_schema_privilege(current_user, $1, 'CREATE') END AS may`,
    [schema ?? ''],
  );
  return { role: create.rows[0]?.role ?? '?', may: create.rows[0]?.may === true };
}
