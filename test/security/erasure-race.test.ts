// Attack: erase users while workers load their messages at full speed. Two runs share one
// database: one drains a queue of valid logins (batches of rows only, two worker processes), the
// other a queue of refused logins (batches of quarantine records only); a feeder keeps both full
// with messages of every user, and the users are forgotten one after another, on a user_logins of
// a few hundred thousand rows, where forget's scan is long enough for a batch to commit beside it.
// After the drain, nothing of a forgotten user may exist: no row, no quarantine record, no vault
// entry, no sealed body. Vault off and vault on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../../src/db/pool.js';
import { canonicalIp } from '../../src/transform/ip.js';
import { createMasker } from '../../src/transform/mask.js';
import { forgetUser, type ForgetUserResult } from '../../src/vault/forget.js';
import { createVaultOpener, createVaultSealer, quarantineContext } from '../../src/vault/sealed-box.js';
import { sealUserId } from '../../src/vault/tombstones.js';
import { createTestStack, migrateWithCli, startCli, TEST_MASK_KEY, waitFor, type CliProcess, type TestStack } from '../helpers/stack.js';
import { TEST_VAULT_PRIVATE_KEY, TEST_VAULT_PUBLIC_KEY } from '../helpers/vault.js';

/** Rows already in user_logins, of users nobody forgets: what makes forget's scan take its time. */
const PRELOADED_ROWS = 300_000;
const SUBJECTS = 24;
const BYSTANDERS = 8;
/** Generous backstops on a busy 2-core machine; every wait below ends on a state, not on time. */
const PHASE_TIMEOUT_MS = 300_000;

const masker = createMasker(Buffer.from(TEST_MASK_KEY, 'hex'), 'k1');

interface Person {
  id: string;
  ip: string;
  deviceId: string;
}

function people(tag: string, count: number, offset: number): Person[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${tag}-${String(i).padStart(3, '0')}-${process.pid}`,
    ip: `198.18.${offset + i}.${(i % 200) + 1}`,
    deviceId: `dev-${tag}-${offset + i}`,
  }));
}

const body = (person: Person, appVersion: string) =>
  JSON.stringify({ user_id: person.id, app_version: appVersion, device_type: 'android', ip: person.ip, locale: 'DE', device_id: person.deviceId });

let stack: TestStack;
let pool: Pool;
const running: CliProcess[] = [];

beforeAll(async () => {
  stack = await createTestStack();
  await migrateWithCli(stack.databaseUrl);
  await stack.pool.query(
    `INSERT INTO user_logins (sqs_message_id, user_id, device_type, masked_ip, masked_device_id, locale, app_version, app_version_raw, create_date)
     SELECT 'preloaded-' || g, 'preloaded-user-' || (g % 50000), 'ios', 'k1:' || md5(g::text) || md5((g + 1)::text),
            'k1:' || md5((g * 7)::text) || md5((g + 3)::text), 'DE', 1002003, '1.2.3', DATE '2024-01-15'
       FROM generate_series(1, ${PRELOADED_ROWS}) AS g`,
  );
  await stack.pool.query('ANALYZE user_logins');
  pool = createPool(stack.databaseUrl, 2);
}, PHASE_TIMEOUT_MS);

afterAll(async () => {
  for (const cli of running) cli.child.kill('SIGKILL');
  await Promise.all(running.map((cli) => cli.done));
  await pool?.end();
  await stack.close();
});

describe.each([
  { vault: false, offset: 0 },
  { vault: true, offset: 100 },
])('forget races the workers (vault $vault)', ({ vault, offset }) => {
  it(
    'leaves no row, quarantine record, vault entry or sealed body of any forgotten user',
    async () => {
      const subjects = people(vault ? 'vs' : 'ps', SUBJECTS, offset);
      const bystanders = people(vault ? 'vb' : 'pb', BYSTANDERS, offset + SUBJECTS);
      const everyone = [...subjects, ...bystanders];
      const rowsQueue = await stack.newQueue();
      const refusedQueue = await stack.newQueue();
      const vaultEnv = vault ? { SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY } : {};
      const runEnv = (queueUrl: string) =>
        stack.env(queueUrl, { ...vaultEnv, SQS2PG_BATCH_MAX_ROWS: '20', SQS2PG_BATCH_MAX_WAIT_MS: '20', SQS2PG_DB_POOL_SIZE: '4', SQS2PG_VISIBILITY_TIMEOUT_SEC: '30' });

      // The feeder: one valid and one refused message of every user per round, until told to stop; a
      // user's messages keep coming until their erasure has returned (what is queued by then still comes).
      // A round is sent once the workers have taken most of the last: the queues never run dry, and
      // hold little of a user once they are forgotten.
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
          await Promise.all([
            stack.send(rowsQueue, active.map((person) => body(person, '4.5.6'))),
            stack.send(refusedQueue, active.map((person) => body(person, 'not-a-version'))),
          ]);
          rounds++;
        }
      })();
      const rowsRun = startCli(['run', '--workers', '2'], runEnv(rowsQueue), PHASE_TIMEOUT_MS * 2);
      const refusedRun = startCli(['run'], runEnv(refusedQueue), PHASE_TIMEOUT_MS * 2);
      running.push(rowsRun, refusedRun);

      const userKeys = (list: readonly Person[]) => list.map((person) => masker.userKey(person.id));
      const ids = (list: readonly Person[]) => list.map((person) => person.id);
      // Every user has been loaded and quarantined before the first erasure: the workers are in full flow.
      await waitFor(
        async () => {
          const seen = await stack.pool.query<{ rows: string; records: string }>(
            `SELECT (SELECT count(DISTINCT user_id) FROM user_logins WHERE user_id = ANY ($1::text[])) AS rows,
                    (SELECT count(DISTINCT user_key) FROM sqs2pg.quarantine WHERE user_key = ANY ($2::text[])) AS records`,
            [ids(everyone), userKeys(everyone)],
          );
          return Number(seen.rows[0]?.rows) === everyone.length && Number(seen.rows[0]?.records) === everyone.length;
        },
        PHASE_TIMEOUT_MS,
        'every user to have a row and a quarantine record',
      );

      const sealer = vault ? createVaultSealer(Buffer.from(TEST_VAULT_PUBLIC_KEY, 'hex'), 'v1') : undefined;
      const results: ForgetUserResult[] = [];
      for (const subject of subjects) {
        const userKey = masker.userKey(subject.id);
        results.push(await forgetUser(pool, subject.id, [userKey], 'erasure race', sealUserId(sealer, userKey, subject.id)));
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
      const stopped = await stack.pool.query<{ n: string }>('SELECT coalesce(sum(messages_stopped), 0) AS n FROM sqs2pg.tombstones');
      expect(Number(stopped.rows[0]?.n)).toBeGreaterThan(0);

      const left = await stack.pool.query<{ rows: string; records: string }>(
        `SELECT (SELECT count(*) FROM user_logins WHERE user_id = ANY ($1::text[])) AS rows,
                (SELECT count(*) FROM sqs2pg.quarantine WHERE user_key = ANY ($2::text[])) AS records`,
        [ids(subjects), userKeys(subjects)],
      );
      expect(left.rows[0], 'rows and quarantine records of forgotten users').toEqual({ rows: '0', records: '0' });
      // Bystanders were loaded all along.
      const kept = await stack.pool.query<{ n: string }>('SELECT count(DISTINCT user_id) AS n FROM user_logins WHERE user_id = ANY ($1::text[])', [ids(bystanders)]);
      expect(Number(kept.rows[0]?.n)).toBe(BYSTANDERS);

      if (vault) {
        const subjectMasks = subjects.flatMap((person) => [masker.mask('ip', canonicalIp(person.ip)!), masker.mask('device_id', person.deviceId)]);
        const entries = await stack.pool.query<{ n: string }>('SELECT count(*) AS n FROM sqs2pg_vault.entries WHERE masked_value = ANY ($1::text[])', [subjectMasks]);
        expect(Number(entries.rows[0]?.n), 'vault entries of forgotten users').toBe(0);
        // Every sealed body left belongs to a record that is left, and none is a forgotten user's.
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
          return subjectIds.has((JSON.parse(opened.toString('utf8')) as { user_id: string }).user_id);
        });
        expect(sealedOfSubjects.length, 'sealed bodies of forgotten users').toBe(0);
      }
    },
    PHASE_TIMEOUT_MS * 3,
  );
});
