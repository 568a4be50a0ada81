// Erasure that sticks, the same tests run against the builtin logins (forget --user-id U) and a
// declared pipeline (forget --pipeline page_views --subject U). After it, U's messages still in the
// queue, or redelivered, are never loaded, never quarantined and never vaulted, yet deleted from the
// queue and counted in the tombstone; the tombstone holds a keyed hash of the id, never the id. And a property test at
// the sink: random sequences of load / forget / redeliver / mask-key rotation leave no row of a
// forgotten user (replay, issue 10, writes through the same sink and so meets the same check).
import { builtinLogins } from '../../src/config/builtin-pipelines.js';
import { sinkTargetOf } from '../../src/sink/postgres/conflict-target.js';
import { loginTableRow } from '../../src/transform/login-table-row.js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../../src/db/pool.js';
import { requireUserLogins } from '../../src/db/user-logins.js';
import { rekeyQuarantine } from '../../src/quarantine/rekey.js';
import { PostgresSink } from '../../src/sink/postgres/sink.js';
import { createMasker, type Masker } from '../../src/transform/mask.js';
import { messageToVaultedRow } from '../../src/transform/message-to-row.js';
import type { Rejection, TableRow } from '../../src/model/message.js';
import { forgetUser } from '../../src/vault/forget.js';
import { sealBatch } from '../../src/vault/seal-batch.js';
import { createVaultOpener, createVaultSealer, quarantineContext } from '../../src/vault/sealed-box.js';
import { rotateTombstones, sealUserId } from '../../src/vault/tombstones.js';
import { migratePipelines, PIPELINES_UNDER_TEST } from '../helpers/page-views.js';
import { createTestStack, dropDatabase, migrateWithCli, runCli, TEST_MASK_KEY, type TestStack } from '../helpers/stack.js';
import { TEST_MASK_KEY_2, TEST_VAULT_PRIVATE_KEY, TEST_VAULT_PUBLIC_KEY, vaultDump } from '../helpers/vault.js';

const U = 'user-who-asked-to-be-forgotten';
const login = (user: string, ip: string, device: string, appVersion = '1.2.3') =>
  JSON.stringify({ user_id: user, app_version: appVersion, device_type: 'ios', ip, locale: 'DE', device_id: device });

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(async () => {
  await stack.close();
});

describe.each(PIPELINES_UNDER_TEST)('$name: forget, then the subject\'s messages arrive', (pipeline) => {
  // A database of its own: the second test moves it to another mask key.
  let own: TestStack;
  beforeAll(async () => {
    own = await createTestStack();
    await migratePipelines(own.databaseUrl);
  });
  afterAll(async () => {
    await own.close();
  });
  const officerEnv = (): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    DATABASE_URL: own.databaseUrl,
    SQS2PG_MASK_KEY: TEST_MASK_KEY,
    SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY,
  });
  const removed = (n: number) => new RegExp(`removed ${n} rows? of (public\\.)?${pipeline.table}\\b`);

  it('loads, quarantines and vaults none of them, deletes them from the queue and counts them in the tombstone', async () => {
    const queueUrl = await own.newQueue();
    const env = pipeline.env(own, queueUrl, { SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY });
    // Loaded once before the erasure.
    await own.send(queueUrl, [pipeline.event(U, '198.51.100.10', '901-00-0001'), pipeline.event('someone-else', '198.51.100.20', '901-00-0009')]);
    expect((await runCli(['run', '--drain'], env, 60_000)).code).toBe(0);
    const forgotten = await runCli([...pipeline.forget(U), '--reason', 'ER-11'], officerEnv(), 20_000);
    expect(forgotten.code, forgotten.stderr).toBe(0);
    expect(forgotten.stdout).toMatch(removed(1));
    expect(forgotten.stdout).toContain('it has stopped 0 messages so far');

    // Still queued (or redelivered after a failed delete): three valid events and one refused. On a
    // queue of their own: fauxqs may still hand a message to a long poll of the drain that has exited,
    // and hide it for a visibility timeout (30 s) from the next.
    const later = await own.newQueue();
    await own.send(later, [
      pipeline.event(U, '198.51.100.11', '901-00-0002'),
      pipeline.event(U, '198.51.100.12', '901-00-0003'),
      pipeline.event(U, '198.51.100.10', '901-00-0001'),
      pipeline.refused(U, '198.51.100.13', '901-00-0004'),
      pipeline.event('another-user', '198.51.100.21', '901-00-0010'),
      pipeline.refused('another-user', '198.51.100.22', '901-00-0011'),
    ]);
    const drained = await runCli(['run', '--drain'], pipeline.env(own, later, { SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY }), 60_000);
    expect(drained.code, drained.stderr).toBe(0);
    expect(await own.queueDepth(later)).toEqual({ visible: 0, notVisible: 0 });

    const rows = await own.pool.query<{ subject: string }>(`SELECT ${pipeline.subject} AS subject FROM ${pipeline.table} ORDER BY 1`);
    expect(rows.rows.map((r) => r.subject)).toEqual(['another-user', 'someone-else']);
    const quarantine = await own.pool.query<{ t: string }>('SELECT row_to_json(q)::text AS t FROM sqs2pg.quarantine q');
    expect(quarantine.rowCount).toBe(1);
    expect(quarantine.rows[0]!.t).not.toContain(U);
    // None of U's values was vaulted: two entries per loaded row's distinct masks only.
    const entries = await own.pool.query<{ n: string }>('SELECT count(*) AS n FROM sqs2pg_vault.entries');
    expect(Number(entries.rows[0]!.n)).toBe(4);

    const tombstones = await own.pool.query<{ user_key: string; messages_stopped: string; t: string }>(
      'SELECT user_key, messages_stopped, row_to_json(t)::text AS t FROM sqs2pg.tombstones t',
    );
    expect(tombstones.rows).toHaveLength(1);
    expect(tombstones.rows[0]!.user_key).toBe(pipeline.subjectKey(createMasker(Buffer.from(TEST_MASK_KEY, 'hex'), 'k1'), U));
    expect(Number(tombstones.rows[0]!.messages_stopped)).toBe(4);
    expect(tombstones.rows[0]!.t).not.toContain(U);
    expect(tombstones.rows[0]!.t).not.toContain(Buffer.from(U).toString('hex'));

    const again = await runCli([...pipeline.forget(U), '--reason', 'ER-11 check'], officerEnv(), 20_000);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(removed(0));
    expect(again.stdout).toContain('it has stopped 4 messages so far');
    // Neither the id nor its keyed hash in the audit.
    const { text } = await vaultDump(own.pool);
    expect(text).not.toContain(U);
    expect(text).not.toContain(tombstones.rows[0]!.user_key);
  }, 120_000);

  it('still stops the subject after sqs2pg rotate moves the workers to a new mask key', async () => {
    const rotated = await runCli(['rotate', '--reason', 'new mask key'], {
      ...officerEnv(),
      SQS2PG_VAULT_PUBLIC_KEY: '',
      SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY,
      SQS2PG_MASK_KEY: TEST_MASK_KEY_2,
      SQS2PG_MASK_KEY_ID: 'k2',
    }, 60_000);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toContain('gave 1 tombstones of erased users a twin under mask key id "k2"');
    const queueUrl = await own.newQueue();
    await own.send(queueUrl, [pipeline.event(U, '198.51.100.14', '901-00-0005'), pipeline.event('third-user', '198.51.100.23', '901-00-0012')]);
    const env = pipeline.env(own, queueUrl, { SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY, SQS2PG_MASK_KEY: TEST_MASK_KEY_2, SQS2PG_MASK_KEY_ID: 'k2' });
    const drained = await runCli(['run', '--drain'], env, 60_000);
    expect(drained.code, drained.stderr).toBe(0);
    const rows = await own.pool.query(`SELECT 1 FROM ${pipeline.table} WHERE ${pipeline.subject} = $1`, [U]);
    expect(rows.rowCount).toBe(0);
    const stopped = await own.pool.query<{ n: string }>('SELECT messages_stopped AS n FROM sqs2pg.tombstones WHERE user_key = $1', [
      pipeline.subjectKey(createMasker(Buffer.from(TEST_MASK_KEY_2, 'hex'), 'k2'), U),
    ]);
    expect(stopped.rows.map((r) => Number(r.n))).toEqual([1]);
  }, 120_000);

  it('forget without the mask key is refused in one line: the tombstone needs it', async () => {
    const result = await runCli(pipeline.forget(U), { ...officerEnv(), SQS2PG_MASK_KEY: '' }, 15_000);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('SQS2PG_MASK_KEY');
  });
});

describe('property: no row of a forgotten user survives any sequence of load, forget, redeliver and rotate', () => {
  // Names with letters hex never holds, so a search for one in hex columns cannot match by chance.
  const USERS = ['ann', 'bob', 'cyd', 'dot'];
  type Op =
    | { kind: 'load'; user: number; id: number; valid: boolean }
    | { kind: 'redeliver'; nth: number }
    | { kind: 'forget'; user: number }
    | { kind: 'rotate' };
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('load' as const), user: fc.nat(USERS.length - 1), id: fc.nat(40), valid: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('redeliver' as const), nth: fc.nat(30) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('forget' as const), user: fc.nat(USERS.length - 1) }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'rotate' as const }) },
  );

  let databaseUrl: string;
  let pool: Pool;
  beforeAll(async () => {
    const url = new URL(stack.databaseUrl);
    // A database of its own, migrated by the CLI.
    const name = `${url.pathname.slice(1)}_prop`;
    await stack.pool.query(`CREATE DATABASE ${name}`);
    url.pathname = `/${name}`;
    databaseUrl = url.toString();
    await migrateWithCli(databaseUrl);
    pool = createPool(databaseUrl, 2);
  });
  afterAll(async () => {
    // dropDatabase waits for this pool's sessions to end (DROP ... WITH (FORCE) needs PostgreSQL 13).
    await pool.end();
    await dropDatabase(stack.databaseUrl, new URL(databaseUrl).pathname.slice(1));
  });

  it('holds for random sequences against PostgreSQL', async () => {
    const sealer = createVaultSealer(Buffer.from(TEST_VAULT_PUBLIC_KEY, 'hex'), 'v1');
    const opener = createVaultOpener(Buffer.from(TEST_VAULT_PRIVATE_KEY, 'hex'), 'v1');
    const maskers = [createMasker(Buffer.from(TEST_MASK_KEY, 'hex'), 'k1'), createMasker(Buffer.from(TEST_MASK_KEY_2, 'hex'), 'k2')];
    const sink = new PostgresSink(pool, sinkTargetOf(builtinLogins(''), await requireUserLogins(pool)));
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 14 }), async (ops) => {
        await pool.query('TRUNCATE public.user_logins, sqs2pg.quarantine, sqs2pg.tombstones, sqs2pg_vault.entries, sqs2pg_vault.quarantine_bodies');
        let masker: Masker = maskers[0]!;
        const sent: { messageId: string; body: string }[] = [];
        const forgotten = new Set<string>();
        const write = async (message: { messageId: string; body: string }) => {
          const inbound = { ...message, sentAtMs: 1_700_000_000_000, receiveCount: 1 };
          const { outcome, originals } = messageToVaultedRow(inbound, masker);
          const rows: TableRow[] = outcome.kind === 'row' ? [loginTableRow(outcome.row)] : [];
          const rejections: Rejection[] = outcome.kind === 'rejected' ? [outcome.rejection] : [];
          const sealedBodies = rejections.map((r) => ({ messageId: r.messageId, sealed: sealer.batch().seal(quarantineContext(r.messageId), message.body) }));
          await sink.write({ rows, rejections, vault: sealBatch(outcome.kind === 'row' ? originals : [], sealer), sealedBodies });
        };
        for (const step of ops) {
          if (step.kind === 'load') {
            const user = USERS[step.user]!;
            const message = { messageId: `m-${step.id}-${user}`, body: login(user, `192.0.2.${step.user + 1}`, `dev-${user}`, step.valid ? '1.0.0' : 'x') };
            sent.push(message);
            await write(message);
          } else if (step.kind === 'redeliver') {
            const message = sent[step.nth % Math.max(sent.length, 1)];
            if (message) await write(message);
          } else if (step.kind === 'forget') {
            const user = USERS[step.user]!;
            // During a rotation the officer gives both mask keys (SQS2PG_MASK_PREVIOUS_KEY).
            const userKey = masker.userKey(user);
            const previous = (masker === maskers[0] ? maskers[1] : maskers[0])!.userKey(user);
            await forgetUser(pool, user, [userKey, previous], 'property test', sealUserId(sealer, userKey, user));
            forgotten.add(user);
          } else {
            // Mask-key rotation: tombstones get a twin under the new key id; workers switch keys.
            const next = masker === maskers[0] ? maskers[1]! : maskers[0]!;
            const client = await pool.connect();
            try {
              await rotateTombstones(client, next, opener, sealer);
              await rekeyQuarantine(client, next, opener);
            } finally {
              client.release();
            }
            masker = next;
          }
        }
        const rows = await pool.query<{ user_id: string }>('SELECT DISTINCT user_id FROM public.user_logins');
        for (const row of rows.rows) expect(forgotten.has(row.user_id), `row of forgotten ${row.user_id}`).toBe(false);
        const keys = [...forgotten].flatMap((user) => maskers.map((m) => m.userKey(user)));
        const quarantined = await pool.query('SELECT 1 FROM sqs2pg.quarantine WHERE user_key = ANY($1)', [keys]);
        expect(quarantined.rowCount).toBe(0);
        const text = await pool.query<{ t: string | null }>('SELECT string_agg(row_to_json(t)::text, E\'\\n\') AS t FROM sqs2pg.tombstones t');
        for (const user of forgotten) expect(text.rows[0]?.t ?? '').not.toContain(user);
      }),
      { numRuns: 40 },
    );
  }, 120_000);
});
