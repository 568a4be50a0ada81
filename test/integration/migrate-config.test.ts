// migrate --config and check --config against a real PostgreSQL, through the built CLI: a declared
// table created (with sqs_message_id, its unique index and the subject's index) and then up to date;
// a column declared later added, nullable; a type change refused, with the ALTER to run, and nothing
// else of that file applied; two migrates racing on a new table create it once; and check says each
// of these before migrate does it (warning), or refuses it (problem, exit 1).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneErrorLine } from '../helpers/cli-output.js';
import { createTestStack, runCli, startCli, type CliResult, type TestStack } from '../helpers/stack.js';

const GIVE_UP_MS = 60_000;
const ISSUE_EXAMPLE = readFileSync(new URL('../../examples/pipelines.yaml', import.meta.url), 'utf8');
// migrate reads no queue: these need only be set, as the file's ${VAR}s are.
const QUEUES = { LOGINS_QUEUE_URL: 'http://127.0.0.1:9/000000000000/logins', PAGE_VIEWS_QUEUE_URL: 'http://127.0.0.1:9/000000000000/page-views' };
const dir = mkdtempSync(join(tmpdir(), 'sqs2pg-migrate-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The example with page_views' columns changed: `extra` lines added under columns, `replace` applied. */
function variant(name: string, extra: string[], replace: [string, string][] = []): string {
  let text = ISSUE_EXAMPLE;
  for (const [from, to] of replace) {
    expect(text).toContain(from);
    text = text.replace(from, to);
  }
  return file(name, `${text.trimEnd()}\n${extra.map((line) => `      ${line}`).join('\n')}\n`);
}

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(async () => {
  await stack.close();
});

const env = (extra: NodeJS.ProcessEnv = {}) => ({ PATH: process.env.PATH, DATABASE_URL: stack.databaseUrl, ...QUEUES, ...extra });
const migrate = (args: string[], databaseUrl = stack.databaseUrl) => runCli(['migrate', ...args], env({ DATABASE_URL: databaseUrl }), GIVE_UP_MS);

/** check's line for the declared table of `pipeline`: [status, detail]. */
async function checkTable(config: string, pipeline = 'page_views', databaseUrl = stack.databaseUrl): Promise<{ result: CliResult; line: [string, string] | undefined }> {
  const result = await runCli(['check', '--config', config], stack.env(`${stack.sqsEndpoint}/000000000000/unused`, { ...QUEUES, DATABASE_URL: databaseUrl }), GIVE_UP_MS);
  const match = new RegExp(`^(ok|warning|problem|skipped) +table \\(${pipeline}\\): (.*)$`, 'm').exec(result.stdout);
  return { result, line: match ? [match[1]!, match[2]!] : undefined };
}

async function columnsOf(table: string): Promise<[string, string, boolean][]> {
  const result = await stack.pool.query<{ name: string; type: string; not_null: boolean }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS not_null
       FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [table],
  );
  return result.rows.map((row) => [row.name, row.type, row.not_null]);
}

async function indexesOf(table: string): Promise<string[]> {
  const result = await stack.pool.query<{ def: string }>(
    `SELECT regexp_replace(pg_get_indexdef(indexrelid), 'INDEX \\S+ ON', 'INDEX ON') AS def FROM pg_index WHERE indrelid = to_regclass($1) ORDER BY 1`,
    [table],
  );
  return result.rows.map((row) => row.def);
}

describe('migrate --config, and check --config before and after it', () => {
  const example = file('example.yaml', ISSUE_EXAMPLE);

  it('check, before: the declared table would be created (a warning: run makes it at start, given the privilege)', async () => {
    const { result, line } = await checkTable(example);
    expect(line).toEqual(['warning', expect.stringContaining('"sqs2pg migrate --config FILE" as the tables\' owner would create table "public"."page_views"; create a unique index on "public"."page_views" (sqs_message_id)') as string]);
    expect(line?.[1]).toContain('(run does it at start: role postgres may)');
    expect(result.stdout).not.toMatch(/^\w+ +table \(logins\):/m);
    expect(result.stdout).toMatch(/^problem +migrations:/m);
  });

  it('applies the migrations, then creates the declared table, and says so per pipeline', async () => {
    const result = await migrate(['--config', example]);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^applied to .*: 0001_user_logins, .*0011_quarantine_masked_values/);
    expect(lines.slice(1)).toEqual([
      'pipeline logins: "public"."user_logins" is up to date',
      'pipeline page_views: created table "public"."page_views"; created a unique index on "public"."page_views" (sqs_message_id); created an index on "public"."page_views" (visitor_id)',
    ]);
    expect(await columnsOf('public.page_views')).toEqual([
      ['visitor_id', 'character varying(64)', false],
      ['masked_email', 'character varying(256)', false],
      ['masked_ip', 'character varying(256)', false],
      ['url', 'text', false],
      ['duration_ms', 'integer', false],
      ['viewed_at', 'timestamp with time zone', false],
      ['tags', 'jsonb', false],
      ['sqs_message_id', 'character varying(128)', false],
    ]);
    expect(await indexesOf('public.page_views')).toEqual([
      'CREATE INDEX ON public.page_views USING btree (visitor_id)',
      'CREATE UNIQUE INDEX ON public.page_views USING btree (sqs_message_id)',
    ]);
  });

  it('a second run: everything up to date; check agrees', async () => {
    const again = await migrate(['--config', example]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trim().split('\n').slice(1)).toEqual([
      'pipeline logins: "public"."user_logins" is up to date',
      'pipeline page_views: "public"."page_views" is up to date',
    ]);
    const { line } = await checkTable(example);
    expect(line).toEqual(['ok', '"public"."page_views" holds every declared column, with its type, and the unique index on sqs_message_id']);
  });

  it('a column declared later: check says migrate would add it; migrate adds it, nullable, and keeps the rows', async () => {
    await stack.pool.query(`INSERT INTO page_views (visitor_id, url, viewed_at, sqs_message_id) VALUES ('v-1', 'https://example.org/', now(), 'm-1')`);
    const later = variant('later.yaml', ['referrer:     { from: page.referrer, type: text, required: true }']);
    const { result: checked, line } = await checkTable(later);
    expect(line).toEqual(['warning', expect.stringContaining('would add column referrer text to "public"."page_views"') as string]);
    expect(checked.stdout).toMatch(/^ok +migrations:/m);
    const result = await migrate(['--config', later, '--pipeline', 'page_views']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split('\n').slice(1)).toEqual(['pipeline page_views: added column referrer text to "public"."page_views"']);
    // Nullable whatever the declaration requires: the row already there has no value for it.
    expect((await columnsOf('public.page_views')).at(-1)).toEqual(['referrer', 'text', false]);
    const rows = await stack.pool.query('SELECT visitor_id, referrer FROM page_views');
    expect(rows.rows).toEqual([{ visitor_id: 'v-1', referrer: null }]);
  });

  it('a role that may not apply the plan (a least-privileged worker): check says run would stop at start (a problem)', async () => {
    const role = `sqs2pg_mc_${randomBytes(4).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    await stack.pool.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    // Before PostgreSQL 15 every role may create in public: a least-privileged database takes that
    // back (this database is the test's own). From 15 on this changes nothing.
    const before = await stack.pool.query<{ granted: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_namespace n, aclexplode(n.nspacl) a WHERE n.nspname = 'public' AND a.grantee = 0 AND a.privilege_type = 'CREATE') AS granted`,
    );
    await stack.pool.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
    try {
      const url = new URL(stack.databaseUrl);
      url.username = role;
      url.password = password;
      const later = variant('later-worker.yaml', ['referrer:     { from: page.referrer, type: text }', 'campaign:     { from: campaign, type: text }']);
      const change = await checkTable(later, 'page_views', url.toString());
      expect(change.line).toEqual(['problem', expect.stringContaining(`role ${role} may not change it (only its owner may), so run would stop at start; "sqs2pg migrate --config FILE" as the tables' owner would add column campaign text`) as string]);
      const elsewhere = variant('elsewhere.yaml', [], [['table: page_views', 'table: visits']]);
      const create = await checkTable(elsewhere, 'page_views', url.toString());
      expect(create.line).toEqual(['problem', expect.stringContaining(`role ${role} may not create it, so run would stop at start`) as string]);
    } finally {
      if (before.rows[0]?.granted) await stack.pool.query('GRANT CREATE ON SCHEMA public TO PUBLIC');
      await stack.pool.query(`DROP ROLE ${role}`);
    }
  });

  it('a type change: check says it is refused and what to run (exit 1); migrate refuses it (exit 5) and applies nothing of the file', async () => {
    const retyped = variant('retyped.yaml', ['campaign:     { from: campaign, type: text }'], [['type: integer }', 'type: bigint }']]);
    const { result: checked, line } = await checkTable(retyped);
    const alter = 'ALTER TABLE "public"."page_views" ALTER COLUMN "duration_ms" TYPE pg_catalog.int8 USING ...';
    expect(line).toEqual(['problem', expect.stringContaining(`column duration_ms of public.page_views is integer, and the pipeline now stores bigint there`) as string]);
    expect(line?.[1]).toContain(alter);
    expect(checked.code, checked.stdout).toBe(1);

    const before = await columnsOf('public.page_views');
    const result = await migrate(['--config', retyped]);
    expect(result.code).toBe(5);
    expect(oneErrorLine(result)).toContain(alter);
    // The column campaign, which alone would have been fine, is not added either: a refusal stops every action.
    expect(await columnsOf('public.page_views')).toEqual(before);
  });

  it('without --config, migrate is today\'s; --pipeline without a file names only logins', async () => {
    const plain = await migrate([]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout.trim().split('\n')).toHaveLength(1);
    expect(plain.stdout).toMatch(/ is up to date$/m);
    const wrong = await migrate(['--pipeline', 'page_views']);
    expect(wrong.code).toBe(2);
    expect(oneErrorLine(wrong)).toContain('--pipeline page_views names no pipeline: without --config (SQS2PG_CONFIG) the one pipeline is logins');
  });

  it('a file with faults: every fault named, nothing migrated (exit 2)', async () => {
    const bad = file('bad.yaml', 'pipelines:\n  views: { queue: "${PAGE_VIEWS_QUEUE_URL}", columns: { a: { from: a, type: txt } } }\n');
    const fresh = await createTestStack();
    try {
      const result = await migrate(['--config', bad], fresh.databaseUrl);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`${bad}:2:`);
      const migrated = await fresh.pool.query(`SELECT to_regclass('sqs2pg.schema_migrations') AS t`);
      expect(migrated.rows).toEqual([{ t: null }]);
    } finally {
      await fresh.close();
    }
  });
});

describe('two migrate --config at once, on a new database', () => {
  it('create the declared table once; each says what it did', async () => {
    const fresh = await createTestStack();
    try {
      const example = file('race.yaml', ISSUE_EXAMPLE);
      const both = [0, 1].map(() => startCli(['migrate', '--config', example], env({ DATABASE_URL: fresh.databaseUrl }), GIVE_UP_MS));
      const results = await Promise.all(both.map((process) => process.done));
      for (const result of results) expect(result.code, result.stderr).toBe(0);
      const created = results.filter((result) => result.stdout.includes('pipeline page_views: created table'));
      const upToDate = results.filter((result) => result.stdout.includes('pipeline page_views: "public"."page_views" is up to date'));
      expect([created.length, upToDate.length]).toEqual([1, 1]);
      const indexes = await fresh.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_index WHERE indrelid = to_regclass('public.page_views')`);
      expect(indexes.rows).toEqual([{ n: 2 }]);
    } finally {
      await fresh.close();
    }
  });
});
