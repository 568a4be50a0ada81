// The registry (sqs2pg.pipelines) against a real PostgreSQL: migrate registers the take-home's table
// as the builtin logins pipeline; bringing declared tables up to date registers them, also when no
// table changes; a pipeline renamed in its file takes its table's registration over; and a role with
// least privilege whose tables and registry are up to date starts without writing, while one whose
// registry row is stale is refused rather than left to run with erasure blind to its table.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyDeclaredTables } from '../../src/db/declared-tables.js';
import { migrate } from '../../src/db/migrate.js';
import { registeredPipelines, registrationOf } from '../../src/db/pipeline-registry.js';
import { createPool } from '../../src/db/pool.js';
import type { PipelineSpec } from '../../src/model/pipeline.js';
import { column, LOGINS, PAGE_VIEWS } from '../fixtures/pipelines.js';
import { createTestStack, migrateWithCli, type TestStack } from '../helpers/stack.js';

const ROLE = `t${randomBytes(4).toString('hex')}_reader`;
const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;

let stack: TestStack;
let pool: pg.Pool;
let asRole: pg.Pool;
beforeAll(async () => {
  stack = await createTestStack();
  pool = createPool(stack.databaseUrl, 2);
  const url = new URL(stack.databaseUrl);
  url.username = ROLE;
  url.password = PASSWORD;
  asRole = createPool(url.toString(), 1);
});
afterAll(async () => {
  await pool.end();
  await asRole.end();
  await stack.pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [ROLE]);
  const exists = await stack.pool.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [ROLE]);
  if (exists.rowCount) {
    await stack.pool.query(`DROP OWNED BY ${pg.escapeIdentifier(ROLE)}`);
    await stack.pool.query(`DROP ROLE ${pg.escapeIdentifier(ROLE)}`);
  }
  await stack.close();
});

const registry = async () => (await registeredPipelines(stack.pool)).map((row) => ({ ...row }));

describe('sqs2pg migrate', () => {
  it('registers the take-home\'s table as the builtin logins pipeline, where the search path found it', async () => {
    await migrateWithCli(stack.databaseUrl);
    expect(await registry()).toEqual([registrationOf(LOGINS, 'public')]);
    expect(await registry()).toEqual([
      {
        name: 'logins',
        tableSchema: 'public',
        tableName: 'user_logins',
        builtin: true,
        subjectColumn: 'user_id',
        subjectIsKey: false,
        subjectScope: null,
        piiColumns: [
          { column: 'masked_ip', label: 'ip', pii: 'mask' },
          { column: 'masked_device_id', label: 'device_id', pii: 'mask' },
        ],
      },
    ]);
  });
});

describe('applyDeclaredTables', () => {
  it('registers a table it creates, in the schema it created it in', async () => {
    await applyDeclaredTables(pool, [LOGINS, PAGE_VIEWS]);
    expect(await registry()).toEqual([registrationOf(LOGINS, 'public'), registrationOf(PAGE_VIEWS, 'public')]);
  });

  it('registers a pipeline whose table needs nothing, and brings a stale row back to the declaration', async () => {
    await stack.pool.query("DELETE FROM sqs2pg.pipelines WHERE name = 'page_views'");
    await stack.pool.query(`UPDATE sqs2pg.pipelines SET pii_columns = '[]', subject_column = NULL WHERE name = 'logins'`);
    const plans = await applyDeclaredTables(pool, [LOGINS, PAGE_VIEWS]);
    expect(plans.map((plan) => plan.actions)).toEqual([[], []]);
    expect(await registry()).toEqual([registrationOf(LOGINS, 'public'), registrationOf(PAGE_VIEWS, 'public')]);
  });

  it('registers a subject no column holds as its key, scoped by the table\'s name', async () => {
    const spec: PipelineSpec = {
      ...PAGE_VIEWS,
      name: 'signups',
      table: { schema: null, name: 'signups' },
      subject: ['email'],
      columns: [column('masked_email', 'email', { kind: 'text' }, { pii: 'mask' }), column('plan', 'plan', { kind: 'text' }), column('card', 'card', { kind: 'text' }, { pii: 'seal' })],
    };
    await applyDeclaredTables(pool, [spec]);
    expect((await registry()).find((row) => row.name === 'signups')).toEqual({
      name: 'signups',
      tableSchema: 'public',
      tableName: 'signups',
      builtin: false,
      subjectColumn: 'sqs2pg_subject_key',
      subjectIsKey: true,
      subjectScope: 'signups',
      piiColumns: [
        { column: 'masked_email', label: 'masked_email', pii: 'mask' },
        { column: 'card', label: 'card', pii: 'seal' },
      ],
    });
    await stack.pool.query("DELETE FROM sqs2pg.pipelines WHERE name = 'signups'");
  });

  it('gives a table\'s registration to the name its file now gives it', async () => {
    await applyDeclaredTables(pool, [{ ...PAGE_VIEWS, name: 'views' }]);
    expect((await registry()).map((row) => [row.name, row.tableName])).toEqual([
      ['logins', 'user_logins'],
      ['views', 'page_views'],
    ]);
    await applyDeclaredTables(pool, [PAGE_VIEWS]);
    expect((await registry()).map((row) => [row.name, row.tableName])).toEqual([
      ['logins', 'user_logins'],
      ['page_views', 'page_views'],
    ]);
  });

  it('a migrate after a file named the builtin otherwise leaves that name to it', async () => {
    await applyDeclaredTables(pool, [{ ...LOGINS, name: 'auth' }]);
    // A pending migration makes migrate run its transaction again.
    await stack.pool.query('DELETE FROM sqs2pg.schema_migrations WHERE version = (SELECT max(version) FROM sqs2pg.schema_migrations)');
    await migrate(pool);
    expect((await registry()).map((row) => [row.name, row.tableName])).toEqual([
      ['auth', 'user_logins'],
      ['page_views', 'page_views'],
    ]);
    await applyDeclaredTables(pool, [LOGINS]);
  });
});

describe('a role with least privilege', () => {
  beforeAll(async () => {
    const role = pg.escapeIdentifier(ROLE);
    await stack.pool.query(`CREATE ROLE ${role} LOGIN PASSWORD '${PASSWORD}'`);
    await stack.pool.query(`GRANT USAGE ON SCHEMA sqs2pg TO ${role}`);
    await stack.pool.query(`GRANT SELECT ON sqs2pg.schema_migrations TO ${role}`);
  });

  it('starts without writing when its tables and the registry are up to date, whether it may read the registry or not', async () => {
    await expect(applyDeclaredTables(asRole, [LOGINS, PAGE_VIEWS])).resolves.toMatchObject([{ actions: [] }, { actions: [] }]);
    await stack.pool.query(`GRANT SELECT ON sqs2pg.pipelines TO ${pg.escapeIdentifier(ROLE)}`);
    await expect(applyDeclaredTables(asRole, [LOGINS, PAGE_VIEWS])).resolves.toMatchObject([{ actions: [] }, { actions: [] }]);
  });

  it('is refused, changing nothing, when the registry it can read is stale: the owner must register', async () => {
    await stack.pool.query("DELETE FROM sqs2pg.pipelines WHERE name = 'page_views'");
    await expect(applyDeclaredTables(asRole, [LOGINS, PAGE_VIEWS])).rejects.toMatchObject({ code: '42501' });
    expect((await registry()).map((row) => row.name)).toEqual(['logins']);
    await applyDeclaredTables(pool, [LOGINS, PAGE_VIEWS]);
    expect((await registry()).map((row) => row.name)).toEqual(['logins', 'page_views']);
  });
});
