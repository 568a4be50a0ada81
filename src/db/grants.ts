// Three roles with least privilege, created if missing (NOLOGIN: people and services log in with
// their own roles and are made members). Privileges are revoked and granted again in one
// transaction, so rerunning grants also takes back anything granted by hand since.
//   worker:      writes rows, quarantine and vault entries; reads none of them (the column-level
//                SELECT on sqs_message_id is what ON CONFLICT (sqs_message_id) needs to infer its index);
//                asks which users are erased only through sqs2pg.stop_tombstoned
//   analyst:     reads user_logins and every registered pipeline's table, nothing else
//   pii_officer: reads rows, the quarantine and the audit; reveals and erases only through the
//                owner's SECURITY DEFINER functions, which write the audit row themselves: no SELECT
//                on the vault's entries, no INSERT, UPDATE or DELETE anywhere. rotate and replay run
//                as the owner.
// A declared pipeline's table (sqs2pg.pipelines, sql/0010) gets the privileges user_logins gets.
// No role but the owner may create beside these tables, PUBLIC included (PostgreSQL 12–14 let every
// role create in public): one that could would plant a pipeline's table before migrate made it, and own it.
import pg from 'pg';
import { lockSchemaChanges } from './migrate.js';
import type { Pool, PoolClient } from './pool.js';
import { inTransaction } from './transaction.js';
import { requireUserLogins, type UserLoginsTable } from './user-logins.js';

export interface RoleNames {
  worker: string;
  analyst: string;
  officer: string;
}

export function roleNames(prefix: string): RoleNames {
  return { worker: `${prefix}worker`, analyst: `${prefix}analyst`, officer: `${prefix}pii_officer` };
}

const SQS2PG_TABLES = [
  'sqs2pg.quarantine',
  'sqs2pg.schema_migrations',
  'sqs2pg.key_fingerprints',
  'sqs2pg.pipelines',
  'sqs2pg.tombstones',
  'sqs2pg.erasure_lock',
  'sqs2pg_vault.entries',
  'sqs2pg_vault.audit',
  'sqs2pg_vault.quarantine_bodies',
];

/** A registered pipeline's table other than user_logins, as grants needs it. */
export interface DeclaredTable {
  /** schema-qualified and quoted */
  name: string;
  /** its schema, quoted */
  schema: string;
  /** the columns of its unique index on sqs_message_id (a partitioned table's has the partition key too), quoted */
  conflictColumns: string[];
}

const FORGET_SUBJECT = 'sqs2pg_vault.forget_subject(text, text, text[], text, text, bytea, bytea, bytea)';

/** `userLogins`: where user_logins is (see user-logins.ts); `declared`: every other registered pipeline's table. */
export function grantStatements(roles: RoleNames, database: string, userLogins: UserLoginsTable, declared: readonly DeclaredTable[] = []): string[] {
  const q = (name: string) => pg.escapeIdentifier(name);
  const [w, a, o] = [q(roles.worker), q(roles.analyst), q(roles.officer)];
  const all = `${w}, ${a}, ${o}`;
  const user_logins = userLogins.name;
  const declaredSchemas = [...new Set(declared.map((table) => table.schema))].filter((schema) => schema !== userLogins.schema);
  return [
    ...[user_logins, ...SQS2PG_TABLES, ...declared.map((table) => table.name)].map((table) => `REVOKE ALL ON ${table} FROM ${all}`),
    `REVOKE ALL ON SCHEMA sqs2pg, sqs2pg_vault FROM ${all}`,
    // CREATE on a table's schema granted by hand would let a role plant look-alikes there: taken back too.
    ...[userLogins.schema, ...declaredSchemas].map((schema) => `REVOKE ALL ON SCHEMA ${schema} FROM ${all}`),
    // And from PUBLIC, as PostgreSQL 15 does for public (its "secure schema usage pattern"). Only the
    // schema's owner (or a superuser) can: from anyone else PostgreSQL takes nothing back, with a warning.
    `REVOKE CREATE ON SCHEMA ${[userLogins.schema, ...declaredSchemas, 'sqs2pg', 'sqs2pg_vault'].join(', ')} FROM PUBLIC`,
    `REVOKE ALL ON ALL FUNCTIONS IN SCHEMA sqs2pg, sqs2pg_vault FROM ${all}`,
    `GRANT CONNECT ON DATABASE ${q(database)} TO ${all}`,
    `GRANT USAGE ON SCHEMA ${userLogins.schema} TO ${all}`,
    `GRANT USAGE ON SCHEMA sqs2pg, sqs2pg_vault TO ${w}, ${o}`,
    // Both start by checking migrations and key fingerprints.
    `GRANT SELECT ON sqs2pg.schema_migrations TO ${w}, ${o}`,
    `GRANT SELECT, INSERT ON sqs2pg.key_fingerprints TO ${w}`,
    `GRANT SELECT ON sqs2pg.key_fingerprints TO ${o}`,
    `GRANT EXECUTE ON FUNCTION sqs2pg.stop_tombstoned(text[]) TO ${w}`,
    `GRANT INSERT, SELECT (sqs_message_id) ON ${user_logins} TO ${w}`,
    // A quarantine record's key is (pipeline, sqs_message_id) (sql/0014): ON CONFLICT infers it from both.
    `GRANT INSERT, SELECT (pipeline, sqs_message_id) ON sqs2pg.quarantine TO ${w}`,
    `GRANT INSERT ON sqs2pg_vault.entries TO ${w}`,
    `GRANT SELECT ON ${user_logins} TO ${a}`,
    `GRANT SELECT ON ${user_logins} TO ${o}`,
    `GRANT SELECT ON sqs2pg.quarantine TO ${o}`,
    `GRANT SELECT ON sqs2pg.tombstones TO ${o}`,
    `GRANT SELECT ON sqs2pg_vault.audit TO ${o}`,
    ...['sqs2pg_vault.begin_reveal(text, text)', 'sqs2pg_vault.revealed_entry(bigint)', 'sqs2pg_vault.forget_user(text, text[], text, text, bytea, bytea, bytea)', 'sqs2pg_vault.forget_masked(text, text)'].map(
      (fn) => `GRANT EXECUTE ON FUNCTION ${fn} TO ${o}`,
    ),
    // forget takes the erasure lock at BEGIN, before its key checks (vault-lock.ts): only through this
    // function, as no role but the owner may lock sqs2pg.erasure_lock (sql/0016).
    `GRANT EXECUTE ON FUNCTION sqs2pg_vault.erasure_lock_exclusive() TO ${o}`,
    // A partitioned user_logins infers its conflict target from (sqs_message_id, create_date).
    `GRANT SELECT (create_date) ON ${user_logins} TO ${w}`,
    `GRANT INSERT ON sqs2pg_vault.quarantine_bodies TO ${w}`,
    // Sealed bodies only through the audited function: no SELECT on sqs2pg_vault.quarantine_bodies.
    // Replay, which rewrites rows and records, runs as the owner like rotate (it too opens each body
    // through that function, so every body it reads is audited).
    `GRANT EXECUTE ON FUNCTION sqs2pg_vault.begin_quarantine_reveal(text, varchar, text), sqs2pg_vault.begin_quarantine_reveal(varchar, text), sqs2pg_vault.revealed_quarantine_body(bigint) TO ${o}`,
    // forget --pipeline reads which table a pipeline is and how its subject is keyed; it erases only
    // through forget_subject, which finds the table in the registry itself.
    `GRANT SELECT ON sqs2pg.pipelines TO ${o}`,
    `GRANT EXECUTE ON FUNCTION ${FORGET_SUBJECT} TO ${o}`,
    ...declaredSchemas.map((schema) => `GRANT USAGE ON SCHEMA ${schema} TO ${all}`),
    ...declared.flatMap((table) => [
      // What INSERT ... ON CONFLICT needs to infer its unique index, and nothing of a row.
      `GRANT INSERT, SELECT (${table.conflictColumns.join(', ')}) ON ${table.name} TO ${w}`,
      `GRANT SELECT ON ${table.name} TO ${a}, ${o}`,
    ]),
  ];
}

// Every registered table but user_logins, with the columns of its unique index on sqs_message_id.
// Tables of sqs2pg's own schemas or the catalog's are never a pipeline's, whatever the registry says.
const DECLARED_TABLES = `
SELECT n.nspname AS schema, c.relname AS name,
       ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attnum OPERATOR(pg_catalog.=) k.attnum
              ORDER BY k.ord) AS conflict_columns
  FROM sqs2pg.pipelines p
  JOIN pg_catalog.pg_namespace n ON n.nspname OPERATOR(pg_catalog.=) p.table_schema
  JOIN pg_catalog.pg_class c ON c.relnamespace OPERATOR(pg_catalog.=) n.oid AND c.relname OPERATOR(pg_catalog.=) p.table_name
  LEFT JOIN LATERAL (
    SELECT x.indkey FROM pg_catalog.pg_index x JOIN pg_catalog.pg_attribute f ON f.attrelid OPERATOR(pg_catalog.=) x.indrelid AND f.attnum OPERATOR(pg_catalog.=) x.indkey[0]
     WHERE x.indrelid OPERATOR(pg_catalog.=) c.oid AND x.indisunique AND f.attname OPERATOR(pg_catalog.=) 'sqs_message_id'
     ORDER BY x.indnatts LIMIT 1) AS i ON true
 WHERE c.relkind IN ('r', 'p')
   AND NOT (n.nspname IN ('sqs2pg', 'sqs2pg_vault', 'information_schema') OR n.nspname LIKE 'pg\\_%')
 ORDER BY 1, 2`;

/** Every registered pipeline's table that exists, other than `userLogins`. */
export async function declaredTables(client: Pick<PoolClient, 'query'>, userLogins: UserLoginsTable): Promise<DeclaredTable[]> {
  const q = (name: string) => pg.escapeIdentifier(name);
  const result = await client.query<{ schema: string; name: string; conflict_columns: string[] }>(DECLARED_TABLES);
  return result.rows
    .map((row) => ({
      name: `${q(row.schema)}.${q(row.name)}`,
      schema: q(row.schema),
      // A table without the index has none to infer (the worker refuses it at start): sqs_message_id still.
      conflictColumns: (row.conflict_columns.length > 0 ? row.conflict_columns : ['sqs_message_id']).map(q),
    }))
    .filter((table) => table.name !== userLogins.name);
}

export interface GrantsApplied {
  /** the roles it created */
  created: string[];
  /** the registered pipelines' tables other than user_logins that the roles were given, quoted */
  declared: string[];
  /** the schemas of those tables in which PUBLIC may still create (grants' role does not own them), and their owners */
  publicCreates: { schema: string; owner: string }[];
}

// After the REVOKE: where it took nothing back.
const PUBLIC_CREATES = `SELECT n.nspname AS schema, pg_catalog.pg_get_userbyid(n.nspowner) AS owner
  FROM pg_catalog.pg_namespace n
 WHERE n.oid OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.regnamespace[]::pg_catalog.oid[]) AND pg_catalog.has_schema_privilege('public', n.oid, 'CREATE')
 ORDER BY 1`;

/** Creates the missing roles and grants. */
export async function applyGrants(pool: Pool, roles: RoleNames): Promise<GrantsApplied> {
  const userLogins = await requireUserLogins(pool);
  return inTransaction(pool, 'BEGIN', async (client) => {
    // Two grants at once on this database must not both create a role: they take the migrations' lock,
    // which no role but the owner may take (an advisory key, as it was, any role could hold).
    await lockSchemaChanges(client);
    const names = [roles.worker, roles.analyst, roles.officer];
    const existing = await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])', [names]);
    const missing = names.filter((name) => !existing.rows.some((row) => row.rolname === name));
    for (const name of missing) await client.query(`CREATE ROLE ${pg.escapeIdentifier(name)} NOLOGIN`);
    const database = await client.query<{ name: string }>('SELECT current_database() AS name');
    const declared = await declaredTables(client, userLogins);
    for (const statement of grantStatements(roles, database.rows[0]?.name ?? '', userLogins, declared)) await client.query(statement);
    const schemas = [...new Set([userLogins.schema, ...declared.map((table) => table.schema)])];
    const publicCreates = await client.query<{ schema: string; owner: string }>(PUBLIC_CREATES, [schemas]);
    return { created: missing, declared: declared.map((table) => table.name), publicCreates: publicCreates.rows };
  });
}
