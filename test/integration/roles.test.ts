// sqs2pg grants, enforced by PostgreSQL itself: login roles made members of the worker, analyst
// and PII officer roles can do what their role is for, and PostgreSQL refuses them the rest.
// The worker really loads (the real CLI, logged in as it) yet cannot read the vault; neither can
// an analyst. What each role may do with a pipeline's table (load it, read it, reveal and erase
// from it) is one test run against the builtin logins and a declared pipeline (page_views); what
// each may do with sqs2pg's own tables, once. Roles are cluster-wide: these have unique names and
// are dropped at the end (test/security/login-roles.ts).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMasker } from '../../src/transform/mask.js';
import { migratePipelines, PIPELINES_UNDER_TEST, type PipelineName } from '../helpers/page-views.js';
import { createTestStack, runCli, TEST_MASK_KEY, type TestStack } from '../helpers/stack.js';
import { oneErrorLine } from '../helpers/cli-output.js';
import { TEST_VAULT_PRIVATE_KEY, TEST_VAULT_PUBLIC_KEY } from '../helpers/vault.js';
import { createLoginRoles, type LoginRoles, type RoleKind } from '../security/login-roles.js';

/** Per pipeline, its workload: the logins' as before, page_views' smaller (the grants are the point). */
const WORKLOAD: Record<PipelineName, { count: number; malformed: number; seed: number }> = {
  logins: { count: 200, malformed: 4, seed: 71 },
  page_views: { count: 60, malformed: 4, seed: 72 },
};

let stack: TestStack;
let roles: LoginRoles;
const queues = {} as Record<PipelineName, string>;

const urlAs = (role: RoleKind) => roles.urlAs(role);
const poolAs = (role: RoleKind) => roles.poolAs(role);

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
  // The tables' owner migrates (the declared table too) before grants: the roles get theirs on both.
  await migratePipelines(stack.databaseUrl);
  roles = await createLoginRoles(stack);
  for (const pipeline of PIPELINES_UNDER_TEST) {
    const { count, malformed, seed } = WORKLOAD[pipeline.name];
    queues[pipeline.name] = await stack.newQueue();
    await stack.send(queues[pipeline.name], pipeline.bodies(count, malformed, seed));
  }
});
afterAll(async () => {
  await roles?.drop();
  await stack.close();
});

describe('sqs2pg grants', () => {
  it('creates three roles that cannot log in, and a second run creates none', async () => {
    const prefix = roles.logins.worker.replace(/svc$/, '');
    const groups = [`${prefix}analyst`, `${prefix}pii_officer`, `${prefix}worker`];
    const found = await stack.pool.query<{ rolname: string; rolcanlogin: boolean }>(
      'SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = ANY($1) ORDER BY rolname',
      [groups],
    );
    expect(found.rows).toEqual(groups.sort().map((rolname) => ({ rolname, rolcanlogin: false })));
    const again = await runCli(['grants', '--role-prefix', prefix], { PATH: process.env.PATH, DATABASE_URL: stack.databaseUrl }, 20_000);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).not.toContain('created');
  });
});

describe.each(PIPELINES_UNDER_TEST)('the three roles and the table of $name', (pipeline) => {
  const { table, subject } = pipeline;
  const [maskedIp, maskedOther] = pipeline.masked;
  const aMask = async (column: string) => (await stack.pool.query<{ m: string }>(`SELECT ${column} AS m FROM ${table} LIMIT 1`)).rows[0]!.m;

  it('the worker loads with the vault on: the real CLI, logged in as a member of the worker role', async () => {
    const env = pipeline.env(stack, queues[pipeline.name], { DATABASE_URL: urlAs('worker'), SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY });
    const result = await runCli(['run', '--drain'], env, 60_000);
    expect(result.code, result.stderr).toBe(0);
    const counts = await stack.pool.query<{ rows: string; entries: string; masks: string; quarantined: string }>(
      `WITH m AS (SELECT ${maskedIp} AS mask FROM ${table} UNION SELECT ${maskedOther} FROM ${table})
       SELECT (SELECT count(*) FROM ${table}) AS rows, (SELECT count(*) FROM m) AS masks,
              (SELECT count(*) FROM sqs2pg_vault.entries WHERE masked_value IN (SELECT mask FROM m)) AS entries,
              (SELECT count(*) FROM sqs2pg.quarantine WHERE pipeline = $1) AS quarantined`,
      [pipeline.name],
    );
    const { count, malformed } = WORKLOAD[pipeline.name];
    expect(counts.rows[0]).toMatchObject({ rows: String(count), quarantined: String(malformed) });
    expect(counts.rows[0]?.entries).toBe(counts.rows[0]?.masks);
  });

  it('the worker reads no row or mask of it and changes none', async () => {
    const worker = poolAs('worker');
    expect(await attempt(worker, `SELECT * FROM ${table} LIMIT 1`)).toBe('42501');
    expect(await attempt(worker, `SELECT ${maskedIp} FROM ${table} LIMIT 1`)).toBe('42501');
    expect(await attempt(worker, `SELECT ${subject} FROM ${table} LIMIT 1`)).toBe('42501');
    expect(await attempt(worker, `UPDATE ${table} SET ${pipeline.plainColumn} = NULL`)).toBe('42501');
    expect(await attempt(worker, `DELETE FROM ${table}`)).toBe('42501');
  });

  it('the analyst reads it, masks and all, and changes nothing', async () => {
    const analyst = poolAs('analyst');
    expect(await attempt(analyst, `SELECT count(*), count(DISTINCT ${maskedIp}) FROM ${table}`)).toBe('ok');
    expect(await attempt(analyst, `INSERT INTO ${table} (${subject}) VALUES ('x')`)).toBe('42501');
    expect(await attempt(analyst, `UPDATE ${table} SET ${pipeline.plainColumn} = NULL`)).toBe('42501');
    expect(await attempt(analyst, `DELETE FROM ${table}`)).toBe('42501');
    expect(await attempt(analyst, `TRUNCATE ${table}`)).toBe('42501');
  });

  it.each<[RoleKind, 0 | 1]>([
    ['worker', 0],
    ['analyst', 1],
  ])('the %s is told by reveal, in one line, that it may not read the vault, even holding the vault key', async (role, column) => {
    const result = await runCli(
      ['reveal', await aMask(pipeline.masked[column]), '--reason', `curious ${role}`],
      { PATH: process.env.PATH, DATABASE_URL: urlAs(role), SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY },
      15_000,
    );
    expect(result.code).toBe(5);
    expect(result.stdout).toBe('');
    expect(oneErrorLine(result)).toMatch(new RegExp(`^sqs2pg: the database role "${roles.logins[role]}" may not read the vault \\(42501: permission denied`));
  });

  it('the officer reveals, and the audit names the officer as the server knows them', async () => {
    const mask = await aMask(maskedIp);
    const result = await runCli(
      ['reveal', mask, '--reason', 'ticket SEC-200'],
      { PATH: process.env.PATH, DATABASE_URL: urlAs('officer'), SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY },
      15_000,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^\d{1,3}(\.\d{1,3}){3}\n$|:/);
    const audit = await stack.pool.query("SELECT database_user::text, session_user_name::text, masked_value FROM sqs2pg_vault.audit WHERE reason = 'ticket SEC-200' AND masked_value = $1", [mask]);
    expect(audit.rows).toEqual([{ database_user: roles.logins.officer, session_user_name: roles.logins.officer, masked_value: mask }]);
  });

  it('the officer reads it but deletes or changes nothing directly', async () => {
    const officer = poolAs('officer');
    expect(await attempt(officer, `SELECT * FROM ${table} LIMIT 1`)).toBe('ok');
    expect(await attempt(officer, `DELETE FROM ${table} WHERE false`)).toBe('42501');
    expect(await attempt(officer, `UPDATE ${table} SET ${pipeline.plainColumn} = NULL WHERE false`)).toBe('42501');
    expect(await attempt(officer, `TRUNCATE ${table}`)).toBe('42501');
  });

  it('the officer erases a subject, audited under their own login', async () => {
    const [row] = (await stack.pool.query<{ s: string }>(`SELECT ${subject} AS s FROM ${table} LIMIT 1`)).rows;
    const before = await auditCount();
    const result = await runCli([...pipeline.forget(row!.s), '--reason', 'ER-9'], { PATH: process.env.PATH, DATABASE_URL: urlAs('officer'), SQS2PG_MASK_KEY: TEST_MASK_KEY }, 15_000);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`removed 1 row of (public\\.)?${table}\\b`));
    expect((await stack.pool.query(`SELECT 1 FROM ${table} WHERE ${subject} = $1`, [row!.s])).rowCount).toBe(0);
    const audit = await stack.pool.query<{ action: string; session_user_name: string }>('SELECT action, session_user_name::text FROM sqs2pg_vault.audit ORDER BY id DESC LIMIT 1');
    expect(audit.rows[0]).toEqual({ action: pipeline.spec.builtin ? 'forget_user' : 'forget_subject', session_user_name: roles.logins.officer });
    expect(await auditCount()).toBe(before + 1);
    // The tombstone under the subject's key: its later messages stay out.
    const key = pipeline.subjectKey(createMasker(Buffer.from(TEST_MASK_KEY, 'hex'), 'k1'), row!.s);
    expect((await stack.pool.query('SELECT 1 FROM sqs2pg.tombstones WHERE user_key = $1', [key])).rowCount).toBe(1);
  });
});

describe('the worker role', () => {
  it('cannot read the vault, the audit or the quarantine', async () => {
    const worker = poolAs('worker');
    expect(await attempt(worker, 'SELECT * FROM sqs2pg_vault.entries LIMIT 1')).toBe('42501');
    expect(await attempt(worker, 'SELECT masked_value FROM sqs2pg_vault.entries LIMIT 1')).toBe('42501');
    expect(await attempt(worker, 'SELECT * FROM sqs2pg_vault.audit LIMIT 1')).toBe('42501');
    expect(await attempt(worker, 'SELECT body_shape FROM sqs2pg.quarantine LIMIT 1')).toBe('42501');
    expect(await attempt(worker, 'DELETE FROM sqs2pg_vault.entries')).toBe('42501');
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
});

describe('the analyst role', () => {
  it('reads nothing of sqs2pg\'s own', async () => {
    const analyst = poolAs('analyst');
    expect(await attempt(analyst, 'SELECT * FROM sqs2pg_vault.entries LIMIT 1')).toBe('42501');
    expect(await attempt(analyst, 'SELECT * FROM sqs2pg_vault.audit LIMIT 1')).toBe('42501');
    expect(await attempt(analyst, 'SELECT * FROM sqs2pg.quarantine LIMIT 1')).toBe('42501');
    expect(await attempt(analyst, 'SELECT * FROM sqs2pg.key_fingerprints LIMIT 1')).toBe('42501');
    expect(await attempt(analyst, "SELECT sqs2pg_vault.begin_reveal('k1:x', 'curious analyst')")).toBe('42501');
    expect(await attempt(analyst, 'SELECT * FROM sqs2pg_vault.revealed_entry(1)')).toBe('42501');
    expect(await attempt(analyst, "SELECT sqs2pg_vault.record_audit('reveal', NULL, 'forged', NULL)")).toBe('42501');
    expect(await attempt(analyst, "SELECT * FROM sqs2pg.stop_tombstoned(ARRAY['k1:x'])")).toBe('42501');
  });
});

describe('the PII officer role', () => {
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

  it('cannot erase or rewrite behind the audit: no DELETE or UPDATE on vault, quarantine or tombstones', async () => {
    const officer = poolAs('officer');
    expect(await attempt(officer, 'DELETE FROM sqs2pg_vault.entries WHERE false')).toBe('42501');
    expect(await attempt(officer, 'DELETE FROM sqs2pg.quarantine WHERE false')).toBe('42501');
    expect(await attempt(officer, 'DELETE FROM sqs2pg.tombstones WHERE false')).toBe('42501');
    expect(await attempt(officer, 'UPDATE sqs2pg.tombstones SET messages_stopped = 0')).toBe('42501');
    expect(await attempt(officer, "INSERT INTO sqs2pg.tombstones (user_key) VALUES ('k1:' || repeat('0', 64))")).toBe('42501');
  });
});
