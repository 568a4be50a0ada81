// The whole CLI on queues as AWS creates them by default (1 MiB bodies): valid events of any size up
// to the limit load and one byte over is quarantined too_large; a drain ends when the queue is empty,
// and not before, while another consumer holds messages hidden or some are delayed.
import { ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import { countRows, createTestStack, migrateWithCli, runCli, type TestStack } from '../helpers/stack.js';

const SQS_MAX = 1_048_576;

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
  await migrateWithCli(stack.databaseUrl);
});
afterAll(async () => {
  await stack.close();
});

/** A valid login event whose `extra` field fills the body to exactly `bytes` UTF-8 bytes. */
function eventOfSize(seed: number, bytes: number): string {
  const event = JSON.parse(generateSample({ count: 1, malformed: 0, seed }).bodies[0]!) as Record<string, unknown>;
  const empty = JSON.stringify({ ...event, extra: '' });
  const body = JSON.stringify({ ...event, extra: 'x'.repeat(bytes - Buffer.byteLength(empty)) });
  expect(Buffer.byteLength(body)).toBe(bytes);
  return body;
}

async function reasons(): Promise<Record<string, number>> {
  const { rows } = await stack.pool.query<{ reason: string; n: string }>('SELECT reason, count(*) AS n FROM sqs2pg.quarantine GROUP BY reason');
  return Object.fromEntries(rows.map((row) => [row.reason, Number(row.n)]));
}

describe('valid events up to the size limit', () => {
  it("loads events up to the queue's MaximumMessageSize (1 MiB by default), a 900 KB extra field included", async () => {
    const queueUrl = await stack.newQueue();
    const before = await countRows(stack.pool);
    await stack.send(queueUrl, [eventOfSize(101, SQS_MAX), eventOfSize(102, 900_000), eventOfSize(103, 300)]);

    const result = await runCli(['run', '--drain'], stack.env(queueUrl));

    expect(result.code).toBe(0);
    expect(await countRows(stack.pool)).toMatchObject({ rows: before.rows + 3, quarantined: before.quarantined });
  });

  it('quarantines a body one byte over --max-body-bytes as too_large, and loads one at it', async () => {
    const queueUrl = await stack.newQueue();
    const before = await countRows(stack.pool);
    const tooLargeBefore = (await reasons()).too_large ?? 0;
    await stack.send(queueUrl, [eventOfSize(104, 200_000), eventOfSize(105, 200_001)]);

    const result = await runCli(['run', '--drain', '--max-body-bytes', '200000'], stack.env(queueUrl));

    expect(result.code).toBe(0);
    expect(await countRows(stack.pool)).toMatchObject({ rows: before.rows + 1, quarantined: before.quarantined + 1 });
    expect((await reasons()).too_large).toBe(tooLargeBefore + 1);
  });
});

describe('the end of a drain', () => {
  it('ends at once on an empty queue', async () => {
    const queueUrl = await stack.newQueue();
    const result = await runCli(['run', '--drain'], stack.env(queueUrl));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('queue drained');
  });

  it("waits for messages another consumer holds hidden and for delayed ones, then ends with every one loaded", async () => {
    const queueUrl = await stack.newQueue();
    const before = (await countRows(stack.pool)).rows;
    const bodies = generateSample({ count: 16, malformed: 0, seed: 106 }).bodies;
    // Another consumer takes three and neither deletes nor releases them: hidden for 3 s.
    await stack.send(queueUrl, bodies.slice(0, 3));
    let taken = 0;
    while (taken < 3) {
      const output = await stack.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 3, WaitTimeSeconds: 1 }),
      );
      taken += output.Messages?.length ?? 0;
    }
    await stack.send(queueUrl, bodies.slice(3, 13));
    await stack.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: bodies.slice(13).map((MessageBody, i) => ({ Id: String(i), MessageBody, DelaySeconds: 2 })),
      }),
    );

    const result = await runCli(['run', '--drain'], stack.env(queueUrl));

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('queue drained');
    expect((await countRows(stack.pool)).rows).toBe(before + 16);
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });
  });
});
