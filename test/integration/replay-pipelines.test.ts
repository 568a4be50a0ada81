// replay per pipeline (issue 25), through the built CLI against PostgreSQL and fauxqs: one event
// published through an SNS topic to two pipelines' queues, refused by both tables, is two quarantine
// records under one key (the SNS MessageId), each with its own sealed body; once each cause is fixed,
// replay loads each record through its own pipeline into its own table, leaving (and counting) the
// records of pipelines it was not given, and a replay run again, or two at once, makes no second row.
import { CreateTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import { createTestStack, migrateWithCli, runCli, startCli, waitFor, type TestStack } from '../helpers/stack.js';
import { createVaultSealer, quarantineContext } from '../../src/vault/sealed-box.js';
import { TEST_VAULT_PRIVATE_KEY, TEST_VAULT_PUBLIC_KEY } from '../helpers/vault.js';

const dir = mkdtempSync(join(tmpdir(), 'sqs2pg-replay-pipelines-'));
const FILE = join(dir, 'pipelines.yaml');
copyFileSync(new URL('../../examples/pipelines.yaml', import.meta.url), FILE);

// One event both pipelines read: a login, and a page view whose visitor id (80 characters) is too
// long for page_views.visitor_id, declared varchar(64) (too_long).
const login = JSON.parse(generateSample({ count: 1, malformed: 0, seed: 2525 }).bodies[0]!) as Record<string, unknown>;
const VISITOR = `visitor-${'v'.repeat(72)}`;
const EVENT = JSON.stringify({
  ...login,
  visitor: { id: VISITOR, email: 'shared.person@example.com' },
  ip: '198.51.100.77',
  page: { url: 'https://shop.example/shared' },
  viewed_at: '2024-05-01T10:00:00Z',
});

let stack: TestStack;
let logins: string;
let pageViews: string;
let key = '';
/** page_views' body of the event, as its queue received it (the SNS notification), once revealed */
let notification = '';

function workerEnv(): NodeJS.ProcessEnv {
  return stack.env('http://127.0.0.1:1/000000000000/not-read', {
    SQS2PG_CONFIG: FILE,
    LOGINS_QUEUE_URL: logins,
    PAGE_VIEWS_QUEUE_URL: pageViews,
    SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY,
  });
}

/** The officer's environment: no queue, the vault private key; `file`: replay by the pipeline file. */
function officer(file = false): NodeJS.ProcessEnv {
  return {
    ...stack.env('http://127.0.0.1:1/000000000000/not-read', { SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY }),
    ...(file ? { SQS2PG_CONFIG: FILE, LOGINS_QUEUE_URL: logins, PAGE_VIEWS_QUEUE_URL: pageViews } : {}),
  };
}

async function records(): Promise<{ pipeline: string; sqs_message_id: string; reason: string }[]> {
  return (await stack.pool.query<{ pipeline: string; sqs_message_id: string; reason: string }>('SELECT pipeline, sqs_message_id, reason FROM sqs2pg.quarantine ORDER BY pipeline')).rows;
}

async function rowsOf(table: string): Promise<string[]> {
  return (await stack.pool.query<{ sqs_message_id: string }>(`SELECT sqs_message_id FROM ${table} ORDER BY 1`)).rows.map((row) => row.sqs_message_id);
}

beforeAll(async () => {
  stack = await createTestStack();
  await migrateWithCli(stack.databaseUrl);
  logins = await stack.newQueue();
  pageViews = await stack.newQueue();
  const sns = new SNSClient({ region: 'us-east-1', endpoint: stack.sqsEndpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  try {
    const topic = await sns.send(new CreateTopicCommand({ Name: `events-${randomBytes(4).toString('hex')}` }));
    for (const queueUrl of [logins, pageViews]) {
      const attributes = await stack.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
      await sns.send(new SubscribeCommand({ TopicArn: topic.TopicArn!, Protocol: 'sqs', Endpoint: attributes.Attributes!.QueueArn! }));
    }
    key = `sns:${(await sns.send(new PublishCommand({ TopicArn: topic.TopicArn!, Message: EVENT }))).MessageId!}`;
  } finally {
    sns.destroy();
  }
  for (const queueUrl of [logins, pageViews]) await waitFor(async () => (await stack.queueDepth(queueUrl)).visible === 1, 20_000, 'the notification in each queue');
  // user_logins refuses this user for now (db_rejected), as page_views' declaration refuses the visitor id.
  await stack.pool.query(`ALTER TABLE user_logins ADD CONSTRAINT not_this_user CHECK (user_id <> $$${String(login.user_id)}$$)`);
  const run = await runCli(['run', '--drain', '--quiet'], workerEnv(), 90_000);
  expect(run.code, run.stderr).toBe(0);
});
afterAll(async () => {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('two pipelines fed by one SNS topic', () => {
  it('one event refused by both is two records under one key, each with its own sealed body', async () => {
    expect(await records()).toEqual([
      { pipeline: 'logins', sqs_message_id: key, reason: 'db_rejected' },
      { pipeline: 'page_views', sqs_message_id: key, reason: 'too_long' },
    ]);
    const bodies = await stack.pool.query<{ pipeline: string }>('SELECT pipeline FROM sqs2pg_vault.quarantine_bodies WHERE sqs_message_id = $1 ORDER BY 1', [key]);
    expect(bodies.rows).toEqual([{ pipeline: 'logins' }, { pipeline: 'page_views' }]);
  });

  it('quarantine show names the pipeline when two records share the key', async () => {
    const ambiguous = await runCli(['quarantine', 'show', key], officer());
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain('--pipeline');
    const shown = await runCli(['quarantine', 'show', key, '--pipeline', 'page_views', '--reveal', '--reason', 'ticket R-1'], officer());
    expect(shown.code, shown.stderr).toBe(0);
    const record = JSON.parse(shown.stdout) as { pipeline: string; body: string };
    expect(record.pipeline).toBe('page_views');
    // The body as page_views' queue received it: the SNS notification around the event.
    notification = record.body;
    expect((JSON.parse((JSON.parse(notification) as { Message: string }).Message) as { visitor: { id: string } }).visitor.id).toBe(VISITOR);
  });
});

describe('replay, per pipeline', () => {
  it('without a file: the logins record is replayed into user_logins; the page_views record is left and counted', async () => {
    await stack.pool.query('ALTER TABLE user_logins DROP CONSTRAINT not_this_user');
    const result = await runCli(['replay', '--reason', 'constraint dropped, ticket R-2'], officer());
    expect(result.code, result.stderr).toBe(0);
    // Today's line, as without declared pipelines, then the records it left.
    expect(result.stdout.split('\n')[0]).toMatch(/^replayed: 1 loaded and removed from the quarantine; 0 still refused; 0 without a sealed body/);
    expect(result.stdout).toContain('1 record of pipelines replay was not given: page_views 1');
    expect(await rowsOf('user_logins')).toEqual([key]);
    expect(await records()).toEqual([{ pipeline: 'page_views', sqs_message_id: key, reason: 'too_long' }]);
  });

  it('--config, before the cause is fixed: the page_views record stays, still too_long; --json says so per pipeline', async () => {
    const result = await runCli(['replay', '--reason', 'not yet, ticket R-3', '--json'], officer(true));
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      pipelines: {
        logins: { loaded: 0, stillRefused: {}, withoutBody: 0 },
        page_views: { loaded: 0, stillRefused: { too_long: 1 }, withoutBody: 0 },
      },
      notGiven: {},
    });
    expect(await records()).toEqual([{ pipeline: 'page_views', sqs_message_id: key, reason: 'too_long' }]);
  });

  it('--config, once the column is widened (table and file): loaded into page_views by the declaration, masked, and the record removed; two replays at once make one row', async () => {
    await stack.pool.query('ALTER TABLE public.page_views ALTER COLUMN visitor_id TYPE varchar(128)');
    writeFileSync(FILE, readFileSync(FILE, 'utf8').replace('type: varchar(64)', 'type: varchar(128)'));
    const both = [
      startCli(['replay', '--reason', 'column widened, ticket R-4', '--pipeline', 'page_views'], officer(true)),
      startCli(['replay', '--reason', 'column widened, ticket R-4', '--pipeline', 'page_views'], officer(true)),
    ];
    const results = await Promise.all(both.map((cli) => cli.done));
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    expect(results.map((result) => /page_views: (\d) loaded/.exec(result.stdout)?.[1]).sort()).toEqual(['0', '1']);
    const rows = await stack.pool.query<{ sqs_message_id: string; visitor_id: string; masked_email: string; url: string }>('SELECT sqs_message_id, visitor_id, masked_email, url FROM public.page_views');
    expect(rows.rows).toEqual([{ sqs_message_id: key, visitor_id: VISITOR, masked_email: expect.stringMatching(/^k1:[0-9a-f]{64}$/) as string, url: 'https://shop.example/shared' }]);
    expect(await records()).toEqual([]);
    const bodies = await stack.pool.query('SELECT 1 FROM sqs2pg_vault.quarantine_bodies');
    expect(bodies.rowCount).toBe(0);
  });

  it('a record whose row is already there (a late redelivery loaded it) is removed, and makes no second row', async () => {
    await stack.pool.query(`INSERT INTO sqs2pg.quarantine (pipeline, sqs_message_id, reason, receive_count, sent_at) VALUES ('page_views', $1, 'too_long', 1, now())`, [key]);
    const sealed = createVaultSealer(Buffer.from(TEST_VAULT_PUBLIC_KEY, 'hex'), 'v1').batch().seal(quarantineContext(key), notification);
    await stack.pool.query(
      'INSERT INTO sqs2pg_vault.quarantine_bodies (pipeline, sqs_message_id, vault_key_id, ephemeral_public_key, nonce, ciphertext) VALUES ($1, $2, $3, $4, $5, $6)',
      ['page_views', key, sealed.vaultKeyId, sealed.ephemeralPublicKey, sealed.nonce, sealed.ciphertext],
    );
    const result = await runCli(['replay', '--reason', 'redelivered, ticket R-5', '--pipeline', 'page_views'], officer(true));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('page_views: 1 loaded');
    expect(await rowsOf('public.page_views')).toEqual([key]);
    expect(await records()).toEqual([]);
  });

  it('a replay run again makes no second row anywhere', async () => {
    const again = await runCli(['replay', '--reason', 'again, ticket R-6'], officer(true));
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('logins: 0 loaded');
    expect(again.stdout).toContain('page_views: 0 loaded');
    expect(await rowsOf('user_logins')).toEqual([key]);
    expect(await rowsOf('public.page_views')).toEqual([key]);
  });

  it('--pipeline names a pipeline of the file', async () => {
    const result = await runCli(['replay', '--reason', 'typo, ticket R-7', '--pipeline', 'purchases'], officer(true));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--pipeline purchases names no pipeline');
  });
});
