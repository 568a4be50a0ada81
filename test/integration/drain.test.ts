// The whole CLI against a real SQS-protocol server and a real PostgreSQL: counts, masks,
// quarantine reasons, and no personal data in clear anywhere the run writes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import { canonicalIp } from '../../src/transform/ip.js';
import { createMasker } from '../../src/transform/mask.js';
import { countRows, createTestStack, runCli, TEST_MASK_KEY, type TestStack } from '../helpers/stack.js';

// The default client (lean) and the SDK's, through the same contract, each on a fresh database.
describe.each(['lean', 'sdk'])('sqs2pg run --drain, --sqs-client %s', (client) => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await createTestStack();
  });
  afterAll(async () => {
    await stack.close();
  });

  it('loads every valid event, quarantines every malformed one, and empties the queue', async () => {
    const queueUrl = await stack.newQueue();
    const sample = generateSample({ count: 400, malformed: 8, seed: 7 });
    await stack.send(queueUrl, sample.bodies);

    const result = await runCli(['run', '--drain'], stack.env(queueUrl, { SQS2PG_SQS_CLIENT: client }));

    expect(result.stderr).not.toMatch(/"level":(50|60)/);
    expect(result.code).toBe(0);
    expect(await countRows(stack.pool)).toEqual({ rows: 400, distinctIds: 400, quarantined: 8 });
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });
    expect(result.stdout).toContain('queue drained');

    const reasons = await stack.pool.query<{ reason: string; n: string }>(
      'SELECT reason, count(*) AS n FROM sqs2pg.quarantine GROUP BY reason ORDER BY reason',
    );
    expect(reasons.rows.map((row) => row.reason)).toEqual(
      expect.arrayContaining(['missing_field', 'not_json', 'not_object', 'bad_ip', 'bad_app_version', 'bad_type', 'too_long']),
    );

    // Masks are the keyed HMAC of the canonical value, and nothing personal is stored in clear.
    const masker = createMasker(Buffer.from(TEST_MASK_KEY, 'hex'), 'k1');
    const events = sample.bodies.flatMap((body) => {
      try {
        const value = JSON.parse(body) as { user_id?: string; ip?: string; device_id?: string; app_version?: string };
        return typeof value.user_id === 'string' && value.user_id.length <= 128 ? [value] : [];
      } catch {
        return [];
      }
    });
    const first = events[0]!;
    const row = await stack.pool.query<{ masked_ip: string; masked_device_id: string }>(
      'SELECT masked_ip, masked_device_id FROM user_logins WHERE user_id = $1',
      [first.user_id],
    );
    expect(row.rows[0]).toEqual({
      masked_ip: masker.mask('ip', canonicalIp(first.ip!)!),
      masked_device_id: masker.mask('device_id', first.device_id!),
    });

    const dump = JSON.stringify([
      (await stack.pool.query('SELECT * FROM user_logins')).rows,
      (await stack.pool.query('SELECT * FROM sqs2pg.quarantine')).rows,
      result.stdout,
      result.stderr,
    ]);
    const secrets = events.flatMap((event) => [event.ip, event.device_id]).filter((v): v is string => !!v);
    expect(secrets.length).toBeGreaterThan(700);
    expect(secrets.filter((secret) => dump.includes(`"${secret}"`) || dump.includes(`:${secret}`))).toEqual([]);
    // The quarantine also holds malformed bodies with a device id: no value of them is kept.
    const quarantineText = JSON.stringify((await stack.pool.query('SELECT * FROM sqs2pg.quarantine')).rows);
    expect(quarantineText).not.toMatch(/\d{3}-\d{2}-\d{4}/);
    expect(quarantineText).not.toMatch(/(?<![\d.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\d.])/);
  });

  it('keeps two messages with identical bodies as two logins', async () => {
    const queueUrl = await stack.newQueue();
    const before = (await countRows(stack.pool)).rows;
    const body = generateSample({ count: 1, malformed: 0, seed: 99 }).bodies[0]!;
    await stack.send(queueUrl, [body, body]);

    const result = await runCli(['run', '--drain'], stack.env(queueUrl, { SQS2PG_SQS_CLIENT: client }));

    expect(result.code).toBe(0);
    expect((await countRows(stack.pool)).rows).toBe(before + 2);
  });
});
