// Scenario 5, poison in a batch: PostgreSQL refuses a few rows (a CHECK constraint added after
// migrate, on each pipeline's table: logins and a declared page_views, run in one process)
// scattered through otherwise good batches. Each batch is split until the refused row stands
// alone; that row goes to the quarantine under its pipeline's name and the rest of the batch loads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import { createTestStack, runCli, type TestStack } from '../helpers/stack.js';
import { checkDelivery, emptyWorkload, inQueues, piiFound, pipelinesEnv, recordFigures, scaled, SCENARIO_TIMEOUT_MS, sendTo } from './harness.js';
import { migratePipelines, pageViewBodies } from '../helpers/page-views.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(async () => {
  await stack.close();
});

/** k distinct indices from [0, n), the same on every run. */
function scatter(n: number, k: number, seed: number): Set<number> {
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
  const chosen = new Set<number>();
  while (chosen.size < k) chosen.add(Math.floor(next() * n));
  return chosen;
}

/** The JSON log lines of a run's stderr. */
function logLines(stderr: string): { level: number; msg: string; size?: number; code?: string; reason?: string; count?: number }[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string });
}

describe('fault 5: poison in a batch', () => {
  it(
    'isolates and quarantines the rows PostgreSQL refuses, and loads the rest of their batches',
    async () => {
      const count = scaled(1_000, 20_000);
      const poisoned = scaled(5, 50);
      const outputs: string[] = [];
      await migratePipelines(stack.databaseUrl);
      await stack.pool.query('TRUNCATE user_logins, page_views, sqs2pg.quarantine, sqs2pg_vault.quarantine_bodies');
      await stack.pool.query(`ALTER TABLE user_logins ADD CONSTRAINT no_blackberry CHECK (device_type <> 'blackberry')`);
      await stack.pool.query(`ALTER TABLE page_views ADD CONSTRAINT no_checkout CHECK (url NOT LIKE '%/checkout')`);

      // Half of each to each pipeline; every refused row is still a well-formed event: only the
      // database refuses it, so it reaches a batch.
      const half = { count: Math.floor(count / 2), poisoned: Math.floor(poisoned / 2) };
      const loginsPoisonAt = scatter(count - half.count, poisoned - half.poisoned, 5);
      const logins = generateSample({ count: count - half.count, malformed: 0, seed: 5 }).bodies.map((body, at) =>
        loginsPoisonAt.has(at) ? { body: JSON.stringify({ ...(JSON.parse(body) as object), device_type: 'blackberry' }), valid: false } : { body, valid: true },
      );
      const viewsPoisonAt = scatter(half.count, half.poisoned, 55);
      const views = pageViewBodies(half.count, 0, 5).map(({ body }, at) => {
        if (!viewsPoisonAt.has(at)) return { body, valid: true };
        const event = JSON.parse(body) as { page: { url: string } };
        return { body: JSON.stringify({ ...event, page: { url: `${event.page.url}/checkout` } }), valid: false };
      });
      const workload = await emptyWorkload(stack);
      await sendTo(stack, workload, 'logins', logins);
      await sendTo(stack, workload, 'page_views', views);
      const refusedIds = [...workload.sent].filter(([, { valid }]) => !valid).map(([id]) => id);

      const started = performance.now();
      const result = await runCli(
        ['run', '--drain'],
        // A wait long enough for batches to fill: the refused rows sit among hundreds of good ones.
        pipelinesEnv(stack, workload.queues, { SQS2PG_BATCH_MAX_ROWS: '500', SQS2PG_BATCH_MAX_WAIT_MS: '1000' }),
        SCENARIO_TIMEOUT_MS - 30_000,
      );
      const seconds = (performance.now() - started) / 1000;
      outputs.push(result.stdout, result.stderr);

      const delivery = await checkDelivery(stack, workload);
      const pii = await piiFound(stack, workload, outputs);
      recordFigures({
        scenario: '5 poison in a batch',
        messages: workload.sent.size,
        faults: `${poisoned} rows refused by a CHECK constraint`,
        lost: delivery.lost,
        duplicated: delivery.duplicated,
        seconds,
        pii,
      });

      expect(delivery.lost).toBe(0);
      expect(delivery.duplicated).toBe(0);
      expect(pii).toBe(0);
      expect(result.code, result.stderr).toBe(0);
      expect(refusedIds).toHaveLength(poisoned);
      expect(delivery.misrouted).toBe(0);
      expect(delivery).toMatchObject({ loaded: count - poisoned, quarantined: poisoned });
      expect({ logins: delivery.pipelines.logins.quarantined, page_views: delivery.pipelines.page_views.quarantined }).toEqual({
        logins: poisoned - half.poisoned,
        page_views: half.poisoned,
      });
      const quarantine = await stack.pool.query<{ id: string; reason: string; detail: string | null }>(
        'SELECT sqs_message_id AS id, reason, detail FROM sqs2pg.quarantine',
      );
      expect(quarantine.rows.map((row) => row.id).sort()).toEqual(refusedIds.sort());
      for (const row of quarantine.rows) expect(row).toMatchObject({ reason: 'db_rejected', detail: '23514' });

      const logs = logLines(result.stderr);
      expect(logs.filter((line) => line.level >= 50)).toEqual([]);
      const splits = logs.filter((line) => line.msg.includes('splitting a batch'));
      expect(Math.max(...splits.map((split) => split.size ?? 0))).toBeGreaterThan(scaled(50, 100));
      for (const split of splits) expect(split).toMatchObject({ level: 40, code: '23514' });
      // Summed up at the default level, not one line per message.
      // With two pipelines each line names its own: "page_views: quarantined 2 messages (db_rejected 2)…".
      const summaries = logs.filter((line) => /^(\w+: )?quarantined /.test(line.msg) && line.msg.includes('(db_rejected '));
      const summed = (pipeline: string) => summaries.filter((line) => line.msg.startsWith(`${pipeline}: `)).reduce((sum, line) => sum + (line.count ?? 0), 0);
      expect({ logins: summed('logins'), page_views: summed('page_views') }).toEqual({ logins: poisoned - half.poisoned, page_views: half.poisoned });
      expect(result.stdout).toMatch(/quarantined +\d+ \(db_rejected \d+\)/);
      expect(await inQueues(stack, workload)).toEqual({ visible: 0, notVisible: 0 });
    },
    SCENARIO_TIMEOUT_MS,
  );
});
