// A whole worker (pollers, transform, PostgreSQL) draining ~1 MiB hostile bodies with answers counted
// as they arrive: what V8's heap holds, after a full collection, at every delete, beside what the byte
// budget counts at that moment. Pollers waiting for room once kept their last answer's bodies alive,
// ten of 1 MiB each, long after those were committed and given back to the budget.
import { builtinLogins } from '../../src/config/builtin-pipelines.js';
import { rehearsalMessages } from '../../src/pipeline/rehearsal.js';
import { sinkTargetOf } from '../../src/sink/postgres/conflict-target.js';
import { compileTransform } from '../../src/transform/pipeline-transform.js';
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { requireUserLogins } from '../../src/db/user-logins.js';
import type { Emit } from '../../src/observability/events.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { PostgresSink } from '../../src/sink/postgres/sink.js';
import { createSqsApi } from '../../src/source/sqs/create-sqs-api.js';
import { SqsSource, sqsSocketsFor } from '../../src/source/sqs/source.js';
import type { SqsApi } from '../../src/source/sqs/sqs-api.js';
import { generateSample } from '../../src/local/sample.js';
import { createMasker } from '../../src/transform/mask.js';
import { createTestStack, TEST_MASK_KEY, type TestStack } from '../helpers/stack.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const MiB = 1024 * 1024;
const POLLERS = 8;
const BUDGET_BYTES = 8 * MiB;
// What the worker holds beside the messages the budget counts: statements, parsers, sockets' state,
// and a receive being decoded. ~1 MB on a quiet machine, up to ~9 MB seen beside the whole suite (more
// of it mid-flight at a delete); the leak this guards against held 51 MB, several pollers' answers.
const SLACK_BYTES = 12 * MiB;
const VALID = 400;
const HOSTILE = 80;

let stack: TestStack;
let api: SqsApi | undefined;
beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(async () => {
  api?.destroy();
  await stack.close();
});

/** Bodies just under SQS's 1 MiB that are not events (quarantined), each one distinct. */
function hostileBodies(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${i}:${randomBytes(4).toString('hex')}:` + (i % 2 === 0 ? '10.1.2.3 ' : '[[[[').repeat(110_000));
}

describe('a worker draining hostile answers counted as they arrive', () => {
  it("holds in V8's heap no more than its byte budget counts, whatever its pollers wait for", async () => {
    const queueUrl = await stack.newQueue();
    // Valid events first, so every poller is receiving ten at a time when the hostile bodies come.
    const valid = generateSample({ count: VALID, malformed: 0, seed: 7 }).bodies;
    const hostile = hostileBodies(HOSTILE);
    await stack.send(queueUrl, valid);
    await stack.send(queueUrl, hostile);
    await migrate(stack.pool);

    let baseline = 0;
    const overBudget: number[] = [];
    let quarantined = 0;
    const emit: Emit = (name) => {
      if (name === 'message:quarantined') quarantined++;
      // Messages just deleted are still counted here; everything else committed before is garbage.
      if (name !== 'source:deleted') return;
      gc();
      overBudget.push(process.memoryUsage().heapUsed - baseline - source.budget.held);
    };
    api = createSqsApi({
      protocol: 'json',
      target: stack.sqsEndpoint,
      client: { region: 'us-east-1', endpoint: stack.sqsEndpoint, queueUrl, receiveWaitSec: 1, maxSockets: sqsSocketsFor(POLLERS), env: {} },
      emit,
    });
    const source = new SqsSource(api, { queueUrl, visibilityTimeoutSec: 60, emit, maxHeldBytes: BUDGET_BYTES, reserveAnswers: false });
    await source.depth();
    const maxBodyBytes = await source.maxMessageBytes();
    const logins = builtinLogins(queueUrl);
    const pipeline = new Pipeline(
      source,
      new PostgresSink(stack.pool, sinkTargetOf(logins, await requireUserLogins(stack.pool))),
      compileTransform(logins, createMasker(Buffer.from(TEST_MASK_KEY, 'hex'), 'k1'), { envelope: 'none', maxBodyBytes, vault: false }),
      {
        pollers: POLLERS,
        receiveWaitSec: 1,
        batchMaxRows: 500,
        batchMaxWaitMs: 50,
        maxInFlightMessages: 2000,
        maxInFlightBytes: BUDGET_BYTES,
        answerBytes: 'count',
        drain: true,
        maxBodyBytes,
        maxOutageSec: 60,
        queueDepthIntervalSec: 60,
      },
      emit,
    );
    await pipeline.rehearse(rehearsalMessages(Date.now()));
    gc();
    baseline = process.memoryUsage().heapUsed;

    expect(await pipeline.run()).toEqual({ drained: true });
    expect(quarantined).toBe(HOSTILE);
    const rows = await stack.pool.query<{ n: string }>('SELECT count(*) AS n FROM user_logins');
    expect(Number(rows.rows[0]?.n)).toBe(VALID);
    expect(overBudget.length).toBeGreaterThan(0);
    // Held beyond the count: a few MB of the worker's own, never the last answers of waiting pollers (~10 MB each).
    expect(Math.max(...overBudget)).toBeLessThan(SLACK_BYTES);
  });
});
