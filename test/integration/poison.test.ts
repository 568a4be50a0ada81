// Poison messages: a row PostgreSQL itself refuses is isolated and quarantined while the rest of
// its batch loads, and a NUL the database could never store is caught before the database. The
// same test runs against the builtin logins and a declared pipeline (page_views).
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRowsOf, migratePipelines, PIPELINES_UNDER_TEST, recordMasks, type RecordMaskColumns } from '../helpers/page-views.js';
import { createTestStack, runCli, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
  await migratePipelines(stack.databaseUrl);
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

describe.each(PIPELINES_UNDER_TEST)('poison messages, $name', (pipeline) => {
  it('quarantines the rows a CHECK constraint refuses and loads the rest of their batch', async () => {
    await stack.pool.query(`ALTER TABLE ${pipeline.table} ADD CONSTRAINT no_blackberry CHECK (${pipeline.plainColumn} <> 'blackberry')`);
    const plainPath = pipeline.spec.columns.find((column) => column.name === pipeline.plainColumn)!.from;

    const N = 100;
    const BLACKBERRY_AT = [4, 51, 97];
    const events = Array.from({ length: N }, (_, i) => ({ subject: `${pipeline.name}-s${i}`, ip: `198.51.${i % 7}.${i}`, other: `p${i}-${pipeline.name}-other` }));
    const bodies = events.map((event, i) => pipeline.event(event.subject, event.ip, event.other, BLACKBERRY_AT.includes(i) ? 'blackberry' : undefined));
    // JSON.stringify writes the NUL as the escape \u0000: valid JSON, but no PostgreSQL text can hold it.
    const nul = { subject: 'user\u0000one', ip: '198.51.100.201', other: `nul-${pipeline.name}-other` };
    bodies.push(pipeline.event(nul.subject, nul.ip, nul.other));
    expect(bodies.at(-1)).toContain('\\u0000');

    const queueUrl = await stack.newQueue();
    const ids = await sendWithIds(queueUrl, bodies);

    const result = await runCli(['run', '--drain'], pipeline.env(stack, queueUrl));

    expect(result.code).toBe(0);
    expect(result.stderr).not.toMatch(/"level":(50|60)/);
    expect(await countRowsOf(stack.pool, pipeline)).toEqual({ rows: N - BLACKBERRY_AT.length, distinctIds: N - BLACKBERRY_AT.length, quarantined: 4 });
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });

    const quarantine = await stack.pool.query<{ sqs_message_id: string; reason: string; field: string | null; detail: string | null; all: string; body_shape: string; user_key: string | null } & RecordMaskColumns>(
      `SELECT sqs_message_id, reason, field, detail, row_to_json(q)::text AS all, body_shape, masked_ips, masked_device_ids, masked_values, user_key
         FROM sqs2pg.quarantine q WHERE pipeline = $1 ORDER BY reason, sqs_message_id`,
      [pipeline.name],
    );
    const refused = quarantine.rows.filter((row) => row.reason === 'db_rejected');
    expect(refused.map((row) => row.sqs_message_id).sort()).toEqual(BLACKBERRY_AT.map((at) => ids[at]).sort());
    expect(refused.map((row) => row.detail)).toEqual(['23514', '23514', '23514']);
    for (const row of refused) {
      const event = events[ids.indexOf(row.sqs_message_id)]!;
      expect(row.body_shape).toContain(`{"path":"${plainPath.kind === 'path' ? plainPath.path.join('.') : ''}","type":"string","length":10}`);
      // One mask of each personal value, so an officer finds the record by the value's mask.
      const masks = recordMasks(pipeline, row);
      expect(Object.keys(masks).sort()).toEqual([...pipeline.masked].sort());
      for (const column of pipeline.masked) expect(masks[column]).toHaveLength(1);
      expect(row.user_key).toMatch(/^k1:[0-9a-f]{64}$/);
      for (const value of [event.ip, event.other, event.subject, 'blackberry']) expect(row.all).not.toContain(value);
    }

    const badChar = quarantine.rows.filter((row) => row.reason !== 'db_rejected');
    // The field as the body names it: user_id; visitor.id.
    expect(badChar).toEqual([expect.objectContaining({ sqs_message_id: ids[N], reason: 'bad_char', field: pipeline.spec.subject?.join('.') })]);
    expect(badChar[0]?.all).not.toContain(nul.ip);
    expect(badChar[0]?.all).not.toContain(nul.other);
    // Every other event of the batch is loaded, the blackberry ones are not.
    const loaded = await stack.pool.query<{ sqs_message_id: string }>(`SELECT sqs_message_id FROM ${pipeline.table}`);
    const expected = ids.filter((_, at) => at < N && !BLACKBERRY_AT.includes(at));
    expect(loaded.rows.map((row) => row.sqs_message_id).sort()).toEqual(expected.sort());
  });
});
