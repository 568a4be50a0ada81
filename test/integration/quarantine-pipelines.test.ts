// The quarantine per pipeline, against a real PostgreSQL and the built CLI: records of logins (written
// by run) and of a declared pipeline (the record reject() makes for it, stored as a worker stores
// one) listed with their pipeline and filtered by --pipeline; show prints a declared record's masks
// by label and nothing in clear; masked_values refuses anything but masks, whoever writes it; and a
// mask-key rotation re-keys a declared record from its sealed body with its spec, or leaves it be.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rekeyQuarantine } from '../../src/quarantine/rekey.js';
import { createVaultOpener, createVaultSealer, quarantineContext } from '../../src/vault/sealed-box.js';
import { TEST_MASK_KEY_2, TEST_VAULT_PRIVATE_KEY, TEST_VAULT_PUBLIC_KEY } from '../helpers/vault.js';
import { createMasker } from '../../src/transform/mask.js';
import { reject } from '../../src/transform/message-to-row.js';
import { parseJson } from '../../src/transform/login-event.js';
import type { Rejection } from '../../src/model/message.js';
import { PAGE_VIEWS } from '../fixtures/pipelines.js';
import { createTestStack, migrateWithCli, runCli, TEST_MASK_KEY, type TestStack } from '../helpers/stack.js';

const masker = createMasker(Buffer.from(TEST_MASK_KEY, 'hex'), 'k1');
const EMAIL = 'erin@example.com';

let stack: TestStack;
const officer = () => ({ PATH: process.env.PATH, DATABASE_URL: stack.databaseUrl });

/** A refused page view, as the runtime quarantines it: its record from reject() with the pipeline's spec. */
function pageViewBody(fields: Record<string, unknown>): string {
  return JSON.stringify({ visitor: { id: 'V-ERIN-5', email: EMAIL }, ip: '203.0.113.50', page: { url: 'https://shop.example/erin' }, ...fields });
}

function pageViewRecord(messageId: string, fields: Record<string, unknown>): Rejection {
  const body = pageViewBody(fields);
  return reject({ messageId, body, sentAtMs: Date.UTC(2026, 0, 2), receiveCount: 1 }, masker, 'bad_type', 'duration_ms', null, Buffer.byteLength(body), parseJson(body), PAGE_VIEWS);
}

async function store(record: Rejection, pipeline: string): Promise<void> {
  await stack.pool.query(
    `INSERT INTO sqs2pg.quarantine (sqs_message_id, pipeline, reason, field, receive_count, sent_at, body_bytes, body_sha256, body_shape, masked_ips, masked_device_ids, masked_values, user_key)
     VALUES ($1, $2, $3, $4, $5, to_timestamp($6 / 1000.0), $7, $8, $9, $10, $11, $12, $13)`,
    [record.messageId, pipeline, record.reason, record.field, record.receiveCount, record.sentAtMs, record.body!.bytes, record.body!.hash, record.body!.shape, record.body!.maskedIps, record.body!.maskedDeviceIds, JSON.stringify(record.body!.maskedValues), record.userKey],
  );
}

beforeAll(async () => {
  stack = await createTestStack();
  await migrateWithCli(stack.databaseUrl);
  const queueUrl = await stack.newQueue();
  await stack.send(queueUrl, ['not json, from 198.51.100.60', '{"user_id": "u-1", "ip": "198.51.100.61"}']);
  const result = await runCli(['run', '--drain'], stack.env(queueUrl));
  expect(result.code, result.stderr).toBe(0);
  await store(pageViewRecord('pv-1', { duration_ms: 'long' }), 'page_views');
  await store(pageViewRecord('pv-2', { duration_ms: true }), 'page_views');
  await store(pageViewRecord('pv-3', { duration_ms: [] }), 'page_views');
});
afterAll(async () => {
  await stack.close();
});

describe('sqs2pg quarantine, per pipeline', () => {
  it('list shows each count\'s pipeline; the logins records run wrote hold no declared masks', async () => {
    const list = await runCli(['quarantine', 'list'], officer());
    expect(list.code, list.stderr).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines).toEqual(expect.arrayContaining([
      expect.stringMatching(/^\d{4}-\d{2}-\d{2} {2}logins {6}missing_field +1 {2}\d+ bytes$/) as string,
      expect.stringMatching(/^\d{4}-\d{2}-\d{2} {2}logins {6}not_json +1 {2}\d+ bytes$/) as string,
      expect.stringMatching(/^\d{4}-\d{2}-\d{2} {2}page_views {2}bad_type +3 {2}\d+ bytes$/) as string,
    ]));
    const logins = await stack.pool.query<{ masked_values: unknown }>(`SELECT masked_values FROM sqs2pg.quarantine WHERE pipeline = 'logins'`);
    expect(logins.rows).toEqual([{ masked_values: {} }, { masked_values: {} }]);
  });

  it('--pipeline NAME lists that pipeline\'s records alone, and says when it has none', async () => {
    const views = await runCli(['quarantine', 'list', '--pipeline', 'page_views'], officer());
    expect(views.code, views.stderr).toBe(0);
    expect(views.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^\d{4}-\d{2}-\d{2} {2}page_views {2}bad_type +3 {2}\d+ bytes$/) as string]);
    const none = await runCli(['quarantine', 'list', '--pipeline', 'purchases'], officer());
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout.trim()).toBe('the quarantine holds no record of pipeline purchases');
  });

  it('show prints a declared record\'s pipeline and masks by label, and none of its values', async () => {
    const show = await runCli(['quarantine', 'show', 'pv-1'], officer());
    expect(show.code, show.stderr).toBe(0);
    const record = JSON.parse(show.stdout) as { pipeline: string; maskedValues: Record<string, string[]>; userKey: string; bodyShape: { entries: { path: string }[] } };
    expect(record.pipeline).toBe('page_views');
    expect(record.maskedValues).toEqual({ masked_email: [masker.mask('masked_email', EMAIL)], masked_ip: [masker.mask('masked_ip', '203.0.113.50')] });
    expect(record.userKey).toBe(masker.subjectKey('page_views', 'V-ERIN-5'));
    expect(record.bodyShape.entries.map((entry) => entry.path)).toContain('visitor.email');
    for (const value of [EMAIL, 'V-ERIN-5', '203.0.113.50', 'shop.example']) expect(show.stdout).not.toContain(value);
  });

  it('an officer who knows a value finds the records that hold its mask', async () => {
    const found = await stack.pool.query<{ sqs_message_id: string }>(
      `SELECT sqs_message_id FROM sqs2pg.quarantine WHERE masked_values @> jsonb_build_object('masked_email', jsonb_build_array($1::text)) ORDER BY 1`,
      [masker.mask('masked_email', EMAIL)],
    );
    expect(found.rows.map((row) => row.sqs_message_id)).toEqual(['pv-1', 'pv-2', 'pv-3']);
  });

  it.each([
    ['a value in clear', { masked_email: [EMAIL] }],
    ['a mask with a value beside it', { masked_email: [masker.mask('masked_email', EMAIL), EMAIL] }],
    ['a value where the list goes', { masked_email: masker.mask('masked_email', EMAIL) }],
    ['a value as a label', { [EMAIL]: [] }],
    ['an array, not a map', [masker.mask('masked_email', EMAIL)]],
  ])('masked_values refuses %s (23514)', async (_name, values) => {
    const attempt = stack.pool.query(
      `INSERT INTO sqs2pg.quarantine (sqs_message_id, pipeline, reason, receive_count, sent_at, masked_values) VALUES ('attack', 'page_views', 'bad_type', 1, now(), $1)`,
      [JSON.stringify(values)],
    );
    await expect(attempt).rejects.toMatchObject({ code: '23514', constraint: 'quarantine_masked_values_check' });
  });
});

describe('a mask-key rotation and a declared pipeline\'s records', () => {
  const next = createMasker(Buffer.from(TEST_MASK_KEY_2, 'hex'), 'k2');
  const opener = createVaultOpener(Buffer.from(TEST_VAULT_PRIVATE_KEY, 'hex'), 'v1');

  async function storeSealed(messageId: string, fields: Record<string, unknown>, pipeline = 'page_views'): Promise<void> {
    await store(pageViewRecord(messageId, fields), pipeline);
    const sealed = createVaultSealer(Buffer.from(TEST_VAULT_PUBLIC_KEY, 'hex'), 'v1').batch().seal(quarantineContext(messageId), pageViewBody(fields));
    await stack.pool.query(
      'INSERT INTO sqs2pg_vault.quarantine_bodies (pipeline, sqs_message_id, vault_key_id, ephemeral_public_key, nonce, ciphertext) VALUES ($1, $2, $3, $4, $5, $6)',
      [pipeline, messageId, sealed.vaultKeyId, sealed.ephemeralPublicKey, sealed.nonce, sealed.ciphertext],
    );
  }

  const recordOf = async (id: string) =>
    (await stack.pool.query<{ user_key: string; masked_values: Record<string, string[]>; masked_ips: string[] }>('SELECT user_key, masked_values, masked_ips FROM sqs2pg.quarantine WHERE sqs_message_id = $1', [id])).rows[0];

  it('without the pipeline\'s spec: left under the old key and counted, never read by the login event\'s rules', async () => {
    await storeSealed('rk-1', { duration_ms: 'x' });
    const before = await recordOf('rk-1');
    const client = await stack.pool.connect();
    try {
      const result = await rekeyQuarantine(client, next, opener, { after: 'rk-', limit: 10 });
      expect(result).toMatchObject({ rekeyed: 0, undeclared: 1 });
    } finally {
      client.release();
    }
    expect(await recordOf('rk-1')).toEqual(before);
  });

  it('with it: the subject\'s key and the masks by label under the new key, as a new record would have them', async () => {
    const client = await stack.pool.connect();
    try {
      const result = await rekeyQuarantine(client, next, opener, { after: 'rk-', limit: 10, pipelines: new Map([['page_views', PAGE_VIEWS]]) });
      expect(result).toMatchObject({ rekeyed: 1, undeclared: 0 });
    } finally {
      client.release();
    }
    expect(await recordOf('rk-1')).toEqual({
      user_key: next.subjectKey('page_views', 'V-ERIN-5'),
      masked_values: { masked_email: [next.mask('masked_email', EMAIL)], masked_ip: [next.mask('masked_ip', '203.0.113.50')] },
      masked_ips: [],
    });
  });

  it('two pipelines\' records of one message id: a batch at a time, each re-keyed from its own body (the cursor skips neither)', async () => {
    const twin = { ...PAGE_VIEWS, name: 'page_views_b' };
    await storeSealed('rt-1', { duration_ms: 'x' });
    await storeSealed('rt-1', { duration_ms: 'y' }, twin.name);
    const pipelines = new Map([[PAGE_VIEWS.name, PAGE_VIEWS], [twin.name, twin]]);
    const client = await stack.pool.connect();
    try {
      const first = await rekeyQuarantine(client, next, opener, { after: 'rt-', limit: 1, pipelines });
      expect(first).toMatchObject({ rekeyed: 1 });
      const second = await rekeyQuarantine(client, next, opener, { after: first.last, limit: 1, pipelines });
      expect(second).toMatchObject({ rekeyed: 1 });
      expect(await rekeyQuarantine(client, next, opener, { after: second.last, limit: 1, pipelines })).toMatchObject({ rekeyed: 0, last: undefined });
    } finally {
      client.release();
    }
    const keys = await stack.pool.query<{ pipeline: string; user_key: string }>(`SELECT pipeline, user_key FROM sqs2pg.quarantine WHERE sqs_message_id = 'rt-1' ORDER BY 1`);
    expect(keys.rows).toEqual([
      { pipeline: 'page_views', user_key: next.subjectKey('page_views', 'V-ERIN-5') },
      { pipeline: 'page_views_b', user_key: next.subjectKey('page_views', 'V-ERIN-5') },
    ]);
  });
});
