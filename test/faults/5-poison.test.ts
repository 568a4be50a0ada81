// Scenario 5, poison in a batch: PostgreSQL refuses a few rows (a CHECK constraint added after
// migrate) scattered through otherwise good batches. Each batch is split until the refused row
// stands alone; that row goes to the quarantine and the rest of the batch loads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import { createTestStack, runCli, type TestStack } from '../helpers/stack.js';
import { checkDelivery, piiFound, recordFigures, scaled, SCENARIO_TIMEOUT_MS, sendWorkload } from './harness.js';

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
      const migrate = await runCli(['migrate'], { PATH: process.env.PATH, DATABASE_URL: stack.databaseUrl });
      outputs.push(migrate.stdout, migrate.stderr);
      expect(migrate.code, migrate.stderr).toBe(0);
      await stack.pool.query('TRUNCATE user_logins, sqs2pg.quarantine');
      await stack.pool.query(`ALTER TABLE user_logins ADD CONSTRAINT no_blackberry CHECK (device_type <> 'blackberry')`);

      const poisonAt = scatter(count, poisoned, 5);
      const bodies = generateSample({ count, malformed: 0, seed: 5 }).bodies.map((body, at) => {
        if (!poisonAt.has(at)) return { body, valid: true };
        // Still a well-formed event: only the database refuses it, so it reaches a batch.
        return { body: JSON.stringify({ ...(JSON.parse(body) as object), device_type: 'blackberry' }), valid: false };
      });
      const queueUrl = await stack.newQueue();
      const workload = await sendWorkload(stack, queueUrl, { count, bodies });
      const refusedIds = [...workload.sent].filter(([, { valid }]) => !valid).map(([id]) => id);

      const started = performance.now();
      const result = await runCli(
        ['run', '--drain'],
        // A wait long enough for batches to fill: the refused rows sit among hundreds of good ones.
        stack.env(queueUrl, { SQS2PG_BATCH_MAX_ROWS: '500', SQS2PG_BATCH_MAX_WAIT_MS: '1000' }),
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
      const quarantine = await stack.pool.query<{ id: string; reason: string; detail: string | null }>(
        'SELECT sqs_message_id AS id, reason, detail FROM sqs2pg.quarantine',
      );
      expect(quarantine.rows.map((row) => row.id).sort()).toEqual(refusedIds.sort());
      for (const row of quarantine.rows) expect(row).toMatchObject({ reason: 'db_rejected', detail: '23514' });

      const logs = logLines(result.stderr);
      expect(logs.filter((line) => line.level >= 50)).toEqual([]);
      const splits = logs.filter((line) => line.msg.includes('splitting a batch'));
      expect(Math.max(...splits.map((split) => split.size ?? 0))).toBeGreaterThan(100);
      for (const split of splits) expect(split).toMatchObject({ level: 40, code: '23514' });
      // Summed up at the default level, not one line per message.
      const summaries = logs.filter((line) => line.msg.startsWith('quarantined ') && line.msg.includes('(db_rejected '));
      expect(summaries.reduce((sum, line) => sum + (line.count ?? 0), 0)).toBe(poisoned);
      expect(result.stdout).toMatch(/quarantined +\d+ \(db_rejected \d+\)/);
      expect(await stack.queueDepth(queueUrl)).toEqual({ visible: 0, notVisible: 0 });
    },
    SCENARIO_TIMEOUT_MS,
  );
});
