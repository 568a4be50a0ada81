// Attack: a curious role squats on the locks sqs2pg orders its work with. Advisory locks need no
// privilege, and pg_locks shows their keys to anyone: the analyst (who may only read user_logins)
// could run SELECT pg_advisory_lock(hashtext('sqs2pg vault')) and hold it, and then every worker's
// next batch waited for it forever, and so did every forget (erasure is a legal promise). Now the
// erasure lock is a lock on the table sqs2pg.erasure_lock (sql/0016), which no role but the owner
// may lock, by row or by table: the old advisory keys, which any role can still take, hold up
// neither a batch nor an erasure. Each case waits for a state, the call done or its backend waiting
// on a lock, and fails on the second. The order itself stays: forget waits for a batch in
// progress, and a batch that comes while forget waits queues behind it.
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyDeclaredTables } from '../../src/db/declared-tables.js';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { BEGIN_VAULT_DELETE, BEGIN_VAULT_WRITE } from '../../src/db/vault-lock.js';
import { createMasker } from '../../src/transform/mask.js';
import { PAGE_VIEWS } from '../fixtures/pipelines.js';
import { createTestStack, migrateWithCli, TEST_MASK_KEY, waitFor, type TestStack } from '../helpers/stack.js';
import { attempt, createLoginRoles, type LoginRoles, type RoleKind } from './login-roles.js';

const masker = createMasker(Buffer.from(TEST_MASK_KEY, 'hex'), 'k1');
const userKey = (userId: string) => masker.userKey(userId);

let stack: TestStack;
let roles: LoginRoles;
/** The owner as sqs2pg's commands connect (pinned search path). */
let owner: ReturnType<typeof createPool>;
const pools: Partial<Record<RoleKind, pg.Pool>> = {};
const as = (kind: RoleKind): pg.Pool => (pools[kind] ??= roles.poolAs(kind));


/**
 * Runs `work` on a connection of its own pool and waits until it is done or its backend waits on a
 * lock. Returns 'done', 'failed <SQLSTATE>', or 'waiting on <wait_event>' (then it is cancelled).
 */
async function outcome(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<unknown>): Promise<string> {
  const client = await pool.connect();
  try {
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    let result: string | undefined;
    const running = work(client).then(
      () => (result = 'done'),
      (error: unknown) => (result = `failed ${String((error as { code?: unknown }).code)}`),
    );
    let waitingOn: string | undefined;
    await waitFor(
      async () => {
        if (result !== undefined) return true;
        const activity = await stack.pool.query<{ wait_event_type: string | null; wait_event: string | null }>(
          'SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE pid = $1',
          [pid],
        );
        const row = activity.rows[0];
        if (row?.wait_event_type === 'Lock') waitingOn = row.wait_event ?? 'a lock';
        return waitingOn !== undefined;
      },
      60_000,
      'the call to finish or to wait on a lock',
    );
    if (result !== undefined) return result;
    await stack.pool.query('SELECT pg_cancel_backend($1)', [pid]);
    await running;
    await client.query('ROLLBACK').catch(() => undefined);
    return `waiting on ${waitingOn}`;
  } finally {
    client.release();
  }
}

/** As outcome, for work that opens its own connections: any backend of the test database waiting on a lock. */
async function outcomeInDatabase(work: () => Promise<unknown>): Promise<string> {
  let result: string | undefined;
  const running = work().then(
    () => (result = 'done'),
    (error: unknown) => (result = `failed ${String((error as { code?: unknown }).code)}`),
  );
  let waiting: { pid: number; wait_event: string }[] = [];
  await waitFor(
    async () => {
      if (result !== undefined) return true;
      waiting = (await stack.pool.query<{ pid: number; wait_event: string }>(
        "SELECT pid, wait_event FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
      )).rows;
      return waiting.length > 0;
    },
    60_000,
    'the work to finish or to wait on a lock',
  );
  if (result !== undefined) return result;
  for (const { pid } of waiting) await stack.pool.query('SELECT pg_cancel_backend($1)', [pid]);
  await running;
  return `waiting on ${waiting[0]!.wait_event}`;
}

/** A worker's batch up to its commit: the tombstone check, which takes the erasure lock shared, then a row. */
const batch = (id: string) => async (client: pg.PoolClient) => {
  await client.query('BEGIN');
  await client.query('SELECT * FROM sqs2pg.stop_tombstoned($1)', [[userKey(`user-${id}`)]]);
  await client.query(
    `INSERT INTO user_logins (sqs_message_id, user_id, device_type, app_version, create_date)
     VALUES ($1, $2, 'ios', 1002003, '2024-01-15') ON CONFLICT (sqs_message_id) DO NOTHING`,
    [`m-${id}`, `user-${id}`],
  );
  await client.query('COMMIT');
};
/** forget --user-id as the officer runs it: the lock at BEGIN, then forget_user, which takes it again. */
const forgetUser = (id: string) => async (client: pg.PoolClient) => {
  await client.query(BEGIN_VAULT_DELETE);
  await client.query('SELECT * FROM sqs2pg_vault.forget_user($1, $2, $3, NULL, NULL, NULL, NULL)', [`user-${id}`, [userKey(`user-${id}`)], 'ticket 7']);
  await client.query('COMMIT');
};
const forgetMasked = async (client: pg.PoolClient) => {
  await client.query("SELECT * FROM sqs2pg_vault.forget_masked('k1:0000', 'ticket 8')");
};

/** A session of `kind` that holds `lock` (session-level or in an open transaction) until released. */
async function squat(kind: RoleKind, statements: readonly string[]): Promise<() => Promise<void>> {
  const client = await roles.poolAs(kind).connect();
  for (const sql of statements) await client.query(sql);
  return async () => {
    await client.query('ROLLBACK').catch(() => undefined);
    await client.query('SELECT pg_advisory_unlock_all()');
    client.release();
  };
}

beforeAll(async () => {
  stack = await createTestStack();
  await migrateWithCli(stack.databaseUrl);
  roles = await createLoginRoles(stack);
  owner = createPool(stack.databaseUrl, 2);
}, 120_000);

afterAll(async () => {
  await owner?.end();
  await roles?.drop();
  await stack?.close();
}, 60_000);

describe('a role that holds the advisory keys sqs2pg used', () => {
  for (const kind of ['analyst', 'worker'] as const) {
    it(`holds up neither a worker's batch nor forget (${kind} holding them)`, async () => {
      const release = await squat(kind, [
        "SELECT pg_advisory_lock(hashtext('sqs2pg vault'))",
        "SELECT pg_advisory_lock(hashtext('sqs2pg migrations'))",
      ]);
      try {
        expect(await outcome(as('worker'), batch(`${kind}-1`))).toBe('done');
        expect(await outcome(as('officer'), forgetUser(`${kind}-1`))).toBe('done');
        expect(await outcome(as('officer'), forgetMasked)).toBe('done');
        // The owner's own paths: rotate and replay take the lock at BEGIN.
        expect(await outcome(stack.pool, async (client) => client.query(`${BEGIN_VAULT_WRITE}; COMMIT`))).toBe('done');
        expect(await outcome(stack.pool, async (client) => client.query(`${BEGIN_VAULT_DELETE}; COMMIT`))).toBe('done');
      } finally {
        await release();
      }
    });
  }
});

describe('the erasure lock is the owner\'s', () => {
  for (const kind of ['analyst', 'worker'] as const) {
    it(`refuses the ${kind} a row lock, a table lock and the exclusive lock's function`, async () => {
      const db = as(kind);
      for (const mode of ['FOR SHARE', 'FOR KEY SHARE', 'FOR UPDATE', 'FOR NO KEY UPDATE']) {
        expect(await attempt(db, `SELECT 1 FROM sqs2pg.erasure_lock ${mode}`), mode).toBe('42501');
      }
      expect(await attempt(db, 'SELECT count(*) FROM sqs2pg.erasure_lock')).toBe('42501');
      for (const mode of ['ACCESS SHARE', 'ROW SHARE', 'ROW EXCLUSIVE', 'SHARE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE']) {
        expect(await attempt(db, `BEGIN; LOCK TABLE sqs2pg.erasure_lock IN ${mode} MODE`), mode).toBe('42501');
        await db.query('ROLLBACK');
      }
      expect(await attempt(db, 'SELECT sqs2pg_vault.erasure_lock_exclusive()')).toBe('42501');
      expect(await attempt(db, 'SELECT sqs2pg.erasure_lock_shared()')).toBe('42501');
      expect(await attempt(db, 'DELETE FROM sqs2pg.erasure_lock')).toBe('42501');
      expect(await attempt(db, 'TRUNCATE sqs2pg.erasure_lock')).toBe('42501');
      expect(await attempt(db, 'ALTER TABLE sqs2pg.erasure_lock ADD COLUMN x int')).toBe('42501');
    });
  }

  it('is the officer\'s to take after an upgrade, without grants run again', async () => {
    // A database granted before 0016: the officer may erase, but not yet take the lock's function.
    const granted = await stack.pool.query<{ role: string }>(
      `SELECT DISTINCT pg_get_userbyid(a.grantee) AS role FROM pg_proc p, aclexplode(p.proacl) a
        WHERE p.oid = 'sqs2pg_vault.erasure_lock_exclusive()'::regprocedure AND a.grantee <> p.proowner`,
    );
    expect(granted.rows.length).toBeGreaterThan(0);
    for (const { role } of granted.rows) await stack.pool.query(`REVOKE EXECUTE ON FUNCTION sqs2pg_vault.erasure_lock_exclusive() FROM "${role}"`);
    expect(await attempt(as('officer'), 'BEGIN; SELECT sqs2pg_vault.erasure_lock_exclusive()')).toBe('42501');
    await as('officer').query('ROLLBACK');
    // 0016 applied (it is written to run again): the officer's forget takes the lock at BEGIN.
    await stack.pool.query(await readFile(new URL('../../sql/0016_erasure_lock_owned.sql', import.meta.url), 'utf8'));
    expect(await attempt(as('officer'), 'BEGIN; SELECT sqs2pg_vault.erasure_lock_exclusive()')).toBe('ok');
    await as('officer').query('ROLLBACK');
    // and nobody else got it.
    expect(await attempt(as('worker'), 'SELECT sqs2pg_vault.erasure_lock_exclusive()')).toBe('42501');
  });

  it('still orders forget after a batch in progress, and a batch after a waiting forget', async () => {
    const first = await roles.poolAs('worker').connect();
    const officer = await roles.poolAs('officer').connect();
    try {
      await first.query('BEGIN');
      await first.query('SELECT * FROM sqs2pg.stop_tombstoned($1)', [[userKey('user-order-1')]]);
      // forget waits for the batch in progress, and stays waiting (not cancelled) for what follows.
      const officerPid = (await officer.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const forgetting = officer.query("SELECT * FROM sqs2pg_vault.forget_masked('k1:0001', 'ticket 9')");
      await waitFor(
        async () => (await stack.pool.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'", [officerPid])).rowCount === 1,
        60_000,
        'forget to wait for the batch',
      );
      // A batch that comes now queues behind the waiting forget instead of starving it (a row lock's
      // FOR SHARE would be granted beside the first batch's, and forget would wait on).
      expect(await outcome(as('worker'), batch('order-2'))).toBe('waiting on relation');
      await first.query('COMMIT');
      await forgetting;
      expect(await outcome(as('worker'), batch('order-3'))).toBe('done');
    } finally {
      await first.query('ROLLBACK').catch(() => undefined);
      first.release();
      officer.release();
    }
  });
});

describe('the schema lock (migrations, declared tables) is the owner\'s', () => {
  /** What a worker of a new release does at start when there is something to apply (0016 made pending again). */
  const schemaChange = (name: string) => async () => {
    expect(await migrate(owner)).toEqual(['0016_erasure_lock_owned']);
    await applyDeclaredTables(owner, [{ ...PAGE_VIEWS, name, table: { schema: null, name } }]);
  };
  const unapply0016 = () => stack.pool.query("DELETE FROM sqs2pg.schema_migrations WHERE name = '0016_erasure_lock_owned'");

  it('a role holding the advisory key the migrations used, or reading sqs2pg.schema_migrations, holds up neither', async () => {
    await unapply0016();
    const analyst = await squat('analyst', ["SELECT pg_advisory_lock(hashtext('sqs2pg migrations'))"]);
    const worker = await squat('worker', ['BEGIN', 'SELECT count(*) FROM sqs2pg.schema_migrations']);
    try {
      expect(await outcomeInDatabase(schemaChange('squatted_views'))).toBe('done');
    } finally {
      await worker();
      await analyst();
    }
  });

  it('refuses the worker (who may read the table) and the analyst the lock the owner takes', async () => {
    for (const kind of ['worker', 'analyst'] as const) {
      expect(await attempt(as(kind), 'BEGIN; LOCK TABLE sqs2pg.schema_migrations IN SHARE ROW EXCLUSIVE MODE'), kind).toBe('42501');
      await as(kind).query('ROLLBACK');
    }
  });

  it('two schema changes at once still wait for each other', async () => {
    await unapply0016();
    const holder = await stack.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE sqs2pg.schema_migrations IN SHARE ROW EXCLUSIVE MODE');
      expect(await outcomeInDatabase(schemaChange('queued_views'))).toBe('waiting on relation');
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
  });
});
