// Bodies the SQS extended client offloaded to S3 (issue 26), against fauxqs's S3: each pointer is
// fetched and loaded as its body would be, through the lean client and the SDK's; a missing object is
// quarantined (never retried for ever), an object over the body limit too, unread; S3 unreachable
// sends the message back instead. replay of a record whose object S3 could not give fetches it
// again, as the pipeline's workers would.
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/local/free-port.js';
import { generateSample } from '../../src/local/sample.js';
import { canonicalIp } from '../../src/transform/ip.js';
import { createMasker } from '../../src/transform/mask.js';
import { countRows, createTestStack, migrateWithCli, runCli, TEST_MASK_KEY, waitFor, type TestStack } from '../helpers/stack.js';
import { TEST_VAULT_PRIVATE_KEY, TEST_VAULT_PUBLIC_KEY } from '../helpers/vault.js';

const masker = createMasker(Buffer.from(TEST_MASK_KEY, 'hex'), 'k1');
const pointer = (bucket: string, key: string) => JSON.stringify(['software.amazon.payloadoffloading.PayloadS3Pointer', { s3BucketName: bucket, s3Key: key }]);

let stack: TestStack;
let s3: S3Client;
beforeAll(async () => {
  stack = await createTestStack();
  await migrateWithCli(stack.databaseUrl);
  s3 = new S3Client({ region: 'us-east-1', endpoint: stack.sqsEndpoint, forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
});
afterAll(async () => {
  s3?.destroy();
  await stack.close();
});

/** A fresh bucket holding each body under a key of its own; returns the pointers, in order. */
async function offload(bodies: readonly string[]): Promise<{ bucket: string; pointers: string[] }> {
  const bucket = `payloads-${randomBytes(4).toString('hex')}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const pointers: string[] = [];
  for (const [i, body] of bodies.entries()) {
    const key = `${randomBytes(8).toString('hex')}-${i}`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    pointers.push(pointer(bucket, key));
  }
  return { bucket, pointers };
}

async function keysIn(bucket: string): Promise<string[]> {
  const output = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (output.Contents ?? []).map((object) => object.Key!);
}

// Through either SQS client: the pointer, its attributes and the payload's fate do not depend on it.
describe.each([
  ['lean', 2601],
  ['sdk', 2611],
] as const)('S3-offloaded payloads, --sqs-client %s', (client, seed) => {
  it('loads every payload as its body would be; quarantines a missing object and one over the limit; deletes after commit when asked', async () => {
    const queueUrl = await stack.newQueue();
    const events = generateSample({ count: 20, malformed: 0, seed }).bodies;
    const badIp = JSON.stringify({ ...(JSON.parse(events[0]!) as object), user_id: `bad-ip-${client}`, ip: '999.1.2.3' });
    const large = JSON.stringify({ ...(JSON.parse(events[1]!) as object), user_id: `large-${client}`, padding: 'x'.repeat(1_100 * 1024) });
    const { bucket, pointers } = await offload([...events, badIp, large]);
    const plain = generateSample({ count: 1, malformed: 0, seed: seed + 1 }).bodies[0]!;
    await stack.send(queueUrl, [...pointers, pointer(bucket, 'no-such-key'), plain]);
    const before = await countRows(stack.pool);
    const earlier = (await stack.pool.query<{ id: string }>('SELECT sqs_message_id AS id FROM sqs2pg.quarantine')).rows.map((row) => row.id);

    const result = await runCli(['run', '--drain', '--s3-delete-after-commit'], stack.env(queueUrl, { SQS2PG_SQS_CLIENT: client }));

    expect(result.code, result.stderr).toBe(0);
    expect(await countRows(stack.pool)).toEqual({ rows: before.rows + 21, distinctIds: before.distinctIds + 21, quarantined: before.quarantined + 3 });
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });
    const first = JSON.parse(events[0]!) as { user_id: string; ip: string; device_id: string };
    const row = await stack.pool.query('SELECT masked_ip, masked_device_id FROM user_logins WHERE user_id = $1', [first.user_id]);
    expect(row.rows).toEqual([{ masked_ip: masker.mask('ip', canonicalIp(first.ip)!), masked_device_id: masker.mask('device_id', first.device_id) }]);
    const records = await stack.pool.query<{ reason: string; detail: string | null; user_key: string | null }>(
      'SELECT reason, detail, user_key FROM sqs2pg.quarantine WHERE sqs_message_id <> ALL($1::text[]) ORDER BY reason',
      [earlier],
    );
    expect(records.rows).toEqual([
      // Read from the payload: the user's key, for forget.
      { reason: 'bad_ip', detail: null, user_key: masker.userKey(`bad-ip-${client}`) },
      { reason: 'payload_unavailable', detail: 'NoSuchKey', user_key: null },
      { reason: 'too_large', detail: `s3 object of ${Buffer.byteLength(large)} bytes`, user_key: null },
    ]);
    // Committed payloads are gone from the bucket (the quarantined one's too: its record is committed);
    // the one never read stays.
    const [, kept] = JSON.parse(pointers.at(-1)!) as [string, { s3Key: string }];
    expect(await keysIn(bucket)).toEqual([kept.s3Key]);
    const dump = JSON.stringify([(await stack.pool.query('SELECT * FROM sqs2pg.quarantine')).rows, result.stdout, result.stderr]);
    expect(dump).not.toContain('999.1.2.3');
    expect(dump).not.toContain(first.device_id);
  });
});

describe('S3-offloaded payloads', () => {
  it('keeps the objects unless asked to delete them', async () => {
    const queueUrl = await stack.newQueue();
    const { bucket, pointers } = await offload(generateSample({ count: 3, malformed: 0, seed: 2603 }).bodies);
    await stack.send(queueUrl, pointers);
    const before = (await countRows(stack.pool)).rows;

    const result = await runCli(['run', '--drain'], stack.env(queueUrl));

    expect(result.code, result.stderr).toBe(0);
    expect((await countRows(stack.pool)).rows).toBe(before + 3);
    expect(await keysIn(bucket)).toHaveLength(3);
  });

  it('S3 unreachable: the message goes back to the queue, neither loaded nor quarantined', async () => {
    const queueUrl = await stack.newQueue();
    const { pointers } = await offload(generateSample({ count: 1, malformed: 0, seed: 2604 }).bodies);
    await stack.send(queueUrl, pointers);
    const before = await countRows(stack.pool);
    const closed = await freePort();

    const result = await runCli(['run', '--drain'], stack.env(queueUrl, { AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${closed}` }));

    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('S3 GetObject of a message\'s payload failed');
    expect(await countRows(stack.pool)).toEqual(before);
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 1 });
  });

  it("S3's error text, which may name the object, is logged without its bucket or key", async () => {
    // An S3-compatible store that names the object in its errors: a failing GetObject, and a
    // DeleteObject failing after the other payload was read and committed.
    const [event] = generateSample({ count: 1, malformed: 0, seed: 2608 }).bodies as [string];
    const failing = (res: import('node:http').ServerResponse, path: string) => {
      res.writeHead(500, { 'content-type': 'application/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>cannot serve ${decodeURIComponent(path)}</Message></Error>`);
    };
    const server: Server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0]!;
      if (req.method === 'GET' && path.endsWith('/readable.json')) res.writeHead(200, { 'content-type': 'application/json' }).end(event);
      else failing(res, path);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const queueUrl = await stack.newQueue();
      const bucket = 'user-u-4721-bucket';
      await stack.send(queueUrl, [pointer(bucket, 'users/u-4721/readable.json'), pointer(bucket, 'users/u-4722/failing.json')]);
      const { port } = server.address() as { port: number };

      const result = await runCli(['run', '--drain', '--s3-delete-after-commit'], stack.env(queueUrl, { AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}` }));

      expect(result.code, result.stderr).toBe(0);
      expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 1 });
      expect(result.stderr).toContain("S3 GetObject of a message's payload failed");
      expect(result.stderr).toContain('S3 DeleteObject of a committed payload failed');
      expect(result.stderr).toContain('InternalError');
      expect(result.stdout + result.stderr).not.toMatch(/u-472[12]/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('a pointer the SNS extended client published (an SNS Notification\'s Message): unwrapped, resolved, keyed by the notification', async () => {
    const queueUrl = await stack.newQueue();
    const [event] = generateSample({ count: 1, malformed: 0, seed: 2606 }).bodies;
    const { pointers } = await offload([event!]);
    const sns = new SNSClient({ region: 'us-east-1', endpoint: stack.sqsEndpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    let messageId: string;
    try {
      const topicArn = (await sns.send(new CreateTopicCommand({ Name: `payloads-${randomBytes(4).toString('hex')}` }))).TopicArn!;
      const queueArn = (await stack.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
      await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: queueArn }));
      messageId = (await sns.send(new PublishCommand({ TopicArn: topicArn, Message: pointers[0]! }))).MessageId!;
    } finally {
      sns.destroy();
    }
    await waitFor(async () => (await stack.queueDepth(queueUrl)).visible === 1, 20_000, 'the notification');

    const result = await runCli(['run', '--drain'], stack.env(queueUrl));

    expect(result.code, result.stderr).toBe(0);
    const { user_id: userId } = JSON.parse(event!) as { user_id: string };
    const rows = await stack.pool.query('SELECT sqs_message_id FROM user_logins WHERE user_id = $1', [userId]);
    expect(rows.rows).toEqual([{ sqs_message_id: `sns:${messageId}` }]);
  });

  it("--s3-delete-after-commit: SNS's late second copy of a loaded notification finds no object, and is a duplicate, not a record", async () => {
    const [event] = generateSample({ count: 1, malformed: 0, seed: 2609 }).bodies as [string];
    const { pointers } = await offload([event]);
    const id = randomUUID();
    // SNS delivers at least once: the same notification, again, once the first copy was committed.
    // (On a queue of its own: fauxqs hands a message sent just after a run to that run's last long
    // poll, which no one reads any more, and hides it for the visibility timeout.)
    const copy = notification(pointers[0]!, id);
    const [firstQueue, secondQueue] = [await stack.newQueue(), await stack.newQueue()];
    await stack.send(firstQueue, [copy]);
    const first = await runCli(['run', '--drain', '--s3-delete-after-commit'], stack.env(firstQueue));
    expect(first.code, first.stderr).toBe(0);
    await stack.send(secondQueue, [copy]);

    const second = await runCli(['run', '--drain', '--s3-delete-after-commit'], stack.env(secondQueue));

    expect(second.code, second.stderr).toBe(0);
    expect(await stack.queueDepth(secondQueue)).toEqual({ visible: 0, notVisible: 0 });
    const rows = await stack.pool.query('SELECT sqs_message_id FROM user_logins WHERE sqs_message_id = $1', [`sns:${id}`]);
    expect(rows.rows).toHaveLength(1);
    const records = await stack.pool.query('SELECT reason FROM sqs2pg.quarantine WHERE sqs_message_id = $1', [`sns:${id}`]);
    expect(records.rows).toEqual([]);
    // Counted as a duplicate, as a redelivered row is: nothing quarantined.
    expect(second.stderr).toMatch(/"duplicates":1,"quarantined":0,/);
  });

  it('--s3-payloads off: a pointer is a body like any other', async () => {
    const queueUrl = await stack.newQueue();
    const { pointers } = await offload(generateSample({ count: 1, malformed: 0, seed: 2605 }).bodies);
    await stack.send(queueUrl, pointers);
    const before = await countRows(stack.pool);

    const result = await runCli(['run', '--drain', '--s3-payloads', 'off'], stack.env(queueUrl));

    expect(result.code, result.stderr).toBe(0);
    expect(await countRows(stack.pool)).toMatchObject({ rows: before.rows, quarantined: before.quarantined + 1 });
  });
});

/** An SNS Notification as SNS writes it (raw delivery off), around `message`. */
function notification(message: string, messageId: string): string {
  return JSON.stringify({ Type: 'Notification', MessageId: messageId, TopicArn: 'arn:aws:sns:us-east-1:000000000000:logins', Message: message, Timestamp: '2026-12-01T10:00:00.000Z' });
}

interface ReplayJson {
  pipelines: { logins: { loaded: number; stillRefused: Record<string, number>; withoutBody: number } };
}

describe('replay of a record whose payload S3 could not give', () => {
  it("fetches the object again: loaded once it is back (an SNS-wrapped pointer too), kept with its reason while it is gone or S3 does not answer", async () => {
    const queueUrl = await stack.newQueue();
    const [back, backViaSns] = generateSample({ count: 2, malformed: 0, seed: 2607 }).bodies as [string, string];
    const bucket = `payloads-${randomBytes(4).toString('hex')}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    // Keys as senders may write them, naming the user: never in a record, a log line or replay's output.
    const keys = ['users/u-4711/login.json', 'users/u-4712/login.json', 'users/u-4713/login.json'] as const;
    const notificationId = randomUUID();
    await stack.send(queueUrl, [pointer(bucket, keys[0]), notification(pointer(bucket, keys[1]), notificationId), pointer(bucket, keys[2])]);
    const sealedRecords = async () =>
      (
        await stack.pool.query<{ id: string; reason: string; detail: string | null }>(
          `SELECT q.sqs_message_id AS id, q.reason, q.detail FROM sqs2pg.quarantine q
             JOIN sqs2pg_vault.quarantine_bodies b ON b.pipeline = q.pipeline AND b.sqs_message_id = q.sqs_message_id ORDER BY q.sqs_message_id`,
        )
      ).rows;

    const run = await runCli(['run', '--drain'], stack.env(queueUrl, { SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY }));
    expect(run.code, run.stderr).toBe(0);
    const quarantined = await sealedRecords();
    expect(quarantined.map(({ reason, detail }) => ({ reason, detail }))).toEqual(Array(3).fill({ reason: 'payload_unavailable', detail: 'NoSuchKey' }));
    expect(quarantined.map((record) => record.id)).toContain(`sns:${notificationId}`);

    // Two of the three objects put back, as an operator would before replaying.
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: keys[0], Body: back }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: keys[1], Body: backViaSns }));
    const replayEnv = stack.env(queueUrl, { SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY });
    const replay = await runCli(['replay', '--reason', 'objects restored, ticket S3-1', '--where-reason', 'payload_unavailable', '--json'], replayEnv);

    expect(replay.code, replay.stderr).toBe(0);
    const counts = (JSON.parse(replay.stdout) as ReplayJson).pipelines.logins;
    expect({ loaded: counts.loaded, stillRefused: counts.stillRefused }).toEqual({ loaded: 2, stillRefused: { payload_unavailable: 1 } });
    const userOf = (body: string) => (JSON.parse(body) as { user_id: string }).user_id;
    const rows = await stack.pool.query<{ sqs_message_id: string; user_id: string }>('SELECT sqs_message_id, user_id FROM user_logins WHERE user_id = ANY($1) ORDER BY user_id', [[userOf(back), userOf(backViaSns)]]);
    // Each row under its record's key: the SQS message's, or the notification's.
    expect(rows.rows).toHaveLength(2);
    expect(rows.rows.every((row) => quarantined.some((record) => record.id === row.sqs_message_id))).toBe(true);
    expect(rows.rows.find((row) => row.user_id === userOf(backViaSns))?.sqs_message_id).toBe(`sns:${notificationId}`);
    const left = await sealedRecords();
    expect(left).toHaveLength(1);
    expect(left[0]).toMatchObject({ reason: 'payload_unavailable', detail: 'NoSuchKey' });

    // S3 not answering: replay stops, saying so; the record stays as it was, for a later replay.
    const closed = await freePort();
    const unanswered = await runCli(['replay', '--reason', 'objects restored, ticket S3-1', '--where-reason', 'payload_unavailable'], { ...replayEnv, AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${closed}` });
    expect(unanswered.code).toBe(3);
    expect(unanswered.stderr).toContain('S3');
    expect(await sealedRecords()).toEqual(left);

    const dump = JSON.stringify([(await stack.pool.query('SELECT * FROM sqs2pg.quarantine')).rows, run, replay, unanswered]);
    for (const user of ['u-4711', 'u-4712', 'u-4713']) expect(dump).not.toContain(user);
  });
});
