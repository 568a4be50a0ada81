// The example from examples/, with no tool but sqs2pg: `demo --config` drains every pipeline
// of the file on the embedded servers (page views made from the declaration, or --input's), and
// `local --config` prints what `run --drain --config` needs, which works as printed. What the tables
// and the quarantine hold is read from the demo's own PostgreSQL, started again on its data folder.
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePipelineFile } from '../../src/config/pipeline-file.js';
import { generateDeclaredSample } from '../../src/local/declared-sample.js';
import { DEV_MASK_KEY, DEV_MASK_KEY_ID } from '../../src/local/dev-key.js';
import { startEmbeddedPostgres } from '../../src/local/embedded-postgres.js';
import { generateSample } from '../../src/local/sample.js';
import { createMasker } from '../../src/transform/mask.js';
import { runCli, startCli, waitFor } from '../helpers/stack.js';

// A generous ceiling against a hang on a busy machine; each wait ends as soon as its state is there.
const CEILING_MS = 300_000;
const EXAMPLE = fileURLToPath(new URL('../../examples/pipelines.yaml', import.meta.url));
const VIEWS = fileURLToPath(new URL('../../examples/page-views.jsonl', import.meta.url));
const MESSAGES = 100;
const masker = createMasker(DEV_MASK_KEY, DEV_MASK_KEY_ID);
const env = () => ({ PATH: process.env.PATH });

/** The bodies that are JSON, parsed. */
function parsed(bodies: readonly string[]): { visitor?: { email?: unknown }; ip?: unknown; device_id?: unknown }[] {
  return bodies.flatMap((body) => {
    try {
      return [JSON.parse(body) as { visitor?: { email?: unknown }; ip?: unknown; device_id?: unknown }];
    } catch {
      return [];
    }
  });
}
const pageViews = parsePipelineFile(readFileSync(EXAMPLE), {}, EXAMPLE, { queueOf: (name) => `http://127.0.0.1/0/${name}` }).pipelines[1]!;
const views = parsed([...readFileSync(VIEWS, 'utf8').split('\n'), ...generateDeclaredSample(pageViews, { count: MESSAGES }).bodies]);
/** Every personal value the demo was given: the views' emails and addresses, the logins' addresses and devices. */
const personal = [
  ...views.flatMap((view) => [view.visitor?.email, view.ip]),
  ...parsed(generateSample({ count: MESSAGES }).bodies).flatMap((login) => [login.ip, login.device_id]),
].filter((value): value is string => typeof value === 'string');

function expectNothingPersonal(output: string): void {
  expect(personal.length).toBeGreaterThan(200);
  for (const value of new Set(personal)) expect(output).not.toContain(value);
}

let parent: string;
beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'sqs2pg-demo-config-'));
  // As root the embedded server runs as `postgres`, which must be able to enter the folder.
  await chmod(parent, 0o755);
});
afterAll(() => rm(parent, { recursive: true, force: true }));

/** Runs `look` against the PostgreSQL the demo left in `dataDir`, started again for it. */
async function inDatabaseOf<T>(dataDir: string, look: (client: pg.Client) => Promise<T>): Promise<T> {
  const server = await startEmbeddedPostgres({ dataDir: join(dataDir, 'postgres'), persistent: true });
  const client = new pg.Client({ connectionString: server.url });
  try {
    await client.connect();
    return await look(client);
  } finally {
    await client.end().catch(() => undefined);
    await server.stop();
  }
}

describe('demo --config', () => {
  it("the example file: both pipelines loaded and reported, the malformed ones quarantined under their pipeline's name, nothing personal printed", async () => {
    const dataDir = join(parent, 'demo');
    const made = await runCli(['demo', '--config', EXAMPLE, '--messages', String(MESSAGES), '--data-dir', dataDir], env(), CEILING_MS);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/^ {2}logins {6}\$\{LOGINS_QUEUE_URL\} is queue logins: 100 login events and 3 malformed bodies$/m);
    expect(made.stdout).toMatch(/^ {2}page_views {2}\$\{PAGE_VIEWS_QUEUE_URL\} is queue page-views: 100 events made from its declaration and 3 malformed bodies$/m);
    expect(made.stdout).toMatch(/^logins: 100 rows loaded, 3 quarantined \(.*\)\.\nuser_logins now holds 100 rows/m);
    expect(made.stdout).toMatch(/^page_views: 100 rows loaded, 3 quarantined \((?=.*missing_field 1)(?=.*bad_type 1)(?=.*not_json 1).*\)\.\npage_views now holds 100 rows, and sqs2pg\.quarantine 3 of page_views \(all runs\)\. A few rows:$/m);
    // A few rows of each table, masks shortened.
    expect(made.stdout).toMatch(/^ {2}visitor_id +masked_email +masked_ip +url +duration_ms +viewed_at +tags$/m);
    expect(made.stdout).toMatch(/^ {2}v-\d+ +(dev:[0-9a-f]{10}…|null) +(dev:[0-9a-f]{10}…|null) +https:\/\/shop\.example\.com\//m);
    expectNothingPersonal(made.stdout + made.stderr);

    // Again, the page views from the example's own file: the second run adds to the same tables.
    const given = await runCli(['demo', '--config', EXAMPLE, '--input', `page_views=${VIEWS}`, '--messages', String(MESSAGES), '--data-dir', dataDir], env(), CEILING_MS);
    expect(given.code, given.stderr).toBe(0);
    expect(given.stdout).toContain(`  page_views  \${PAGE_VIEWS_QUEUE_URL} is queue page-views: 14 events from ${VIEWS} (JSON Lines)`);
    expect(given.stdout).toMatch(/^page_views: 12 rows loaded, 2 quarantined \((missing_field 1, bad_ip 1|bad_ip 1, missing_field 1)\)\.\npage_views now holds 112 rows/m);
    expectNothingPersonal(given.stdout + given.stderr);

    await inDatabaseOf(dataDir, async (client) => {
      const count = async (sql: string) => Number((await client.query<{ n: string }>(sql)).rows[0]?.n);
      expect(await count('SELECT count(*) AS n FROM user_logins')).toBe(2 * MESSAGES);
      expect(await count('SELECT count(*) AS n FROM page_views')).toBe(MESSAGES + 12);
      const quarantined = await client.query<{ pipeline: string; reason: string; n: string }>('SELECT pipeline, reason, count(*) AS n FROM sqs2pg.quarantine GROUP BY 1, 2 ORDER BY 1, 2');
      expect(quarantined.rows.map((row) => `${row.pipeline} ${row.reason} ${row.n}`)).toEqual([
        'logins missing_field 2',
        'logins not_json 2',
        'logins not_object 2',
        'page_views bad_ip 1',
        'page_views bad_type 1',
        'page_views missing_field 2',
        'page_views not_json 1',
      ]);
      // Two views of the file (v-1003's, whose times no generated view has), as loaded: the address
      // as the dev key's mask of its canonical form, the rest as declared.
      const { rows } = await client.query<Record<string, unknown>>(
        "SELECT visitor_id, masked_email, masked_ip, url, duration_ms, tags FROM page_views WHERE viewed_at IN ('2026-12-07T10:02:47Z', '2026-12-07T10:13:18Z') ORDER BY viewed_at",
      );
      const ip = masker.mask('masked_ip', '2001:db8::1');
      expect(rows).toEqual([
        { visitor_id: 'v-1003', masked_email: null, masked_ip: ip, url: 'https://shop.example.com/sale', duration_ms: 15020, tags: ['sale'] },
        { visitor_id: 'v-1003', masked_email: null, masked_ip: ip, url: 'https://shop.example.com/sale/socks', duration_ms: 2750, tags: ['product', 'sale'] },
      ]);
      expect(await count(`SELECT count(*) AS n FROM page_views WHERE masked_email = '${masker.mask('masked_email', 'ann.lee@example.com')}'`)).toBe(3);
    });
  });

  it('an --input that names no pipeline of the file: one line, exit 2, before any server starts', async () => {
    const result = await runCli(['demo', '--config', EXAMPLE, '--input', `page_view=${VIEWS}`, '--data-dir', join(parent, 'never')], env(), CEILING_MS);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim()).toBe(`sqs2pg: --input page_view=…: ${EXAMPLE} declares no pipeline page_view; did you mean page_views?`);
  });
});

describe('local --config', () => {
  it("prints every pipeline's ${VAR}, and run --drain --config works with what it printed", async () => {
    const local = startCli(['local', '--config', EXAMPLE, '--input', `page_views=${VIEWS}`, '--data-dir', join(parent, 'local')], env(), CEILING_MS * 2);
    try {
      await waitFor(() => /run --drain --config \S+\n/.test(local.output().stdout) || local.child.exitCode !== null, CEILING_MS, 'local to print how to reach it');
      const printed = local.output().stdout;
      expect(printed, local.output().stderr).toContain(`Sent 14 messages to page-views from ${VIEWS} (JSON Lines).`);
      const exported = Object.fromEntries([...printed.matchAll(/^ {2}export ([A-Z_0-9]+)=(\S+)$/gm)].map(([, name, value]) => [name!, value!]));
      expect(Object.keys(exported).sort()).toEqual(['DATABASE_URL', 'LOGINS_QUEUE_URL', 'PAGE_VIEWS_QUEUE_URL', 'SQS2PG_MASK_KEY_FILE']);
      expect(new URL(exported.PAGE_VIEWS_QUEUE_URL!).pathname).toMatch(/\/page-views$/);
      expect(printed).toContain(` run --drain --config ${EXAMPLE}\n`);

      const run = await runCli(['run', '--drain', '--config', EXAMPLE], { ...env(), ...exported, SQS2PG_HTTP_PORT: '0' }, CEILING_MS);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/^ {2}rows loaded {8}12$/m);
      expect(run.stdout).toMatch(/^ {2}quarantined {8}2 /m);

      const client = new pg.Client({ connectionString: exported.DATABASE_URL });
      await client.connect();
      try {
        const { rows } = await client.query<{ n: string }>("SELECT count(*) AS n FROM page_views WHERE masked_ip LIKE 'k1:%'");
        expect(Number(rows[0]?.n)).toBe(12);
        const quarantined = await client.query<{ n: string }>("SELECT count(*) AS n FROM sqs2pg.quarantine WHERE pipeline = 'page_views'");
        expect(Number(quarantined.rows[0]?.n)).toBe(2);
      } finally {
        await client.end();
      }
    } finally {
      local.child.kill('SIGINT');
    }
    const stopped = await local.done;
    expect(stopped.code, stopped.stderr).toBe(0);
  });
});
