// sqs2pg grants, enforced by PostgreSQL itself: login roles made members of the worker, analyst
// and PII officer roles can do what their role is for, and PostgreSQL refuses them the rest.
// The worker really loads (the real CLI, logged in as it) yet cannot read the vault; neither can
// an analyst. Roles are cluster-wide: these have unique names and are dropped at the end.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import { createTestStack, runCli, TEST_MASK_KEY, type TestStack } from '../helpers/stack.js';
import { oneErrorLine } from '../helpers/cli-output.js';
import { TEST_VAULT_PRIVATE_KEY, TEST_VAULT_PUBLIC_KEY } from '../helpers/vault.js';

const PREFIX = `t${randomBytes(4).toString('hex')}_`;
const GROUPS = { worker: `${PREFIX}worker`, analyst: `${PREFIX}analyst`, officer: `${PREFIX}pii_officer` };
const LOGINS = { worker: `${PREFIX}svc`, analyst: `${PREFIX}alice`, officer: `${PREFIX}olga` };
const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;

let stack: TestStack;
let queueUrl: string;
const pools: pg.Pool[] = [];

function urlAs(role: keyof typeof LOGINS): string {
  const url = new URL(stack.databaseUrl);
  url.username = LOGINS[role];
  url.password = PASSWORD;
  return url.toString();
}

function poolAs(role: keyof typeof LOGINS): pg.Pool {
  const pool = new pg.Pool({ connectionString: urlAs(role), max: 1 });
  pool.on('error', () => undefined);
  pools.push(pool);
  return pool;
}

/** The SQLSTATE a statement fails with, or 'ok'. */
async function attempt(pool: pg.Pool, sql: string, params: unknown[] = []): Promise<string> {
  try {
    await pool.query(sql, params);
    return 'ok';
  } catch (error) {
    return String((error as { code?: unknown }).code);
  }
}


async function auditCount(): Promise<number> {
  return Number((await stack.pool.query<{ n: string }>('SELECT count(*) AS n FROM sqs2pg_vault.audit')).rows[0]!.n);
}

beforeAll(async () => {
  stack = await createTestStack();
  const granted = await runCli(['grants', '--role-prefix', PREFIX], { PATH: process.env.PATH, DATABASE_URL: stack.databaseUrl }, 20_000);
  expect(granted.code, granted.stderr).toBe(0);
  expect(granted.stdout).toContain(`created ${GROUPS.worker}, ${GROUPS.analyst}, ${GROUPS.officer}`);
  for (const role of ['worker', 'analyst', 'officer'] as const) {
    await stack.pool.query(`CREATE ROLE ${pg.escapeIdentifier(LOGINS[role])} LOGIN PASSWORD '${PASSWORD}' IN ROLE ${pg.escapeIdentifier(GROUPS[role])}`);
  }
  queueUrl = await stack.newQueue();
  await stack.send(queueUrl, generateSample({ count: 200, malformed: 4, seed: 71 }).bodies);
});
afterAll(async () => {
  for (const pool of pools) await pool.end();
  // Privileges first (DROP OWNED also revokes them), then the roles, logins before their groups.
  const roles = [...Object.values(LOGINS), ...Object.values(GROUPS)];
  const existing = await stack.pool.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1)', [roles]);
  const names = existing.rows.map((row) => pg.escapeIdentifier(row.rolname));
  if (names.length > 0) await stack.pool.query(`DROP OWNED BY ${names.join(', ')}`);
  for (const role of roles) await stack.pool.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`);
  await stack.close();
});

describe('sqs2pg grants', () => {
  it('creates three roles that cannot log in, and a second run creates none', async () => {
    const roles = await stack.pool.query<{ rolname: string; rolcanlogin: boolean }>(
      'SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = ANY($1) ORDER BY rolname',
      [Object.values(GROUPS)],
    );
    expect(roles.rows).toEqual(Object.values(GROUPS).sort().map((rolname) => ({ rolname, rolcanlogin: false })));
    const again = await runCli(['grants', '--role-prefix', PREFIX], { PATH: process.env.PATH, DATABASE_URL: stack.databaseUrl }, 20_000);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).not.toContain('created');
  });
});

describe('the worker role', () => {
  it('loads with the vault on: the real CLI, logged in as a member of the worker role', async () => {
    const env = stack.env(queueUrl, { DATABASE_URL: urlAs('worker'), SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY });
    const result = await runCli(['run', '--drain'], env, 60_000);
    expect(result.code, result.stderr).toBe(0);
    const counts = await stack.pool.query<{ rows: string; entries: string; masks: string; quarantined: string }>(
      `SELECT (SELECT count(*) FROM user_logins) AS rows, (SELECT count(*) FROM sqs2pg_vault.entries) AS entries,
              (SELECT count(*) FROM (SELECT masked_ip FROM user_logins UNION SELECT masked_device_id FROM user_logins) m) AS masks,
              (SELECT count(*) FROM sqs2pg.quarantine) AS quarantined`,
    );
    expect(counts.rows[0]).toMatchObject({ rows: '200', quarantined: '4' });
    expect(counts.rows[0]?.entries).toBe(counts.rows[0]?.masks);
  });

  it('cannot read the vault, the audit, the rows or the quarantine', async () => {
    const worker = poolAs('worker');
    expect(await attempt(worker, 'SELECT * FROM sqs2pg_vault.entries LIMIT 1')).toBe('42501');
    expect(await attempt(worker, 'SELECT masked_value FROM sqs2pg_vault.entries LIMIT 1')).toBe('42501');
    expect(await attempt(worker, 'SELECT * FROM sqs2pg_vault.audit LIMIT 1')).toBe('42501');
    expect(await attempt(worker, 'SELECT * FROM user_logins LIMIT 1')).toBe('42501');
    expect(await attempt(worker, 'SELECT masked_ip FROM user_logins LIMIT 1')).toBe('42501');
    expect(await attempt(worker, 'SELECT body_shape FROM sqs2pg.quarantine LIMIT 1')).toBe('42501');
    expect(await attempt(worker, 'DELETE FROM sqs2pg_vault.entries')).toBe('42501');
    expect(await attempt(worker, 'UPDATE user_logins SET locale = NULL')).toBe('42501');
    expect(await attempt(worker, 'SELECT * FROM sqs2pg.tombstones')).toBe('42501');
    expect(await attempt(worker, "INSERT INTO sqs2pg_vault.audit (action) VALUES ('reveal')")).toBe('42501');
    expect(await attempt(worker, "SELECT sqs2pg_vault.record_audit('reveal', NULL, 'forged', NULL)")).toBe('42501');
    expect(await attempt(worker, "SELECT sqs2pg_vault.begin_reveal('k1:x', 'curious worker')")).toBe('42501');
    expect(await attempt(worker, 'SELECT * FROM sqs2pg_vault.revealed_entry(1)')).toBe('42501');
    expect(await attempt(worker, "SELECT * FROM sqs2pg_vault.forget_masked('k1:x', 'cover tracks')")).toBe('42501');
    // Sealed quarantined bodies: neither read nor opened through the audited function.
    expect(await attempt(worker, 'SELECT * FROM sqs2pg_vault.quarantine_bodies LIMIT 1')).toBe('42501');
    expect(await attempt(worker, `SELECT sqs2pg_vault.begin_quarantine_reveal('m', 'why not')`)).toBe('42501');
    expect(await attempt(worker, 'SELECT * FROM sqs2pg_vault.revealed_quarantine_body(1)')).toBe('42501');
  });

  it('officer reads a sealed body only through the audited function', async () => {
    const officer = poolAs('officer');
    expect(await attempt(officer, 'SELECT * FROM sqs2pg_vault.quarantine_bodies LIMIT 1')).toBe('42501');
    expect(await attempt(officer, `SELECT sqs2pg_vault.begin_quarantine_reveal('no-such-id', 'role test')`)).toBe('ok');
    expect(await attempt(officer, `SELECT sqs2pg_vault.begin_quarantine_reveal('no-such-id', '')`)).toBe('22023');
    // The body only for an audit row this login committed earlier: not for one it never wrote.
    expect(await attempt(officer, 'SELECT * FROM sqs2pg_vault.revealed_quarantine_body(0)')).toBe('42501');
    expect(await attempt(officer, "INSERT INTO sqs2pg_vault.audit (action, subject) VALUES ('quarantine_reveal', 'm')")).toBe('42501');
  });

  it('is told by reveal, in one line, that it may not read the vault', async () => {
    const [row] = (await stack.pool.query<{ m: string }>('SELECT masked_ip AS m FROM user_logins LIMIT 1')).rows;
    const result = await runCli(
      ['reveal', row!.m, '--reason', 'curious worker'],
      { PATH: process.env.PATH, DATABASE_URL: urlAs('worker'), SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY },
      15_000,
    );
    expect(result.code).toBe(5);
    expect(result.stdout).toBe('');
    expect(oneErrorLine(result)).toMatch(new RegExp(`^sqs2pg: the database role "${LOGINS.worker}" may not read the vault \\(42501: permission denied`));
  });
});

describe('the analyst role', () => {
  it('reads user_logins and nothing else', async () => {
    const analyst = poolAs('analyst');
    expect(await attempt(analyst, 'SELECT count(*), count(DISTINCT masked_ip) FROM user_logins')).toBe('ok');
    expect(await attempt(analyst, 'SELECT * FROM sqs2pg_vault.entries LIMIT 1')).toBe('42501');
    expect(await attempt(analyst, 'SELECT * FROM sqs2pg_vault.audit LIMIT 1')).toBe('42501');
    expect(await attempt(analyst, 'SELECT * FROM sqs2pg.quarantine LIMIT 1')).toBe('42501');
    expect(await attempt(analyst, 'SELECT * FROM sqs2pg.key_fingerprints LIMIT 1')).toBe('42501');
    expect(await attempt(analyst, "INSERT INTO user_logins (user_id) VALUES ('x')")).toBe('42501');
    expect(await attempt(analyst, 'DELETE FROM user_logins')).toBe('42501');
    expect(await attempt(analyst, "SELECT sqs2pg_vault.begin_reveal('k1:x', 'curious analyst')")).toBe('42501');
    expect(await attempt(analyst, 'SELECT * FROM sqs2pg_vault.revealed_entry(1)')).toBe('42501');
    expect(await attempt(analyst, "SELECT sqs2pg_vault.record_audit('reveal', NULL, 'forged', NULL)")).toBe('42501');
    expect(await attempt(analyst, "SELECT * FROM sqs2pg.stop_tombstoned(ARRAY['k1:x'])")).toBe('42501');
  });

  it('is refused by reveal, even holding the vault key', async () => {
    const [row] = (await stack.pool.query<{ m: string }>('SELECT masked_device_id AS m FROM user_logins LIMIT 1')).rows;
    const result = await runCli(
      ['reveal', row!.m, '--reason', 'curious analyst'],
      { PATH: process.env.PATH, DATABASE_URL: urlAs('analyst'), SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY },
      15_000,
    );
    expect(result.code).toBe(5);
    expect(result.stdout).toBe('');
    expect(oneErrorLine(result)).toContain(`the database role "${LOGINS.analyst}" may not read the vault`);
  });
});

describe('the PII officer role', () => {
  it('reveals, and the audit names the officer as the server knows them', async () => {
    const [row] = (await stack.pool.query<{ m: string }>('SELECT masked_ip AS m FROM user_logins LIMIT 1')).rows;
    const result = await runCli(
      ['reveal', row!.m, '--reason', 'ticket SEC-200'],
      { PATH: process.env.PATH, DATABASE_URL: urlAs('officer'), SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY },
      15_000,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^\d{1,3}(\.\d{1,3}){3}\n$|:/);
    const audit = await stack.pool.query('SELECT database_user::text, session_user_name::text, masked_value FROM sqs2pg_vault.audit');
    expect(audit.rows).toEqual([{ database_user: LOGINS.officer, session_user_name: LOGINS.officer, masked_value: row!.m }]);
  });

  it('cannot read the entries, so cannot decrypt offline without an audit row', async () => {
    const officer = poolAs('officer');
    const before = await auditCount();
    expect(await attempt(officer, 'SELECT * FROM sqs2pg_vault.entries LIMIT 3')).toBe('42501');
    expect(await attempt(officer, 'SELECT ciphertext FROM sqs2pg_vault.entries LIMIT 3')).toBe('42501');
    expect(await attempt(officer, 'COPY sqs2pg_vault.entries TO STDOUT')).toBe('42501');
    expect(await auditCount()).toBe(before);
  });

  it('gets a ciphertext only for a reveal audited in an earlier, committed transaction of their own', async () => {
    const officer = poolAs('officer');
    const [row] = (await stack.pool.query<{ m: string }>('SELECT masked_device_id AS m FROM user_logins LIMIT 1')).rows;
    const client = await officer.connect();
    try {
      // In one transaction with the audit row, rolled back afterwards: refused, and nothing leaks.
      await client.query('BEGIN');
      const id = (await client.query<{ id: string }>('SELECT sqs2pg_vault.begin_reveal($1, $2) AS id', [row!.m, 'try to roll back'])).rows[0]!.id;
      await expect(client.query('SELECT * FROM sqs2pg_vault.revealed_entry($1)', [id])).rejects.toMatchObject({ code: '42501' });
      await client.query('ROLLBACK');
      // The same with a savepoint in between.
      await client.query('BEGIN');
      await client.query('SAVEPOINT s');
      const sub = (await client.query<{ id: string }>('SELECT sqs2pg_vault.begin_reveal($1, $2) AS id', [row!.m, 'try a savepoint'])).rows[0]!.id;
      await client.query('RELEASE SAVEPOINT s');
      await expect(client.query('SELECT * FROM sqs2pg_vault.revealed_entry($1)', [sub])).rejects.toMatchObject({ code: '42501' });
      await client.query('ROLLBACK');
      // Committed first: the ciphertext comes, and the audit row stays whatever happens next.
      const committed = (await client.query<{ id: string }>('SELECT sqs2pg_vault.begin_reveal($1, $2) AS id', [row!.m, 'ticket SEC-201'])).rows[0]!.id;
      const entry = await client.query('SELECT * FROM sqs2pg_vault.revealed_entry($1)', [committed]);
      expect(entry.rowCount).toBe(1);
    } finally {
      client.release();
    }
    // Another login cannot use the officer's audit row.
    const other = await stack.pool.query<{ id: string }>("SELECT id FROM sqs2pg_vault.audit WHERE reason = 'ticket SEC-201'");
    expect(await attempt(stack.pool, 'SELECT * FROM sqs2pg_vault.revealed_entry($1)', [other.rows[0]!.id])).toBe('42501');
    const reasons = await stack.pool.query<{ reason: string }>("SELECT reason FROM sqs2pg_vault.audit WHERE action = 'reveal' ORDER BY id");
    expect(reasons.rows.map((r) => r.reason)).not.toContain('try to roll back');
    expect(reasons.rows.map((r) => r.reason)).not.toContain('try a savepoint');
  });

  it('cannot forge, change or delete audit rows, by any path', async () => {
    const officer = poolAs('officer');
    const before = await auditCount();
    expect(await attempt(officer, "INSERT INTO sqs2pg_vault.audit (action, reason) VALUES ('reveal', 'allowed columns')")).toBe('42501');
    expect(await attempt(officer, "INSERT INTO sqs2pg_vault.audit (action, reason, detail) VALUES ('forget_user', 'fake', '{\"rows\": 99}')")).toBe('42501');
    expect(await attempt(officer, "INSERT INTO sqs2pg_vault.audit (action, database_user) VALUES ('reveal', 'someone_else')")).toBe('42501');
    expect(await attempt(officer, "UPDATE sqs2pg_vault.audit SET reason = 'edited'")).toBe('42501');
    expect(await attempt(officer, 'DELETE FROM sqs2pg_vault.audit')).toBe('42501');
    expect(await attempt(officer, 'TRUNCATE sqs2pg_vault.audit')).toBe('42501');
    expect(await attempt(officer, "SELECT sqs2pg_vault.record_audit('forget_user', NULL, 'fake', '{\"rows\": 99}')")).toBe('42501');
    expect(await attempt(officer, 'ALTER TABLE sqs2pg_vault.audit DISABLE TRIGGER ALL')).toBe('42501');
    expect(await auditCount()).toBe(before);
  });

  it('cannot erase or rewrite behind the audit: no DELETE or UPDATE on rows, vault, quarantine or tombstones', async () => {
    const officer = poolAs('officer');
    expect(await attempt(officer, 'DELETE FROM user_logins WHERE false')).toBe('42501');
    expect(await attempt(officer, 'UPDATE user_logins SET locale = NULL WHERE false')).toBe('42501');
    expect(await attempt(officer, 'DELETE FROM sqs2pg_vault.entries WHERE false')).toBe('42501');
    expect(await attempt(officer, 'DELETE FROM sqs2pg.quarantine WHERE false')).toBe('42501');
    expect(await attempt(officer, 'DELETE FROM sqs2pg.tombstones WHERE false')).toBe('42501');
    expect(await attempt(officer, 'UPDATE sqs2pg.tombstones SET messages_stopped = 0')).toBe('42501');
    expect(await attempt(officer, "INSERT INTO sqs2pg.tombstones (user_key) VALUES ('k1:' || repeat('0', 64))")).toBe('42501');
  });

  it('erases a user', async () => {
    const [row] = (await stack.pool.query<{ u: string }>('SELECT user_id AS u FROM user_logins LIMIT 1')).rows;
    const before = await auditCount();
    const result = await runCli(['forget', '--user-id', row!.u, '--reason', 'ER-9'], { PATH: process.env.PATH, DATABASE_URL: urlAs('officer'), SQS2PG_MASK_KEY: TEST_MASK_KEY }, 15_000);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('removed 1 row of user_logins');
    const audit = await stack.pool.query<{ action: string; session_user_name: string }>('SELECT action, session_user_name::text FROM sqs2pg_vault.audit ORDER BY id DESC LIMIT 1');
    expect(audit.rows[0]).toEqual({ action: 'forget_user', session_user_name: LOGINS.officer });
    expect(await auditCount()).toBe(before + 1);
  });
});
