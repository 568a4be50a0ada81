// Attack, against the real CLI, PostgreSQL and SQS server: bodies that plant secrets as keys (see
// hostile-keys.ts) go through `run --drain` with the vault on, and each quarantine record is read back
// as PostgreSQL stores it, every column. None holds a planted secret; neither does a sealed body in
// clear, nor anything the run printed. A valid event with a planted key that PostgreSQL refuses
// (a CHECK constraint) takes the other way into the quarantine (db_rejected), and holds none either.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestStack, migrateWithCli, runCli, type TestStack } from '../helpers/stack.js';
import { TEST_VAULT_PUBLIC_KEY } from '../helpers/vault.js';
import { bodyTextInShape, hostileBody, secret } from './hostile-keys.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
  await migrateWithCli(stack.databaseUrl);
  await stack.pool.query(`ALTER TABLE user_logins ADD CONSTRAINT no_blocked CHECK (device_type <> 'blocked')`);
});
afterAll(async () => {
  await stack.close();
});

describe('a quarantine record as PostgreSQL stores it holds no planted key', () => {
  it('for bodies refused by the transform and for rows refused by the database', async () => {
    const hostile = fc.sample(hostileBody, { seed: 2207, numRuns: 120 });
    const refusedRows = fc.sample(secret, { seed: 2208, numRuns: 20 }).map((planted) => ({
      secret: planted,
      body: JSON.stringify({ user_id: 'u-9', app_version: '2.0.1', device_type: 'blocked', ip: '198.51.100.77', locale: null, device_id: 'd-9', [planted]: { [planted]: 1 } }),
    }));
    // fauxqs 1.9.2 refuses characters above U+FFFF (its check lacks the u flag; AWS accepts them):
    // those bodies stay in the pure property test.
    const all = [...hostile, ...refusedRows].filter((entry) => ![...entry.body].some((char) => char.length > 1));
    expect(all.length).toBeGreaterThan(100);
    const queueUrl = await stack.newQueue();
    await stack.send(queueUrl, all.map((entry) => entry.body));

    const result = await runCli(['run', '--drain', '--log-level', 'debug'], stack.env(queueUrl, { SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY }), 120_000);
    expect(result.code, result.stderr).toBe(0);

    const records = await stack.pool.query<{ reason: string; body_shape: string | null; t: string }>('SELECT reason, body_shape, row_to_json(q)::text AS t FROM sqs2pg.quarantine q');
    const rows = await stack.pool.query<{ n: string }>('SELECT count(*) AS n FROM user_logins');
    // Every body is refused one way or the other: none may become a row.
    expect(Number(rows.rows[0]?.n)).toBe(0);
    expect(records.rows).toHaveLength(all.length);
    expect(records.rows.filter((record) => record.reason === 'db_rejected')).toHaveLength(all.filter((entry) => refusedRows.includes(entry)).length);
    const bodies = await stack.pool.query<{ ciphertext: Buffer }>('SELECT ciphertext FROM sqs2pg_vault.quarantine_bodies');
    expect(bodies.rows).toHaveLength(all.length);

    const secrets = [...new Set(all.map((entry) => entry.secret))];
    const printed = `${result.stdout}\n${result.stderr}`;
    const leaked = records.rows.flatMap((record) => secrets.filter((planted) => record.t.includes(planted)));
    expect(leaked).toEqual([]);
    for (const record of records.rows) {
      expect(record.body_shape).not.toBeNull();
      expect(bodyTextInShape(record.body_shape!), record.body_shape!).toBeUndefined();
    }
    for (const planted of secrets) {
      expect(printed).not.toContain(planted);
      for (const { ciphertext } of bodies.rows) expect(ciphertext.includes(Buffer.from(planted, 'utf8'))).toBe(false);
    }
  });
});
