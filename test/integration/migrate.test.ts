// `sqs2pg migrate` against a real PostgreSQL: what it creates on an empty database, what it prints,
// that a second run is a no-op, that four processes racing on one new database apply each migration
// exactly once, and that an unreachable database is exit 3.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { freePort } from '../../src/local/free-port.js';
import { createTestStack, dropDatabase, runCli, startCli, waitFor, type CliResult, type TestStack } from '../helpers/stack.js';

const MIGRATIONS = [
  '0001_user_logins',
  '0002_user_logins_idempotency',
  '0003_quarantine',
  '0004_vault',
  '0005_vault_sealed',
  '0006_quarantine_sealed',
  '0007_erasure_order_and_definer_paths',
  '0008_retired_keys',
  '0009_keyed_body_hash',
  '0010_declared_pipelines',
  '0011_quarantine_masked_values',
  '0012_forget_subject',
  '0013_subject_entries',
  '0014_quarantine_key_per_pipeline',
  '0015_retired_keys_refused',
  '0016_erasure_lock_owned',
];

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(async () => {
  await stack.close();
});

const migrateEnv = (databaseUrl: string): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, DATABASE_URL: databaseUrl });

/** host:port/database, as sqs2pg names a database in its messages. */
function where(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  return `${url.hostname}:${url.port || '5432'}${url.pathname}`;
}

async function schemaMigrations(pool: pg.Pool): Promise<{ version: number; name: string }[]> {
  const result = await pool.query<{ version: number; name: string }>(
    'SELECT version, name FROM sqs2pg.schema_migrations ORDER BY version, name',
  );
  return result.rows;
}

describe('sqs2pg migrate on an empty database', () => {
  it('creates the take-home table plus sqs2pg columns, the sqs2pg schema and its tables, and says what it applied', async () => {
    const empty = await stack.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')`,
    );
    expect(Number(empty.rows[0]?.n)).toBe(0);

    const first = await runCli(['migrate'], migrateEnv(stack.databaseUrl), 15_000);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout.trim()).toBe(`applied to ${where(stack.databaseUrl)}: ${MIGRATIONS.join(', ')}`);
    expect(first.stdout).not.toContain(`:${new URL(stack.databaseUrl).password}@`);

    const columns = await stack.pool.query<{
      column_name: string;
      data_type: string;
      character_maximum_length: number | null;
      ordinal_position: number;
    }>(
      `SELECT column_name, data_type, character_maximum_length, ordinal_position
         FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name = 'user_logins'
        ORDER BY ordinal_position`,
    );
    expect(columns.rows.map(({ column_name, data_type, character_maximum_length }) => [column_name, data_type, character_maximum_length])).toEqual([
      // the take-home's seven, in its order
      ['user_id', 'character varying', 128],
      ['device_type', 'character varying', 32],
      ['masked_ip', 'character varying', 256],
      ['masked_device_id', 'character varying', 256],
      ['locale', 'character varying', 32],
      ['app_version', 'integer', null],
      ['create_date', 'date', null],
      // sqs2pg's own
      ['sqs_message_id', 'character varying', 128],
      ['app_version_raw', 'character varying', 32],
    ]);
    // Redelivery protection rests on the unique index; erasure finds a user's rows by the other.
    const index = await stack.pool.query<{ indexdef: string }>(
      `SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'user_logins'`,
    );
    expect(index.rows.map((row) => row.indexdef).sort()).toEqual([
      'CREATE INDEX user_logins_user_id_idx ON public.user_logins USING btree (user_id)',
      'CREATE UNIQUE INDEX user_logins_sqs_message_id_key ON public.user_logins USING btree (sqs_message_id)',
    ]);

    const tables = await stack.pool.query<{ name: string }>(
      `SELECT table_schema || '.' || table_name AS name FROM information_schema.tables
        WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
    );
    expect(tables.rows.map((row) => row.name)).toEqual([
      'public.user_logins',
      'sqs2pg.erasure_lock',
      'sqs2pg.key_fingerprints',
      'sqs2pg.pipelines',
      'sqs2pg.quarantine',
      'sqs2pg.schema_migrations',
      'sqs2pg.tombstones',
      'sqs2pg_vault.audit',
      'sqs2pg_vault.entries',
      'sqs2pg_vault.quarantine_bodies',
    ]);
    const schema = await stack.pool.query(`SELECT 1 FROM information_schema.schemata WHERE schema_name = 'sqs2pg'`);
    expect(schema.rowCount).toBe(1);
    const quarantineColumns = await stack.pool.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns
        WHERE table_schema = 'sqs2pg' AND table_name = 'quarantine' ORDER BY ordinal_position`,
    );
    expect(quarantineColumns.rows.map((row) => row.column_name)).toEqual([
      'sqs_message_id', 'reason', 'field', 'detail', 'receive_count', 'sent_at', 'quarantined_at', 'redacted_body',
      'user_key', 'body_bytes', 'body_sha256', 'body_shape', 'masked_ips', 'masked_device_ids', 'pipeline',
      'masked_values',
    ]);

    expect(await schemaMigrations(stack.pool)).toEqual(MIGRATIONS.map((name) => ({ version: Number(name.slice(0, 4)), name })));
  });

  it('a second run applies nothing and says the database is up to date', async () => {
    const again = await runCli(['migrate'], migrateEnv(stack.databaseUrl), 15_000);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trim()).toBe(`${where(stack.databaseUrl)} is up to date`);
    expect(await schemaMigrations(stack.pool)).toHaveLength(MIGRATIONS.length);
  });
});

describe('four sqs2pg migrate processes at once on a new database', () => {
  const adminUrl = inject('adminDatabaseUrl');
  const name = `sqs2pg_race_${randomBytes(6).toString('hex')}`;
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const raceUrl = url.toString();
  let pool: pg.Pool | undefined;

  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    pool = new pg.Pool({ connectionString: raceUrl, max: 1 });
  });
  afterAll(async () => {
    await pool?.end();
    await dropDatabase(adminUrl, name);
  });

  it('all exit 0, one applies every migration, and each version is recorded once', async () => {
    // Make the race certain rather than likely: hold sqs2pg's migration lock (the advisory key its
    // migrate() takes) until all four processes have found the database empty and queue on it.
    const holder = new pg.Client({ connectionString: raceUrl });
    await holder.connect();
    let results: CliResult[];
    try {
      await holder.query(`SELECT pg_advisory_lock(hashtext('sqs2pg migrations'))`);
      const processes = Array.from({ length: 4 }, () => startCli(['migrate'], migrateEnv(raceUrl), 15_000));
      await waitFor(
        async () => {
          const waiting = await holder.query<{ n: string }>(
            `SELECT count(*) AS n FROM pg_locks
              WHERE locktype = 'advisory' AND NOT granted
                AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
          );
          return Number(waiting.rows[0]?.n) === 4;
        },
        10_000,
        'four migrate processes waiting on the migration lock',
      );
      await holder.query(`SELECT pg_advisory_unlock(hashtext('sqs2pg migrations'))`);
      results = await Promise.all(processes.map((child) => child.done));
    } finally {
      await holder.end();
    }
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    const outputs = results.map((result) => result.stdout.trim()).sort();
    // Exactly one process applied them all; the others, let in after it, found them applied.
    const applied = outputs.filter((line) => line.startsWith('applied to'));
    expect(applied).toEqual([`applied to ${where(raceUrl)}: ${MIGRATIONS.join(', ')}`]);
    expect(outputs.filter((line) => line === `${where(raceUrl)} is up to date`)).toHaveLength(3);

    const rows = await pool!.query<{ version: number; n: string }>(
      'SELECT version, count(*) AS n FROM sqs2pg.schema_migrations GROUP BY version ORDER BY version',
    );
    expect(rows.rows.map((row) => [row.version, Number(row.n)])).toEqual(MIGRATIONS.map((name) => [Number(name.slice(0, 4)), 1]));
    const columns = await pool!.query<{ n: string }>(
      `SELECT count(*) AS n FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'user_logins'`,
    );
    expect(Number(columns.rows[0]?.n)).toBe(9);
  });
});

describe('sqs2pg migrate against an unreachable database', () => {
  it('exits 3 with one line naming PostgreSQL and DATABASE_URL, without the password', async () => {
    const port = await freePort();
    // Killed (and so not exit 3) if it hangs: a generous bound, not a speed claim.
    const result = await runCli(['migrate'], migrateEnv(`postgres://owner:s3cr3t-pw-xyz@127.0.0.1:${port}/logins`), 40_000);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stdout).toBe('');
    const lines = result.stderr.replace(/\n$/, '').split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^sqs2pg: cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port}/logins .*check DATABASE_URL`));
    expect(result.stderr).not.toContain('s3cr3t-pw-xyz');
  });
});
