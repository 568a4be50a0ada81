// Wirings as AWS users have them (issue 26): login events published through a real SNS topic with an
// SQS subscription (fauxqs; raw delivery off, SNS's default), each notification delivered twice as SNS
// may; EventBridge events (fauxqs has no EventBridge: envelopes built as EventBridge writes them).
// Through the lean client and the SDK's: one row per event, keyed by the envelope, nothing in clear.
import { CreateTopicCommand, PublishBatchCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import { canonicalIp } from '../../src/transform/ip.js';
import { parseLoginEvent } from '../../src/transform/login-event.js';
import { createMasker } from '../../src/transform/mask.js';
import { countRows, createTestStack, migrateWithCli, runCli, TEST_MASK_KEY, waitFor, type TestStack } from '../helpers/stack.js';
import { TEST_VAULT_PRIVATE_KEY, TEST_VAULT_PUBLIC_KEY } from '../helpers/vault.js';

const masker = createMasker(Buffer.from(TEST_MASK_KEY, 'hex'), 'k1');

// One database and one SQS server for the file: each test reads back only what it made (its users,
// its records), so none depends on another's leftovers.
let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
  await migrateWithCli(stack.databaseUrl);
});
afterAll(async () => {
  await stack.close();
});

/** The quarantine's record ids now: a test's own records are those not among them. */
async function recordIds(): Promise<string[]> {
  return (await stack.pool.query<{ id: string }>('SELECT sqs_message_id AS id FROM sqs2pg.quarantine')).rows.map((row) => row.id);
}

interface Notification {
  MessageId: string;
  Message: string;
  Timestamp: string;
}

/** A topic with `queues` subscribed (raw delivery off), and an SNS client on the test server. */
async function topicFor(stack: TestStack, queues: readonly string[]): Promise<{ sns: SNSClient; topicArn: string }> {
  const sns = new SNSClient({ region: 'us-east-1', endpoint: stack.sqsEndpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const topic = await sns.send(new CreateTopicCommand({ Name: `logins-${randomBytes(4).toString('hex')}` }));
  const topicArn = topic.TopicArn!;
  for (const queueUrl of queues) {
    const attributes = await stack.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
    await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: attributes.Attributes!.QueueArn! }));
  }
  return { sns, topicArn };
}

async function publishAll(sns: SNSClient, topicArn: string, bodies: readonly string[]): Promise<void> {
  for (let at = 0; at < bodies.length; at += 10) {
    const entries = bodies.slice(at, at + 10).map((Message, i) => ({ Id: String(i), Message }));
    const output = await sns.send(new PublishBatchCommand({ TopicArn: topicArn, PublishBatchRequestEntries: entries }));
    expect(output.Failed ?? []).toEqual([]);
  }
}

/** Receives every body of a queue nobody else reads (left hidden: the queue is thrown away). */
async function receiveBodies(stack: TestStack, queueUrl: string, count: number): Promise<string[]> {
  const bodies: string[] = [];
  await waitFor(
    async () => {
      const output = await stack.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 600 }));
      for (const message of output.Messages ?? []) bodies.push(message.Body!);
      return bodies.length >= count;
    },
    30_000,
    `${count} notifications in the capture queue`,
  );
  return bodies;
}

function eventsOf(bodies: readonly string[]): { user_id: string; ip: string; device_id: string }[] {
  return bodies.flatMap((body) => {
    try {
      const value = JSON.parse(body) as { user_id?: unknown; ip?: unknown; device_id?: unknown };
      return typeof value.user_id === 'string' && typeof value.ip === 'string' && typeof value.device_id === 'string'
        ? [{ user_id: value.user_id, ip: value.ip, device_id: value.device_id }]
        : [];
    } catch {
      return [];
    }
  });
}

const byId = (a: { sqs_message_id: string }, b: { sqs_message_id: string }) => (a.sqs_message_id < b.sqs_message_id ? -1 : a.sqs_message_id > b.sqs_message_id ? 1 : 0);

function eventBridge(detail: unknown, id: string, time: string): string {
  return JSON.stringify({ version: '0', id, 'detail-type': 'UserLoggedIn', source: 'com.example.auth', account: '000000000000', time, region: 'us-east-1', resources: [], detail });
}

// Seeds of each client's own: its users are not the other's.
describe.each([
  ['lean', 0],
  ['sdk', 1000],
] as const)('envelopes, --sqs-client %s', (client, seedOffset) => {

  it('SNS -> SQS: every event published through the topic is one row, also when SNS delivers it twice', async () => {
    const queueUrl = await stack.newQueue();
    // A second subscriber of the topic sees the very notifications the loader's queue gets: sent on
    // to that queue again, each is SNS's own redelivery (the same MessageId in a second SQS message).
    const captureUrl = await stack.newQueue();
    const { sns, topicArn } = await topicFor(stack, [queueUrl, captureUrl]);
    const sample = generateSample({ count: 120, malformed: 6, seed: 26 + seedOffset });
    try {
      await publishAll(sns, topicArn, sample.bodies);
    } finally {
      sns.destroy();
    }
    const copies = await receiveBodies(stack, captureUrl, sample.bodies.length);
    await stack.send(queueUrl, copies);
    await waitFor(async () => (await stack.queueDepth(queueUrl)).visible === 2 * sample.bodies.length, 20_000, 'both copies of every notification');
    const before = await countRows(stack.pool);
    const earlier = await recordIds();

    const result = await runCli(['run', '--drain'], stack.env(queueUrl, { SQS2PG_SQS_CLIENT: client }));

    expect(result.code, result.stderr).toBe(0);
    expect(await countRows(stack.pool)).toEqual({ rows: before.rows + 120, distinctIds: before.distinctIds + 120, quarantined: before.quarantined + 6 });
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });
    // Keyed by the notification, dated by it: the ids and dates SNS wrote.
    const notifications = copies.map((body) => JSON.parse(body) as Notification);
    const expected = notifications
      .filter((n) => parseLoginEvent(n.Message).ok)
      .map((n) => ({ sqs_message_id: `sns:${n.MessageId}`, create_date: n.Timestamp.slice(0, 10) }))
      .sort(byId);
    const rows = await stack.pool.query<{ sqs_message_id: string; create_date: string }>(
      "SELECT sqs_message_id, to_char(create_date, 'YYYY-MM-DD') AS create_date FROM user_logins WHERE sqs_message_id = ANY($1)",
      [notifications.map((n) => `sns:${n.MessageId}`)],
    );
    expect(rows.rows.sort(byId)).toEqual(expected);
    const quarantine = await stack.pool.query<{ sqs_message_id: string; detail: string | null }>('SELECT sqs_message_id, detail FROM sqs2pg.quarantine WHERE sqs_message_id <> ALL($1)', [earlier]);
    expect(quarantine.rows).toHaveLength(6);
    expect(quarantine.rows.every((row) => /^sns:[0-9a-f-]{36}$/.test(row.sqs_message_id) && row.detail === 'sns')).toBe(true);

    // Masks as for a plain body, and no ip, device id or user id of the events in clear beyond user_logins.user_id.
    const first = eventsOf(sample.bodies)[0]!;
    const row = await stack.pool.query('SELECT masked_ip, masked_device_id FROM user_logins WHERE user_id = $1', [first.user_id]);
    expect(row.rows[0]).toEqual({ masked_ip: masker.mask('ip', canonicalIp(first.ip)!), masked_device_id: masker.mask('device_id', first.device_id) });
    const dump = JSON.stringify([(await stack.pool.query('SELECT * FROM user_logins')).rows, (await stack.pool.query('SELECT * FROM sqs2pg.quarantine')).rows, result.stdout, result.stderr]);
    const secrets = eventsOf(sample.bodies).flatMap((event) => [event.ip, event.device_id]);
    expect(secrets.filter((secret) => dump.includes(`"${secret}"`) || dump.includes(`:${secret}`))).toEqual([]);
    const quarantineText = JSON.stringify((await stack.pool.query('SELECT * FROM sqs2pg.quarantine')).rows);
    expect(quarantineText).not.toMatch(/(?<![\d.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\d.])/);
  });

  it('EventBridge -> SQS: keyed by the event id, dated by its time; a plain body beside it as it is; a bad envelope quarantined', async () => {
    const queueUrl = await stack.newQueue();
    const [good, plain, badIp] = eventsOf(generateSample({ count: 3, malformed: 0, seed: 261 + seedOffset }).bodies).map((event) => ({
      ...event,
      device_type: 'ios',
      app_version: '1.2.3',
      locale: null,
    }));
    const ids = { good: randomUUID(), badIp: randomUUID() };
    const bodies = [
      // Sent twice: EventBridge, too, delivers at least once.
      eventBridge(good, ids.good, '2025-06-30T23:59:59Z'),
      eventBridge(good, ids.good, '2025-06-30T23:59:59Z'),
      JSON.stringify(plain),
      eventBridge({ ...badIp, ip: 'not-an-ip' }, ids.badIp, '2025-07-01T00:00:00Z'),
      eventBridge(good, `${good!.device_id}`, '2025-07-01T00:00:00Z'),
    ];
    await stack.send(queueUrl, bodies);

    const result = await runCli(['run', '--drain'], stack.env(queueUrl, { SQS2PG_SQS_CLIENT: client }));

    expect(result.code, result.stderr).toBe(0);
    const rows = await stack.pool.query<{ sqs_message_id: string; user_id: string; create_date: string }>(
      "SELECT sqs_message_id, user_id, to_char(create_date, 'YYYY-MM-DD') AS create_date FROM user_logins WHERE user_id = ANY($1) ORDER BY user_id",
      [[good!.user_id, plain!.user_id, badIp!.user_id]],
    );
    expect(rows.rows.find((row) => row.user_id === good!.user_id)).toEqual({ sqs_message_id: `eventbridge:${ids.good}`, user_id: good!.user_id, create_date: '2025-06-30' });
    expect(rows.rows.find((row) => row.user_id === plain!.user_id)?.sqs_message_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(rows.rows).toHaveLength(2);
    const quarantine = await stack.pool.query<{ sqs_message_id: string; reason: string; field: string; detail: string; user_key: string; masked_ips: string[] }>(
      "SELECT sqs_message_id, reason, field, detail, user_key, masked_ips FROM sqs2pg.quarantine WHERE detail = 'eventbridge' AND user_key = ANY($1) ORDER BY reason",
      [[good!, badIp!].map((event) => masker.userKey(event.user_id))],
    );
    expect(quarantine.rows).toEqual([
      // The id is not a UUID (a device id here): refused, never stored; the record is the SQS message's.
      { sqs_message_id: expect.stringMatching(/^[0-9a-f-]{36}$/) as string, reason: 'bad_envelope', field: 'id', detail: 'eventbridge', user_key: masker.userKey(good!.user_id), masked_ips: [masker.mask('ip', canonicalIp(good!.ip)!)] },
      { sqs_message_id: `eventbridge:${ids.badIp}`, reason: 'bad_ip', field: 'ip', detail: 'eventbridge', user_key: masker.userKey(badIp!.user_id), masked_ips: [masker.mask('ip', 'not-an-ip')] },
    ]);
    const dump = JSON.stringify([(await stack.pool.query('SELECT * FROM sqs2pg.quarantine')).rows, result.stdout, result.stderr]);
    for (const value of [good!.device_id, good!.ip, badIp!.device_id, badIp!.user_id]) expect(dump).not.toContain(value);
  });

  it('--envelope sns: a body without it is quarantined as bad_envelope', async () => {
    const queueUrl = await stack.newQueue();
    const [event] = generateSample({ count: 1, malformed: 0, seed: 262 + seedOffset }).bodies;
    await stack.send(queueUrl, [event!]);
    const before = await countRows(stack.pool);
    const earlier = await recordIds();

    const result = await runCli(['run', '--drain', '--envelope', 'sns'], stack.env(queueUrl, { SQS2PG_SQS_CLIENT: client }));

    expect(result.code, result.stderr).toBe(0);
    expect(await countRows(stack.pool)).toMatchObject({ rows: before.rows, quarantined: before.quarantined + 1 });
    const record = await stack.pool.query('SELECT reason, field, detail FROM sqs2pg.quarantine WHERE sqs_message_id <> ALL($1)', [earlier]);
    expect(record.rows).toEqual([{ reason: 'bad_envelope', field: 'Type', detail: 'sns' }]);
  });
});

/** A login event PostgreSQL refuses while the table holds the test's constraint (no_blackberry). */
function refusedEvent(seed: number): { user_id: string; ip: string; device_id: string } {
  return eventsOf(generateSample({ count: 1, malformed: 0, seed }).bodies).map((e) => ({ ...e, device_type: 'blackberry', app_version: '1.0', locale: 'FR' }))[0]!;
}

describe('a notification PostgreSQL refuses', () => {
  beforeEach(async () => {
    await stack.pool.query(`ALTER TABLE user_logins ADD CONSTRAINT no_blackberry CHECK (device_type <> 'blackberry')`);
  });
  afterEach(async () => {
    await stack.pool.query('ALTER TABLE user_logins DROP CONSTRAINT IF EXISTS no_blackberry');
  });

  it("is dated as its row would have been: db_rejected under the envelope's key and time, not the SQS message's", async () => {
    const queueUrl = await stack.newQueue();
    const event = refusedEvent(264);
    const id = randomUUID();
    // Sent to SQS now; published (as SNS dates it) months before.
    const body = JSON.stringify({ Type: 'Notification', MessageId: id, TopicArn: 'arn:aws:sns:us-east-1:000000000000:logins', Message: JSON.stringify(event), Timestamp: '2026-03-04T10:20:30.456Z' });
    await stack.send(queueUrl, [body]);

    const run = await runCli(['run', '--drain'], stack.env(queueUrl));

    expect(run.code, run.stderr).toBe(0);
    const records = await stack.pool.query(
      "SELECT sqs_message_id, reason, to_char(sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS') AS sent_at FROM sqs2pg.quarantine WHERE sqs_message_id = $1",
      [`sns:${id}`],
    );
    expect(records.rows).toEqual([{ sqs_message_id: `sns:${id}`, reason: 'db_rejected', sent_at: '2026-03-04T10:20:30.456' }]);
  });

  it('is sealed under sns:<id> with the vault on, then loaded once by replay with that key', async () => {
    const queueUrl = await stack.newQueue();
    const { sns, topicArn } = await topicFor(stack, [queueUrl]);
    const event = refusedEvent(263);
    try {
      await publishAll(sns, topicArn, [JSON.stringify(event)]);
    } finally {
      sns.destroy();
    }
    await waitFor(async () => (await stack.queueDepth(queueUrl)).visible === 1, 20_000, 'the notification');
    const earlier = await recordIds();

    const run = await runCli(['run', '--drain'], stack.env(queueUrl, { SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY }));
    expect(run.code, run.stderr).toBe(0);
    const records = await stack.pool.query<{ sqs_message_id: string; reason: string }>('SELECT sqs_message_id, reason FROM sqs2pg.quarantine WHERE sqs_message_id <> ALL($1)', [earlier]);
    expect(records.rows).toEqual([{ sqs_message_id: expect.stringMatching(/^sns:[0-9a-f-]{36}$/) as string, reason: 'db_rejected' }]);
    const key = records.rows[0]!.sqs_message_id;
    // The only sealed body of the file: no other test runs with the vault on.
    const sealed = await stack.pool.query('SELECT sqs_message_id FROM sqs2pg_vault.quarantine_bodies');
    expect(sealed.rows).toEqual([{ sqs_message_id: key }]);

    await stack.pool.query('ALTER TABLE user_logins DROP CONSTRAINT no_blackberry');
    const replay = await runCli(['replay', '--reason', 'constraint fixed, ticket E-1'], {
      PATH: process.env.PATH,
      DATABASE_URL: stack.databaseUrl,
      SQS2PG_MASK_KEY: TEST_MASK_KEY,
      SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY,
    });
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toContain('1 loaded');
    const rows = await stack.pool.query('SELECT sqs_message_id, user_id, device_type, masked_ip FROM user_logins WHERE user_id = $1', [event.user_id]);
    expect(rows.rows).toEqual([{ sqs_message_id: key, user_id: event.user_id, device_type: 'blackberry', masked_ip: masker.mask('ip', canonicalIp(event.ip)!) }]);
    expect(await recordIds()).not.toContain(key);
  });
});
