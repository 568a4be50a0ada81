// FIFO queues, through the lean client and the SDK's: every message loaded once, each group's
// messages committed in the order they were sent (fauxqs, as SQS, gives a group's next message only
// once those in flight are deleted), and a receive whose answer was lost sent again, on the wire,
// with the same ReceiveRequestAttemptId (fauxqs does not honour it; the fault proxy records it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import type { SqsClientSetting } from '../../src/source/sqs/create-sqs-api.js';
import { createFifoQueue, sendFifoBodies } from '../../src/source/sqs/queue-admin.js';
import { startSqsProxy, type SqsProxy } from '../helpers/sqs-proxy.js';
import { countRows, createTestStack, migrateWithCli, runCli, type TestStack } from '../helpers/stack.js';

const CLIENTS: readonly SqsClientSetting[] = ['lean', 'sdk'];

let stack: TestStack;
const proxies: SqsProxy[] = [];
beforeAll(async () => {
  stack = await createTestStack();
  await migrateWithCli(stack.databaseUrl);
  // The order rows were inserted in, which the worker's INSERT leaves to this default.
  await stack.pool.query('ALTER TABLE user_logins ADD COLUMN load_seq bigserial');
});
afterAll(async () => {
  for (const proxy of proxies) await proxy.close();
  await stack.close();
});

let queues = 0;
async function fifoQueueWith(bodies: readonly string[], groups: number): Promise<{ queueUrl: string; ids: string[] }> {
  const name = `fifo-${process.pid}-${++queues}-${Date.now()}`;
  const queueUrl = await createFifoQueue(stack.sqs, name);
  return { queueUrl, ids: await sendFifoBodies(stack.sqs, queueUrl, bodies, groups, name) };
}

/** The ReceiveRequestAttemptId of each ReceiveMessage the proxy saw, in order (undefined: none). */
function attemptIds(proxy: SqsProxy): (string | undefined)[] {
  return proxy.requests('ReceiveMessage').map((request) => (JSON.parse(request.body) as { ReceiveRequestAttemptId?: string }).ReceiveRequestAttemptId);
}

describe.each(CLIENTS)('a FIFO queue, --sqs-client %s', (client) => {
  it('2,000 messages in 200 groups: each loaded once, each group in the order it was sent', async () => {
    await stack.pool.query('TRUNCATE user_logins, sqs2pg.quarantine');
    const groups = 200;
    const sample = generateSample({ count: 2_000, malformed: 0, seed: 26 });
    const { queueUrl, ids } = await fifoQueueWith(sample.bodies, groups);

    const result = await runCli(['run', '--drain', '--sqs-client', client], stack.env(queueUrl), 180_000);

    expect(result.stderr).not.toMatch(/"level":(50|60)/);
    expect(result.code).toBe(0);
    expect(await countRows(stack.pool)).toEqual({ rows: 2_000, distinctIds: 2_000, quarantined: 0 });
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });

    // Body i went to group i % 200, as that group's message number floor(i / 200).
    const { rows } = await stack.pool.query<{ id: string }>('SELECT sqs_message_id AS id FROM user_logins ORDER BY load_seq');
    const sent = new Map(ids.map((id, i) => [id, { group: i % groups, position: Math.floor(i / groups) }]));
    const loaded = new Map<number, number[]>();
    for (const row of rows) {
      const message = sent.get(row.id);
      expect(message).toBeDefined();
      if (message === undefined) continue;
      loaded.set(message.group, [...(loaded.get(message.group) ?? []), message.position]);
    }
    expect(loaded.size).toBe(groups);
    for (const positions of loaded.values()) expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });

  it('a receive whose answer is lost is sent again with the same attempt id; the next receive gets a new one', async () => {
    await stack.pool.query('TRUNCATE user_logins, sqs2pg.quarantine');
    const sample = generateSample({ count: 30, malformed: 0, seed: 27 });
    const { queueUrl } = await fifoQueueWith(sample.bodies, 3);
    const proxy = await startSqsProxy(stack.sqsEndpoint, { recordRequests: true });
    proxies.push(proxy);
    // More lost answers than either client tries a call (3 attempts): the pipeline's own retry of the
    // receive is among them, after its backoff, and must carry the id too.
    const lost = 4;
    proxy.setRules([{ operation: 'ReceiveMessage', action: 'dropAnswer', times: lost }]);

    // fauxqs keeps what the lost receives hid until their visibility timeout: 2 s.
    const result = await runCli(
      ['run', '--drain', '--sqs-client', client, '--pollers', '1', '--visibility-timeout-sec', '2'],
      stack.env(queueUrl, { AWS_ENDPOINT_URL_SQS: proxy.endpoint }),
      120_000,
    );

    expect(result.stderr).not.toMatch(/"level":(50|60)/);
    expect(result.code).toBe(0);
    expect(await countRows(stack.pool)).toEqual({ rows: 30, distinctIds: 30, quarantined: 0 });
    // The pipeline saw the receive fail (after the client's own attempts) and retried it.
    expect(result.stderr).toMatch(/"operation":"receive"/);

    const requests = proxy.requests('ReceiveMessage');
    expect(requests.slice(0, lost + 1).map((request) => request.fault)).toEqual([...Array<string>(lost).fill('dropAnswer'), undefined]);
    const [first, ...others] = attemptIds(proxy);
    expect(first).toMatch(/^[0-9a-f-]{36}$/);
    // Every call until the first answer is one receive; every receive after it is new.
    expect(others.slice(0, lost)).toEqual(Array<string | undefined>(lost).fill(first));
    const after = others.slice(lost);
    expect(after.length).toBeGreaterThan(1);
    expect(after.every((id) => id !== undefined && id !== first)).toBe(true);
    expect(new Set(after).size).toBe(after.length);
  });

  it('one group: each short receive is committed at once, not after the batch wait', async () => {
    await stack.pool.query('TRUNCATE user_logins, sqs2pg.quarantine');
    const sample = generateSample({ count: 20, malformed: 0, seed: 29 });
    const { queueUrl } = await fifoQueueWith(sample.bodies, 1);

    // fauxqs gives one message of the group per receive: were each batch to wait a minute for more,
    // this drain would take twenty.
    const result = await runCli(['run', '--drain', '--sqs-client', client, '--batch-max-wait-ms', '60000'], stack.env(queueUrl), 180_000);

    expect(result.signal).toBeNull();
    expect(result.code).toBe(0);
    expect(await countRows(stack.pool)).toEqual({ rows: 20, distinctIds: 20, quarantined: 0 });
  });

  it('many groups: each receive is committed at once, full or not, not after the batch wait', async () => {
    await stack.pool.query('TRUNCATE user_logins, sqs2pg.quarantine');
    const sample = generateSample({ count: 90, malformed: 0, seed: 30 });
    // 30 groups of 3: the first receives come back full (ten groups each) until every group is in
    // hand, and none of a group's next message comes until it is committed and deleted. Were a full
    // receive's messages to wait for their batch to fill, each of the three rounds would wait out
    // --batch-max-wait-ms (a minute): the first alone outlasts the 50 s this drain is given.
    const { queueUrl } = await fifoQueueWith(sample.bodies, 30);

    const result = await runCli(['run', '--drain', '--sqs-client', client, '--batch-max-wait-ms', '60000'], stack.env(queueUrl), 50_000);

    expect(result.signal).toBeNull();
    expect(result.code).toBe(0);
    expect(await countRows(stack.pool)).toEqual({ rows: 90, distinctIds: 90, quarantined: 0 });
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });
  });

  it('a standard queue gets no attempt id', async () => {
    await stack.pool.query('TRUNCATE user_logins, sqs2pg.quarantine');
    const queueUrl = await stack.newQueue();
    await stack.send(queueUrl, generateSample({ count: 20, malformed: 0, seed: 28 }).bodies);
    const proxy = await startSqsProxy(stack.sqsEndpoint, { recordRequests: true });
    proxies.push(proxy);

    const result = await runCli(['run', '--drain', '--sqs-client', client], stack.env(queueUrl, { AWS_ENDPOINT_URL_SQS: proxy.endpoint }));

    expect(result.code).toBe(0);
    expect(await countRows(stack.pool)).toEqual({ rows: 20, distinctIds: 20, quarantined: 0 });
    const ids = attemptIds(proxy);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.every((id) => id === undefined)).toBe(true);
  });
});
