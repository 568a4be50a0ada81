// sqs2pg check against real servers: all ok on a migrated database, and one useful "problem"
// line for each thing that would stop a worker: a retyped column, a missing privilege (whose
// suggested GRANT is then run, and fixes it), an unreachable queue or database, no mask key.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../src/local/free-port.js';
import { createTestStack, dropDatabase, migrateWithCli, runCli, TEST_MASK_KEY, type CliResult, type TestStack } from '../helpers/stack.js';
import { TEST_VAULT_PUBLIC_KEY, TEST_VAULT_PUBLIC_KEY_2 } from '../helpers/vault.js';

let stack: TestStack;
let queueUrl: string;
const cleanups: (() => Promise<void>)[] = [];
beforeAll(async () => {
  stack = await createTestStack();
  queueUrl = await stack.newQueue();
  await migrateWithCli(stack.databaseUrl);
  // PostgreSQL 12–14 let PUBLIC create in schema public (15 took it back): check warns there.
  const open = await stack.pool.query<{ open: boolean }>(`SELECT has_schema_privilege('public', 'public', 'CREATE') AS open`);
  ALL_OK['search path'] = open.rows[0]?.open ? 'warning' : 'ok';
});
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await stack.close();
});

/** Runs SQL as the admin on one database of the test server (the stack's by default). */
async function asAdmin(sql: string, database?: string): Promise<void> {
  const url = new URL(database ? inject('adminDatabaseUrl') : stack.databaseUrl);
  if (database) url.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A database of its own for one case, dropped after the file; returns its URL. */
async function extraDatabase(): Promise<string> {
  const name = `sqs2pg_check_${randomBytes(5).toString('hex')}`;
  await asAdmin(`CREATE DATABASE ${name}`, 'postgres');
  cleanups.push(() => dropDatabase(inject('adminDatabaseUrl'), name));
  const url = new URL(inject('adminDatabaseUrl'));
  url.pathname = `/${name}`;
  return url.toString();
}

function check(extra: NodeJS.ProcessEnv = {}, args: string[] = []): Promise<CliResult> {
  return runCli(['check', ...args], stack.env(queueUrl, extra), 30_000);
}

/** The status word of each check, by name: { 'SQS queue': 'ok', ... } */
function statuses(result: CliResult): Record<string, string> {
  return Object.fromEntries(
    result.stdout
      .trim()
      .split('\n')
      .map((line) => {
        const match = /^(ok|warning|problem|skipped) +([^:]+): /.exec(line);
        expect(match, `not a check line: ${line}`).not.toBeNull();
        return [match![2]!, match![1]!];
      }),
  );
}

function lineOf(result: CliResult, name: string): string {
  const line = result.stdout.split('\n').find((l) => l.includes(` ${name}: `));
  expect(line, result.stdout).toBeDefined();
  return line!;
}

const ALL_OK = {
  configuration: 'ok',
  'mask key': 'ok',
  'SQS queue': 'ok',
  PostgreSQL: 'ok',
  'table user_logins': 'ok',
  migrations: 'ok',
  privileges: 'ok',
  vault: 'ok',
  envelope: 'ok',
  'S3 payloads': 'ok',
  // The test stack connects as a superuser: more than a worker needs, a warning while the vault is off.
  'least privilege': 'warning',
  'HTTP port': 'ok',
  workers: 'ok',
  'search path': 'ok',
  keys: 'ok',
};

describe('sqs2pg check', () => {
  it('passes on a migrated database and a reachable queue: one ok line per check, exit 0', async () => {
    const result = await check();
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(statuses(result)).toEqual(ALL_OK);
    expect(result.stderr).toBe('');
    // The database password is never echoed.
    expect(result.stdout).not.toContain(`:${new URL(stack.databaseUrl).password}@`);
  });

  it('a column retyped from the take-home DDL: the column, both types and what to do', async () => {
    const databaseUrl = await extraDatabase();
    await asAdmin(
      `CREATE TABLE user_logins (user_id varchar(128), device_type varchar(32), masked_ip varchar(256),
         masked_device_id varchar(256), locale varchar(32), app_version text, create_date date)`,
      new URL(databaseUrl).pathname.slice(1),
    );
    await migrateWithCli(databaseUrl);
    const result = await check({ DATABASE_URL: databaseUrl });
    expect(result.code).toBe(1);
    expect(statuses(result)).toEqual({ ...ALL_OK, 'table user_logins': 'problem' });
    expect(lineOf(result, 'table user_logins')).toBe(
      'problem  table user_logins: public.user_logins differs from the take-home DDL: app_version is text, expected integer; alter the column(s) to match sql/0001_user_logins.sql (sqs2pg never retypes a column)',
    );
  });

  it('a role without INSERT on user_logins: names the privilege and the GRANT, which then fixes it', async () => {
    const role = `sqs2pg_check_${randomBytes(5).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    await asAdmin(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    cleanups.push(async () => {
      await asAdmin(`DROP OWNED BY ${role}`);
      await asAdmin(`DROP ROLE IF EXISTS ${role}`);
    });
    await asAdmin(`GRANT USAGE ON SCHEMA sqs2pg TO ${role};
      GRANT SELECT ON sqs2pg.schema_migrations TO ${role};
      GRANT SELECT (sqs_message_id) ON user_logins TO ${role};
      GRANT INSERT, SELECT (pipeline, sqs_message_id) ON sqs2pg.quarantine TO ${role};
      GRANT SELECT, INSERT ON sqs2pg.key_fingerprints TO ${role};
      GRANT EXECUTE ON FUNCTION sqs2pg.stop_tombstoned(text[]) TO ${role}`);
    const url = new URL(stack.databaseUrl);
    url.username = role;
    url.password = password;

    const result = await check({ DATABASE_URL: url.toString() });
    expect(result.code).toBe(1);
    expect(statuses(result)).toEqual({ ...ALL_OK, privileges: 'problem', 'least privilege': 'ok' });
    const line = lineOf(result, 'privileges');
    expect(line).toBe(`problem  privileges: role ${role} lacks INSERT on user_logins; as the tables' owner run: GRANT INSERT ON "public"."user_logins" TO "${role}";`);
    expect(result.stdout).not.toContain(password);

    await asAdmin(line.split(' run: ')[1]!);
    const fixed = await check({ DATABASE_URL: url.toString() });
    expect(fixed.code, fixed.stdout).toBe(0);
    expect(statuses(fixed)).toEqual({ ...ALL_OK, 'least privilege': 'ok' });
    // With the vault on, the same role passes too: it cannot read the vault.
    await asAdmin(`GRANT USAGE ON SCHEMA sqs2pg_vault TO ${role}; GRANT INSERT ON sqs2pg_vault.entries TO ${role}`);
    const vaultOn = await check({ DATABASE_URL: url.toString(), SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY });
    expect(vaultOn.code, vaultOn.stdout).toBe(0);
    expect(statuses(vaultOn)).toEqual({ ...ALL_OK, 'least privilege': 'ok' });
    // Granted a read of the vault by hand: a problem with the vault on, a warning with it off.
    await asAdmin(`GRANT SELECT ON sqs2pg_vault.entries TO ${role}`);
    const reads = await check({ DATABASE_URL: url.toString(), SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY });
    expect(reads.code).toBe(1);
    expect(lineOf(reads, 'least privilege')).toContain(`role ${role} can read the vault`);
    const off = await check({ DATABASE_URL: url.toString() });
    expect(off.code).toBe(0);
    expect(statuses(off)['least privilege']).toBe('warning');
  });

  it('PUBLIC may create in a schema on the role\'s search path: a warning naming it and the REVOKE, which then fixes it', async () => {
    const databaseUrl = await extraDatabase();
    await migrateWithCli(databaseUrl);
    const database = new URL(databaseUrl).pathname.slice(1);
    await asAdmin('GRANT CREATE ON SCHEMA public TO PUBLIC', database);
    const open = await check({ DATABASE_URL: databaseUrl });
    expect(open.code, open.stdout).toBe(0);
    const line = lineOf(open, 'search path');
    expect(line).toMatch(/^warning {2}search path: PUBLIC may create objects in schema public, on the search path of role \S+: a function or operator planted there runs with the rights of whoever calls it /);
    expect(line.endsWith('; as the owner of public run: REVOKE CREATE ON SCHEMA public FROM PUBLIC;')).toBe(true);
    await asAdmin(line.split(' run: ')[1]!, database);
    const closed = await check({ DATABASE_URL: databaseUrl });
    expect(lineOf(closed, 'search path')).toMatch(/^ok {7}search path: no schema on the search path of role \S+ lets PUBLIC create objects$/);
  });

  it('an unreachable queue: the queue, the endpoint, the reason and the settings to look at', async () => {
    const port = await freePort();
    const result = await check({ AWS_ENDPOINT_URL_SQS: `http://127.0.0.1:${port}` });
    expect(result.code).toBe(1);
    expect(statuses(result)).toEqual({ ...ALL_OK, 'SQS queue': 'problem' });
    const line = lineOf(result, 'SQS queue');
    expect(line).toContain(`problem  SQS queue: cannot read ${queueUrl} via http://127.0.0.1:${port} (`);
    expect(line).toContain(`(connection refused (ECONNREFUSED): nothing listens on 127.0.0.1:${port}); check the host and port`);
    // Nothing answered, so nothing refused the credentials: no advice about them.
    expect(line).not.toMatch(/credentials|role/);
  });

  it('a queue the server does not have', async () => {
    const missing = queueUrl.replace(/[^/]+$/, 'no-such-queue-sqs2pg');
    const result = await check({ SQS_QUEUE_URL: missing });
    expect(result.code).toBe(1);
    expect(statuses(result)).toEqual({ ...ALL_OK, 'SQS queue': 'problem' });
    const line = lineOf(result, 'SQS queue');
    expect(line).toContain(`cannot read ${missing}`);
    // The endpoint answered: it says so, and which queues it does have.
    expect(line).toContain('answered that it has no queue no-such-queue-sqs2pg; queues it has: ');
    expect(line).toContain('check the queue name and account id in SQS_QUEUE_URL');
  });

  it('an unreachable database: one problem, and the checks that need it skipped', async () => {
    const port = await freePort();
    const result = await check({ DATABASE_URL: `postgres://sqs2pg:pw-Hunter2-secret@127.0.0.1:${port}/logins` });
    expect(result.code).toBe(1);
    expect(statuses(result)).toEqual({ ...ALL_OK, PostgreSQL: 'problem', 'table user_logins': 'skipped', migrations: 'skipped', privileges: 'skipped', 'least privilege': 'skipped', 'search path': 'skipped', keys: 'skipped' });
    expect(lineOf(result, 'PostgreSQL')).toContain(`cannot connect to 127.0.0.1:${port}/logins`);
    expect(result.stdout).not.toContain('pw-Hunter2-secret');
  });

  it('a database never migrated: says to run sqs2pg migrate', async () => {
    const result = await check({ DATABASE_URL: await extraDatabase() });
    expect(result.code).toBe(1);
    expect(statuses(result)).toEqual({ ...ALL_OK, 'table user_logins': 'problem', migrations: 'problem', privileges: 'skipped', keys: 'skipped' });
    expect(lineOf(result, 'table user_logins')).toContain('run "sqs2pg migrate"');
    expect(lineOf(result, 'migrations')).toMatch(/0 of \d+ applied, pending: 0001_user_logins, .*; run "sqs2pg migrate"/);
  });

  it('no mask key: a problem line, not a usage error', async () => {
    const result = await check({ SQS2PG_MASK_KEY: '' });
    expect(result.code).toBe(1);
    expect(statuses(result)).toEqual({ ...ALL_OK, 'mask key': 'problem' });
    expect(lineOf(result, 'mask key')).toContain('sqs2pg keygen');
  });

  it('the envelope mode: auto by default, and the one set', async () => {
    expect(lineOf(await check(), 'envelope')).toMatch(/^ok {7}envelope: auto: SNS Notifications and EventBridge events are unwrapped/);
    expect(lineOf(await check({ SQS2PG_ENVELOPE: 'sns' }), 'envelope')).toContain('sns: every body must be an SNS Notification');
    expect(lineOf(await check({}, ['--envelope', 'none']), 'envelope')).toContain('none: every body is taken as the event');
  });

  it('S3 payloads: whether S3 answers where run would fetch, a warning when it does not, nothing asked when off', async () => {
    expect(lineOf(await check(), 'S3 payloads')).toBe(`ok       S3 payloads: resolve: extended-client pointers are fetched (s3:GetObject); ${stack.sqsEndpoint} answers`);
    expect(lineOf(await check({ SQS2PG_S3_DELETE_AFTER_COMMIT: 'true' }), 'S3 payloads')).toContain('fetched (s3:GetObject), deleted after commit (s3:DeleteObject);');
    const port = await freePort();
    const silent = await check({ AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}` });
    // A queue whose bodies are never offloaded needs no S3: a warning, and check still passes.
    expect(silent.code, silent.stdout).toBe(0);
    expect(statuses(silent)).toEqual({ ...ALL_OK, 'S3 payloads': 'warning' });
    expect(lineOf(silent, 'S3 payloads')).toMatch(new RegExp(`^warning  S3 payloads: resolve: http://127\\.0\\.0\\.1:${port} does not answer \\(.+\\); .*--s3-payloads off$`));
    expect(lineOf(await check({ AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}` }, ['--s3-payloads', 'off']), 'S3 payloads')).toMatch(/^ok +S3 payloads: off: /);
  });

  it('S3 payloads: credentials S3 refuses are a warning that says a worker would stop, not "answers"', async () => {
    // S3 as it answers a secret it does not know: 403 InvalidAccessKeyId, to ListBuckets as to GetObject.
    const s3 = createServer((_, res) => {
      res.writeHead(403, { 'content-type': 'application/xml' }).end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message></Error>');
    });
    await new Promise<void>((resolve) => s3.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(s3.address() as { port: number }).port}`;
      const refused = await check({ AWS_ENDPOINT_URL_S3: endpoint });
      expect(refused.code, refused.stdout).toBe(0);
      expect(statuses(refused)).toEqual({ ...ALL_OK, 'S3 payloads': 'warning' });
      expect(lineOf(refused, 'S3 payloads')).toBe(
        `warning  S3 payloads: resolve: ${endpoint} refuses the AWS credentials (InvalidAccessKeyId); a worker would stop (exit 3) at the first offloaded body, leaving it in the queue: check the credentials S3 is given, the clock and AWS_REGION, or set --s3-payloads off`,
      );
    } finally {
      s3.closeAllConnections();
      await new Promise((resolve) => s3.close(resolve));
    }
  });

  it('the vault: on with its public key, a problem when it is the mask key or the legacy symmetric key', async () => {
    const on = await check({ SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY });
    expect(lineOf(on, 'vault')).toBe('ok       vault: on: the vault public key is set (key id v1); workers seal, only the private key opens');
    expect(lineOf(on, 'privileges')).toContain('and sqs2pg_vault.entries');
    // A mask key is seldom even a point of the curve: refused with the settings (exit 2).
    const notAPoint = await check({ SQS2PG_VAULT_PUBLIC_KEY: TEST_MASK_KEY });
    expect(notAPoint.code).toBe(2);
    expect(notAPoint.stdout.trim()).toMatch(/^problem {2}configuration: invalid --vault-public-key \(SQS2PG_VAULT_PUBLIC_KEY\): the key is not/);
    // One that is (a mask key id not used here yet, so only the vault line has a problem).
    const same = await check({ SQS2PG_MASK_KEY: TEST_VAULT_PUBLIC_KEY_2, SQS2PG_MASK_KEY_ID: 'k7', SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY_2 });
    expect(same.code).toBe(1);
    expect(lineOf(same, 'vault')).toContain('the vault public key is the mask key');
    const legacy = await check({ SQS2PG_VAULT_KEY: 'b7c1d2e3f405162738495a6b7c8d9eafb0c1d2e3f405162738495a6b7c8d9eaf' });
    expect(legacy.code).toBe(1);
    expect(lineOf(legacy, 'vault')).toContain('workers no longer take the symmetric vault key');
  });

  it('a worker that runs as a superuser: a problem with the vault on, naming sqs2pg grants and the role to use; a warning with it off', async () => {
    const on = await check({ SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY });
    expect(on.code).toBe(1);
    expect(statuses(on)).toEqual({ ...ALL_OK, 'least privilege': 'problem' });
    const line = lineOf(on, 'least privilege');
    expect(line).toMatch(/^problem {2}least privilege: role \S+ is a superuser, owns [^:]*sqs2pg_vault\.entries[^:]*, can read the vault: more than a worker needs, and the vault is on; /);
    expect(line).toContain('"sqs2pg grants"');
    expect(line).toContain('sqs2pg_worker');
    const off = await check();
    expect(off.code).toBe(0);
    expect(lineOf(off, 'least privilege')).toMatch(/^warning {2}least privilege: role \S+ is a superuser.*\(the vault is off\)/);
  });

  it('a mask key other than the one its key id was first used with: what run would refuse', async () => {
    const databaseUrl = await extraDatabase();
    await migrateWithCli(databaseUrl);
    await asAdmin(`INSERT INTO sqs2pg.key_fingerprints (purpose, key_id, fingerprint) VALUES ('mask', 'k1', '${'0'.repeat(32)}')`, new URL(databaseUrl).pathname.slice(1));
    const result = await check({ DATABASE_URL: databaseUrl });
    // exit 2, as run's own refusal of that key
    expect(result.code).toBe(2);
    expect(statuses(result)).toEqual({ ...ALL_OK, keys: 'problem' });
    expect(lineOf(result, 'keys')).toContain('the mask key and mask key id "k1" do not match what this database first saw them with');
  });

  it('a malformed setting: the configuration line, exit 2', async () => {
    const result = await check({ SQS2PG_POLLERS: 'abc' });
    expect(result.code).toBe(2);
    expect(result.stdout.trim()).toMatch(/^problem {2}configuration: invalid --pollers \(SQS2PG_POLLERS\) "abc"/);
  });

  it('--json: one object with every check; --quiet: only the problems', async () => {
    const json = await check({ SQS2PG_MASK_KEY: '' }, ['--json']);
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.stdout) as { ok: boolean; checks: { check: string; status: string; detail: string }[] };
    expect(parsed.ok).toBe(false);
    expect(Object.fromEntries(parsed.checks.map((c) => [c.check, c.status]))).toEqual({ ...ALL_OK, 'mask key': 'problem' });
    // --quiet prints problems only: not the ok lines, nor this stack's superuser warning.
    const quiet = await check({ SQS2PG_MASK_KEY: '' }, ['--quiet']);
    expect(quiet.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^problem {2}mask key: /)]);
    // Problems only: the checks skipped for want of PostgreSQL are not problems of their own.
    const port = await freePort();
    const unreachable = await check({ DATABASE_URL: `postgres://sqs2pg:pw@127.0.0.1:${port}/logins` }, ['--quiet']);
    expect(unreachable.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^problem {2}PostgreSQL: /)]);
  });

  it('the HTTP port run would serve on: free, or taken by another process', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const result = await check({ SQS2PG_HTTP_PORT: String(port) });
      expect(result.code).toBe(1);
      expect(statuses(result)).toEqual({ ...ALL_OK, 'HTTP port': 'problem' });
      expect(lineOf(result, 'HTTP port')).toContain(`run cannot serve /metrics, /healthz and /readyz on 127.0.0.1:${port} (EADDRINUSE: another process listens there)`);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
    const free = await freePort();
    const ok = await check({ SQS2PG_HTTP_PORT: String(free) });
    expect(lineOf(ok, 'HTTP port')).toBe(`ok       HTTP port: 127.0.0.1:${free} is free for /metrics, /healthz and /readyz`);
  });

  it('the worker processes run would start: a pool too small to give each a connection is what run refuses', async () => {
    const split = await check({ SQS2PG_WORKERS: '3', SQS2PG_DB_POOL_SIZE: '8' });
    expect(lineOf(split, 'workers')).toBe('ok       workers: 3 worker processes under one supervisor; the 8 PostgreSQL connections split 3 + 3 + 2');
    const tooFew = await check({ SQS2PG_WORKERS: '5', SQS2PG_DB_POOL_SIZE: '4' });
    expect(tooFew.code).toBe(1);
    expect(statuses(tooFew)).toEqual({ ...ALL_OK, workers: 'problem' });
    expect(lineOf(tooFew, 'workers')).toContain('--workers (SQS2PG_WORKERS) is 5 but --db-pool-size (SQS2PG_DB_POOL_SIZE) is 4');
    const run = await runCli(['run'], stack.env(queueUrl, { SQS2PG_WORKERS: '5', SQS2PG_DB_POOL_SIZE: '4' }), 30_000);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain('--workers (SQS2PG_WORKERS) is 5 but --db-pool-size (SQS2PG_DB_POOL_SIZE) is 4');
  });
});
