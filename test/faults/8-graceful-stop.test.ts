// Graceful stop: the service (no --drain, the default 30 s visibility timeout) gets SIGTERM while
// busy, several times, and is restarted each time. Each stop must exit 0 long before the
// visibility timeout and leave nothing hidden: what was committed is deleted, everything else is
// visible again at once. A drain then finishes the queue: nothing lost, nothing loaded twice.
// "Busy" is made certain, not likely: a lock on both tables holds the service's writes until the
// signal has been seen, so work is in hand however fast (or slow) the machine is. The service runs
// two pipelines (logins and a declared one), each on its own queue: each queue is checked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestStack, waitFor, type TestStack } from '../helpers/stack.js';
import { checkDelivery, piiFound, pipelinesEnv, recordFigures, scaled, SCALE, SCENARIO_TIMEOUT_MS, sendWorkload } from './harness.js';
import { migratePipelines, PIPELINES, type PipelineName } from '../helpers/page-views.js';
import { committedCount, Fleet, isRunning, seededRandom, sleep } from './worker-processes.js';

const MESSAGES = scaled(3_000, 30_000);
const MALFORMED = scaled(5, 20);
const STOPS = scaled(2, 5);
/** how long after the service's writes are first held the SIGTERM lands */
const STOP_AFTER_MS = { min: 0, max: scaled(300, 1_500) };
const VISIBILITY_TIMEOUT_SEC = 30; // the default, which the service is run with

interface Stop {
  code: number | null;
  signal: NodeJS.Signals | null;
  seconds: number;
  /** messages not yet committed when the signal was sent: the service was busy */
  remaining: number;
  /** each queue right after the exit, and what it should hold */
  queues: Record<PipelineName, { visible: number; notVisible: number }>;
  expected: Record<PipelineName, { visible: number; notVisible: number }>;
}

let stack: TestStack;
let fleet: Fleet | undefined;
beforeAll(async () => {
  stack = await createTestStack();
  // The lock below needs the tables (the declared one too) before the first service starts.
  await migratePipelines(stack.databaseUrl);
});
afterAll(async () => {
  await fleet?.stopAll();
  await stack.close();
});

describe('fault 8: graceful stop', () => {
  it(
    `SIGTERM to the busy service ${STOPS} times: exits 0 at once, leaves nothing hidden, loses nothing`,
    async () => {
      const random = seededRandom();
      console.log(`[faults:${SCALE}] 8 graceful stop: FAULTS_SEED=${random.seed}`);
      const workload = await sendWorkload(stack, { count: MESSAGES, malformed: MALFORMED, seed: 8 });
      // At most 200 in hand per pipeline: a stop finishes what is in hand, and with answers counted as
      // they arrive the first service would take the whole workload at once, leaving the next stops nothing to hold.
      const env = pipelinesEnv(stack, workload.queues, { SQS2PG_LOG_LEVEL: 'info', SQS2PG_MAX_IN_FLIGHT_MESSAGES: '200' });
      const processes = new Fleet(SCENARIO_TIMEOUT_MS - 30_000);
      fleet = processes;

      const started = performance.now();
      const stops: Stop[] = [];
      let drainCode: number | null;
      try {
        for (let i = 0; i < STOPS; i++) {
          // EXCLUSIVE lets the service's start-up checks read the table but holds every INSERT (its
          // start-up's trial batch gives up on the lock after a second; its batches wait).
          const lock = await stack.pool.connect();
          let cli;
          let remaining: number;
          let signalled: number;
          try {
            await lock.query('BEGIN; LOCK TABLE user_logins, page_views IN EXCLUSIVE MODE');
            cli = processes.start(['run'], env);
            const service = cli;
            await waitFor(
              async () => {
                if (!isRunning(service)) throw new Error(`the service exited by itself:\n${service.output().stderr.slice(-2000)}`);
                return service.output().stderr.includes('sqs2pg started') && writesHeld(lock);
              },
              30_000,
              'a write of the service to wait on the lock',
            );
            await sleep(random.between(STOP_AFTER_MS.min, STOP_AFTER_MS.max));
            remaining = workload.sent.size - (await committedCount(stack));
            signalled = performance.now();
            service.child.kill('SIGTERM');
            await waitFor(() => service.output().stderr.includes('stopping: received SIGTERM'), 30_000, 'the service to begin its stop');
          } finally {
            await lock.query('COMMIT');
            lock.release();
          }
          const result = await processes.finish(cli);
          const seconds = (performance.now() - signalled) / 1000;
          const queues = { logins: await stack.queueDepth(workload.queues.logins), page_views: await stack.queueDepth(workload.queues.page_views) };
          const { pipelines } = await checkDelivery(stack, workload);
          const expected = (name: PipelineName) => ({ visible: pipelines[name].sent - pipelines[name].loaded - pipelines[name].quarantined, notVisible: 0 });
          stops.push({
            code: result.code,
            signal: result.signal,
            seconds,
            remaining,
            queues,
            expected: { logins: expected('logins'), page_views: expected('page_views') },
          });
        }
        drainCode = (await processes.finish(processes.start(['run', '--drain'], env))).code;
      } finally {
        await processes.stopAll();
      }
      const seconds = (performance.now() - started) / 1000;
      const slowest = Math.max(...stops.map((stop) => stop.seconds));
      const trace = stops.map(
        (stop) =>
          `exit ${stop.code ?? stop.signal} in ${stop.seconds.toFixed(2)} s, then ${PIPELINES.map((name) => `${name} ${stop.queues[name].visible} visible/${stop.queues[name].notVisible} hidden`).join(', ')}`,
      );
      console.log(`[faults:${SCALE}] 8 graceful stop: ${trace.join('; ')}`);

      const delivery = await checkDelivery(stack, workload);
      const pii = await piiFound(stack, workload, processes.outputs());
      recordFigures({
        scenario: '8 graceful stop',
        messages: delivery.sent,
        faults: `${stops.length} SIGTERM (exit in ≤ ${(Math.ceil(slowest * 10) / 10).toFixed(1)} s)`,
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
      expect(stops).toHaveLength(STOPS);
      for (const stop of stops) {
        expect({ code: stop.code, signal: stop.signal }).toEqual({ code: 0, signal: null });
        expect(stop.seconds).toBeLessThan(VISIBILITY_TIMEOUT_SEC);
        expect(stop.queues).toEqual(stop.expected);
      }
      // The signals landed on a busy service, not on an idle one that had emptied the queue
      // (certain by construction; checked so a change to the set-up cannot quietly undo it).
      expect(stops.every((stop) => stop.remaining > 0)).toBe(true);
      expect(drainCode).toBe(0);
      for (const name of PIPELINES) expect(await stack.queueDepth(workload.queues[name])).toEqual({ visible: 0, notVisible: 0 });
    },
    SCENARIO_TIMEOUT_MS,
  );
});

/** Whether some other session waits for a table lock `lock` holds: a write of the service. */
async function writesHeld(lock: { query(sql: string): Promise<{ rows: { n: string }[] }> }): Promise<boolean> {
  const waiting = await lock.query(
    `SELECT count(*) AS n FROM pg_locks WHERE relation IN ('user_logins'::regclass, 'page_views'::regclass) AND NOT granted`,
  );
  return Number(waiting.rows[0]?.n) > 0;
}
