// Attack: erase users while workers load their messages at full speed. Two runs share one
// database: one drains a queue of valid logins (batches of rows only, two worker processes), the
// other a queue of refused logins (batches of quarantine records only); a feeder keeps both full
// with messages of every user, and the users are forgotten one after another, on a user_logins of
// a few hundred thousand rows, where forget's scan is long enough for a batch to commit beside it.
// After the drain, nothing of a forgotten user may exist: no row, no quarantine record, no vault
// entry, no sealed body. Vault off and vault on, for the builtin logins; the same test against a
// declared pipeline (page_views, forget_subject), vault on, with fewer subjects.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../../src/db/pool.js';
import { canonicalIp } from '../../src/transform/ip.js';
import { createMasker } from '../../src/transform/mask.js';
import { forgetSubject, forgetUser, type ForgetUserResult } from '../../src/vault/forget.js';
import { createVaultOpener, createVaultSealer, quarantineContext } from '../../src/vault/sealed-box.js';
import { sealUserId } from '../../src/vault/tombstones.js';
import { valueAt } from '../helpers/declared-load.js';
import { migratePipelines, PIPELINES_UNDER_TEST, type PipelineName } from '../helpers/page-views.js';
import { createTestStack, startCli, TEST_MASK_KEY, waitFor, type CliProcess, type TestStack } from '../helpers/stack.js';
import { TEST_VAULT_PRIVATE_KEY, TEST_VAULT_PUBLIC_KEY } from '../helpers/vault.js';

/** Rows already in each table, of subjects nobody forgets: what makes forget's scan take its time. */
const PRELOADED_ROWS: Record<PipelineName, number> = { logins: 300_000, page_views: 100_000 };
/** Generous backstops on a busy 2-core machine; every wait below ends on a state, not on time. */
const PHASE_TIMEOUT_MS = 300_000;

const masker = createMasker(Buffer.from(TEST_MASK_KEY, 'hex'), 'k1');

interface Person {
  id: string;
  ip: string;
  other: string;
}

function people(tag: string, count: number, offset: number): Person[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${tag}-${String(i).padStart(3, '0')}-${process.pid}`,
    ip: `198.18.${offset + i}.${(i % 200) + 1}`,
    other: `dev-${tag}-${offset + i}`,
  }));
}

/** Each table's preloaded rows, as a worker would have written them. */
const PRELOAD: Record<PipelineName, (rows: number) => string> = {
  logins: (rows) =>
    `INSERT INTO user_logins (sqs_message_id, user_id, device_type, masked_ip, masked_device_id, locale, app_version, app_version_raw, create_date)
     SELECT 'preloaded-' || g, 'preloaded-user-' || (g % 50000), 'ios', 'k1:' || md5(g::text) || md5((g + 1)::text),
            'k1:' || md5((g * 7)::text) || md5((g + 3)::text), 'DE', 1002003, '1.2.3', DATE '2024-01-15'
       FROM generate_series(1, ${rows}) AS g`,
  page_views: (rows) =>
    `INSERT INTO page_views (sqs_message_id, visitor_id, masked_email, masked_ip, url, duration_ms, viewed_at, tags)
     SELECT 'preloaded-' || g, 'preloaded-visitor-' || (g % 50000), 'k1:' || md5(g::text) || md5((g + 1)::text),
            'k1:' || md5((g * 7)::text) || md5((g + 3)::text), 'https://shop.example/p/' || (g % 97), g % 1000, TIMESTAMPTZ '2024-01-15 10:00:00Z', '["home"]'
       FROM generate_series(1, ${rows}) AS g`,
};

let stack: TestStack;
let pool: Pool;
const running: CliProcess[] = [];

beforeAll(async () => {
  stack = await createTestStack();
  await migratePipelines(stack.databaseUrl);
  for (const pipeline of PIPELINES_UNDER_TEST) {
    await stack.pool.query(PRELOAD[pipeline.name](PRELOADED_ROWS[pipeline.name]));
    await stack.pool.query(`ANALYZE ${pipeline.table}`);
  }
  pool = createPool(stack.databaseUrl, 2);
}, PHASE_TIMEOUT_MS);

afterAll(async () => {
  for (const cli of running) cli.child.kill('SIGKILL');
  await Promise.all(running.map((cli) => cli.done));
  await pool?.end();
  await stack.close();
});

const [LOGINS_CASE, PAGE_VIEWS_CASE] = PIPELINES_UNDER_TEST;
describe.each([
  { pipeline: LOGINS_CASE!, vault: false, offset: 0, subjects: 24, bystanders: 8 },
  { pipeline: LOGINS_CASE!, vault: true, offset: 100, subjects: 24, bystanders: 8 },
  // Fewer subjects: each erasure still races the same two runs.
  { pipeline: PAGE_VIEWS_CASE!, vault: true, offset: 200, subjects: 12, bystanders: 4 },
])('forget races the workers ($pipeline.name, vault $vault)', ({ pipeline, vault, offset, subjects: SUBJECTS, bystanders: BYSTANDERS }) => {
  it(
    'leaves no row, quarantine record, vault entry or sealed body of any forgotten subject',
    async () => {
      const tag = `${pipeline.name === 'logins' ? '' : 'w'}${vault ? 'v' : 'p'}`;
      const subjects = people(`${tag}s`, SUBJECTS, offset);
      const bystanders = people(`${tag}b`, BYSTANDERS, offset + SUBJECTS);
      const everyone = [...subjects, ...bystanders];
      const rowsQueue = await stack.newQueue();
      const refusedQueue = await stack.newQueue();
      const vaultEnv = vault ? { SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY } : {};
      const runEnv = (queueUrl: string) =>
        pipeline.env(stack, queueUrl, { ...vaultEnv, SQS2PG_BATCH_MAX_ROWS: '20', SQS2PG_BATCH_MAX_WAIT_MS: '20', SQS2PG_DB_POOL_SIZE: '4', SQS2PG_VISIBILITY_TIMEOUT_SEC: '30' });
      const valid = (person: Person) => pipeline.event(person.id, person.ip, person.other);
      const refused = (person: Person) => pipeline.refused(person.id, person.ip, person.other);

      // The feeder: one valid and one refused message of every subject per round, until told to stop; a
      // subject's messages keep coming until their erasure has returned (what is queued by then still comes).
      // A round is sent once the workers have taken most of the last: the queues never run dry, and
      // hold little of a subject once they are forgotten.
      let feeding = true;
      let rounds = 0;
      const forgotten = new Set<string>();
      const backlog = async () => {
        const [a, b] = await Promise.all([stack.queueDepth(rowsQueue), stack.queueDepth(refusedQueue)]);
        return Math.max(a.visible, b.visible);
      };
      const feeder = (async () => {
        while (feeding) {
          while (feeding && (await backlog()) > 2 * everyone.length) await new Promise((resolve) => setTimeout(resolve, 20));
          const active = everyone.filter((person) => !forgotten.has(person.id));
          await Promise.all([stack.send(rowsQueue, active.map(valid)), stack.send(refusedQueue, active.map(refused))]);
          rounds++;
        }
      })();
      const rowsRun = startCli(['run', '--workers', '2'], runEnv(rowsQueue), PHASE_TIMEOUT_MS * 2);
      const refusedRun = startCli(['run'], runEnv(refusedQueue), PHASE_TIMEOUT_MS * 2);
      running.push(rowsRun, refusedRun);

      const subjectKeys = (list: readonly Person[]) => list.map((person) => pipeline.subjectKey(masker, person.id));
      const ids = (list: readonly Person[]) => list.map((person) => person.id);
      // Every subject has been loaded and quarantined before the first erasure: the workers are in full flow.
      await waitFor(
        async () => {
          const seen = await stack.pool.query<{ rows: string; records: string }>(
            `SELECT (SELECT count(DISTINCT ${pipeline.subject}) FROM ${pipeline.table} WHERE ${pipeline.subject} = ANY ($1::text[])) AS rows,
                    (SELECT count(DISTINCT user_key) FROM sqs2pg.quarantine WHERE user_key = ANY ($2::text[])) AS records`,
            [ids(everyone), subjectKeys(everyone)],
          );
          return Number(seen.rows[0]?.rows) === everyone.length && Number(seen.rows[0]?.records) === everyone.length;
        },
        PHASE_TIMEOUT_MS,
        'every subject to have a row and a quarantine record',
      );

      const sealer = vault ? createVaultSealer(Buffer.from(TEST_VAULT_PUBLIC_KEY, 'hex'), 'v1') : undefined;
      const results: ForgetUserResult[] = [];
      for (const subject of subjects) {
        const key = pipeline.subjectKey(masker, subject.id);
        const sealed = sealUserId(sealer, key, subject.id);
        // What forget --user-id and forget --pipeline --subject each call, without the CLI's start-up.
        results.push(
          pipeline.spec.builtin
            ? await forgetUser(pool, subject.id, [key], 'erasure race', sealed)
            : await forgetSubject(pool, pipeline.name, subject.id, [key], 'erasure race', sealed),
        );
        forgotten.add(subject.id);
      }
      const roundsWhileForgetting = rounds;
      feeding = false;
      await feeder;

      // Drained: both queues empty, nothing in flight; then both runs stop cleanly.
      await waitFor(
        async () => {
          const [a, b] = await Promise.all([stack.queueDepth(rowsQueue), stack.queueDepth(refusedQueue)]);
          return a.visible + a.notVisible + b.visible + b.notVisible === 0;
        },
        PHASE_TIMEOUT_MS,
        'both queues to drain',
      );
      rowsRun.child.kill('SIGTERM');
      refusedRun.child.kill('SIGTERM');
      const [rowsExit, refusedExit] = await Promise.all([rowsRun.done, refusedRun.done]);
      expect(rowsExit.code, rowsExit.stderr).toBe(0);
      expect(refusedExit.code, refusedExit.stderr).toBe(0);

      // The race was real: subjects had rows and records when forgotten, and messages kept coming after.
      expect(roundsWhileForgetting).toBeGreaterThan(0);
      expect(results.filter((result) => result.rows > 0).length).toBeGreaterThan(SUBJECTS / 2);
      expect(results.filter((result) => result.quarantined > 0).length).toBeGreaterThan(SUBJECTS / 2);
      const stopped = await stack.pool.query<{ n: string }>('SELECT coalesce(sum(messages_stopped), 0) AS n FROM sqs2pg.tombstones WHERE user_key = ANY ($1::text[])', [
        subjectKeys(subjects),
      ]);
      expect(Number(stopped.rows[0]?.n)).toBeGreaterThan(0);

      const left = await stack.pool.query<{ rows: string; records: string }>(
        `SELECT (SELECT count(*) FROM ${pipeline.table} WHERE ${pipeline.subject} = ANY ($1::text[])) AS rows,
                (SELECT count(*) FROM sqs2pg.quarantine WHERE user_key = ANY ($2::text[])) AS records`,
        [ids(subjects), subjectKeys(subjects)],
      );
      expect(left.rows[0], 'rows and quarantine records of forgotten subjects').toEqual({ rows: '0', records: '0' });
      // Bystanders were loaded all along.
      const kept = await stack.pool.query<{ n: string }>(`SELECT count(DISTINCT ${pipeline.subject}) AS n FROM ${pipeline.table} WHERE ${pipeline.subject} = ANY ($1::text[])`, [
        ids(bystanders),
      ]);
      expect(Number(kept.rows[0]?.n)).toBe(BYSTANDERS);

      if (vault) {
        const [ipLabel, otherLabel] = pipeline.masked.map((column) => pipeline.spec.columns.find((c) => c.name === column)!.maskLabel);
        const subjectMasks = subjects.flatMap((person) => [masker.mask(ipLabel!, canonicalIp(person.ip)!), masker.mask(otherLabel!, person.other)]);
        const entries = await stack.pool.query<{ n: string }>('SELECT count(*) AS n FROM sqs2pg_vault.entries WHERE masked_value = ANY ($1::text[])', [subjectMasks]);
        expect(Number(entries.rows[0]?.n), 'vault entries of forgotten subjects').toBe(0);
        // Every sealed body left belongs to a record that is left, and none is a forgotten subject's.
        const orphans = await stack.pool.query<{ n: string }>(
          'SELECT count(*) AS n FROM sqs2pg_vault.quarantine_bodies b WHERE NOT EXISTS (SELECT 1 FROM sqs2pg.quarantine q WHERE q.sqs_message_id = b.sqs_message_id)',
        );
        expect(Number(orphans.rows[0]?.n), 'sealed bodies without their quarantine record').toBe(0);
        const opener = createVaultOpener(Buffer.from(TEST_VAULT_PRIVATE_KEY, 'hex'), 'v1');
        const bodies = await stack.pool.query<{ sqs_message_id: string; vault_key_id: string; ephemeral_public_key: Buffer; nonce: Buffer; ciphertext: Buffer }>(
          'SELECT sqs_message_id, vault_key_id, ephemeral_public_key, nonce, ciphertext FROM sqs2pg_vault.quarantine_bodies',
        );
        const subjectIds = new Set(ids(subjects));
        const sealedOfSubjects = bodies.rows.filter((row) => {
          const opened = opener.open({ vaultKeyId: row.vault_key_id, ephemeralPublicKey: row.ephemeral_public_key, nonce: row.nonce, ciphertext: row.ciphertext }, quarantineContext(row.sqs_message_id));
          // The subject where the pipeline reads it: user_id; visitor.id.
          const subject = valueAt(JSON.parse(opened.toString('utf8')), pipeline.spec.subject ?? []);
          return typeof subject === 'string' && subjectIds.has(subject);
        });
        expect(sealedOfSubjects.length, 'sealed bodies of forgotten subjects').toBe(0);
      }
    },
    PHASE_TIMEOUT_MS * 3,
  );
});
