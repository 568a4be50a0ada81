// Attack: on PostgreSQL 12–14 PUBLIC may create in schema public (granted here on later majors to be
// the same), and a schema's owner may have granted PUBLIC CREATE by hand; every role inherits it. A
// least-privileged role that may create beside a pipeline's table could make that table itself and
// own it (read every row, grant it to anyone, add a trigger): as the worker at run's start, or planted
// before the owner's migrate --config adopts and registers it. First line: grants takes CREATE back
// from PUBLIC on every schema holding a pipeline's table, so PostgreSQL refuses. Second, where it
// could not (grants' role does not own the schema): run, as a role that may not register pipelines,
// creates no table, and neither migrate nor run adopts a table whose owner cannot act as sqs2pg's.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyDeclaredTables } from '../../src/db/declared-tables.js';
import { createPool } from '../../src/db/pool.js';
import type { PipelineSpec } from '../../src/model/pipeline.js';
import { PAGE_VIEWS } from '../fixtures/pipelines.js';
import { oneErrorLine } from '../helpers/cli-output.js';
import { createTestStack, migrateWithCli, runCli, type TestStack } from '../helpers/stack.js';
import { attempt, createLoginRoles, ROLE_KINDS, type LoginRoles } from './login-roles.js';

const ANALYTICS: PipelineSpec = { ...PAGE_VIEWS, name: 'a_views', table: { schema: 'analytics', name: 'views' } };
const dir = mkdtempSync(join(tmpdir(), 'sqs2pg-table-schemas-'));

/** A pipeline file of one pipeline like page_views, into `table`, reading $Q. */
function pipelineFile(name: string, table: string): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    `pipelines:
  ${name}:
    queue: \${Q}
    table: ${table}
    subject: visitor.id
    columns:
      visitor_id: { from: visitor.id, type: varchar(64), required: true }
      url:        { from: page.url, type: text, required: true }
`,
  );
  return path;
}
// What a look-alike needs to be adopted as it is: the declared columns and the idempotency index.
const PLANT = (table: string) => `CREATE TABLE ${table} (visitor_id varchar(64), url text, sqs_message_id varchar(128));
CREATE UNIQUE INDEX ON ${table} (sqs_message_id);
CREATE INDEX ON ${table} (visitor_id)`;

let stack: TestStack;
let roles: LoginRoles;
/** The owner's look, in a session no planted object can reach. */
let owner: pg.Pool;

const ownerOf = async (table: string) => (await owner.query<{ owner: string | null }>('SELECT (SELECT relowner::regrole::text FROM pg_class WHERE oid = to_regclass($1)) AS owner', [table])).rows[0]?.owner;
const registered = async (name: string) => (await owner.query('SELECT 1 FROM sqs2pg.pipelines WHERE name = $1', [name])).rowCount;

/** As where grants could not take PUBLIC's CREATE back (a schema its role does not own): reopened for `body`. */
async function withPublicCreate(body: () => Promise<void>): Promise<void> {
  await owner.query('GRANT CREATE ON SCHEMA public TO PUBLIC');
  try {
    await body();
  } finally {
    await owner.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
  }
}

beforeAll(async () => {
  stack = await createTestStack();
  owner = new pg.Pool({ connectionString: stack.databaseUrl, max: 1, options: '-c search_path=pg_catalog,pg_temp' });
  // PostgreSQL 15 took this from PUBLIC; 12–14 grant it by default. analytics': granted by hand.
  await owner.query('GRANT CREATE ON SCHEMA public TO PUBLIC; CREATE SCHEMA analytics; GRANT USAGE, CREATE ON SCHEMA analytics TO PUBLIC');
  await migrateWithCli(stack.databaseUrl);
  const pool = createPool(stack.databaseUrl, 1);
  try {
    await applyDeclaredTables(pool, [ANALYTICS]);
  } finally {
    await pool.end();
  }
  roles = await createLoginRoles(stack);
}, 120_000);
afterAll(async () => {
  await owner?.end();
  await roles?.drop();
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('beside a pipeline\'s table', () => {
  it('no sqs2pg role may create anything, a look-alike of a table included: PostgreSQL refuses', async () => {
    for (const kind of ROLE_KINDS) {
      const db = roles.poolAs(kind);
      for (const schema of ['public', 'analytics']) {
        const what = `${kind} in ${schema}`;
        expect(await attempt(db, `CREATE TABLE ${schema}.t_${kind} (a int)`), what).toBe('42501');
        expect(await attempt(db, `CREATE VIEW ${schema}.v_${kind} AS SELECT 1 AS a`), what).toBe('42501');
        expect(await attempt(db, `CREATE FUNCTION ${schema}.f_${kind}() RETURNS int LANGUAGE sql AS 'SELECT 1'`), what).toBe('42501');
        expect(await attempt(db, PLANT(`${schema}.views_${kind}`)), what).toBe('42501');
      }
    }
  });
});

describe('the worker at run\'s start, with a pipeline whose table does not exist yet', () => {
  const run = (file: string) => runCli(['run', '--drain', '--config', file], stack.env('http://127.0.0.1:1/000000000000/not-read', { DATABASE_URL: roles.urlAs('worker'), Q: 'http://127.0.0.1:1/000000000000/q' }), 60_000);

  it('creates no table, and says to run migrate --config as the owner', async () => {
    const result = await run(pipelineFile('fresh_views', 'fresh_views'));
    expect(await ownerOf('public.fresh_views')).toBeNull();
    expect(result.code, result.stderr).toBe(5);
    expect(oneErrorLine(result)).toContain('"sqs2pg migrate --config FILE" as the tables\' owner');
  });

  it('creates none either where PUBLIC may still create: a role that may not register pipelines makes no table', async () => {
    await withPublicCreate(async () => {
      const result = await run(pipelineFile('fresh_views', 'fresh_views'));
      expect(await ownerOf('public.fresh_views')).toBeNull();
      expect(result.code, result.stderr).toBe(5);
      const line = oneErrorLine(result);
      expect(line).toContain(`role ${roles.logins.worker} may not register pipelines (sqs2pg.pipelines)`);
      expect(line).toContain('"sqs2pg migrate --config FILE" as the tables\' owner');
    });
  });
});

describe('a look-alike planted before the owner\'s migrate --config', () => {
  it('where it can, is adopted by neither migrate nor run: they say whose it is and what to do', async () => {
    await withPublicCreate(async () => {
      expect(await attempt(roles.poolAs('worker'), PLANT('public.planted_views'))).toBe('ok');
      expect(await ownerOf('public.planted_views')).toBe(roles.logins.worker);
      try {
        const file = pipelineFile('planted_views', 'planted_views');
        const migrated = await runCli(['migrate', '--config', file], { PATH: process.env.PATH, DATABASE_URL: stack.databaseUrl, Q: 'http://127.0.0.1:1/000000000000/q' }, 60_000);
        expect(migrated.code, migrated.stderr).toBe(5);
        const line = oneErrorLine(migrated);
        expect(line).toContain(`public.planted_views is owned by role ${roles.logins.worker}`);
        expect(line).toContain('ALTER TABLE "public"."planted_views" OWNER TO');
        expect(await registered('planted_views')).toBe(0);
        const ran = await runCli(['run', '--drain', '--config', file], stack.env('http://127.0.0.1:1/000000000000/not-read', { DATABASE_URL: roles.urlAs('worker'), Q: 'http://127.0.0.1:1/000000000000/q' }), 60_000);
        expect(ran.code, ran.stderr).toBe(5);
        expect(oneErrorLine(ran)).toContain(`public.planted_views is owned by role ${roles.logins.worker}`);
      } finally {
        await owner.query('DROP TABLE public.planted_views');
      }
    });
  });
});

describe('sqs2pg check --config', () => {
  it('warns of a schema the file names for a table where PUBLIC may create, with the REVOKE that closes it', async () => {
    const file = pipelineFile('a_views', 'analytics.views');
    const unused = `${stack.sqsEndpoint}/000000000000/unused`;
    const searchPath = async () => {
      const result = await runCli(['check', '--config', file], stack.env(unused, { Q: unused }), 60_000);
      return /^(\w+) +search path: (.*)$/m.exec(result.stdout)?.slice(1);
    };
    expect(await searchPath()).toEqual(['ok', expect.stringMatching(/^no schema on the search path of role \S+ lets PUBLIC create objects$/)]);
    await owner.query('GRANT CREATE ON SCHEMA analytics TO PUBLIC');
    try {
      const [status, detail] = (await searchPath()) ?? [];
      expect(status).toBe('warning');
      expect(detail).toBe(
        'PUBLIC may create objects in schema analytics, which the pipeline file names for its tables: a table planted there before migrate creates a pipeline\'s is its planter\'s (migrate and run refuse it); ' +
          'as the owner of analytics run: REVOKE CREATE ON SCHEMA analytics FROM PUBLIC;',
      );
    } finally {
      await owner.query('REVOKE CREATE ON SCHEMA analytics FROM PUBLIC');
    }
  });
});

describe('sqs2pg grants, as an owner of sqs2pg\'s tables who does not own public', () => {
  it('takes nothing back there (PostgreSQL lets only its owner), and says so, with the REVOKE for its owner', async () => {
    const other = await createTestStack();
    const prefix = `t${randomBytes(4).toString('hex')}_`;
    const login = `${prefix}owner`;
    const password = randomBytes(12).toString('hex');
    const url = new URL(other.databaseUrl);
    url.username = login;
    url.password = password;
    const env = { PATH: process.env.PATH, DATABASE_URL: url.toString() };
    await other.pool.query(`CREATE ROLE ${login} LOGIN CREATEROLE PASSWORD '${password}'`);
    await other.pool.query(`GRANT CREATE ON DATABASE ${url.pathname.slice(1)} TO ${login}; GRANT CREATE ON SCHEMA public TO PUBLIC`);
    try {
      const migrated = await runCli(['migrate'], env, 60_000);
      expect(migrated.code, migrated.stderr).toBe(0);
      const granted = await runCli(['grants', '--role-prefix', prefix], env, 60_000);
      expect(granted.code, granted.stderr).toBe(0);
      const publicOwner = (await other.pool.query<{ owner: string }>(`SELECT nspowner::regrole::text AS owner FROM pg_namespace WHERE nspname = 'public'`)).rows[0]?.owner;
      expect(granted.stdout).toContain(`warning: PUBLIC may still create in schema public, beside these tables (only its owner can take that back)`);
      expect(granted.stdout).toContain(`; as ${publicOwner} run: REVOKE CREATE ON SCHEMA public FROM PUBLIC;`);
      expect((await other.pool.query(`SELECT 1 WHERE has_schema_privilege('public', 'public', 'CREATE')`)).rowCount).toBe(1);
    } finally {
      const made = ['worker', 'analyst', 'pii_officer', 'owner'].map((kind) => `${prefix}${kind}`);
      const existing = (await other.pool.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1)', [made])).rows.map((row) => row.rolname);
      if (existing.length > 0) await other.pool.query(`DROP OWNED BY ${existing.join(', ')}`);
      for (const role of existing) await other.pool.query(`DROP ROLE ${role}`);
      await other.close();
    }
  });
});
