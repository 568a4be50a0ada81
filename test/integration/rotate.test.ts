// sqs2pg rotate with the real CLI. Under load: while one worker loads under the new mask key and a
// straggler still under the old one, rotate re-masks the history; a second rotate catches the
// straggler's rows; nothing is lost or duplicated and every value ends with the one mask the new
// key gives it. Killed in the middle, a rerun finishes the job; so for vault re-encryption. These
// run against the builtin logins and a declared pipeline (page_views, at a quarter of the workload),
// each in a database of its own; rotate-declared.test.ts has what only declared pipelines have.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import { createMasker } from '../../src/transform/mask.js';
import { countRowsOf, migratePipelines, PIPELINES_UNDER_TEST, type PipelineUnderTest } from '../helpers/page-views.js';
import { createTestStack, runCli, startCli, TEST_MASK_KEY, waitFor, type CliProcess, type CliResult, type TestStack } from '../helpers/stack.js';
import { keyFingerprint } from '../../src/config/key.js';
import {
  insertLegacyEntries,
  openVault,
  originalsBySubject,
  originalsByUser,
  rowMasks,
  rowMasksOf,
  TEST_MASK_KEY_2,
  TEST_VAULT_KEY,
  TEST_VAULT_PRIVATE_KEY,
  TEST_VAULT_PRIVATE_KEY_2,
  TEST_VAULT_PUBLIC_KEY,
  type TestKeys,
} from '../helpers/vault.js';

const LOGINS_CASE = PIPELINES_UNDER_TEST[0]!;
const V1: TestKeys = { v1: { private: TEST_VAULT_PRIVATE_KEY } };

/** Counts as the CLI prints them: 1,960, not 1960. */
const count = new Intl.NumberFormat('en-US');

const newMasker = createMasker(Buffer.from(TEST_MASK_KEY_2, 'hex'), 'k2');
const oldMasker = createMasker(Buffer.from(TEST_MASK_KEY, 'hex'), 'k1');

const stacks: TestStack[] = [];
afterAll(async () => {
  for (const stack of stacks) await stack.close();
});

async function newStack(): Promise<TestStack> {
  const stack = await createTestStack();
  stacks.push(stack);
  return stack;
}

function adminEnv(stack: TestStack, extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, DATABASE_URL: stack.databaseUrl, SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY, ...extra };
}

const rotateToK2 = (stack: TestStack, extra: NodeJS.ProcessEnv = {}) =>
  adminEnv(stack, { SQS2PG_MASK_KEY: TEST_MASK_KEY_2, SQS2PG_MASK_KEY_ID: 'k2', ...extra });

async function drain(stack: TestStack, bodies: readonly string[], extra: NodeJS.ProcessEnv, pipeline: PipelineUnderTest = LOGINS_CASE): Promise<void> {
  const queueUrl = await stack.newQueue();
  await stack.send(queueUrl, bodies);
  const result = await runCli(['run', '--drain'], pipeline.env(stack, queueUrl, extra), 90_000);
  expect(result.code, result.stderr).toBe(0);
}

async function stop(cli: CliProcess): Promise<void> {
  if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  await cli.done;
}

/** A pipeline's rows in its own database: the checks below read them by its masked columns. */
interface Rotated {
  pipeline: PipelineUnderTest;
  stack: TestStack;
  /** each subject's original values by masked column */
  originals: Map<string, Record<string, string>>;
}

const labelOf = (pipeline: PipelineUnderTest, column: string) => pipeline.spec.columns.find((c) => c.name === column)!.maskLabel;

/** Rows of `ids` whose ip mask is under k2. */
async function onK2({ pipeline, stack }: Rotated, ids: readonly string[]): Promise<number> {
  const result = await stack.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${pipeline.table} WHERE sqs_message_id = ANY($1) AND ${pipeline.masked[0]} LIKE 'k2:%'`, [ids]);
  return Number(result.rows[0]?.n);
}

/**
 * The invariants at any moment: a row is re-masked whole or not at all, its masks are the ones
 * its key id's key gives its values, and every mask of a vaulted row has an entry opening to its value.
 */
async function expectConsistent({ pipeline, stack, originals }: Rotated, vaultKeys: TestKeys, unvaulted: ReadonlySet<string> = new Set()) {
  const vault = await openVault(stack.pool, vaultKeys);
  for (const row of await rowMasksOf(stack.pool, pipeline.spec)) {
    const original = originals.get(row.subject)!;
    const masker = row.masks[pipeline.masked[0]]!.startsWith('k2:') ? newMasker : oldMasker;
    for (const column of pipeline.masked) expect(row.masks[column], row.sqs_message_id).toBe(masker.mask(labelOf(pipeline, column), original[column]!));
    if (unvaulted.has(row.subject)) continue;
    for (const column of pipeline.masked) expect(vault.get(row.masks[column]!)?.value).toBe(original[column]);
  }
}

/** After a complete rotation: every vaulted row under k2, the vault exactly the rows' masks, nothing lost or doubled. */
async function expectRotated(rotated: Rotated, total: number, vaultKeys: TestKeys, unvaulted: ReadonlySet<string> = new Set()) {
  const { pipeline, stack, originals } = rotated;
  const counts = await countRowsOf(stack.pool, pipeline);
  expect([counts.rows, counts.distinctIds]).toEqual([total, total]);
  await expectConsistent(rotated, vaultKeys, unvaulted);
  const vaulted = (await rowMasksOf(stack.pool, pipeline.spec)).filter((row) => !unvaulted.has(row.subject));
  for (const row of vaulted) expect(pipeline.masked.map((column) => row.masks[column]!.slice(0, 3))).toEqual(['k2:', 'k2:']);
  // Equal values, equal masks: as many distinct masks as distinct values.
  const distinct = (values: string[]) => new Set(values).size;
  for (const column of pipeline.masked) {
    expect(distinct(vaulted.map((r) => r.masks[column]!))).toBe(distinct(vaulted.map((r) => originals.get(r.subject)![column]!)));
  }
  const vault = await openVault(stack.pool, vaultKeys);
  expect(new Set(vault.keys())).toEqual(new Set(vaulted.flatMap((r) => Object.values(r.masks))));
}

/** The logins' workloads; a declared pipeline's smaller (what rotate does to a row is the same). */
const scaled = (pipeline: PipelineUnderTest, n: number) => (pipeline.spec.builtin ? n : Math.round(n * 0.25));

describe.each(PIPELINES_UNDER_TEST)('sqs2pg rotate --mask-key-id k2 over $name, while workers keep loading', (pipeline) => {
  const [historyCount, incomingCount] = [scaled(pipeline, 1500), scaled(pipeline, 2000)];
  const history = pipeline.bodies(historyCount, 0, 81);
  // Subjects of their own: the sample's are numbered from 0 on every seed.
  const incoming = pipeline.bodies(incomingCount, 0, 82);
  const rotated = {} as Rotated;
  beforeAll(async () => {
    const stack = await newStack();
    await migratePipelines(stack.databaseUrl);
    Object.assign(rotated, { pipeline, stack, originals: new Map([...originalsBySubject(pipeline.spec, history), ...originalsBySubject(pipeline.spec, incoming)]) });
    await drain(stack, history, { SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY }, pipeline);
  });

  it('re-masks the history, loses and duplicates nothing, and leaves equal values equal', async () => {
    const { stack } = rotated;
    const total = historyCount + incomingCount;
    const historyIds = (await rowMasksOf(stack.pool, pipeline.spec)).map((row) => row.sqs_message_id);
    expect(historyIds).toHaveLength(historyCount);
    const queueUrl = await stack.newQueue();
    const service = { SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY, SQS2PG_BATCH_MAX_ROWS: '20', SQS2PG_RECEIVE_WAIT_SEC: '1', SQS2PG_POLLERS: '2' };
    // The new deployment, and a worker the rolling update has not reached yet.
    const onNewKey = startCli(['run'], pipeline.env(stack, queueUrl, { ...service, SQS2PG_MASK_KEY: TEST_MASK_KEY_2, SQS2PG_MASK_KEY_ID: 'k2' }), 120_000);
    const straggler = startCli(['run'], pipeline.env(stack, queueUrl, service), 120_000);
    let rotation: CliProcess | undefined;
    try {
      rotation = startCli(['rotate', '--mask-key-id', 'k2', '--reason', 'yearly rotation'], rotateToK2(stack, {
        SQS2PG_BATCH_MAX_ROWS: '20',
        SQS2PG_ROTATE_PAUSE_MS: '100',
      }), 120_000);
      await waitFor(async () => (await onK2(rotated, historyIds)) > 0, 30_000, 'the rotation to start');
      // Load arrives while the rotation runs.
      for (let i = 0; i < incoming.length; i += 100) await stack.send(queueUrl, incoming.slice(i, i + 100));
      const first = await rotation.done;
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toMatch(/^re-sealed 0 vault entries/);
      await waitFor(async () => (await countRowsOf(stack.pool, pipeline)).rows === total, 60_000, 'the workers to load everything');
      for (const worker of [onNewKey, straggler]) worker.child.kill('SIGTERM');
      expect((await onNewKey.done).code).toBe(0);
      // A batch of the straggler's that lands after the rotation retired k1 (it left nothing under k1)
      // is refused by the database, and the straggler stops: its messages went back to the queue, and
      // the new deployment loaded them (the count above).
      const stopped = await straggler.done;
      if (stopped.code !== 0) {
        expect(stopped.code).toBe(2);
        expect(stopped.stderr).toContain('this worker still writes under it');
      }
    } finally {
      for (const cli of [onNewKey, straggler, rotation]) if (cli) await stop(cli);
    }
    // The rotation really ran under load: some incoming rows were committed between its batches.
    const interleaved = await stack.pool.query<{ n: string }>(
      `WITH rotated AS (SELECT min(xmin::text::bigint) AS lo, max(xmin::text::bigint) AS hi FROM ${pipeline.table} WHERE sqs_message_id = ANY($1))
       SELECT count(*) AS n FROM ${pipeline.table}, rotated WHERE NOT (sqs_message_id = ANY($1)) AND xmin::text::bigint BETWEEN lo AND hi`,
      [historyIds],
    );
    expect(Number(interleaved.rows[0]?.n)).toBeGreaterThan(0);
    await expectConsistent(rotated, V1);

    // The straggler's rows are still under k1; once it is gone, a second rotate finishes the job.
    const second = await runCli(['rotate', '--reason', 'after the rollout'], rotateToK2(stack), 60_000);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('every row is under mask key id "k2"');
    await expectRotated(rotated, total, V1);

    const audit = await stack.pool.query<{ reason: string; detail: { mask_key_id: string } }>("SELECT reason, detail FROM sqs2pg_vault.audit WHERE action = 'rotate' ORDER BY id");
    expect(audit.rows.map((row) => [row.reason, row.detail.mask_key_id])).toEqual([
      ['yearly rotation', 'k2'],
      ['after the rollout', 'k2'],
    ]);
  }, 180_000);
});

describe.each(PIPELINES_UNDER_TEST)('sqs2pg rotate over $name killed in the middle', (pipeline) => {
  const unvaultedCount = scaled(pipeline, 60);
  const unvaultedBodies = pipeline.bodies(unvaultedCount, 0, 90);
  const bodies = pipeline.bodies(scaled(pipeline, 2000), 0, 91);
  const unvaulted = new Set(originalsBySubject(pipeline.spec, unvaultedBodies).keys());
  const total = unvaultedCount + scaled(pipeline, 2000);
  const rotated = {} as Rotated;
  beforeAll(async () => {
    const stack = await newStack();
    await migratePipelines(stack.databaseUrl);
    Object.assign(rotated, { pipeline, stack, originals: new Map([...originalsBySubject(pipeline.spec, unvaultedBodies), ...originalsBySubject(pipeline.spec, bodies)]) });
    // Loaded before the vault was on: these can only keep their masks.
    await drain(stack, unvaultedBodies, {}, pipeline);
    await drain(stack, bodies, { SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY }, pipeline);
  });

  async function killMidway(
    args: string[],
    env: NodeJS.ProcessEnv,
    progress: () => Promise<number>,
    total: number,
    signal: NodeJS.Signals = 'SIGKILL',
  ): Promise<CliResult> {
    const cli = startCli(args, env, 60_000);
    try {
      await waitFor(
        async () => {
          const done = await progress();
          if (done >= total) throw new Error(`the run finished all ${total} before it could be killed`);
          return done > 0;
        },
        30_000,
        'the rotation to be under way',
      );
      cli.child.kill(signal);
      const result = await cli.done;
      if (signal === 'SIGKILL') expect(result.signal).toBe('SIGKILL');
      return result;
    } finally {
      await stop(cli);
    }
  }

  it('re-masks: the rerun finishes, and the interrupted state was consistent', async () => {
    const { stack } = rotated;
    const ids = (await rowMasksOf(stack.pool, pipeline.spec)).filter((row) => !unvaulted.has(row.subject)).map((row) => row.sqs_message_id);
    const slow = rotateToK2(stack, { SQS2PG_BATCH_MAX_ROWS: '20', SQS2PG_ROTATE_PAUSE_MS: '50', SQS2PG_LOG_LEVEL: 'debug', SQS2PG_LOG_FORMAT: 'json' });
    // SIGTERM stops after the batch in hand and says how to resume; SIGKILL stops anywhere.
    const stopped = await killMidway(['rotate'], slow, () => onK2(rotated, ids), ids.length, 'SIGTERM');
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout).toContain('stopped by a signal before the end: run sqs2pg rotate again to resume');
    // Its progress named the pipeline each batch was of.
    const batches = stopped.stderr.split('\n').filter((line) => line.includes('rotate: mask batch committed'));
    expect(batches.length).toBeGreaterThan(0);
    for (const line of batches) expect(JSON.parse(line)).toEqual(expect.objectContaining({ pass: 'mask', pipeline: pipeline.name }));
    const afterStop = await onK2(rotated, ids);
    await expectConsistent(rotated, V1, unvaulted);
    await killMidway(['rotate'], slow, async () => (await onK2(rotated, ids)) - afterStop, ids.length - afterStop);
    const partial = await onK2(rotated, ids);
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(ids.length);
    await expectConsistent(rotated, V1, unvaulted);

    const rerun = await runCli(['rotate'], rotateToK2(stack), 60_000);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout).toContain(`re-masked ${count.format(ids.length - partial)} rows under mask key id "k2"`);
    expect(rerun.stdout).toContain(`${unvaultedCount} rows keep older masks for good: their values are not in the vault`);
    await expectRotated(rotated, total, V1, unvaulted);
  }, 120_000);

  // A declared pipeline's entries re-sealed to a new pair, sealed cells and subjects with them: rotate-declared.test.ts.
  it.runIf(pipeline.spec.builtin)('re-encrypts the vault under a new vault key: refused without the old key, resumable, then the old key is not needed', async () => {
    const { stack, originals } = rotated;
    const toV2 = (extra: NodeJS.ProcessEnv = {}) =>
      adminEnv(stack, { SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY_2, SQS2PG_VAULT_KEY_ID: 'v2', SQS2PG_VAULT_PREVIOUS_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY, ...extra });
    const entries = Number((await stack.pool.query<{ n: string }>('SELECT count(*) AS n FROM sqs2pg_vault.entries')).rows[0]?.n);
    const onV2 = async () => Number((await stack.pool.query<{ n: string }>("SELECT count(*) AS n FROM sqs2pg_vault.entries WHERE vault_key_id = 'v2'")).rows[0]?.n);

    const without = await runCli(['rotate'], toV2({ SQS2PG_VAULT_PREVIOUS_PRIVATE_KEY: '' }), 30_000);
    expect(without.code).toBe(2);
    expect(without.stderr.trim()).toBe(
      `sqs2pg: ${count.format(entries)} vault entries are under vault key id "v1", which no key given opens; set SQS2PG_VAULT_PREVIOUS_PRIVATE_KEY (or SQS2PG_VAULT_KEY for entries written before 0.2) to that key`,
    );

    await killMidway(['rotate'], toV2({ SQS2PG_BATCH_MAX_ROWS: '20', SQS2PG_ROTATE_PAUSE_MS: '50' }), onV2, entries);
    const partial = await onV2();
    // Mid-way the vault opens with both keys, each entry with its own.
    await expectConsistent(rotated, { ...V1, v2: { private: TEST_VAULT_PRIVATE_KEY_2 } }, unvaulted);

    const rerun = await runCli(['rotate'], toV2(), 60_000);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout.split('\n')[0]).toBe(`re-sealed ${count.format(entries - partial)} vault entries to vault key id "v2"`);
    expect(await onV2()).toBe(entries);
    await expectRotated(rotated, total, { v2: { private: TEST_VAULT_PRIVATE_KEY_2 } }, unvaulted);

    const [row] = (await rowMasksOf(stack.pool, pipeline.spec)).filter((r) => !unvaulted.has(r.subject));
    const reveal = await runCli(['reveal', row!.masks[pipeline.masked[0]]!, '--reason', 'after rotation'], adminEnv(stack, { SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY_2 }), 15_000);
    expect([reveal.code, reveal.stdout]).toEqual([0, `${originals.get(row!.subject)![pipeline.masked[0]]}\n`]);
  }, 120_000);
});

// The legacy symmetric vault predates declared pipelines: the logins' alone.
describe('sqs2pg rotate from the legacy symmetric vault (v1 entries) to the sealed vault, online', () => {
  const sample = generateSample({ count: 300, malformed: 0, seed: 95 });
  const originals = originalsByUser(sample.bodies);
  let stack: TestStack;
  beforeAll(async () => {
    stack = await newStack();
    // As sqs2pg before 0.2 left it: rows, and entries under the symmetric key, id "v1".
    await drain(stack, sample.bodies, {});
    const items = [...originals.values()].flatMap((o) => [
      { mask: oldMasker.mask('ip', o.ip), field: 'ip' as const, value: o.ip },
      { mask: oldMasker.mask('device_id', o.deviceId), field: 'device_id' as const, value: o.deviceId },
    ]);
    await insertLegacyEntries(stack.pool, TEST_VAULT_KEY, 'v1', items);
    await stack.pool.query("INSERT INTO sqs2pg.key_fingerprints (purpose, key_id, fingerprint) VALUES ('vault', 'v1', $1)", [keyFingerprint(Buffer.from(TEST_VAULT_KEY, 'hex'), 'vault')]);
  });

  it('re-seals every legacy entry to the new public key; then the private key alone reveals', async () => {
    const legacy = Number((await stack.pool.query<{ n: string }>('SELECT count(*) AS n FROM sqs2pg_vault.entries WHERE ephemeral_public_key IS NULL')).rows[0]?.n);
    expect(legacy).toBeGreaterThan(100);
    // The new pair under a new id: the key id "v1" names the legacy key and cannot name the pair.
    const sameId = await runCli(['rotate'], adminEnv(stack, { SQS2PG_VAULT_KEY: TEST_VAULT_KEY }), 30_000);
    expect(sameId.code).toBe(2);
    expect(sameId.stderr).toContain('vault key id "v1"');
    const result = await runCli(['rotate', '--reason', 'move to the sealed vault'], adminEnv(stack, { SQS2PG_VAULT_KEY: TEST_VAULT_KEY, SQS2PG_VAULT_KEY_ID: 'v2' }), 60_000);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe(`re-sealed ${count.format(legacy)} vault entries to vault key id "v2"`);
    const left = await stack.pool.query('SELECT 1 FROM sqs2pg_vault.entries WHERE ephemeral_public_key IS NULL OR vault_key_id <> $1', ['v2']);
    expect(left.rowCount).toBe(0);
    const vault = await openVault(stack.pool, { v2: { private: TEST_VAULT_PRIVATE_KEY } });
    for (const original of originals.values()) expect(vault.get(oldMasker.mask('ip', original.ip))?.value).toBe(original.ip);
    const [row] = await rowMasks(stack.pool);
    const reveal = await runCli(['reveal', row!.masked_ip, '--reason', 'after the move'], adminEnv(stack, {}), 15_000);
    expect([reveal.code, reveal.stdout], reveal.stderr).toEqual([0, `${originals.get(row!.user_id)!.ip}\n`]);
  }, 120_000);
});
