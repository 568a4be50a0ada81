// Envelope and payload settings per pipeline (issue 26): a pipeline file whose pipelines set their own
// `envelope:` and `s3_payloads:` over the process-wide flags, each loaded its own way in one run, and
// check saying which modes each pipeline runs with.
import { CreateTopicCommand, PublishBatchCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import { createTestStack, runCli, waitFor, type TestStack } from '../helpers/stack.js';

const dir = mkdtempSync(join(tmpdir(), 'sqs2pg-wirings-'));
let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(async () => {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

const FILE = `pipelines:
  logins:
    builtin: true
    queue: \${SNS_QUEUE_URL}
    envelope: sns
  plain_logins:
    queue: \${PLAIN_QUEUE_URL}
    envelope: none
    s3_payloads: off
    columns:
      user_id: { from: user_id, type: varchar(128), required: true }
`;

/** An SNS Notification as SNS writes it, around `message`. */
function notification(message: string): string {
  return JSON.stringify({
    Type: 'Notification',
    MessageId: randomUUID(),
    TopicArn: 'arn:aws:sns:us-east-1:000000000000:logins',
    Message: message,
    Timestamp: '2026-12-01T10:00:00.000Z',
    SignatureVersion: '1',
  });
}

describe('envelope and s3_payloads per pipeline', () => {
  it('one pipeline unwraps SNS, the other takes bodies as they are and leaves pointers unresolved, in one run; check names each', async () => {
    const [snsQueue, plainQueue] = [await stack.newQueue(), await stack.newQueue()];
    const sns = new SNSClient({ region: 'us-east-1', endpoint: stack.sqsEndpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const events = generateSample({ count: 10, malformed: 0, seed: 2640 }).bodies;
    try {
      const topicArn = (await sns.send(new CreateTopicCommand({ Name: `wirings-${randomBytes(4).toString('hex')}` }))).TopicArn!;
      const queueArn = (await stack.sqs.send(new GetQueueAttributesCommand({ QueueUrl: snsQueue, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
      await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: queueArn }));
      const output = await sns.send(new PublishBatchCommand({ TopicArn: topicArn, PublishBatchRequestEntries: events.slice(0, 5).map((Message, i) => ({ Id: String(i), Message })) }));
      expect(output.Failed ?? []).toEqual([]);
    } finally {
      sns.destroy();
    }
    await waitFor(async () => (await stack.queueDepth(snsQueue)).visible === 5, 20_000, 'the notifications in the queue');
    // envelope: sns requires one: a plain body on that queue is refused.
    await stack.send(snsQueue, [events[5]!]);
    // envelope: none and s3_payloads: off, where the flags' defaults (auto, resolve) would unwrap and fetch.
    const pointer = JSON.stringify(['software.amazon.payloadoffloading.PayloadS3Pointer', { s3BucketName: 'no-bucket', s3Key: 'k' }]);
    await stack.send(plainQueue, [...events.slice(6), notification(events[0]!), pointer]);
    const config = join(dir, 'wirings.yaml');
    writeFileSync(config, FILE);
    const env = stack.env(snsQueue, { SQS2PG_CONFIG: config, SNS_QUEUE_URL: snsQueue, PLAIN_QUEUE_URL: plainQueue });

    const checked = await runCli(['check'], env);
    const lines = checked.stdout.split('\n');
    expect(lines.filter((line) => /^\w+ +(envelope|S3 payloads)/.test(line))).toEqual([
      expect.stringMatching(/^ok +envelope \(logins\): sns: every body must be an SNS Notification/),
      expect.stringMatching(/^ok +S3 payloads \(logins\): resolve: extended-client pointers are fetched/),
      expect.stringMatching(/^ok +envelope \(plain_logins\): none: every body is taken as the event/),
      expect.stringMatching(/^ok +S3 payloads \(plain_logins\): off:/),
    ]);

    const result = await runCli(['run', '--drain'], env);

    expect(result.code, result.stderr).toBe(0);
    const logins = await stack.pool.query<{ sqs_message_id: string }>('SELECT sqs_message_id FROM user_logins');
    expect(logins.rows).toHaveLength(5);
    expect(logins.rows.every((row) => row.sqs_message_id.startsWith('sns:'))).toBe(true);
    const plain = await stack.pool.query<{ user_id: string }>('SELECT user_id FROM plain_logins ORDER BY user_id');
    expect(plain.rows.map((row) => row.user_id)).toEqual(events.slice(6).map((body) => (JSON.parse(body) as { user_id: string }).user_id).sort());
    const records = await stack.pool.query('SELECT pipeline, reason, field, detail FROM sqs2pg.quarantine ORDER BY pipeline, reason');
    expect(records.rows).toEqual([
      { pipeline: 'logins', reason: 'bad_envelope', field: 'Type', detail: 'sns' },
      // Neither unwrapped nor fetched: each taken as the event, which has no user_id.
      { pipeline: 'plain_logins', reason: 'missing_field', field: 'user_id', detail: null },
      { pipeline: 'plain_logins', reason: 'not_object', field: null, detail: null },
    ]);
  });
});
