// Applies the numbered SQL files in sql/ that a database has not seen, in one transaction under
// the schema lock (lockSchemaChanges), so two workers starting at once apply each migration exactly once.
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { builtinLogins } from '../config/builtin-pipelines.js';
import { registerPipelines, registrationOf } from './pipeline-registry.js';
import type { Pool, PoolClient } from './pool.js';

const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));
/** The advisory key of the first migrations, before sqs2pg.schema_migrations exists (see lockSchemaChanges). */
export const LOCK_KEY = 'sqs2pg migrations';

/**
 * The lock every schema change takes (declared-tables.ts too), until its transaction ends: one
 * session changes the schema at a time. It is a lock on sqs2pg.schema_migrations in a mode no role
 * but its owner may take (a worker may read the table, which takes a mode this one lets through):
 * an advisory key, as it was, could be taken and held by any role that can connect, and a worker of
 * a new release then waited for it at start for as long as that role liked. A database sqs2pg has
 * never migrated has no such table: there the advisory key orders the first migrations, the table is
 * made, and then locked.
 */
export async function lockSchemaChanges(client: Pick<PoolClient, 'query'>): Promise<void> {
  const known = await client.query<{ table: string | null }>(`SELECT pg_catalog.to_regclass('sqs2pg.schema_migrations') AS "table"`);
  if (!known.rows[0]?.table) {
    await client.query('SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext($1))', [LOCK_KEY]);
    await client.query('CREATE SCHEMA IF NOT EXISTS sqs2pg');
    await client.query(
      `CREATE TABLE IF NOT EXISTS sqs2pg.schema_migrations (
         version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
  }
  await client.query('LOCK TABLE sqs2pg.schema_migrations IN SHARE ROW EXCLUSIVE MODE');
}

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export async function loadMigrations(dir = SQL_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((file) => /^\d{4}_[\w-]+\.sql$/.test(file)).sort();
  return Promise.all(
    files.map(async (file) => ({
      version: Number(file.slice(0, 4)),
      name: file.replace(/\.sql$/, ''),
      sql: await readFile(`${dir}/${file}`, 'utf8'),
    })),
  );
}

/** Returns the names of the migrations it applied (none when the database is up to date). */
export async function migrate(pool: Pool): Promise<string[]> {
  const migrations = await loadMigrations();
  // Up to date needs no lock and no privilege beyond reading: workers with least privilege start too.
  if ((await pendingOf(pool, migrations)).length === 0) return [];
  const client = await pool.connect();
  // A checked-out client's socket error must fail the query, not crash the process.
  const onError = () => undefined;
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    // The migrations find and create user_logins through the role's own search path (pool.ts pins
    // the session's): in its schema when it is new, wherever the path finds it when it exists.
    await client.query('SET LOCAL search_path TO DEFAULT');
    await lockSchemaChanges(client);
    const pending = await pendingOf(client, migrations);
    for (const migration of pending) {
      await client.query(migration.sql);
      await client.query('INSERT INTO sqs2pg.schema_migrations (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
    }
    await registerBuiltinLogins(client);
    await client.query('COMMIT');
    return pending.map((migration) => migration.name);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.removeListener('error', onError);
    client.release();
  }
}

/** The names of the migrations a database has not applied; throws when it cannot be asked. */
export async function pendingMigrations(db: Pick<Pool, 'query'>, migrations?: readonly Migration[]): Promise<string[]> {
  return (await pendingOf(db, migrations ?? (await loadMigrations()))).map((migration) => migration.name);
}

async function pendingOf(
  db: Pick<Pool, 'query'>,
  migrations: readonly Migration[],
): Promise<Migration[]> {
  const exists = await db.query<{ table: string | null }>(`SELECT pg_catalog.to_regclass('sqs2pg.schema_migrations') AS "table"`);
  if (!exists.rows[0]?.table) return [...migrations];
  const applied = await db.query<{ version: number }>('SELECT version FROM sqs2pg.schema_migrations');
  const done = new Set(applied.rows.map((row) => row.version));
  return migrations.filter((migration) => !done.has(migration.version));
}

// The search path finds user_logins as the migrations did (the caller's transaction set it so).
const BUILTIN_HOME = `
SELECT n.nspname AS schema,
       EXISTS (SELECT 1 FROM sqs2pg.pipelines p
                WHERE (p.table_schema OPERATOR(pg_catalog.=) n.nspname AND p.table_name OPERATOR(pg_catalog.=) c.relname AND p.name OPERATOR(pg_catalog.<>) $1)
                   OR (p.name OPERATOR(pg_catalog.=) $1 AND NOT (p.table_schema OPERATOR(pg_catalog.=) n.nspname AND p.table_name OPERATOR(pg_catalog.=) c.relname))) AS taken
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
 WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass('user_logins')`;

/**
 * Registers the take-home's table as the builtin logins pipeline, so that forget, rotate and grants
 * know it without a pipeline file. A pipeline file that names the builtin otherwise keeps its name
 * (the table is already another name's), and a declared pipeline called logins keeps that name.
 */
async function registerBuiltinLogins(client: PoolClient): Promise<void> {
  const logins = builtinLogins('');
  const home = await client.query<{ schema: string; taken: boolean }>(BUILTIN_HOME, [logins.name]);
  const row = home.rows[0];
  if (!row || row.taken) return;
  await registerPipelines(client, [registrationOf(logins, row.schema)]);
}
