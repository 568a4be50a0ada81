// What S3's error answers do to an offloaded message, told apart by S3's code: credentials S3
// refuses stop the worker with the messages left in the queue (never quarantined); an answer about
// one object no retry changes is quarantined with its code; a throttle or a 5xx sends the message
// back. And replay fetches a pointer's object before it takes the erasure lock, so a forget never
// waits on S3. S3 here is a small server on loopback answering as S3 does (XML errors), so each
// answer can be had on demand, and a GetObject held open.
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import { countRows, createTestStack, migrateWithCli, runCli, startCli, TEST_MASK_KEY, waitFor, type TestStack } from '../helpers/stack.js';
import { TEST_VAULT_PRIVATE_KEY, TEST_VAULT_PUBLIC_KEY } from '../helpers/vault.js';

const pointer = (bucket: string, key: string) => JSON.stringify(['software.amazon.payloadoffloading.PayloadS3Pointer', { s3BucketName: bucket, s3Key: key }]);
// A bucket and keys that name a user, as senders may write them: never in a record or a log line.
const BUCKET = 'user-u-5501-bucket';
const key = (code: string, status: number) => `users/u-5502/${code}/${status}`;

/**
 * A loopback S3: `…/<Code>/<status>` answers that XML error (`Bare` for none, as to a HEAD);
 * `…/held/<name>` answers NoSuchKey until `holding`, then is kept open until `release`; `…/ok/<name>`
 * answers the body stored under that name, and `…/moved/<name>` too once asked in eu-west-1.
 */
class FakeS3 {
  readonly bodies = new Map<string, string>();
  readonly held: { name: string; res: ServerResponse }[] = [];
  holding = false;
  private readonly server: Server = createServer((req, res) => {
    const [, code = '', last = ''] = /([^/]+)\/([^/?]+)(?:\?.*)?$/.exec(req.url ?? '') ?? [];
    // A bucket in eu-west-1, asked in us-east-1 (AWS_REGION): S3's 301, naming the region to ask.
    if (code === 'moved' && !(req.headers.authorization ?? '').includes('/eu-west-1/')) res.writeHead(301, { 'x-amz-bucket-region': 'eu-west-1', 'content-type': 'application/xml' }).end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>PermanentRedirect</Code><Message>ask eu-west-1</Message></Error>');
    else if ((code === 'ok' || code === 'moved') && this.bodies.has(last)) res.writeHead(200, { 'content-type': 'application/json' }).end(this.bodies.get(last));
    else if (code === 'held' && this.holding) this.held.push({ name: last, res });
    else if (code === 'held') error(res, 404, 'NoSuchKey');
    else error(res, Number(last) || 500, code);
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  release(): void {
    for (const { name, res } of this.held.splice(0)) res.writeHead(200, { 'content-type': 'application/json' }).end(this.bodies.get(name));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

function error(res: ServerResponse, status: number, code: string): void {
  if (code === 'Bare') return void res.writeHead(status).end();
  res.writeHead(status, { 'content-type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code} for ${BUCKET}/${key(code, status)}</Message><RequestId>r1</RequestId></Error>`);
}

let stack: TestStack;
const s3 = new FakeS3();
let s3Endpoint: string;
beforeAll(async () => {
  stack = await createTestStack();
  await migrateWithCli(stack.databaseUrl);
  s3Endpoint = await s3.start();
});
afterAll(async () => {
  await s3.stop();
  await stack.close();
});

async function recordsSince(earlier: readonly string[]): Promise<{ reason: string; detail: string | null }[]> {
  const result = await stack.pool.query<{ reason: string; detail: string | null }>(
    'SELECT reason, detail FROM sqs2pg.quarantine WHERE sqs_message_id <> ALL($1::text[]) ORDER BY detail',
    [earlier],
  );
  return result.rows;
}

const quarantinedIds = async () => (await stack.pool.query<{ id: string }>('SELECT sqs_message_id AS id FROM sqs2pg.quarantine')).rows.map((row) => row.id);

// Through either SQS client: S3's answer decides, not the queue's client.
describe.each([
  ['lean', ['InvalidAccessKeyId', 403], ['RequestTimeTooSkewed', 403]],
  ['sdk', ['ExpiredToken', 400], ['SignatureDoesNotMatch', 403]],
] as const)('S3 refusing the credentials, --sqs-client %s', (client, first, second) => {
  it('stops the worker with exit 3 and says so; nothing is quarantined, the messages stay in the queue', async () => {
    const queueUrl = await stack.newQueue();
    await stack.send(queueUrl, [pointer(BUCKET, key(first[0], first[1])), pointer(BUCKET, key(second[0], second[1]))]);
    const before = await countRows(stack.pool);

    const result = await runCli(['run', '--drain'], stack.env(queueUrl, { SQS2PG_SQS_CLIENT: client, AWS_ENDPOINT_URL_S3: s3Endpoint }));

    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toContain('S3 refused the AWS credentials');
    expect(result.stderr).toMatch(new RegExp(`${first[0]}|${second[0]}`));
    expect(await countRows(stack.pool)).toEqual(before);
    const depth = await stack.queueDepth(queueUrl);
    expect(depth.visible + depth.notVisible).toBe(2);
    expect(result.stdout + result.stderr).not.toMatch(/u-550[12]/);
  });
});

describe('S3 answers about one object', () => {
  it('a permanent 4xx is quarantined as payload_unavailable with its code; a throttle or a 5xx goes back to the queue', async () => {
    const queueUrl = await stack.newQueue();
    const permanent = [
      ['InvalidRequest', 400], // an SSE-C object, read without its customer key
      ['InvalidObjectState', 403], // archived in Glacier
      ['AccessDenied', 403], // a bucket policy denying this key
      ['PreconditionFailed', 412],
      ['Bare', 416],
      ['PermanentRedirect', 301], // moved, and no region named to ask instead
    ] as const;
    const transient = [
      ['SlowDown', 503],
      ['InternalError', 500],
    ] as const;
    await stack.send(queueUrl, [...permanent, ...transient].map(([code, status]) => pointer(BUCKET, key(code, status))));
    const earlier = await quarantinedIds();

    const result = await runCli(['run', '--drain'], stack.env(queueUrl, { AWS_ENDPOINT_URL_S3: s3Endpoint }));

    expect(result.code, result.stderr).toBe(0);
    const records = await recordsSince(earlier);
    expect(records).toEqual(
      ['AccessDenied', 'InvalidObjectState', 'InvalidRange', 'InvalidRequest', 'PermanentRedirect', 'PreconditionFailed'].map((detail) => ({ reason: 'payload_unavailable', detail })),
    );
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: transient.length });
    const dump = JSON.stringify([(await stack.pool.query('SELECT * FROM sqs2pg.quarantine')).rows, result.stdout, result.stderr]);
    expect(dump).not.toMatch(/u-550[12]/);
  });
});

describe('a bucket in another region than AWS_REGION', () => {
  it('is asked again in the region S3 names (its 301), and the payload loaded', async () => {
    const queueUrl = await stack.newQueue();
    const [event] = generateSample({ count: 1, malformed: 0, seed: 2633 }).bodies as [string];
    const name = randomUUID();
    s3.bodies.set(name, event);
    await stack.send(queueUrl, [pointer(BUCKET, `users/u-5502/moved/${name}`)]);
    const before = await countRows(stack.pool);

    const result = await runCli(['run', '--drain'], stack.env(queueUrl, { AWS_ENDPOINT_URL_S3: s3Endpoint }));

    expect(result.code, result.stderr).toBe(0);
    expect(await countRows(stack.pool)).toMatchObject({ rows: before.rows + 1, quarantined: before.quarantined });
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });
  });
});

/**
 * A payload_unavailable record of its own queue whose object S3 now has but is slow to give, and a
 * replay of it started, its GetObject held open by S3.
 */
async function replayHeldOnS3(seed: number): Promise<{ id: string; replay: ReturnType<typeof startCli> }> {
  const queueUrl = await stack.newQueue();
  const [event] = generateSample({ count: 1, malformed: 0, seed }).bodies as [string];
  const name = randomUUID();
  s3.bodies.set(name, event);
  await stack.send(queueUrl, [pointer(BUCKET, `users/u-5502/held/${name}`)]);
  const earlier = await quarantinedIds();
  const run = await runCli(['run', '--drain'], stack.env(queueUrl, { SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY, AWS_ENDPOINT_URL_S3: s3Endpoint }));
  expect(run.code, run.stderr).toBe(0);
  expect(await recordsSince(earlier)).toEqual([{ reason: 'payload_unavailable', detail: 'NoSuchKey' }]);
  const [id] = (await quarantinedIds()).filter((record) => !earlier.includes(record)) as [string];
  s3.holding = true;
  const replayEnv = stack.env(queueUrl, { SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY, AWS_ENDPOINT_URL_S3: s3Endpoint });
  const replay = startCli(['replay', '--reason', 'object restored, ticket S3-2', '--where-reason', 'payload_unavailable', '--json'], replayEnv);
  await waitFor(() => s3.held.length === 1 || replay.child.exitCode !== null, 30_000, "replay's GetObject");
  expect(s3.held, replay.output().stderr).toHaveLength(1);
  return { id, replay };
}

const replayAudits = async (id: string) => (await stack.pool.query<{ detail: object }>("SELECT detail FROM sqs2pg_vault.audit WHERE action = 'replay' AND subject = $1", [id])).rows;

describe('replay of a pointer record', () => {
  it('fetches the object before taking the erasure lock: a forget meanwhile does not wait on S3', async () => {
    const { id, replay } = await replayHeldOnS3(2631);
    let forget: ReturnType<typeof startCli> | undefined;
    try {

      // Another user's erasure, meanwhile: it takes the erasure lock exclusively.
      const forgetting = startCli(['forget', '--user-id', 'someone-else', '--reason', 'ER-26'], { PATH: process.env.PATH, DATABASE_URL: stack.databaseUrl, SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY, SQS2PG_MASK_KEY: TEST_MASK_KEY });
      forget = forgetting;
      let forgetWaited = false;
      // Done, or seen waiting for a lock replay holds: either ends the wait, without a clock.
      await waitFor(
        async () => {
          if (forgetting.child.exitCode !== null) return true;
          const waiting = await stack.pool.query("SELECT 1 FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())");
          forgetWaited = (waiting.rowCount ?? 0) > 0;
          return forgetWaited;
        },
        30_000,
        'forget to finish or to wait for the erasure lock',
      );
      expect(forgetWaited, 'forget waited for the erasure lock while replay fetched from S3').toBe(false);
      const forgot = await forgetting.done;
      expect(forgot.code, forgot.stderr).toBe(0);
      // Replay is still waiting for S3, and gets the object now.
      expect(s3.held).toHaveLength(1);
      s3.release();
      const replayed = await replay.done;
      expect(replayed.code, replayed.stderr).toBe(0);
      expect((JSON.parse(replayed.stdout) as { pipelines: { logins: { loaded: number } } }).pipelines.logins.loaded).toBe(1);
      // Replayed once, audited once, in the transaction that loaded it.
      expect(await replayAudits(id)).toEqual([{ detail: { pipeline: 'logins' } }]);
      expect(await quarantinedIds()).not.toContain(id);
      expect((await stack.pool.query('SELECT 1 FROM user_logins WHERE sqs_message_id = $1', [id])).rowCount).toBe(1);
    } finally {
      s3.holding = false;
      s3.release();
      for (const cli of [replay, forget]) if (cli && cli.child.exitCode === null) cli.child.kill('SIGKILL');
      await Promise.all([replay.done, forget?.done]);
    }
  });

  it('a record gone while its object was fetched (another replay took it, or a forget) is not replayed, and its opening is audited', async () => {
    const { id, replay } = await replayHeldOnS3(2632);
    try {
      // As another replay would have: loaded and removed, under the erasure lock.
      await stack.pool.query('DELETE FROM sqs2pg.quarantine WHERE sqs_message_id = $1', [id]);
      s3.release();
      const replayed = await replay.done;
      expect(replayed.code, replayed.stderr).toBe(0);
      expect((JSON.parse(replayed.stdout) as { pipelines: { logins: { loaded: number } } }).pipelines.logins.loaded).toBe(0);
      expect((await stack.pool.query('SELECT 1 FROM user_logins WHERE sqs_message_id = $1', [id])).rowCount).toBe(0);
      expect(await replayAudits(id)).toEqual([{ detail: { pipeline: 'logins', gone: true } }]);
    } finally {
      s3.holding = false;
      s3.release();
      if (replay.child.exitCode === null) replay.child.kill('SIGKILL');
      await replay.done;
    }
  });
});
