// Attack, against the real CLI, PostgreSQL and SQS server: bodies that plant secrets as keys (see
// hostile-keys.ts) go through `run --drain` with the vault on, and each quarantine record is read back
// as PostgreSQL stores it, every column. None holds a planted secret; neither does a sealed body in
// clear, nor anything the run printed. A valid event with a planted key that PostgreSQL refuses
// (a CHECK constraint) takes the other way into the quarantine (db_rejected), and holds none either.
// The same test runs against the builtin logins and a declared pipeline (page_views): a record's
// shape may show no key but its own pipeline's field names.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migratePipelines, PIPELINES_UNDER_TEST, type PipelineName } from '../helpers/page-views.js';
import { createTestStack, runCli, type TestStack } from '../helpers/stack.js';
import { TEST_VAULT_PUBLIC_KEY } from '../helpers/vault.js';
import { bodyTextInShape, FIELD_NAMES, hostileBody, secret } from './hostile-keys.js';

/** Per pipeline: the names its record's shape may show, and a valid event its table's CHECK refuses, `planted` as a key. */
const REFUSED: Record<PipelineName, { names: readonly string[]; body(planted: string): string }> = {
  logins: {
    names: FIELD_NAMES,
    body: (planted) => JSON.stringify({ user_id: 'u-9', app_version: '2.0.1', device_type: 'blocked', ip: '198.51.100.77', locale: null, device_id: 'd-9', [planted]: { [planted]: 1 } }),
  },
  page_views: {
    names: ['visitor', 'id', 'email', 'ip', 'page', 'url', 'duration_ms', 'viewed_at', 'tags'],
    body: (planted) =>
      JSON.stringify({ visitor: { id: 'v-9', email: 'v9@example.com' }, ip: '198.51.100.77', page: { url: 'blocked' }, viewed_at: '2024-05-01T10:00:00Z', [planted]: { [planted]: 1 } }),
  },
};

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
  await migratePipelines(stack.databaseUrl);
  await stack.pool.query(`ALTER TABLE user_logins ADD CONSTRAINT no_blocked CHECK (device_type <> 'blocked')`);
  await stack.pool.query(`ALTER TABLE page_views ADD CONSTRAINT no_blocked CHECK (url <> 'blocked')`);
});
afterAll(async () => {
  await stack.close();
});

describe.each(PIPELINES_UNDER_TEST)('a quarantine record of $name as PostgreSQL stores it holds no planted key', (pipeline) => {
  it('for bodies refused by the transform and for rows refused by the database', async () => {
    await stack.pool.query('TRUNCATE sqs2pg.quarantine, sqs2pg_vault.quarantine_bodies');
    const refused = REFUSED[pipeline.name];
    // Login-shaped: a declared pipeline refuses them too (no field of its own), each its own way.
    const hostile = fc.sample(hostileBody, { seed: 2207, numRuns: 120 });
    const refusedRows = fc.sample(secret, { seed: 2208, numRuns: 20 }).map((planted) => ({ secret: planted, body: refused.body(planted) }));
    // fauxqs 1.9.2 refuses characters above U+FFFF (its check lacks the u flag; AWS accepts them):
    // those bodies stay in the pure property test.
    const all = [...hostile, ...refusedRows].filter((entry) => ![...entry.body].some((char) => char.length > 1));
    expect(all.length).toBeGreaterThan(100);
    const queueUrl = await stack.newQueue();
    await stack.send(queueUrl, all.map((entry) => entry.body));

    const result = await runCli(['run', '--drain', '--log-level', 'debug'], pipeline.env(stack, queueUrl, { SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY }), 120_000);
    expect(result.code, result.stderr).toBe(0);

    const records = await stack.pool.query<{ reason: string; pipeline: string; body_shape: string | null; t: string }>(
      'SELECT reason, pipeline, body_shape, row_to_json(q)::text AS t FROM sqs2pg.quarantine q',
    );
    const rows = await stack.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${pipeline.table}`);
    // Every body is refused one way or the other: none may become a row.
    expect(Number(rows.rows[0]?.n)).toBe(0);
    expect(records.rows).toHaveLength(all.length);
    expect(new Set(records.rows.map((record) => record.pipeline))).toEqual(new Set([pipeline.name]));
    expect(records.rows.filter((record) => record.reason === 'db_rejected')).toHaveLength(all.filter((entry) => refusedRows.includes(entry)).length);
    const bodies = await stack.pool.query<{ ciphertext: Buffer }>('SELECT ciphertext FROM sqs2pg_vault.quarantine_bodies');
    expect(bodies.rows).toHaveLength(all.length);

    const secrets = [...new Set(all.map((entry) => entry.secret))];
    const printed = `${result.stdout}\n${result.stderr}`;
    const leaked = records.rows.flatMap((record) => secrets.filter((planted) => record.t.includes(planted)));
    expect(leaked).toEqual([]);
    for (const record of records.rows) {
      expect(record.body_shape).not.toBeNull();
      expect(bodyTextInShape(record.body_shape!, refused.names), record.body_shape!).toBeUndefined();
    }
    for (const planted of secrets) {
      expect(printed).not.toContain(planted);
      for (const { ciphertext } of bodies.rows) expect(ciphertext.includes(Buffer.from(planted, 'utf8'))).toBe(false);
    }
  });
});
