// Crash: the worker is SIGKILLed at random moments of a drain and restarted at once, again and
// again; what each dead worker held reappears after the visibility timeout, and a last run
// finishes the queues. The worker runs two pipelines (logins and a declared one), each on its own
// queue: every message must end loaded or quarantined, once, in its own pipeline.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestStack, runCli, TEST_MASK_KEY, type TestStack } from '../helpers/stack.js';
import { TEST_VAULT_PRIVATE_KEY, TEST_VAULT_PUBLIC_KEY } from '../helpers/vault.js';
import { checkDelivery, inQueues, piiFound, pipelinesEnv, recordFigures, scaled, SCALE, SCENARIO_TIMEOUT_MS, sendWorkload } from './harness.js';
import { committedCount, Fleet, isRunning, seededRandom, sleep, waitForProgress } from './worker-processes.js';

const MESSAGES = scaled(3_000, 100_000);
const MALFORMED = scaled(5, 20);
const KILLS = scaled(3, 20);
/**
 * Each kill lands once the restarted worker has committed this share (percent) of what was left, then
 * up to KILL_JITTER_MS later: by progress, not by time, since a fast host drains the short scale's
 * 3,000 messages in the few hundred ms a timed kill would wait, and the kill would find it done.
 */
const KILL_AT_SHARE = { min: 10, max: 30 };
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

describe('fault 1: crash', () => {
  it(
    `SIGKILLed ${KILLS} times in a drain of ${MESSAGES + MALFORMED} messages, loses none and loads none twice`,
    async () => {
      const random = seededRandom();
      console.log(`[faults:${SCALE}] 1 crash: FAULTS_SEED=${random.seed}`);
      const workload = await sendWorkload(stack, { count: MESSAGES, malformed: MALFORMED, seed: 1 });
      // The vault on: the scan covers its sealed entries, and the tombstone and audit rows below.
      const env = pipelinesEnv(stack, workload.queues, { SQS2PG_VISIBILITY_TIMEOUT_SEC: '2', SQS2PG_LOG_LEVEL: 'info', SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY });
      const processes = new Fleet(SCENARIO_TIMEOUT_MS - 30_000);
      fleet = processes;

      const started = performance.now();
      let kills = 0;
      /** messages committed when each kill landed */
      const killedAt: number[] = [];
      let finalCode: number | null;
      try {
        for (let i = 0; i < KILLS; i++) {
          const before = await committedCount(stack);
          const cli = processes.start(['run', '--drain'], env);
          // Killing it before it commits anything would test only the start-up: wait for its share.
          const share = Math.floor(((MESSAGES + MALFORMED - before) * random.between(KILL_AT_SHARE.min, KILL_AT_SHARE.max)) / 100);
          if (await waitForProgress(stack, cli, before + share)) await sleep(random.between(0, KILL_JITTER_MS));
          if (isRunning(cli)) cli.child.kill('SIGKILL');
          const result = await processes.finish(cli);
          if (result.signal !== 'SIGKILL') break; // drained (or failed) first: the kill count below says so
          kills += 1;
          killedAt.push(await committedCount(stack));
        }
        finalCode = (await processes.finish(processes.start(['run', '--drain'], env))).code;
      } finally {
        await processes.stopAll();
      }
      const seconds = (performance.now() - started) / 1000;
      console.log(`[faults:${SCALE}] 1 crash: killed with ${killedAt.join(', ')} messages committed`);

      const delivery = await checkDelivery(stack, workload);
      // An officer's day after the crashes: in each pipeline one erasure and one reveal, each audited.
      const officer = { PATH: process.env.PATH, DATABASE_URL: stack.databaseUrl, SQS2PG_MASK_KEY: TEST_MASK_KEY, SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY };
      const [someone] = (await stack.pool.query<{ subject: string; mask: string }>('SELECT user_id AS subject, masked_ip AS mask FROM user_logins ORDER BY sqs_message_id LIMIT 1')).rows;
      const [visitor] = (await stack.pool.query<{ subject: string; mask: string }>('SELECT visitor_id AS subject, masked_email AS mask FROM page_views ORDER BY sqs_message_id LIMIT 1')).rows;
      const erasures = [
        { who: someone!, forget: ['forget', '--user-id', someone!.subject] },
        { who: visitor!, forget: ['forget', '--pipeline', 'page_views', '--subject', visitor!.subject] },
      ];
      const officerOutputs: string[] = [];
      for (const { who, forget } of erasures) {
        const forgot = await runCli([...forget, '--reason', 'fault suite erasure'], officer, 30_000);
        officerOutputs.push(forgot.stdout, forgot.stderr);
        expect(forgot.code, forgot.stderr).toBe(0);
        const revealed = await runCli(['reveal', who.mask, '--reason', 'fault suite reveal'], { ...officer, SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY }, 30_000);
        // The forgotten subject's entry may be gone (4) or shared with another row (0): never printed here.
        expect([0, 4]).toContain(revealed.code);
      }
      const kept = await stack.pool.query<{ t: string }>(
        "SELECT coalesce((SELECT json_agg(t)::text FROM sqs2pg.tombstones t), '') || coalesce((SELECT json_agg(a)::text FROM sqs2pg_vault.audit a), '') AS t",
      );
      for (const { who } of erasures) expect(kept.rows[0]!.t).not.toContain(who.subject);
      const pii = await piiFound(stack, workload, [...processes.outputs(), ...officerOutputs]);
      recordFigures({
        scenario: '1 crash',
        messages: delivery.sent,
        faults: `${kills} SIGKILL`,
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
      expect(finalCode).toBe(0);
      expect(await inQueues(stack, workload)).toEqual({ visible: 0, notVisible: 0 });
      // Each kill landed on a working drain; fewer would test less than the figures line claims.
      expect(kills).toBe(KILLS);
    },
    SCENARIO_TIMEOUT_MS,
  );
});
