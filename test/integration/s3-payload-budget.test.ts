// S3 payloads under the process's byte budget (issue 26), against real sockets: a whole worker
// draining large offloaded payloads with a budget of a few of them never counts more than the limit
// plus one payload, and loads each once; an object streamed without a stated length is cut off at
// --max-body-bytes, not read whole.
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinLogins } from '../../src/config/builtin-pipelines.js';
import { migrate } from '../../src/db/migrate.js';
import { requireUserLogins } from '../../src/db/user-logins.js';
import { generateSample } from '../../src/local/sample.js';
import type { Emit } from '../../src/observability/events.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { rehearsalMessages } from '../../src/pipeline/rehearsal.js';
import { sinkTargetOf } from '../../src/sink/postgres/conflict-target.js';
import { PostgresSink } from '../../src/sink/postgres/sink.js';
import { S3PayloadResolver } from '../../src/source/s3/payload-resolver.js';
import { ByteBudget, payloadHeldBytes, type BudgetReader } from '../../src/source/sqs/byte-budget.js';
import { createSqsApi } from '../../src/source/sqs/create-sqs-api.js';
import { SqsSource, sqsSocketsFor } from '../../src/source/sqs/source.js';
import type { SqsApi } from '../../src/source/sqs/sqs-api.js';
import { createMasker } from '../../src/transform/mask.js';
import { compileTransform } from '../../src/transform/pipeline-transform.js';
import { countRows, createTestStack, TEST_MASK_KEY, waitFor, type TestStack } from '../helpers/stack.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const pointer = (bucket: string, key: string) => JSON.stringify(['software.amazon.payloadoffloading.PayloadS3Pointer', { s3BucketName: bucket, s3Key: key }]);

/** A budget that remembers the most it ever counted. */
class WatchedBudget extends ByteBudget {
  most = 0;
  override charge(bytes: number): void {
    super.charge(bytes);
    this.most = Math.max(this.most, this.held);
  }
  override take(reader: BudgetReader, bytes: number): boolean {
    const goOn = super.take(reader, bytes);
    this.most = Math.max(this.most, this.held);
    return goOn;
  }
}

let stack: TestStack;
let s3: S3Client;
const closers: (() => unknown)[] = [];
beforeAll(async () => {
  stack = await createTestStack();
  s3 = new S3Client({ region: 'us-east-1', endpoint: stack.sqsEndpoint, forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  s3?.destroy();
  await stack.close();
});

describe('S3 payloads under the byte budget', () => {
  it('drains many large payloads with a budget of two: never past the limit by more than one payload, each loaded once', async () => {
    const POLLERS = 4;
    const MAX_BODY = 1 * MiB;
    const BUDGET = 2 * MiB;
    const COUNT = 30;
    const queueUrl = await stack.newQueue();
    const bucket = `budget-${randomBytes(4).toString('hex')}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const events = generateSample({ count: COUNT, malformed: 0, seed: 2611 }).bodies.map((body, i) =>
      JSON.stringify({ ...(JSON.parse(body) as object), padding: 'p'.repeat(600 * KiB + i) }),
    );
    const bodies = [...events, 'x'.repeat(3 * MiB)];
    const pointers: string[] = [];
    for (const [i, body] of bodies.entries()) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `object-${i}`, Body: body }));
      pointers.push(pointer(bucket, `object-${i}`));
    }
    await stack.send(queueUrl, pointers);
    await migrate(stack.pool);

    let quarantined = 0;
    const failures: unknown[] = [];
    const emit: Emit = (name, payload) => {
      if (name === 'message:quarantined') quarantined++;
      if (name === 'payload:error' || name === 'source:error') failures.push(payload);
    };
    const api: SqsApi = createSqsApi({
      protocol: 'json',
      target: stack.sqsEndpoint,
      client: { region: 'us-east-1', endpoint: stack.sqsEndpoint, queueUrl, receiveWaitSec: 1, maxSockets: sqsSocketsFor(POLLERS), env: {} },
      emit,
    });
    closers.push(() => api.destroy());
    const budget = new WatchedBudget(BUDGET);
    const source = new SqsSource(api, { queueUrl, visibilityTimeoutSec: 60, emit, budget, reserveAnswers: false });
    await source.depth();
    const payloads = new S3PayloadResolver({ region: 'us-east-1', endpoint: stack.sqsEndpoint, maxBytes: MAX_BODY, env: {} });
    closers.push(() => payloads.destroy());
    const logins = builtinLogins(queueUrl);
    const pipeline = new Pipeline(
      source,
      new PostgresSink(stack.pool, sinkTargetOf(logins, await requireUserLogins(stack.pool))),
      compileTransform(logins, createMasker(Buffer.from(TEST_MASK_KEY, 'hex'), 'k1'), { envelope: 'none', maxBodyBytes: MAX_BODY, vault: false }),
      {
        pollers: POLLERS,
        receiveWaitSec: 1,
        batchMaxRows: 500,
        batchMaxWaitMs: 20,
        maxInFlightMessages: 2000,
        maxInFlightBytes: BUDGET,
        answerBytes: 'count',
        drain: true,
        maxBodyBytes: MAX_BODY,
        maxOutageSec: 60,
        queueDepthIntervalSec: 60,
      },
      emit,
      null,
      payloads,
    );
    await pipeline.rehearse(rehearsalMessages(Date.now(), logins));

    expect(await pipeline.run()).toEqual({ drained: true });
    expect(failures).toEqual([]);

    expect(await countRows(stack.pool)).toEqual({ rows: COUNT, distinctIds: COUNT, quarantined: 1 });
    expect(quarantined).toBe(1);
    expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });
    expect(source.inFlightBytes).toBe(0);
    // Payloads were counted (one is ~600 KiB) ...
    expect(budget.most).toBeGreaterThan(600 * KiB);
    // ... and the limit passed by one payload at most (plus the answers of the pollers, pointers of a few hundred bytes).
    expect(budget.most).toBeLessThanOrEqual(BUDGET + payloadHeldBytes(MAX_BODY) + POLLERS * 64 * KiB);
  });

  it('cuts off an object streamed without a stated length at the limit: too_large, not read whole', async () => {
    const MAX_BODY = 256 * KiB;
    let sent = 0;
    let [finished, closed] = [false, false];
    const server: Server = createServer((_request, response) => {
      response.on('close', () => (closed = true));
      // S3-like answer with no Content-Length (chunked): the length is only known by reading.
      response.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * KiB, 'a');
      const write = () => {
        while (!response.destroyed && sent < 256 * MiB) {
          sent += chunk.length;
          if (!response.write(chunk)) return void response.once('drain', write);
        }
        finished = true;
        response.end();
      };
      write();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => server.close(resolve)));
    closers.push(() => server.closeAllConnections());
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const resolver = new S3PayloadResolver({ region: 'us-east-1', endpoint, maxBytes: MAX_BODY, env: {} });
    closers.push(() => resolver.destroy());
    const budget = new ByteBudget(16 * MiB);
    budget.charge(1000); // the pointer's message, in hand
    let counted = 0;
    let ended: string | undefined | null = null;

    const payload = await resolver.fetch(
      { bucket: 'lying-bucket', key: 'endless' },
      async (bytes, signal) => {
        const turn = await budget.payloadRoom(1000, bytes, signal);
        counted = budget.held - 1000;
        return turn && { shrink: () => undefined, end: (body) => ((ended = body), turn.end()) };
      },
      AbortSignal.timeout(60_000),
    );

    expect(payload).toEqual({ kind: 'refused', reason: 'too_large', detail: `s3 object over ${MAX_BODY} bytes` });
    expect(ended).toBeUndefined();
    expect(counted).toBe(MAX_BODY);
    // The answer is dropped at the limit: what the server got out is the limit plus what sockets buffer.
    await waitFor(() => closed, 20_000, 'the answer closed');
    expect(finished).toBe(false);
    expect(sent).toBeLessThan(MAX_BODY + 32 * MiB);
  });
});
