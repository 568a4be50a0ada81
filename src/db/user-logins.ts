// Where user_logins is. sqs2pg's sessions search pg_catalog only (see pool.ts), so the table is
// found once through the role's own search path, where the take-home's DDL put it, and named by its
// schema from then on. Whether it is partitioned decides the insert's conflict target.
import pg from 'pg';
import { DatabaseRefusedError } from '../errors.js';
import type { Pool } from './pool.js';

export interface UserLoginsTable {
  /** schema-qualified and quoted, e.g. "public"."user_logins" */
  name: string;
  /** its schema, quoted, e.g. "public" */
  schema: string;
  partitioned: boolean;
}

// For one transaction, the role's own search path; the look-up names everything else by schema,
// since that path may hold a schema others can create in. Needs no privilege beyond USAGE.
const FIND = `BEGIN; SET LOCAL search_path TO DEFAULT;
SELECT n.nspname AS schema, c.relname AS name, c.relkind OPERATOR(pg_catalog.=) 'p' AS partitioned
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
 WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass('user_logins');
COMMIT`;

/** The table the role's search path finds, or undefined when it finds none. A transaction of its own: not inside another. */
export async function findUserLogins(db: Pick<Pool, 'query'>): Promise<UserLoginsTable | undefined> {
  // Several statements in one round trip: pg answers with one result each.
  const results = (await db.query(FIND)) as unknown as pg.QueryResult<{ schema: string; name: string; partitioned: boolean }>[];
  const row = results[2]?.rows[0];
  if (!row) return undefined;
  const schema = pg.escapeIdentifier(row.schema);
  return { name: `${schema}.${pg.escapeIdentifier(row.name)}`, schema, partitioned: row.partitioned };
}

/** The table, or a db_schema error (exit 5: no restart helps) saying to migrate. */
export async function requireUserLogins(db: Pick<Pool, 'query'>): Promise<UserLoginsTable> {
  const table = await findUserLogins(db);
  if (!table) {
    throw new DatabaseRefusedError('db_schema', 'the search path of this database role finds no table user_logins; run "sqs2pg migrate" as the tables\' owner (or set the role\'s search_path to its schema)');
  }
  return table;
}
