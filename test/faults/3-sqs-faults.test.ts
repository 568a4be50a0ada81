// Scenario 3, SQS faults: the worker drains a queue through a proxy that fails about 5 % of every
// SQS call (500, throttling, reset connection, an answer held 1-2 s after the server acted) and,
// on top, fails whole DeleteMessageBatch calls and single entries of them. Nothing may be lost or
// loaded twice; a delete that fails is retried or left to redelivery, which the sink skips. The
// worker runs two pipelines (logins and a declared one), each on its own queue, in one process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSqsProxy, type FaultRule } from '../helpers/sqs-proxy.js';
import { createTestStack, startCli, type CliProcess, type CliResult, type TestStack } from '../helpers/stack.js';
import { checkDelivery, inQueues, piiFound, pipelinesEnv, recordFigures, scaled, SCALE, SCENARIO_TIMEOUT_MS, sendWorkload } from './harness.js';

const MESSAGES = scaled(3_000, 50_000);
const MALFORMED = scaled(12, 100);
// Long enough for a faulted drain at either size (a clean one takes a fraction of it), short
// enough that a hang is reported as one rather than eating the scenario's whole timeout.
const DRAIN_TIMEOUT_MS = scaled(60_000, 240_000);
const CLEAN_DRAIN_TIMEOUT_MS = scaled(20_000, 90_000);
// Short, so that a visibility extension lost to a fault really lets a message come back.
const VISIBILITY_TIMEOUT_SEC = '3';

// Rolled in order, first hit wins: each '*' rule faults ~1.25 % of all calls (~5 % together);
// DeleteMessageBatch calls that pass those face ~6 % more.
const RULES: FaultRule[] = [
  { operation: '*', action: 'http500', probability: 0.0125 },
  { operation: '*', action: 'throttle', probability: 0.0125 },
  { operation: '*', action: 'reset', probability: 0.0125 },
  { operation: '*', action: 'slowAnswer', delayMs: 1_000, maxDelayMs: 2_000, probability: 0.0125 },
  { operation: 'DeleteMessageBatch', action: 'http500', probability: 0.02 },
  { operation: 'DeleteMessageBatch', action: 'failEntries', probability: 0.02 },
  { operation: 'DeleteMessageBatch', action: 'failSomeEntries', probability: 0.02 },
];

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(async () => {
  await stack.close();
});

/** A number from the drain summary, e.g. summaryCount(stdout, 'already loaded'); 0 if absent. */
function summaryCount(stdout: string, label: string): number {
  const match = new RegExp(`${label}\\s+([\\d,]+)`).exec(stdout);
  return match?.[1] ? Number(match[1].replaceAll(',', '')) : 0;
}

/** "deleted from SQS   1,234, 5 left to redelivery" -> 5 */
function leftToRedelivery(stdout: string): number {
  const match = /deleted from SQS\s+[\d,]+, ([\d,]+) left to redelivery/.exec(stdout);
  return match?.[1] ? Number(match[1].replaceAll(',', '')) : 0;
}

async function finish(cli: CliProcess | undefined): Promise<void> {
  if (cli === undefined) return;
  if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  await cli.done;
}

describe('fault scenario 3: SQS faults', () => {
  it(
    'drains through 5 % failing SQS calls and failed deletes, losing and duplicating nothing',
    async () => {
      const workload = await sendWorkload(stack, { count: MESSAGES, malformed: MALFORMED, seed: 3 });
      const started = performance.now();
      const outputs: string[] = [];
      const proxy = await startSqsProxy(stack.sqsEndpoint, { seed: 3 });
      let faulty: CliResult;
      let cli: CliProcess | undefined;
      try {
        proxy.setRules(RULES);
        cli = startCli(
          ['run', '--drain'],
          pipelinesEnv(stack, workload.queues, { AWS_ENDPOINT_URL_SQS: proxy.endpoint, SQS2PG_VISIBILITY_TIMEOUT_SEC: VISIBILITY_TIMEOUT_SEC }),
          DRAIN_TIMEOUT_MS,
        );
        faulty = await cli.done;
      } finally {
        await finish(cli);
        await proxy.close();
      }
      outputs.push(faulty.stdout, faulty.stderr);

      // A drain the faults kept from finishing is a failure below; a clean one still settles
      // what was left so the figures say whether anything was lost.
      const leftover = await inQueues(stack, workload);
      let clean: CliResult | undefined;
      if (faulty.code !== 0 || leftover.visible + leftover.notVisible > 0) {
        let cleanCli: CliProcess | undefined;
        try {
          cleanCli = startCli(
            ['run', '--drain'],
            pipelinesEnv(stack, workload.queues, { SQS2PG_VISIBILITY_TIMEOUT_SEC: VISIBILITY_TIMEOUT_SEC }),
            CLEAN_DRAIN_TIMEOUT_MS,
          );
          clean = await cleanCli.done;
        } finally {
          await finish(cleanCli);
        }
        outputs.push(clean.stdout, clean.stderr);
      }
      const seconds = (performance.now() - started) / 1000;

      const delivery = await checkDelivery(stack, workload);
      const pii = await piiFound(stack, workload, outputs);
      const counts = Object.values(proxy.counts());
      const calls = counts.reduce((sum, c) => sum + c.seen, 0);
      const faulted = counts.reduce((sum, c) => sum + c.faulted, 0);
      const summary = {
        deleted: summaryCount(faulty.stdout, 'deleted from SQS') + summaryCount(clean?.stdout ?? '', 'deleted from SQS'),
        leftToRedelivery: leftToRedelivery(faulty.stdout),
        alreadyLoaded: summaryCount(faulty.stdout, 'already loaded') + summaryCount(clean?.stdout ?? '', 'already loaded'),
      };
      recordFigures({
        scenario: '3 SQS faults',
        messages: workload.sent.size,
        faults: `${faulted.toLocaleString('en-US')} of ${calls.toLocaleString('en-US')} calls faulted${clean ? ' (+ clean drain)' : ''}`,
        lost: delivery.lost,
        duplicated: delivery.duplicated,
        seconds,
        pii,
      });
      console.log(
        `[faults] 3 SQS faults: by action ${JSON.stringify(proxy.faultsByAction())}, by operation ${JSON.stringify(proxy.counts())}; ` +
          `drain exit ${faulty.code}${clean ? `, clean drain exit ${clean.code}` : ''}; deleted from SQS ${summary.deleted}, ` +
          `left to redelivery ${summary.leftToRedelivery}, already loaded (redelivered, skipped) ${summary.alreadyLoaded}`,
      );

      expect(faulty.code, `the faulted drain did not finish by itself:\n${faulty.stderr.slice(-3000)}`).toBe(0);
      expect(clean, 'the faulted drain exited 0 but left messages in the queue').toBeUndefined();
      expect(delivery).toMatchObject({ sent: MESSAGES + MALFORMED, lost: 0, duplicated: 0, misrouted: 0 });
      expect(delivery.loaded + delivery.quarantined).toBe(MESSAGES + MALFORMED);
      expect(pii).toBe(0);
      expect(await inQueues(stack, workload)).toEqual({ visible: 0, notVisible: 0 });
      // The faults really happened, of every kind, and at about the rate asked for.
      expect(faulted / calls).toBeGreaterThan(0.03);
      // Each kind is expected a handful of times in the short run (which could, rarely, miss one)
      // and hundreds of times in the full one.
      const kinds = Object.keys(proxy.faultsByAction()).sort();
      if (SCALE === 'full') expect(kinds).toEqual(['failEntries', 'failSomeEntries', 'http500', 'reset', 'slowAnswer', 'throttle']);
      else expect(kinds.length).toBeGreaterThanOrEqual(4);
      // Every message was deleted at least once; a copy delivered twice may be deleted twice.
      expect(summary.deleted).toBeGreaterThanOrEqual(MESSAGES + MALFORMED);
    },
    SCENARIO_TIMEOUT_MS,
  );
});
