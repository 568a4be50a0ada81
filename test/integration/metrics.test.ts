// The metrics of a worker that has emptied a queue, read from its /metrics while it still runs,
// against what the database and the queue say happened: every count right, no personal data. A run
// without a pipeline file labels every series pipeline="logins".
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/local/free-port.js';
import { generateSample } from '../../src/local/sample.js';
import { get, sample } from '../helpers/http.js';
import { createTestStack, migrateWithCli, startCli, waitFor, type CliProcess, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
  await migrateWithCli(stack.databaseUrl);
});
afterAll(async () => {
  await stack.close();
});

describe('GET /metrics', () => {
  it('counts what a drained queue went through, as the database and the queue confirm', async () => {
    const queueUrl = await stack.newQueue();
    const valid = generateSample({ count: 300, malformed: 0, seed: 21 });
    await stack.send(queueUrl, valid.bodies);
    // A few messages are received and handed straight back: sqs2pg then gets them a second time.
    const seen = await stack.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }));
    const redelivered = seen.Messages ?? [];
    expect(redelivered.length).toBeGreaterThan(0);
    // One of them is "already loaded" (a crash after commit, before delete): the insert skips it.
    await stack.pool.query("INSERT INTO user_logins (sqs_message_id, user_id) VALUES ($1, 'loaded-before')", [redelivered[0]!.MessageId]);
    const template = JSON.parse(generateSample({ count: 1, malformed: 0, seed: 22 }).bodies[0]!) as Record<string, unknown>;
    const malformed = [
      'not json',
      '[1, 2]',
      '{"foo": "oops_wrong_msg_type", "bar": "123"}',
      JSON.stringify({ ...template, ip: 'not-an-ip' }),
      JSON.stringify({ ...template, ip: '10.1.2.300' }),
      JSON.stringify({ ...template, app_version: '1.2.3.4' }),
    ];
    await stack.send(queueUrl, malformed);
    const sent = valid.bodies.length + malformed.length;

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let cli: CliProcess | undefined;
    try {
      cli = startCli(['run'], stack.env(queueUrl, { SQS2PG_HTTP_PORT: String(port), SQS2PG_QUEUE_DEPTH_INTERVAL_SEC: '1' }));
      let text = '';
      await waitFor(
        async () => {
          text = (await get(`${url}/metrics`)).body;
          // The depth is a poll (every second here): wait for one taken after the last delete.
          return (
            sample(text, 'sqs2pg_deleted_messages_total{pipeline="logins"}') === sent &&
            sample(text, 'sqs2pg_queue_depth_messages{pipeline="logins",state="visible"}') === 0 &&
            sample(text, 'sqs2pg_queue_depth_messages{pipeline="logins",state="in_flight"}') === 0
          );
        },
        30_000,
        `${sent} deletes and an empty queue in /metrics`,
      );
      const quarantine = await stack.pool.query<{ reason: string; n: string }>('SELECT reason, count(*) AS n FROM sqs2pg.quarantine GROUP BY reason');
      const rows = await stack.pool.query<{ n: string }>("SELECT count(*) AS n FROM user_logins WHERE user_id <> 'loaded-before'");
      expect(Number(rows.rows[0]?.n)).toBe(valid.bodies.length - 1);
      expect(Object.fromEntries(quarantine.rows.map((row) => [row.reason, Number(row.n)]))).toEqual({
        not_json: 1,
        not_object: 1,
        missing_field: 1,
        bad_ip: 2,
        bad_app_version: 1,
      });

      const expected: Record<string, number> = {
        'sqs2pg_received_messages_total{pipeline="logins"}': sent,
        'sqs2pg_redelivered_messages_total{pipeline="logins"}': redelivered.length,
        'sqs2pg_loaded_messages_total{pipeline="logins"}': valid.bodies.length - 1,
        'sqs2pg_duplicate_messages_total{pipeline="logins"}': 1,
        'sqs2pg_deleted_messages_total{pipeline="logins"}': sent,
        'sqs2pg_released_messages_total{pipeline="logins"}': 0,
        'sqs2pg_in_flight_messages{pipeline="logins"}': 0,
        'sqs2pg_queue_depth_messages{pipeline="logins",state="visible"}': 0,
        'sqs2pg_queue_depth_messages{pipeline="logins",state="in_flight"}': 0,
        'sqs2pg_batch_size_messages_sum{pipeline="logins"}': sent,
        ...Object.fromEntries(quarantine.rows.map((row) => [`sqs2pg_quarantined_messages_total{pipeline="logins",reason="${row.reason}"}`, Number(row.n)])),
        'sqs2pg_quarantined_messages_total{pipeline="logins",reason="db_rejected"}': 0,
        'sqs2pg_errors_total{pipeline="logins",stage="transform",code="invalid_message"}': malformed.length,
        'sqs2pg_errors_total{pipeline="logins",stage="load",code="connection"}': 0,
        'sqs2pg_errors_total{pipeline="logins",stage="receive",code="connection"}': 0,
      };
      const actual = Object.fromEntries(Object.keys(expected).map((series) => [series, sample(text, series)]));
      expect(actual).toEqual(expected);
      expect(sample(text, 'sqs2pg_commit_duration_seconds_count{pipeline="logins"}')).toBeGreaterThan(0);
      expect(sample(text, 'sqs2pg_commit_duration_seconds_count{pipeline="logins"}')).toBe(sample(text, 'sqs2pg_batch_size_messages_count{pipeline="logins"}'));
      expect(sample(text, 'process_cpu_seconds_total')).toBeGreaterThan(0);

      // Nothing personal in any series: not one ip or device_id of the workload.
      const secrets = valid.bodies.flatMap((body) => {
        const event = JSON.parse(body) as { ip: string; device_id: string };
        return [event.ip, event.device_id];
      });
      expect(secrets.filter((secret) => text.includes(secret))).toEqual([]);

      expect(await get(`${url}/healthz`)).toEqual({ status: 200, body: 'ok\n' });
      const ready = await get(`${url}/readyz`);
      expect(ready.status, ready.body).toBe(200);
      expect(JSON.parse(ready.body)).toEqual({ ready: true, checks: { started: 'ok', database: 'ok', queue: 'ok', stopping: 'ok' } });
      expect((await get(`${url}/nothing-here`)).status).toBe(404);

      cli.child.kill('SIGTERM');
      const result = await cli.done;
      expect(result.code, result.stderr).toBe(0);
      expect((await get(`${url}/healthz`, 1_000)).status, 'the port is closed after exit').toBe(0);
    } finally {
      if (cli && cli.child.exitCode === null) cli.child.kill('SIGKILL');
      await cli?.done;
    }
  });
});
