// The quarantine against real servers: a message PostgreSQL refuses in every form never stops a
// drain (LATIN1 and a user id it cannot hold; a record refused, then a minimal record refused too),
// sealed bodies are readable only through the audit, and replay loads what a fixed rule now allows.
import { randomBytes } from 'node:crypto';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import { generateVaultKeyPair } from '../../src/vault/sealed-box.js';
import { countRows, createTestStack, dropDatabase, migrateWithCli, runCli, TEST_MASK_KEY, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
  await migrateWithCli(stack.databaseUrl);
});
afterAll(async () => {
  await stack.close();
});

async function sendWithIds(queueUrl: string, bodies: readonly string[]): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < bodies.length; start += 10) {
    const Entries = bodies.slice(start, start + 10).map((MessageBody, i) => ({ Id: String(i), MessageBody }));
    const output = await stack.sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries }));
    expect(output.Failed ?? []).toEqual([]);
    for (const sent of output.Successful ?? []) ids[start + Number(sent.Id)] = sent.MessageId!;
  }
  return ids;
}

const login = (fields: Record<string, unknown> = {}) =>
  JSON.stringify({ user_id: 'u-1', app_version: '1.2.3', device_type: 'ios', ip: '198.51.100.20', locale: 'DE', device_id: 'tablet-of-carol', ...fields });

describe('a message PostgreSQL refuses never stops the pipeline', () => {
  it('LATIN1 database, user_id "ユーザー": the row becomes a full record the database can hold, and the drain ends', async () => {
    const name = `sqs2pg_latin1_${randomBytes(5).toString('hex')}`;
    const adminUrl = inject('adminDatabaseUrl');
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'`);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    const pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
    await admin.end();
    try {
      const queueUrl = await stack.newQueue();
      const good = generateSample({ count: 30, malformed: 0, seed: 101 }).bodies;
      const ids = await sendWithIds(queueUrl, [...good, login({ user_id: 'ユーザー' })]);
      const result = await runCli(['run', '--drain'], stack.env(queueUrl, { DATABASE_URL: url.toString() }));
      expect(result.code, result.stderr).toBe(0);
      expect(await countRows(pool)).toMatchObject({ rows: 30, quarantined: 1 });
      const record = await pool.query<{ user_key: string; t: string }>('SELECT reason, detail, body_bytes, user_key, masked_ips, row_to_json(q)::text AS t FROM sqs2pg.quarantine q WHERE sqs_message_id = $1', [ids[30]]);
      expect(record.rows[0]).toMatchObject({ reason: 'db_rejected', detail: '22P05', body_bytes: Buffer.byteLength(login({ user_id: 'ユーザー' })) });
      expect(record.rows[0]?.user_key).toMatch(/^k1:[0-9a-f]{64}$/);
      expect(record.rows[0]?.t).not.toContain('198.51.100.20');
      expect(record.rows[0]?.t).not.toContain('tablet-of-carol');
      expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });
    } finally {
      // dropDatabase waits until the server has closed this pool's session: no 57P01 for it.
      await pool.end();
      await dropDatabase(adminUrl, name);
    }
  });

  it('a full record refused: the minimal record (ids, db_rejected, SQLSTATE, nothing from the body) is written', async () => {
    await stack.pool.query('ALTER TABLE sqs2pg.quarantine ADD CONSTRAINT small_bodies_only CHECK (body_bytes IS NULL OR body_bytes < 60)');
    try {
      const queueUrl = await stack.newQueue();
      const bad = `not json at all, from ip 198.51.100.21 ${'x'.repeat(80)}`;
      const ids = await sendWithIds(queueUrl, [...generateSample({ count: 20, malformed: 0, seed: 102 }).bodies, bad]);
      const result = await runCli(['run', '--drain'], stack.env(queueUrl));
      expect(result.code, result.stderr).toBe(0);
      const record = await stack.pool.query('SELECT reason, field, detail, body_bytes, body_sha256, body_shape, user_key FROM sqs2pg.quarantine WHERE sqs_message_id = $1', [ids[20]]);
      expect(record.rows).toEqual([{ reason: 'db_rejected', field: null, detail: '23514', body_bytes: null, body_sha256: null, body_shape: null, user_key: null }]);
      expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });
    } finally {
      await stack.pool.query('ALTER TABLE sqs2pg.quarantine DROP CONSTRAINT small_bodies_only');
    }
  });

  it('even the minimal record refused: that message is left in the queue, hidden, logged once; the rest load and the drain ends', async () => {
    await stack.pool.query(`ALTER TABLE sqs2pg.quarantine ADD CONSTRAINT no_db_rejected CHECK (reason <> 'db_rejected') NOT VALID`);
    await stack.pool.query(`ALTER TABLE user_logins ADD CONSTRAINT no_blackberry CHECK (device_type <> 'blackberry')`);
    try {
      const before = (await countRows(stack.pool)).rows;
      const queueUrl = await stack.newQueue();
      const ids = await sendWithIds(queueUrl, [...generateSample({ count: 40, malformed: 0, seed: 103 }).bodies, login({ device_type: 'blackberry' })]);
      const result = await runCli(['run', '--drain'], stack.env(queueUrl));
      expect(result.code, result.stderr).toBe(0);
      expect((await countRows(stack.pool)).rows).toBe(before + 40);
      const quarantined = await stack.pool.query('SELECT 1 FROM sqs2pg.quarantine WHERE sqs_message_id = $1', [ids[40]]);
      expect(quarantined.rowCount).toBe(0);
      expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 1 });
      const lines = result.stderr.split('\n').filter((line) => line.includes('"msg":"PostgreSQL refused message'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(ids[40]);
      for (const text of [result.stderr, result.stdout]) {
        expect(text).not.toContain('198.51.100.20');
        expect(text).not.toContain('tablet-of-carol');
      }
    } finally {
      await stack.pool.query('ALTER TABLE sqs2pg.quarantine DROP CONSTRAINT no_db_rejected');
      await stack.pool.query('ALTER TABLE user_logins DROP CONSTRAINT no_blackberry');
    }
  });
});

describe('sealed bodies: quarantine show --reveal and replay', () => {
  const { publicKey, privateKey } = generateVaultKeyPair();
  const officer = () => ({ PATH: process.env.PATH, DATABASE_URL: stack.databaseUrl, SQS2PG_VAULT_PRIVATE_KEY: privateKey.toString('hex'), SQS2PG_MASK_KEY: TEST_MASK_KEY });
  // The fourth: a valid event with a 900 KB extra field, as large as a queue created without
  // attributes carries: replay reads it under SQS's limit, as run does, not as too_large.
  const bodies = [
    login({ user_id: 'bb-1', device_type: 'blackberry' }),
    login({ user_id: 'bb-2', device_type: 'blackberry', ip: '198.51.100.22' }),
    login({ user_id: 'v-1', app_version: 'v1-beta' }),
    login({ user_id: 'bb-3', device_type: 'blackberry', context: 'c'.repeat(900_000) }),
  ];
  let ids: string[] = [];

  beforeAll(async () => {
    await stack.pool.query(`ALTER TABLE user_logins ADD CONSTRAINT no_blackberry_2 CHECK (device_type <> 'blackberry')`);
    const queueUrl = await stack.newQueue();
    ids = await sendWithIds(queueUrl, bodies);
    const result = await runCli(['run', '--drain'], stack.env(queueUrl, { SQS2PG_VAULT_PUBLIC_KEY: publicKey.toString('hex') }));
    expect(result.code, result.stderr).toBe(0);
  });

  it('lists counts by reason and day, and shows a record\'s shape without any value', async () => {
    const list = await runCli(['quarantine', 'list'], { PATH: process.env.PATH, DATABASE_URL: stack.databaseUrl });
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/\d{4}-\d{2}-\d{2} {2}logins {2}db_rejected +\d+/);
    const show = await runCli(['quarantine', 'show', ids[0]!], { PATH: process.env.PATH, DATABASE_URL: stack.databaseUrl });
    expect(show.code, show.stderr).toBe(0);
    const record = JSON.parse(show.stdout) as { reason: string; bodyShape: { entries: { path: string }[] }; maskedIps: string[] };
    expect(record.reason).toBe('db_rejected');
    expect(record.bodyShape.entries.map((entry) => entry.path)).toContain('device_id');
    expect(record.maskedIps).toHaveLength(1);
    for (const value of ['bb-1', 'blackberry', '198.51.100.20', 'tablet-of-carol']) expect(show.stdout).not.toContain(value);
  });

  it('show --reveal prints the original body once its audit row is committed', async () => {
    const shown = await runCli(['quarantine', 'show', ids[0]!, '--reveal', '--reason', 'ticket Q-1'], officer());
    expect(shown.code, shown.stderr).toBe(0);
    expect((JSON.parse(shown.stdout) as { body: string }).body).toBe(bodies[0]);
    const audit = await stack.pool.query(`SELECT action, subject, reason FROM sqs2pg_vault.audit WHERE action = 'quarantine_reveal'`);
    expect(audit.rows).toEqual([{ action: 'quarantine_reveal', subject: ids[0], reason: 'ticket Q-1' }]);
    const without = await runCli(['quarantine', 'show', ids[0]!, '--reveal', '--reason', 'ticket Q-1'], { PATH: process.env.PATH, DATABASE_URL: stack.databaseUrl });
    expect(without.code).toBe(2);
    expect(without.stderr).toContain('vault private key');
  });

  it('replay without the vault private key says it is impossible', async () => {
    const result = await runCli(['replay', '--reason', 'fix'], { PATH: process.env.PATH, DATABASE_URL: stack.databaseUrl, SQS2PG_MASK_KEY: TEST_MASK_KEY });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('without the vault there is no original body to replay');
  });

  it('after the constraint is dropped, replay loads each row exactly once and removes its record; a second replay changes nothing', async () => {
    await stack.pool.query('ALTER TABLE user_logins DROP CONSTRAINT no_blackberry_2');
    const first = await runCli(['replay', '--reason', 'constraint fixed, ticket Q-2'], officer());
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('3 loaded');
    const rows = await stack.pool.query('SELECT sqs_message_id, device_type, masked_ip FROM user_logins WHERE sqs_message_id = ANY($1) ORDER BY user_id', [ids]);
    expect(rows.rows.map((row: { sqs_message_id: string }) => row.sqs_message_id).sort()).toEqual([ids[0], ids[1], ids[3]].sort());
    expect(rows.rows[0]).toMatchObject({ device_type: 'blackberry', masked_ip: expect.stringMatching(/^k1:[0-9a-f]{64}$/) as string });
    const left = await stack.pool.query('SELECT sqs_message_id, reason FROM sqs2pg.quarantine WHERE sqs_message_id = ANY($1)', [ids]);
    expect(left.rows).toEqual([{ sqs_message_id: ids[2], reason: 'bad_app_version' }]);
    const audited = await stack.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM sqs2pg_vault.audit WHERE action = 'replay' AND subject = ANY($1)`, [ids]);
    expect(audited.rows[0]?.n).toBeGreaterThanOrEqual(4);

    const snapshot = async () => JSON.stringify((await stack.pool.query('SELECT * FROM user_logins ORDER BY sqs_message_id')).rows) + JSON.stringify((await stack.pool.query('SELECT sqs_message_id, reason FROM sqs2pg.quarantine ORDER BY 1')).rows);
    const before = await snapshot();
    const second = await runCli(['replay', '--reason', 'again, ticket Q-2'], officer());
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('0 loaded');
    expect(await snapshot()).toBe(before);
  });
});
