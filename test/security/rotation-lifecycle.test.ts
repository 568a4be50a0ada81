// A key change strands nothing (issue 22, item 3). The rotation procedure of the privacy page
// (docs/privacy-and-roles.md, "Key rotation"), followed step by step for the vault key pair and then the mask key,
// with workers loading throughout as a least-privilege login, quarantined messages (sealed bodies)
// and erased users (tombstones with sealed ids) present, and erasures made mid-way. At the end both
// old keys are destroyed (never given to any command again); then reveal, quarantine show --reveal,
// replay and forget all work with the new keys alone, the erased users stay erased, and a command
// still given an old key is refused before it writes.
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMasker } from '../../src/transform/mask.js';
import { toVaultEntry, type EntryRow } from '../../src/vault/entry.js';
import { createVaultOpener, entryContext, quarantineContext } from '../../src/vault/sealed-box.js';
import { tombstoneContext } from '../../src/vault/tombstones.js';
import { createTestStack, runCli, startCli, TEST_MASK_KEY, waitFor, type CliProcess, type TestStack } from '../helpers/stack.js';
import { TEST_VAULT_PRIVATE_KEY, TEST_VAULT_PUBLIC_KEY } from '../helpers/vault.js';
import { createLoginRoles, type LoginRoles } from './login-roles.js';

interface Keys {
  mask: { key: string; id: string };
  vault: { publicKey: string; privateKey: string; id: string };
}

const OLD: Keys = {
  mask: { key: TEST_MASK_KEY, id: 'k1' },
  vault: { publicKey: TEST_VAULT_PUBLIC_KEY, privateKey: TEST_VAULT_PRIVATE_KEY, id: 'v1' },
};

// Erased at four moments: before any rotation, during the vault rotation, during the mask rotation,
// and after both (with the old keys gone). Each has rows and quarantine records from the start.
const F = ['erased-before', 'erased-during-vault', 'erased-during-mask', 'erased-after'] as const;
// Q: a record only reveal shows; R: a record replay loads once the constraint that refused it goes.
const Q = 'quarantined-user';
const R = 'replayed-user';
const POPULATION = Array.from({ length: 30 }, (_, i) => `user-${String(i).padStart(2, '0')}`);

let counter = 0;
/** A login with an ip of its own (so the vault grows with the load) and the user's device. */
function login(user: string, fields: Record<string, string> = {}): string {
  counter++;
  const ip = `10.${(counter >> 16) & 255}.${(counter >> 8) & 255}.${counter & 255}`;
  return JSON.stringify({ user_id: user, app_version: '2.3.4', device_type: 'ios', ip, locale: 'DE', device_id: `device-of-${user}`, ...fields });
}
const blackberry = (user: string) => login(user, { device_type: 'blackberry' });
const badVersion = (user: string) => login(user, { app_version: 'not-a-version' });

let stack: TestStack;
let roles: LoginRoles;
// Made inside the test by keygen, as the procedure says.
let NEW_MASK: Keys['mask'];
let NEW_VAULT: Keys['vault'];
let queueUrl: string;
/** every body sent, by SQS message id */
const sent = new Map<string, string>();
const clis: CliProcess[] = [];

async function send(bodies: readonly string[]): Promise<void> {
  for (let start = 0; start < bodies.length; start += 10) {
    const Entries = bodies.slice(start, start + 10).map((MessageBody, i) => ({ Id: String(i), MessageBody }));
    const output = await stack.sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries }));
    expect(output.Failed ?? []).toEqual([]);
    for (const ok of output.Successful ?? []) sent.set(ok.MessageId!, Entries[Number(ok.Id)]!.MessageBody);
  }
}

/** Load all along: ten logins of the population every ~150 ms, now and then one the database refuses. */
function startFeeder(): { stop(): Promise<void> } {
  let stopping = false;
  const loop = (async () => {
    for (let round = 0; !stopping; round++) {
      const bodies = Array.from({ length: 10 }, (_, i) => login(POPULATION[(round * 10 + i) % POPULATION.length]!));
      if (round % 7 === 0) bodies[0] = blackberry(POPULATION[round % POPULATION.length]!);
      if (round % 11 === 0) bodies[1] = badVersion(POPULATION[(round + 3) % POPULATION.length]!);
      await send(bodies);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
    },
  };
}

const workerEnv = (keys: Keys): NodeJS.ProcessEnv =>
  stack.env(queueUrl, {
    DATABASE_URL: roles.urlAs('worker'),
    SQS2PG_MASK_KEY: keys.mask.key,
    SQS2PG_MASK_KEY_ID: keys.mask.id,
    SQS2PG_VAULT_PUBLIC_KEY: keys.vault.publicKey,
    SQS2PG_VAULT_KEY_ID: keys.vault.id,
    SQS2PG_RECEIVE_WAIT_SEC: '1',
    SQS2PG_BATCH_MAX_ROWS: '50',
    SQS2PG_LOG_FORMAT: 'json',
  });

/** An officer's or the owner's command line: only the keys given, nothing from the workers' environment. */
const commandEnv = (databaseUrl: string, keys: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({ ...keys, PATH: process.env.PATH, DATABASE_URL: databaseUrl });

/** Starts a worker and waits until it is loading; the one it replaces is stopped after (a rolling restart). */
async function rollWorker(keys: Keys, previous?: CliProcess): Promise<CliProcess> {
  const worker = startCli(['run'], workerEnv(keys), 900_000);
  clis.push(worker);
  await waitFor(() => worker.output().stderr.includes('sqs2pg started') || worker.child.exitCode !== null, 120_000, 'the new worker to start');
  expect(worker.child.exitCode, worker.output().stderr).toBeNull();
  if (previous) {
    previous.child.kill('SIGTERM');
    const stopped = await previous.done;
    expect(stopped.code, stopped.stderr).toBe(0);
  }
  return worker;
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  return Number((await stack.pool.query<{ n: string }>(sql, params)).rows[0]?.n ?? 0);
}

/** Everything sealed, by vault key id: entries, quarantined bodies, tombstones' user ids. */
async function sealedByKeyId(): Promise<Record<string, number>> {
  const result = await stack.pool.query<{ id: string; n: string }>(
    `SELECT id, sum(n) AS n FROM (
       SELECT vault_key_id AS id, count(*) AS n FROM sqs2pg_vault.entries GROUP BY 1
       UNION ALL SELECT vault_key_id, count(*) FROM sqs2pg_vault.quarantine_bodies GROUP BY 1
       UNION ALL SELECT vault_key_id, count(*) FROM sqs2pg.tombstones WHERE vault_key_id IS NOT NULL GROUP BY 1) s
     GROUP BY id ORDER BY id`,
  );
  return Object.fromEntries(result.rows.map((row) => [row.id, Number(row.n)]));
}

/** What the users of `users` have in the database: rows, and quarantine records by any key's user key. */
async function traces(users: readonly string[], maskKeys: readonly Keys['mask'][]): Promise<{ rows: number; quarantined: number }> {
  const userKeys = users.flatMap((user) => maskKeys.map((k) => createMasker(Buffer.from(k.key, 'hex'), k.id).userKey(user)));
  return {
    rows: await count('SELECT count(*) AS n FROM user_logins WHERE user_id = ANY($1)', [users]),
    quarantined: await count('SELECT count(*) AS n FROM sqs2pg.quarantine WHERE user_key = ANY($1)', [userKeys]),
  };
}

/** Runs rotate until it says the old key is retired (a worker still on it may have written meanwhile). */
async function rotateUntilRetired(env: NodeJS.ProcessEnv, retired: string): Promise<string[]> {
  const outputs: string[] = [];
  for (let attempt = 1; attempt <= 4; attempt++) {
    const result = await runCli(['rotate', '--reason', `KEY-7 rotation, run ${attempt}`], env, 300_000);
    expect(result.code, result.stderr).toBe(0);
    outputs.push(result.stdout);
    if (result.stdout.includes(retired)) break;
  }
  return outputs;
}

async function keygen(vault: boolean): Promise<Record<string, string>> {
  const result = await runCli(vault ? ['keygen', '--vault'] : ['keygen'], { PATH: process.env.PATH });
  expect(result.code, result.stderr).toBe(0);
  return Object.fromEntries(result.stdout.trim().split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
}
const hex = (base64: string) => Buffer.from(base64, 'base64').toString('hex');

beforeAll(async () => {
  stack = await createTestStack();
  roles = await createLoginRoles(stack);
  queueUrl = await stack.newQueue();
  // A rule that refuses some valid logins: their records are what replay loads once it is dropped.
  await stack.pool.query(`ALTER TABLE user_logins ADD CONSTRAINT no_blackberry CHECK (device_type <> 'blackberry')`);
}, 120_000);

afterAll(async () => {
  for (const cli of clis) if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  await Promise.all(clis.map((cli) => cli.done));
  await roles?.drop();
  await stack?.close();
}, 120_000);

describe('the rotation procedure, both keys, under load, then the old keys destroyed', () => {
  it('strands nothing: reveal, quarantine show --reveal, replay and forget work with the new keys alone, and the erased stay erased', async () => {
    // ---- Before: workers on k1 / v1; erased users, quarantined records, sealed bodies.
    let worker = await rollWorker(OLD);
    const feeder = startFeeder();
    try {
      await send([...F, Q, R].flatMap((user) => [login(user), login(user), blackberry(user), badVersion(user)]));
      await waitFor(async () => (await traces([...F, Q, R], [OLD.mask])).quarantined === 12, 120_000, 'the first records to be quarantined');
      await waitFor(async () => (await traces([...F, Q, R], [OLD.mask])).rows === 12, 120_000, 'the first rows to be loaded');
      const officerOld = commandEnv(roles.urlAs('officer'), {
        SQS2PG_MASK_KEY: OLD.mask.key,
        SQS2PG_MASK_KEY_ID: OLD.mask.id,
        SQS2PG_VAULT_PUBLIC_KEY: OLD.vault.publicKey,
        SQS2PG_VAULT_KEY_ID: OLD.vault.id,
      });
      const erased0 = await runCli(['forget', '--user-id', F[0], '--reason', 'ER-1'], officerOld, 60_000);
      expect(erased0.code, erased0.stderr).toBe(0);
      expect(erased0.stdout).toContain('removed 2 rows of user_logins, 2 quarantine records');

      // ---- The vault key pair, v1 -> v2.
      // Step 1: a new pair.
      const pair = await keygen(true);
      NEW_VAULT = { publicKey: hex(pair.SQS2PG_VAULT_PUBLIC_KEY!), privateKey: hex(pair.SQS2PG_VAULT_PRIVATE_KEY!), id: 'v2' };
      // Step 2: every worker gets the new public key under a new id (a rolling restart); forget gets it too.
      const midVault: Keys = { mask: OLD.mask, vault: NEW_VAULT };
      worker = await rollWorker(midVault, worker);
      const officerMidVault = commandEnv(roles.urlAs('officer'), {
        SQS2PG_MASK_KEY: OLD.mask.key,
        SQS2PG_MASK_KEY_ID: OLD.mask.id,
        SQS2PG_VAULT_PUBLIC_KEY: NEW_VAULT.publicKey,
        SQS2PG_VAULT_KEY_ID: NEW_VAULT.id,
        // the commands that open sealed data: the new private key, and the old one until rotate is done
        SQS2PG_VAULT_PRIVATE_KEY: NEW_VAULT.privateKey,
        SQS2PG_VAULT_PREVIOUS_PRIVATE_KEY: OLD.vault.privateKey,
      });
      // Meanwhile, with the vault half under v1: the officer's commands open either.
      const qRecord = (await stack.pool.query<{ id: string }>(
        "SELECT sqs_message_id AS id FROM sqs2pg.quarantine WHERE user_key = $1 AND reason = 'bad_app_version'",
        [createMasker(Buffer.from(OLD.mask.key, 'hex'), OLD.mask.id).userKey(Q)],
      )).rows[0]!.id;
      const shownMid = await runCli(['quarantine', 'show', qRecord, '--reveal', '--reason', 'KEY-7 check'], officerMidVault, 60_000);
      expect(shownMid.code, shownMid.stderr).toBe(0);
      expect((JSON.parse(shownMid.stdout) as { body: string }).body).toBe(sent.get(qRecord));
      const ownerMidVault = commandEnv(stack.databaseUrl, { ...officerMidVault });
      const replayMid = await runCli(['replay', '--reason', 'KEY-7 still refused?', '--where-reason', 'bad_app_version'], ownerMidVault, 120_000);
      expect(replayMid.code, replayMid.stderr).toBe(0);
      expect(replayMid.stdout).toMatch(/^replayed: 0 loaded and removed from the quarantine; [1-9]\d* still refused \(bad_app_version [1-9]\d*\)/);
      const erased1 = await runCli(['forget', '--user-id', F[1], '--reason', 'ER-2'], officerMidVault, 60_000);
      expect(erased1.code, erased1.stderr).toBe(0);
      expect(erased1.stdout).toContain('removed 2 rows of user_logins, 2 quarantine records');
      // Step 3: rotate, as the tables' owner, with the new private key, its id and the old private key.
      const rowsBefore = await count('SELECT count(*) AS n FROM user_logins');
      const vaultRuns = await rotateUntilRetired(
        commandEnv(stack.databaseUrl, {
          SQS2PG_VAULT_PRIVATE_KEY: NEW_VAULT.privateKey,
          SQS2PG_VAULT_KEY_ID: NEW_VAULT.id,
          SQS2PG_VAULT_PREVIOUS_PRIVATE_KEY: OLD.vault.privateKey,
          SQS2PG_BATCH_MAX_ROWS: '50',
          SQS2PG_ROTATE_PAUSE_MS: '10',
        }),
        'vault key id "v1" is retired',
      );
      // Workers kept loading meanwhile.
      expect(await count('SELECT count(*) AS n FROM user_logins')).toBeGreaterThan(rowsBefore);
      // Step 4: nothing is sealed to v1 any more, and rotate says so; the old private key may go.
      expect(Object.keys(await sealedByKeyId())).toEqual(['v2']);
      expect(vaultRuns.at(-1)).toContain('vault key id "v1" is retired');
      expect(vaultRuns[0]).toMatch(/^re-sealed [1-9][\d,]* quarantined bodies and [1-9]\d* erased users' sealed ids to vault key id "v2"$/m);
      expect(vaultRuns.join('\n')).not.toContain('forgotten with the vault off');
      // (OLD.vault.privateKey is not given to any command from here on: destroyed.)

      // ---- The mask key, k1 -> k2.
      // Step 1: a new mask key.
      NEW_MASK = { key: hex((await keygen(false)).SQS2PG_MASK_KEY!), id: 'k2' };
      const NEW: Keys = { mask: NEW_MASK, vault: NEW_VAULT };
      // Step 2: every worker gets it (a rolling restart); forget gets it, and the old one as the previous key.
      worker = await rollWorker(NEW, worker);
      const officerMidMask = commandEnv(roles.urlAs('officer'), {
        SQS2PG_MASK_KEY: NEW_MASK.key,
        SQS2PG_MASK_KEY_ID: NEW_MASK.id,
        SQS2PG_MASK_PREVIOUS_KEY: OLD.mask.key,
        SQS2PG_VAULT_PUBLIC_KEY: NEW_VAULT.publicKey,
        SQS2PG_VAULT_KEY_ID: NEW_VAULT.id,
      });
      const erased2 = await runCli(['forget', '--user-id', F[2], '--reason', 'ER-3'], officerMidMask, 60_000);
      expect(erased2.code, erased2.stderr).toBe(0);
      expect(erased2.stdout).toContain('removed 2 rows of user_logins, 2 quarantine records');
      // Step 3: rotate --mask-key-id k2 with the new mask key and the vault private key.
      const maskRuns = await rotateUntilRetired(
        commandEnv(stack.databaseUrl, {
          SQS2PG_MASK_KEY: NEW_MASK.key,
          SQS2PG_MASK_KEY_ID: NEW_MASK.id,
          SQS2PG_VAULT_PRIVATE_KEY: NEW_VAULT.privateKey,
          SQS2PG_VAULT_KEY_ID: NEW_VAULT.id,
          SQS2PG_BATCH_MAX_ROWS: '50',
          SQS2PG_ROTATE_PAUSE_MS: '10',
        }),
        'mask key id "k1" is retired',
      );
      // Step 4: every row, record and tombstone has its k2 form, and rotate says so; the old mask key may go.
      expect(maskRuns.join('\n')).not.toContain('forgotten with the vault off');
      expect(maskRuns.at(-1)).toContain('mask key id "k1" is retired');
      expect(await count("SELECT count(*) AS n FROM user_logins WHERE masked_ip NOT LIKE 'k2:%' OR masked_device_id NOT LIKE 'k2:%'")).toBe(0);
      expect(await count("SELECT count(*) AS n FROM sqs2pg.quarantine WHERE user_key NOT LIKE 'k2:%'")).toBe(0);
      // Body hashes too: two copies of one bad body, one from before and one from after, still match.
      expect(await count("SELECT count(*) AS n FROM sqs2pg.quarantine WHERE body_sha256 IS NOT NULL AND body_sha256 NOT LIKE 'k2:%'")).toBe(0);
      expect(await count("SELECT count(*) AS n FROM sqs2pg.quarantine WHERE body_sha256 LIKE 'k2:%'")).toBeGreaterThan(0);
      // (OLD.mask.key is not given to any command from here on: destroyed.)

      // ---- After: the new keys alone.
      const officer = commandEnv(roles.urlAs('officer'), {
        SQS2PG_MASK_KEY: NEW_MASK.key,
        SQS2PG_MASK_KEY_ID: NEW_MASK.id,
        SQS2PG_VAULT_PUBLIC_KEY: NEW_VAULT.publicKey,
        SQS2PG_VAULT_KEY_ID: NEW_VAULT.id,
        SQS2PG_VAULT_PRIVATE_KEY: NEW_VAULT.privateKey,
      });
      // reveal: a value loaded before either rotation.
      const early = (await stack.pool.query<{ id: string; mask: string }>(
        'SELECT sqs_message_id AS id, masked_ip AS mask FROM user_logins WHERE user_id = $1 ORDER BY sqs_message_id LIMIT 1',
        [Q],
      )).rows[0]!;
      const revealed = await runCli(['reveal', early.mask, '--reason', 'KEY-7 after'], officer, 60_000);
      expect([revealed.code, revealed.stderr]).toEqual([0, '']);
      expect(revealed.stdout).toBe(`${(JSON.parse(sent.get(early.id)!) as { ip: string }).ip}\n`);
      // quarantine show --reveal: a body sealed to v1 before either rotation.
      const shown = await runCli(['quarantine', 'show', qRecord, '--reveal', '--reason', 'KEY-7 after'], officer, 60_000);
      expect(shown.code, shown.stderr).toBe(0);
      expect((JSON.parse(shown.stdout) as { body: string }).body).toBe(sent.get(qRecord));
      // forget: rows and records from before both rotations are found under the new key alone.
      const erased3 = await runCli(['forget', '--user-id', F[3], '--reason', 'ER-4'], officer, 60_000);
      expect(erased3.code, erased3.stderr).toBe(0);
      expect(erased3.stdout).toContain('removed 2 rows of user_logins, 2 quarantine records');

      // replay: the rule is dropped; what it refused loads, masked under k2, revealable.
      await stack.pool.query('ALTER TABLE user_logins DROP CONSTRAINT no_blackberry');
      const replayed = await runCli(['replay', '--reason', 'KEY-7 rule dropped', '--where-reason', 'db_rejected'], commandEnv(stack.databaseUrl, officer), 300_000);
      expect(replayed.code, replayed.stderr).toBe(0);
      expect(replayed.stdout).toMatch(/^replayed: [1-9]\d* loaded and removed from the quarantine; 0 still refused; 0 without a sealed body/);
      const replayedRow = (await stack.pool.query<{ mask: string; id: string }>(
        "SELECT masked_device_id AS mask, sqs_message_id AS id FROM user_logins WHERE user_id = $1 AND device_type = 'blackberry'",
        [R],
      )).rows[0]!;
      expect(replayedRow.mask).toMatch(/^k2:/);
      const revealedReplay = await runCli(['reveal', replayedRow.mask, '--reason', 'KEY-7 after replay'], officer, 60_000);
      expect([revealedReplay.code, revealedReplay.stdout], revealedReplay.stderr).toEqual([0, `device-of-${R}\n`]);

      // The erased stay erased: their new messages reach workers on k2 and are stopped, all four.
      const stoppedBefore = await count('SELECT coalesce(sum(messages_stopped), 0) AS n FROM sqs2pg.tombstones');
      await send(F.flatMap((user) => [login(user), badVersion(user)]));
      await waitFor(async () => (await count('SELECT coalesce(sum(messages_stopped), 0) AS n FROM sqs2pg.tombstones')) >= stoppedBefore + 8, 120_000, 'the erased users\' messages to be stopped');
    } finally {
      await feeder.stop();
    }
    await waitFor(async () => {
      const depth = await stack.queueDepth(queueUrl);
      return depth.visible === 0 && depth.notVisible === 0;
    }, 180_000, 'the queue to drain');
    worker.child.kill('SIGTERM');
    expect((await worker.done).code).toBe(0);
    expect(await traces(F, [OLD.mask, NEW_MASK])).toEqual({ rows: 0, quarantined: 0 });

    // Nothing is sealed to v1, and everything sealed opens with the new private key alone.
    expect(Object.keys(await sealedByKeyId())).toEqual(['v2']);
    await expectEverythingOpens(NEW_VAULT);

    // A command still given an old key is refused before it writes (exit 2), naming the key id, never the key.
    const stale = await runCli(['run', '--drain'], workerEnv({ mask: NEW_MASK, vault: { ...OLD.vault } }), 60_000);
    expect(stale.code).toBe(2);
    expect(stale.stderr).toContain('vault key id "v1"');
    expect(stale.stderr).not.toContain(OLD.vault.publicKey);
    const checked = await runCli(['check'], workerEnv({ mask: NEW_MASK, vault: { ...OLD.vault } }), 60_000);
    expect(checked.code).toBe(2);
    expect(checked.stdout).toMatch(/^problem {2}keys: vault key id "v1" was retired by sqs2pg rotate/m);
    const staleMask = await runCli(['forget', '--user-id', POPULATION[0]!, '--reason', 'ER-5'], commandEnv(roles.urlAs('officer'), {
      SQS2PG_MASK_KEY: OLD.mask.key,
      SQS2PG_MASK_KEY_ID: OLD.mask.id,
    }), 60_000);
    expect(staleMask.code).toBe(2);
    expect(staleMask.stderr).toContain('mask key id "k1"');
    expect(await count('SELECT count(*) AS n FROM user_logins WHERE user_id = $1', [POPULATION[0]])).toBeGreaterThan(0);
  }, 1_200_000);
});

/** Every entry, quarantined body and tombstone's sealed id opens with `vault`'s private key alone. */
async function expectEverythingOpens(vault: Keys['vault']): Promise<void> {
  const opener = createVaultOpener(Buffer.from(vault.privateKey, 'hex'), vault.id);
  const entries = await stack.pool.query<EntryRow>('SELECT masked_value, field, vault_key_id, ephemeral_public_key, nonce, ciphertext FROM sqs2pg_vault.entries');
  expect(entries.rows.length).toBeGreaterThan(0);
  for (const row of entries.rows) {
    const entry = toVaultEntry(row);
    opener.open({ vaultKeyId: entry.vaultKeyId, ephemeralPublicKey: entry.ephemeralPublicKey!, nonce: entry.nonce, ciphertext: entry.ciphertext }, entryContext(entry.field, entry.maskedValue));
  }
  type Sealed = { id: string; vault_key_id: string; ephemeral_public_key: Buffer; nonce: Buffer; ciphertext: Buffer };
  const bodies = await stack.pool.query<Sealed>('SELECT sqs_message_id AS id, vault_key_id, ephemeral_public_key, nonce, ciphertext FROM sqs2pg_vault.quarantine_bodies');
  expect(bodies.rows.length).toBeGreaterThan(0);
  for (const row of bodies.rows) {
    const body = opener.open({ vaultKeyId: row.vault_key_id, ephemeralPublicKey: row.ephemeral_public_key, nonce: row.nonce, ciphertext: row.ciphertext }, quarantineContext(row.id));
    expect(body.toString('utf8')).toBe(sent.get(row.id));
  }
  const tombstones = await stack.pool.query<Sealed>(
    'SELECT user_key AS id, vault_key_id, ephemeral_public_key, nonce, sealed_user_id AS ciphertext FROM sqs2pg.tombstones WHERE vault_key_id IS NOT NULL',
  );
  const opened = tombstones.rows.map((row) =>
    opener.open({ vaultKeyId: row.vault_key_id, ephemeralPublicKey: row.ephemeral_public_key, nonce: row.nonce, ciphertext: row.ciphertext }, tombstoneContext(row.id)).toString('utf8'),
  );
  // Each erased user has a sealed tombstone under k2 at least (forget or rotate made it).
  for (const user of F) expect(opened).toContain(user);
}
