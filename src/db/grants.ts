// Three roles with least privilege, created if missing (NOLOGIN: people and services log in with
// their own roles and are made members). Privileges are revoked and granted again in one
// transaction, so rerunning grants also takes back anything granted by hand since.
//   worker:      writes rows, quarantine and vault entries; reads none of them (the column-level
//                SELECT on sqs_message_id is what ON CONFLICT (sqs_message_id) needs to infer its index);
//                asks which users are erased only through sqs2pg.stop_tombstoned
//   analyst:     reads user_logins, nothing else
//   pii_officer: reads rows, the quarantine and the audit; reveals and erases only through the
//                owner's SECURITY DEFINER functions, which write the audit row themselves: no SELECT
//                on the vault's entries, no INSERT, UPDATE or DELETE anywhere. rotate and replay run
//                as the owner.
import pg from 'pg';
import type { Pool } from './pool.js';
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
  'sqs2pg_vault.entries',
  'sqs2pg_vault.audit',
  'sqs2pg_vault.quarantine_bodies',
];

/** `userLogins`: where user_logins is (see user-logins.ts). */
export function grantStatements(roles: RoleNames, database: string, userLogins: UserLoginsTable): string[] {
  const q = (name: string) => pg.escapeIdentifier(name);
  const [w, a, o] = [q(roles.worker), q(roles.analyst), q(roles.officer)];
  const all = `${w}, ${a}, ${o}`;
  const user_logins = userLogins.name;
  return [
    ...[user_logins, ...SQS2PG_TABLES].map((table) => `REVOKE ALL ON ${table} FROM ${all}`),
    `REVOKE ALL ON SCHEMA sqs2pg, sqs2pg_vault FROM ${all}`,
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
    `GRANT INSERT, SELECT (sqs_message_id) ON sqs2pg.quarantine TO ${w}`,
    `GRANT INSERT ON sqs2pg_vault.entries TO ${w}`,
    `GRANT SELECT ON ${user_logins} TO ${a}`,
    `GRANT SELECT ON ${user_logins} TO ${o}`,
    `GRANT SELECT ON sqs2pg.quarantine TO ${o}`,
    `GRANT SELECT ON sqs2pg.tombstones TO ${o}`,
    `GRANT SELECT ON sqs2pg_vault.audit TO ${o}`,
    ...['sqs2pg_vault.begin_reveal(text, text)', 'sqs2pg_vault.revealed_entry(bigint)', 'sqs2pg_vault.forget_user(text, text[], text, text, bytea, bytea, bytea)', 'sqs2pg_vault.forget_masked(text, text)'].map(
      (fn) => `GRANT EXECUTE ON FUNCTION ${fn} TO ${o}`,
    ),
    // A partitioned user_logins infers its conflict target from (sqs_message_id, create_date).
    `GRANT SELECT (create_date) ON ${user_logins} TO ${w}`,
    `GRANT INSERT ON sqs2pg_vault.quarantine_bodies TO ${w}`,
    // Sealed bodies only through the audited function: no SELECT on sqs2pg_vault.quarantine_bodies.
    // Replay, which rewrites rows and records, runs as the owner like rotate (it too opens each body
    // through that function, so every body it reads is audited).
    `GRANT EXECUTE ON FUNCTION sqs2pg_vault.begin_quarantine_reveal(varchar, text), sqs2pg_vault.revealed_quarantine_body(bigint) TO ${o}`,
  ];
}

/** Creates the missing roles and grants; returns the roles it created. */
export async function applyGrants(pool: Pool, roles: RoleNames): Promise<string[]> {
  const userLogins = await requireUserLogins(pool);
  return inTransaction(pool, 'BEGIN', async (client) => {
    // Two grants at once on this database must not both create a role (advisory locks are per database).
    await client.query(`SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('sqs2pg grants'))`);
    const names = [roles.worker, roles.analyst, roles.officer];
    const existing = await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])', [names]);
    const missing = names.filter((name) => !existing.rows.some((row) => row.rolname === name));
    for (const name of missing) await client.query(`CREATE ROLE ${pg.escapeIdentifier(name)} NOLOGIN`);
    const database = await client.query<{ name: string }>('SELECT current_database() AS name');
    for (const statement of grantStatements(roles, database.rows[0]?.name ?? '', userLogins)) await client.query(statement);
    return missing;
  });
}
