// Competing workers: four drains share two queues (each drain runs both pipelines, logins and a
// declared one) and one database; two are SIGKILLed mid-run and restarted. The dead workers' messages reappear after the visibility timeout and are taken by
// whichever worker polls first; every drain exits 0 once the queue is empty, and nothing is
// lost or loaded twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestStack, type CliResult, type TestStack } from '../helpers/stack.js';
import { checkDelivery, inQueues, piiFound, pipelinesEnv, recordFigures, scaled, SCALE, SCENARIO_TIMEOUT_MS, sendWorkload } from './harness.js';
import { committedCount, Fleet, isRunning, seededRandom, sleep, waitForProgress } from './worker-processes.js';

const MESSAGES = scaled(4_000, 50_000);
const MALFORMED = scaled(5, 20);
const WORKERS = 4;
const KILLED = 2;
/**
 * Each victim is killed once this share (percent) of the messages is committed, then up to
 * KILL_JITTER_MS later: by progress, not by time, so that a fast host cannot finish the drain first.
 */
const KILL_AT_SHARE = { min: 10, max: 50 };
const KILL_JITTER_MS = 50;

let stack: TestStack;
let fleet: Fleet | undefined;
beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(async () => {
  await fleet?.stopAll();
  await stack.close();
});

describe('fault 7: competing workers', () => {
  it(
    `${WORKERS} drains of two pipelines, ${KILLED} SIGKILLed and restarted, load each of ${MESSAGES + MALFORMED} messages once`,
    async () => {
      const random = seededRandom();
      console.log(`[faults:${SCALE}] 7 competing workers: FAULTS_SEED=${random.seed}`);
      const workload = await sendWorkload(stack, { count: MESSAGES, malformed: MALFORMED, seed: 7 });
      const env = pipelinesEnv(stack, workload.queues, { SQS2PG_VISIBILITY_TIMEOUT_SEC: '2', SQS2PG_LOG_LEVEL: 'info' });
      const processes = new Fleet(SCENARIO_TIMEOUT_MS - 30_000);
      fleet = processes;

      const started = performance.now();
      let kills = 0;
      /** messages committed when each kill landed */
      const killedAt: number[] = [];
      const survivors: CliResult[] = [];
      try {
        const workers = Array.from({ length: WORKERS }, () => processes.start(['run', '--drain'], env));
        const victims = new Set<number>();
        while (victims.size < KILLED) victims.add(random.between(0, WORKERS - 1));
        const killAt = [...victims].map(() => Math.floor(((MESSAGES + MALFORMED) * random.between(KILL_AT_SHARE.min, KILL_AT_SHARE.max)) / 100));
        const jitters = [...victims].map(() => random.between(0, KILL_JITTER_MS));
        // Each victim dies at its own moment and is restarted at once.
        const restarts = await Promise.all(
          [...victims].map(async (index, i) => {
            const victim = workers[index];
            if (!victim) return null;
            if (await waitForProgress(stack, victim, killAt[i] ?? 0)) await sleep(jitters[i] ?? 0);
            if (isRunning(victim)) victim.child.kill('SIGKILL');
            const result = await processes.finish(victim);
            if (result.signal !== 'SIGKILL') {
              // It finished before the kill: a drain like the others (the kill count says so).
              survivors.push(result);
              return null;
            }
            kills += 1;
            killedAt.push(await committedCount(stack));
            return processes.start(['run', '--drain'], env);
          }),
        );
        for (const cli of [...workers.filter((_, index) => !victims.has(index)), ...restarts]) {
          if (cli) survivors.push(await processes.finish(cli));
        }
      } finally {
        await processes.stopAll();
      }
      const seconds = (performance.now() - started) / 1000;
      console.log(`[faults:${SCALE}] 7 competing workers: killed with ${killedAt.join(', ')} messages committed`);

      const delivery = await checkDelivery(stack, workload);
      const pii = await piiFound(stack, workload, processes.outputs());
      recordFigures({
        scenario: '7 competing workers',
        messages: delivery.sent,
        faults: `${WORKERS} workers, ${kills} SIGKILL`,
        lost: delivery.lost,
        duplicated: delivery.duplicated,
        seconds,
        pii,
      });
      expect({ lost: delivery.lost, duplicated: delivery.duplicated, misrouted: delivery.misrouted, pii }).toEqual({
        lost: 0,
        duplicated: 0,
        misrouted: 0,
        pii: 0,
      });
      expect(delivery.sent).toBe(MESSAGES + MALFORMED);
      // The two untouched workers and the two restarts all finish the drain.
      expect(survivors.map((result) => result.code)).toEqual(Array<number>(WORKERS).fill(0));
      expect(await inQueues(stack, workload)).toEqual({ visible: 0, notVisible: 0 });
      expect(kills).toBe(KILLED);
    },
    SCENARIO_TIMEOUT_MS,
  );
});
