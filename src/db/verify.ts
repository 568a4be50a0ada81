// Read-only questions `sqs2pg check` asks PostgreSQL: the columns of user_logins against the
// take-home's DDL, the idempotency index, and the privileges the worker needs.
import type { Pool } from './pool.js';

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
  /** the table as the search path resolves it, e.g. public.user_logins */
  qualifiedName: string;
  columns: Map<string, string>;
  /** a unique index on sqs_message_id (partitioned: with create_date): what makes redelivery harmless */
  idempotencyIndex: boolean;
}

/** The table's columns and types, or undefined when the search path finds no such table. */
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

const columnExists = (table: string, column: string) =>
  `SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('${table}') AND attname = '${column}' AND NOT attisdropped) AS ok`;

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

// INSERT ... ON CONFLICT (sqs_message_id) reads that column to find a conflict: PostgreSQL wants
// SELECT on it besides INSERT (measured: "permission denied" without it).
export const workerPrivileges: readonly Privilege[] = [
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
    grant: (role) => `GRANT INSERT ON user_logins TO ${quoteIdent(role)}`,
    exists: `SELECT to_regclass('user_logins') IS NOT NULL AS ok`,
    query: `SELECT has_table_privilege('user_logins', 'INSERT') AS ok`,
  },
  {
    what: 'SELECT (sqs_message_id) on user_logins',
    grant: (role) => `GRANT SELECT (sqs_message_id) ON user_logins TO ${quoteIdent(role)}`,
    exists: columnExists('user_logins', 'sqs_message_id'),
    query: `SELECT has_column_privilege('user_logins', 'sqs_message_id', 'SELECT') AS ok`,
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

export async function missingPrivileges(pool: Pool, privileges: readonly Privilege[] = workerPrivileges): Promise<PrivilegeReport> {
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

const SQS2PG_TABLES = ['public.user_logins', 'sqs2pg.quarantine', 'sqs2pg.schema_migrations', 'sqs2pg.key_fingerprints', 'sqs2pg.tombstones', 'sqs2pg_vault.entries', 'sqs2pg_vault.audit'];

/**
 * What the connected role holds beyond a worker's needs: superuser, ownership, any read of the
 * vault. Asked of the catalogs by oid, since a role without USAGE on sqs2pg_vault (as a worker
 * should be) cannot even name its objects.
 */
export async function excessPrivileges(pool: Pool): Promise<{ role: string; excess: string[] }> {
  const answer = await pool.query<{ role: string; superuser: boolean; owned: string[] | null; reads_vault: boolean }>(
    `WITH tables AS (
       SELECT c.oid, n.nspname || '.' || c.relname AS name, c.relowner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname || '.' || c.relname = ANY ($1::text[]) OR (c.oid = to_regclass('user_logins'))
     ), vault AS (SELECT oid FROM pg_namespace WHERE nspname = 'sqs2pg_vault')
     SELECT current_user AS role,
            (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
            (SELECT array_agg(DISTINCT name) FROM tables WHERE pg_has_role(current_user, relowner, 'USAGE')) AS owned,
            coalesce((SELECT has_schema_privilege(oid, 'USAGE') FROM vault), false) AND (
              coalesce((SELECT has_table_privilege(t.oid, 'SELECT') FROM tables t WHERE t.name = 'sqs2pg_vault.entries'), false)
              OR coalesce((SELECT bool_or(has_function_privilege(p.oid, 'EXECUTE')) FROM pg_proc p, vault
                            WHERE p.pronamespace = vault.oid AND p.proname = 'revealed_entry'), false)) AS reads_vault`,
    [SQS2PG_TABLES],
  );
  const row = answer.rows[0];
  const excess: string[] = [];
  if (row?.superuser) excess.push('is a superuser');
  if (row?.owned && row.owned.length > 0) excess.push(`owns ${row.owned.join(', ')}`);
  if (row?.reads_vault) excess.push('can read the vault');
  return { role: row?.role ?? 'unknown', excess };
}
