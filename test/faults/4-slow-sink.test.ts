// Scenario 4, slow sink: every INSERT into user_logins and into the declared page_views takes 3 s
// (a statement-level trigger on each; both pipelines run in one process) while the visibility
// timeout is 2 s. Only the visibility heartbeat (every 1 s) keeps the messages of a
// batch hidden until their commit; if it falls behind, SQS hands out second copies, which the
// drain summary would count as read twice and "already loaded".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestStack, runCli, type TestStack } from '../helpers/stack.js';
import { checkDelivery, inQueues, piiFound, pipelinesEnv, recordFigures, scaled, SCENARIO_TIMEOUT_MS, sendWorkload } from './harness.js';
import { migratePipelines } from '../helpers/page-views.js';

const SLOW_INSERT_SEC = 3;
const VISIBILITY_TIMEOUT_SEC = 2;

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(async () => {
  await stack.close();
});

/** The numbers of the drain summary on stdout ("  messages read      2,000"). */
function summaryCount(stdout: string, label: string): number {
  const match = new RegExp(`^ +${label} +([\\d,]+)`, 'm').exec(stdout);
  if (!match?.[1]) throw new Error(`no "${label}" line in the drain summary:\n${stdout}`);
  return Number(match[1].replace(/,/g, ''));
}

describe('fault 4: slow sink', () => {
  it(
    'keeps every message of a batch slower than the visibility timeout hidden until its commit: each read once',
    async () => {
      const count = scaled(200, 2_000);
      const batchMaxRows = scaled(100, 250);
      const outputs: string[] = [];
      await migratePipelines(stack.databaseUrl);
      await stack.pool.query('TRUNCATE user_logins, page_views, sqs2pg.quarantine, sqs2pg_vault.quarantine_bodies');
      await stack.pool.query(
        `CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(${SLOW_INSERT_SEC}); RETURN NULL; END $$`,
      );
      for (const table of ['user_logins', 'page_views']) {
        await stack.pool.query(`CREATE TRIGGER slow AFTER INSERT ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION slow()`);
      }

      const workload = await sendWorkload(stack, { count, malformed: 0, seed: 4 });

      const started = performance.now();
      const result = await runCli(
        ['run', '--drain'],
        pipelinesEnv(stack, workload.queues, {
          SQS2PG_VISIBILITY_TIMEOUT_SEC: String(VISIBILITY_TIMEOUT_SEC),
          SQS2PG_BATCH_MAX_ROWS: String(batchMaxRows),
          // Batches fill up instead of leaving on the 200 ms timer: few, large, slow batches.
          SQS2PG_BATCH_MAX_WAIT_MS: '2000',
        }),
        SCENARIO_TIMEOUT_MS - 30_000,
      );
      const seconds = (performance.now() - started) / 1000;
      outputs.push(result.stdout, result.stderr);

      const delivery = await checkDelivery(stack, workload);
      const pii = await piiFound(stack, workload, outputs);
      recordFigures({
        scenario: '4 slow sink',
        messages: workload.sent.size,
        faults: `${SLOW_INSERT_SEC} s per INSERT, ${VISIBILITY_TIMEOUT_SEC} s visibility timeout`,
        lost: delivery.lost,
        duplicated: delivery.duplicated,
        seconds,
        pii,
      });

      expect(delivery.lost).toBe(0);
      expect(delivery.duplicated).toBe(0);
      expect(pii).toBe(0);
      expect(result.code, result.stderr).toBe(0);
      // Each message was received exactly once: no copy reappeared while its batch was being written.
      expect({
        read: summaryCount(result.stdout, 'messages read'),
        loaded: summaryCount(result.stdout, 'rows loaded'),
        alreadyLoaded: summaryCount(result.stdout, 'already loaded'),
        deleted: summaryCount(result.stdout, 'deleted from SQS'),
      }).toEqual({ read: count, loaded: count, alreadyLoaded: 0, deleted: count });
      // The batches really outlived the visibility timeout.
      expect(seconds).toBeGreaterThan(SLOW_INSERT_SEC);
      expect(result.stderr).not.toMatch(/"level":(40|50|60)/);
      expect(await inQueues(stack, workload)).toEqual({ visible: 0, notVisible: 0 });
    },
    SCENARIO_TIMEOUT_MS,
  );
});
