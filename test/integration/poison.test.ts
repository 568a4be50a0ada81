// Poison messages: a row PostgreSQL itself refuses is isolated and quarantined while the rest of
// its batch loads, and a NUL the database could never store is caught before the database.
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import { countRows, createTestStack, migrateWithCli, runCli, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(async () => {
  await stack.close();
});

/** Sends the bodies and returns their SQS message ids, in order. */
async function sendWithIds(queueUrl: string, bodies: readonly string[]): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < bodies.length; start += 10) {
    const Entries = bodies.slice(start, start + 10).map((MessageBody, i) => ({ Id: String(i), MessageBody }));
    const output = await stack.sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries }));
    expect(output.Failed ?? []).toEqual([]);
    for (const sent of output.Successful ?? []) ids[start + Number(sent.Id)] = sent.MessageId!;
  }
  expect(ids.filter(Boolean)).toHaveLength(bodies.length);
  return ids;
}

interface Event {
  user_id: string;
  device_type: string;
  ip: string;
  device_id: string;
}

describe('poison messages', () => {
  it('quarantines the rows a CHECK constraint refuses and loads the rest of their batch', async () => {
    await migrateWithCli(stack.databaseUrl);
    await stack.pool.query(`ALTER TABLE user_logins ADD CONSTRAINT no_blackberry CHECK (device_type <> 'blackberry')`);

    const N = 100;
    const BLACKBERRY_AT = [4, 51, 97];
    const events = generateSample({ count: N, malformed: 0, seed: 41 }).bodies.map((body) => JSON.parse(body) as Event);
    for (const at of BLACKBERRY_AT) events[at]!.device_type = 'blackberry';
    // JSON.stringify writes the NUL as the escape \u0000: valid JSON, but no PostgreSQL text can hold it.
    const nul = { ...events[10]!, user_id: 'user\u0000one' };
    const bodies = [...events.map((event) => JSON.stringify(event)), JSON.stringify(nul)];
    expect(bodies.at(-1)).toContain('\\u0000');

    const queueUrl = await stack.newQueue();
    const ids = await sendWithIds(queueUrl, bodies);

    const result = await runCli(['run', '--drain'], stack.env(queueUrl));

    expect(result.code).toBe(0);
    expect(result.stderr).not.toMatch(/"level":(50|60)/);
    expect(await countRows(stack.pool)).toEqual({ rows: N - BLACKBERRY_AT.length, distinctIds: N - BLACKBERRY_AT.length, quarantined: 4 });
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });

    const quarantine = await stack.pool.query<{ sqs_message_id: string; reason: string; field: string | null; detail: string | null; all: string; body_shape: string; masked_ips: string[]; masked_device_ids: string[]; user_key: string | null }>(
      'SELECT sqs_message_id, reason, field, detail, row_to_json(q)::text AS all, body_shape, masked_ips, masked_device_ids, user_key FROM sqs2pg.quarantine q ORDER BY reason, sqs_message_id',
    );
    const refused = quarantine.rows.filter((row) => row.reason === 'db_rejected');
    expect(refused.map((row) => row.sqs_message_id).sort()).toEqual(BLACKBERRY_AT.map((at) => ids[at]).sort());
    expect(refused.map((row) => row.detail)).toEqual(['23514', '23514', '23514']);
    for (const row of refused) {
      const event = events[ids.indexOf(row.sqs_message_id)]!;
      expect(row.body_shape).toContain('{"path":"device_type","type":"string","length":10}');
      expect(row.masked_ips).toHaveLength(1);
      expect(row.masked_device_ids).toHaveLength(1);
      expect(row.user_key).toMatch(/^k1:[0-9a-f]{64}$/);
      for (const value of [event.ip, event.device_id, event.user_id, 'blackberry']) expect(row.all).not.toContain(value);
    }

    const badChar = quarantine.rows.filter((row) => row.reason !== 'db_rejected');
    expect(badChar).toEqual([expect.objectContaining({ sqs_message_id: ids[N], reason: 'bad_char', field: 'user_id' })]);
    expect(badChar[0]?.all).not.toContain(nul.ip);
    expect(badChar[0]?.all).not.toContain(nul.device_id);
    // Every other event of the batch is loaded, the blackberry ones are not.
    const loaded = await stack.pool.query<{ sqs_message_id: string }>('SELECT sqs_message_id FROM user_logins');
    const expected = ids.filter((_, at) => at < N && !BLACKBERRY_AT.includes(at));
    expect(loaded.rows.map((row) => row.sqs_message_id).sort()).toEqual(expected.sort());
  });
});
