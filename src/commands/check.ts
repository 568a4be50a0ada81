// sqs2pg check: everything `run` needs, checked without moving a message. One line per check,
// "ok", "warning" or "problem" with what to do; exit 0 unless a check found a problem.
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { renderHelp } from '../config/help.js';
import { loadConfig } from '../config/load.js';
import { describeKeyProblem, keyProblems, type KeyCheck } from '../db/key-fingerprints.js';
import { planDeclaredTables, type TablePlan } from '../db/declared-tables.js';
import { loadMigrations, pendingMigrations } from '../db/migrate.js';
import { createPool, describeDatabase, explainConnectFailure, type Pool } from '../db/pool.js';
import { findUserLogins, type UserLoginsTable } from '../db/user-logins.js';
import {
  excessPrivileges,
  mayApplyTablePlan,
  missingPrivileges,
  namedSchemasPublicMayCreateIn,
  revokePublicCreate,
  schemasPublicMayCreateIn,
  tableShape,
  takehomeColumns,
  vaultWorkerPrivileges,
  workerPrivileges,
} from '../db/verify.js';
import { ConfigError, describeError, describeFault, EXIT, PipelineFileError } from '../errors.js';
import { selectPipelines } from '../config/pipeline-file.js';
import type { EnvelopeMode, PipelineSpec, S3PayloadMode } from '../model/pipeline.js';
import { summary } from './pipelines.js';
import type { SqsProtocolSetting } from '../source/sqs/auto-protocol.js';
import { createSqsApi, type SqsClientSetting } from '../source/sqs/create-sqs-api.js';
import { explainQueueFailure } from '../source/sqs/queue-failure.js';
import { SQS_MAX_BODY_BYTES, SqsSource } from '../source/sqs/source.js';
import { resolveWorkerCount, splitPoolSize } from '../supervisor/pool-split.js';
import { S3PayloadResolver } from '../source/s3/payload-resolver.js';
import { maskKeyFrom } from '../config/key.js';
import { refuseLegacyVaultKey, vaultPublicKeyFrom } from '../vault/key-pair.js';

type Status = 'ok' | 'warning' | 'problem' | 'skipped';

export interface CheckResult {
  check: string;
  status: Status;
  detail: string;
}

// Which bodies become which events: said once, so a queue fed through SNS is not a surprise.
const ENVELOPE_DETAIL: Record<EnvelopeMode, string> = {
  auto: 'auto: SNS Notifications and EventBridge events are unwrapped (keyed by their ids), every other body is taken as the event',
  none: 'none: every body is taken as the event; an SNS or EventBridge envelope is quarantined as missing_field',
  sns: 'sns: every body must be an SNS Notification (raw delivery off); any other is quarantined as bad_envelope',
  eventbridge: 'eventbridge: every body must be an EventBridge event; any other is quarantined as bad_envelope',
};

const EXIT_PROBLEM = 1;
const EXIT_KEY = 2;
const count = new Intl.NumberFormat('en-US');

export async function check(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let loaded;
  try {
    loaded = loadConfig('check', args, env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    print({ check: 'configuration', status: 'problem', detail: error.message });
    return error.exitCode;
  }
  const { config, help } = loaded;
  if (help) {
    console.log(renderHelp('check', help === 'all'));
    return 0;
  }
  const results: CheckResult[] = [];
  const report = (result: CheckResult) => {
    results.push(result);
    if (!config.json && (!config.quiet || result.status === 'problem')) print(result);
  };

  const where = config.config === undefined ? `queue ${config.queueUrl}` : `pipeline file ${config.config}`;
  report({ check: 'configuration', status: 'ok', detail: `every setting is valid (${where}, database ${describeDatabase(config.databaseUrl)})` });
  const declared = checkPipelines(config, env);
  for (const result of declared.results) report(result);
  const maskKey = guardedKey(() => maskKeyFrom(config));
  report(
    maskKey.key
      ? { check: 'mask key', status: 'ok', detail: `the mask key is set (${maskKey.key.length} bytes, key id ${config.maskKeyId})` }
      : {
          check: 'mask key',
          status: 'problem',
          detail: maskKey.error ?? 'SQS2PG_MASK_KEY (or SQS2PG_MASK_KEY_FILE) is not set; make one with "sqs2pg keygen", keep it in a secret store and give it to every worker',
        },
  );
  const vault = checkVault(config, env, maskKey.key);
  report(vault.result);
  for (const result of await checkWirings(config, declared.pipelines, env)) report(result);
  report(await checkHttpPort(config.httpHost, config.httpPort));
  report(checkWorkers(config.workers, config.dbPoolSize));
  const keys: KeyCheck[] = [
    ...(maskKey.key ? [{ purpose: 'mask', keyId: config.maskKeyId, key: maskKey.key } as const] : []),
    ...(vault.publicKey ? [{ purpose: 'vault', keyId: config.vaultKeyId, key: vault.publicKey } as const] : []),
  ];
  // With a pipeline file, its queues replace --queue-url: each is read as run would read it.
  if (declared.pipelines) {
    for (const spec of declared.pipelines) report(await checkQueue({ ...config, queueUrl: spec.queue }, env, declared.named ? spec.name : undefined));
  } else {
    report({ check: 'SQS queue', status: 'skipped', detail: 'needs a pipeline file without faults' });
  }
  const pool = createPool(config.databaseUrl, 1);
  try {
    for (const result of await checkDatabase(pool, config.databaseUrl, keys, vault.publicKey !== undefined, declared)) report(result);
  } finally {
    await pool.end();
  }

  const passed = results.every((result) => result.status === 'ok' || result.status === 'warning');
  if (config.json) console.log(JSON.stringify({ ok: passed, checks: results }));
  // A key run would refuse is what run exits 2 for: check says so the same way.
  if (results.some((result) => result.check === 'keys' && result.status === 'problem')) return EXIT_KEY;
  // So is a pipeline file run could not read.
  if (results.some((result) => result.check === 'pipeline file' && result.status === 'problem')) return EXIT.config;
  return passed ? 0 : EXIT_PROBLEM;
}

function guardedKey(read: () => Buffer | undefined): { key?: Buffer | undefined; error?: string } {
  try {
    return { key: read() };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { error: error.message };
  }
}

function checkVault(
  config: Parameters<typeof vaultPublicKeyFrom>[0] & { vaultKeyId: string },
  env: NodeJS.ProcessEnv,
  maskKey: Buffer | undefined,
): { result: CheckResult; publicKey?: Buffer } {
  try {
    refuseLegacyVaultKey(env);
    const publicKey = vaultPublicKeyFrom(config);
    if (!publicKey) return { result: { check: 'vault', status: 'ok', detail: 'off (no SQS2PG_VAULT_PUBLIC_KEY): masks only, no originals kept for reveal' } };
    if (maskKey?.equals(publicKey)) throw new ConfigError('the vault public key is the mask key; make a vault key pair with "sqs2pg keygen --vault"');
    return { result: { check: 'vault', status: 'ok', detail: `on: the vault public key is set (key id ${config.vaultKeyId}); workers seal, only the private key opens` }, publicKey };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { result: { check: 'vault', status: 'problem', detail: error.message } };
  }
}

/** The port run would serve /metrics, /healthz and /readyz on: bound for a moment, then let go. */
async function checkHttpPort(host: string, port: number): Promise<CheckResult> {
  const check = 'HTTP port';
  if (port === 0) return { check, status: 'ok', detail: 'off (--http-port 0): no /metrics, /healthz or /readyz' };
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    const why =
      code === 'EADDRINUSE'
        ? 'another process listens there'
        : code === 'EADDRNOTAVAIL'
          ? 'the address is not one of this host'
          : code === 'EACCES'
            ? 'a port below 1024 needs privileges'
            : describeError(error);
    return {
      check,
      status: 'problem',
      detail: `run cannot serve /metrics, /healthz and /readyz on ${host}:${port} (${code}: ${why}); set --http-port (SQS2PG_HTTP_PORT) to a free port, --http-host (SQS2PG_HTTP_HOST) to an address of this host, or the port to 0 to turn the server off`,
    };
  }
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return { check, status: 'ok', detail: `${host}:${port} is free for /metrics, /healthz and /readyz` };
}

/** The worker processes run would start, and how it would split the host's PostgreSQL connections among them. */
function checkWorkers(setting: number | 'auto', poolSize: number): CheckResult {
  const check = 'workers';
  const workers = resolveWorkerCount(setting, availableParallelism());
  if (workers === 1) return { check, status: 'ok', detail: `one worker process, no supervisor, ${poolSize} PostgreSQL connection${poolSize === 1 ? '' : 's'}` };
  try {
    const sizes = splitPoolSize(poolSize, workers);
    return { check, status: 'ok', detail: `${workers} worker processes under one supervisor; the ${poolSize} PostgreSQL connections split ${sizes.join(' + ')}` };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { check, status: 'problem', detail: error.message };
  }
}

type WiringConfig = { envelope: EnvelopeMode; s3Payloads: S3PayloadMode; s3Endpoint?: string | undefined; s3DeleteAfterCommit: boolean; region: string };

/**
 * The envelope and payload modes run would use: one line each, or one per pipeline when a pipeline
 * file sets its own for any; and whether S3 answers, asked once, where a pipeline would resolve.
 */
async function checkWirings(config: WiringConfig, pipelines: readonly PipelineSpec[] | undefined, env: NodeJS.ProcessEnv): Promise<CheckResult[]> {
  const specs = pipelines ?? [];
  const perPipeline = specs.some((spec) => spec.envelope !== undefined || spec.s3Payloads !== undefined);
  const lines = perPipeline ? specs.map((spec) => ({ suffix: ` (${spec.name})`, envelope: spec.envelope ?? config.envelope, s3Payloads: spec.s3Payloads ?? config.s3Payloads })) : [{ suffix: '', envelope: config.envelope, s3Payloads: config.s3Payloads }];
  const s3 = lines.some((line) => line.s3Payloads === 'resolve') ? await askS3(config, env) : undefined;
  return lines.flatMap(({ suffix, envelope, s3Payloads }): CheckResult[] => [
    { check: `envelope${suffix}`, status: 'ok', detail: ENVELOPE_DETAIL[envelope] },
    { check: `S3 payloads${suffix}`, ...(s3Payloads === 'off' || s3 === undefined ? { status: 'ok', detail: 'off: a body the SQS extended client offloaded to S3 is quarantined as it is' } : s3) },
  ]);
}

/** Whether S3 answers where run would ask it for extended-client payloads. */
async function askS3(config: WiringConfig, env: NodeJS.ProcessEnv): Promise<Omit<CheckResult, 'check'>> {
  const resolver = new S3PayloadResolver({ region: config.region, endpoint: config.s3Endpoint, maxBytes: SQS_MAX_BODY_BYTES, env });
  try {
    const answer = await resolver.answers();
    const where = config.s3Endpoint ?? `S3 in ${config.region}`;
    const deleting = config.s3DeleteAfterCommit ? ', deleted after commit (s3:DeleteObject)' : '';
    // A warning, not a problem: a queue whose bodies are never offloaded does not need S3 at all.
    if (answer.ok) return { status: 'ok', detail: `resolve: extended-client pointers are fetched (s3:GetObject)${deleting}; ${where} answers` };
    if (answer.refused !== undefined) {
      return { status: 'warning', detail: `resolve: ${where} refuses the AWS credentials (${answer.refused}); a worker would stop (exit 3) at the first offloaded body, leaving it in the queue: check the credentials S3 is given, the clock and AWS_REGION, or set --s3-payloads off` };
    }
    return { status: 'warning', detail: `resolve: ${where} does not answer (${answer.reason}); an offloaded body would go back to the queue until it does: check --s3-endpoint (AWS_ENDPOINT_URL_S3) and the network, or set --s3-payloads off` };
  } finally {
    resolver.destroy();
  }
}

function print(result: CheckResult): void {
  console.log(`${result.status.padEnd(8)} ${result.check}: ${result.detail}`);
}

/**
 * The pipelines run would load: without --config and --pipeline, today's one (no line of its own);
 * otherwise the file's, one line each, or every fault of the file, one line each.
 */
function checkPipelines(
  config: { config?: string | undefined; pipeline?: string | undefined; queueUrl: string },
  env: NodeJS.ProcessEnv,
): { results: CheckResult[]; pipelines?: PipelineSpec[]; named: boolean } {
  const check = 'pipeline file';
  const named = config.config !== undefined || config.pipeline !== undefined;
  try {
    const pipelines = selectPipelines(config, env);
    if (!named) return { results: [], pipelines, named };
    const results: CheckResult[] = pipelines.map((spec) => ({ check: `pipeline ${spec.name}`, status: 'ok', detail: summary(spec) }));
    const file = config.config === undefined ? 'no pipeline file: the builtin login pipeline' : `${config.config} is valid`;
    return { results: [{ check, status: 'ok', detail: `${file}; ${pipelines.length} pipeline${pipelines.length === 1 ? '' : 's'} to run` }, ...results], pipelines, named };
  } catch (error) {
    if (error instanceof PipelineFileError) {
      const faults = error.faults.map((fault): CheckResult => ({ check, status: 'problem', detail: describeFault(error.file, fault) }));
      const more: CheckResult[] = error.more > 0 ? [{ check, status: 'problem', detail: `… and ${error.more} more` }] : [];
      return { results: [...faults, ...more], named };
    }
    if (error instanceof ConfigError) return { results: [{ check, status: 'problem', detail: error.message }], named };
    throw error;
  }
}

async function checkQueue(
  config: { queueUrl: string; sqsEndpoint?: string | undefined; sqsProtocol: SqsProtocolSetting; sqsClient: SqsClientSetting; region: string; visibilityTimeoutSec: number },
  env: NodeJS.ProcessEnv,
  pipeline?: string,
): Promise<CheckResult> {
  const check = pipeline === undefined ? 'SQS queue' : `SQS queue (${pipeline})`;
  const via = config.sqsEndpoint ?? new URL(config.queueUrl).origin;
  const sqs = createSqsApi({
    protocol: config.sqsProtocol,
    sqsClient: config.sqsClient,
    target: via,
    client: { region: config.region, endpoint: config.sqsEndpoint, queueUrl: config.queueUrl, receiveWaitSec: 0, maxSockets: 2, env },
    emit: () => undefined,
  });
  const source = new SqsSource(sqs, { queueUrl: config.queueUrl, visibilityTimeoutSec: config.visibilityTimeoutSec, emit: () => undefined });
  try {
    const depth = await source.depth();
    return {
      check,
      status: 'ok',
      detail: `${config.queueUrl} answers GetQueueAttributes via ${via}: ${count.format(depth.visible)} visible, ${count.format(depth.inFlight)} in flight, ${count.format(depth.delayed)} delayed`,
    };
  } catch (error) {
    // The call has its own deadline; the SDK then reports only "Request aborted", which is named here.
    const { cause, action } = await explainQueueFailure(error, config.queueUrl, via, sqs);
    return { check, status: 'problem', detail: `cannot read ${config.queueUrl} via ${via} (${cause}); ${action}` };
  } finally {
    sqs.destroy();
  }
}

async function checkDatabase(
  pool: Pool,
  databaseUrl: string,
  keys: readonly KeyCheck[],
  vaultOn: boolean,
  declared: { pipelines?: PipelineSpec[]; named: boolean },
): Promise<CheckResult[]> {
  const where = describeDatabase(databaseUrl);
  let server: { version: string; role: string };
  try {
    const answer = await pool.query<{ version: string; role: string }>(
      "SELECT current_setting('server_version') AS version, current_user AS role",
    );
    server = answer.rows[0] ?? { version: '?', role: '?' };
  } catch (error) {
    const skipped = (check: string): CheckResult => ({ check, status: 'skipped', detail: 'needs PostgreSQL' });
    const { cause, action } = explainConnectFailure(error, databaseUrl);
    return [
      { check: 'PostgreSQL', status: 'problem', detail: `cannot connect to ${where} (${cause}); ${action}` },
      skipped('table user_logins'),
      ...declaredTableNames(declared).map(skipped),
      skipped('migrations'),
      skipped('privileges'),
      skipped('least privilege'),
      skipped('search path'),
      skipped('keys'),
    ];
  }
  const table = await findUserLogins(pool).catch(() => undefined);
  return [
    { check: 'PostgreSQL', status: 'ok', detail: `PostgreSQL ${server.version} at ${where}, as role ${server.role}` },
    await guarded('table user_logins', () => checkTable(pool, table)),
    ...(await checkDeclaredTables(pool, declared)),
    await guarded('migrations', () => checkMigrations(pool)),
    await guarded('privileges', () => checkPrivileges(pool, table, vaultOn)),
    await guarded('least privilege', () => checkExcessPrivilege(pool, table, vaultOn)),
    await guarded('search path', () => checkSearchPath(pool, declaredSchemas(declared))),
    await guarded('keys', () => checkKeys(pool, keys)),
  ];
}

/** A check whose query fails is a problem, reported with the server's reason. */
async function guarded(check: string, run: () => Promise<CheckResult>): Promise<CheckResult> {
  try {
    return await run();
  } catch (error) {
    return { check, status: 'problem', detail: `PostgreSQL refused the question (${describeError(error)}); check the role's privileges (docs/privacy-and-roles.md, PostgreSQL grants)` };
  }
}

async function checkTable(pool: Pool, table: UserLoginsTable | undefined): Promise<CheckResult> {
  const check = 'table user_logins';
  const shape = table && (await tableShape(pool, table.name));
  if (!shape) {
    return { check, status: 'problem', detail: 'no table user_logins on the search path; run "sqs2pg migrate" (run also creates it at start, given the privilege)' };
  }
  const wrong = takehomeColumns.flatMap(({ name, type }) => {
    const actual = shape.columns.get(name);
    if (actual === type) return [];
    return [actual === undefined ? `${name} is missing (expected ${type})` : `${name} is ${actual}, expected ${type}`];
  });
  if (wrong.length > 0) {
    return {
      check,
      status: 'problem',
      detail: `${shape.qualifiedName} differs from the take-home DDL: ${wrong.join('; ')}; alter the column(s) to match sql/0001_user_logins.sql (sqs2pg never retypes a column)`,
    };
  }
  if (shape.columns.has('sqs_message_id') && !shape.idempotencyIndex) {
    return {
      check,
      status: 'problem',
      detail: `${shape.qualifiedName} has no unique index on sqs_message_id, so a redelivered message would make a second row; recreate it: CREATE UNIQUE INDEX user_logins_sqs_message_id_key ON user_logins (sqs_message_id)`,
    };
  }
  return { check, status: 'ok', detail: `${shape.qualifiedName} has the take-home's ${takehomeColumns.length} columns with their types` };
}

/** The declared (not builtin) pipelines of a file, whose tables check compares; the take-home's has its own check. */
function declaredSpecs(declared: { pipelines?: PipelineSpec[]; named: boolean }): PipelineSpec[] {
  return (declared.pipelines ?? []).filter((spec) => !spec.builtin);
}

function declaredTableNames(declared: { pipelines?: PipelineSpec[]; named: boolean }): string[] {
  return declaredSpecs(declared).map((spec) => `table (${spec.name})`);
}

/**
 * Each declared table against its declaration, as migrate would plan it (nothing is changed): up to
 * date is ok; what migrate would create or add is a warning when this role may do it (run does it at
 * start), a problem when it may not (run would stop there); a refusal (a type changed, a NOT NULL
 * column nothing fills, not a table) is a problem, saying what to do.
 */
async function checkDeclaredTables(pool: Pool, declared: { pipelines?: PipelineSpec[]; named: boolean }): Promise<CheckResult[]> {
  const specs = declaredSpecs(declared);
  if (specs.length === 0) return [];
  let plans: TablePlan[];
  try {
    plans = await planDeclaredTables(pool, specs);
  } catch (error) {
    const detail = `PostgreSQL refused the question (${describeError(error)}); check the role's privileges (docs/privacy-and-roles.md, PostgreSQL grants)`;
    return specs.map((spec): CheckResult => ({ check: `table (${spec.name})`, status: 'problem', detail }));
  }
  const results: CheckResult[] = [];
  for (const plan of plans) {
    const check = `table (${plan.pipeline})`;
    const table = plan.table ?? 'the table';
    if (plan.refusals.length > 0) {
      results.push({ check, status: 'problem', detail: plan.refusals.join('; ') });
    } else if (plan.actions.length === 0) {
      results.push({ check, status: 'ok', detail: `${table} holds every declared column, with its type, and the unique index on sqs_message_id` });
    } else {
      // run applies the plan at start as its own role: one that may not would stop there.
      const what = `"sqs2pg migrate --config FILE" as the tables' owner would ${plan.actions.map((action) => action.what).join('; ')}`;
      const { role, may } = plan.table === null ? { role: '?', may: false } : await mayApplyTablePlan(pool, plan.table, plan.exists);
      results.push(
        may
          ? { check, status: 'warning', detail: `${table} is not as declared yet; ${what} (run does it at start: role ${role} may)` }
          : {
              check,
              status: 'problem',
              detail: `${table} is not as declared yet, and role ${role} may not ${plan.exists ? 'change it (only its owner may)' : 'create it'}, so run would stop at start; ${what}`,
            },
      );
    }
  }
  return results;
}

async function checkMigrations(pool: Pool): Promise<CheckResult> {
  const migrations = await loadMigrations();
  const pending = await pendingMigrations(pool, migrations);
  if (pending.length > 0) {
    return {
      check: 'migrations',
      status: 'problem',
      detail: `${migrations.length - pending.length} of ${migrations.length} applied, pending: ${pending.join(', ')}; run "sqs2pg migrate" as the tables' owner (run does it at start, given the privilege)`,
    };
  }
  return { check: 'migrations', status: 'ok', detail: `all ${migrations.length} applied (${migrations.at(-1)?.name ?? 'none'})` };
}

async function checkPrivileges(pool: Pool, table: UserLoginsTable | undefined, vaultOn: boolean): Promise<CheckResult> {
  // No table found: the privileges on it are reported as not asked, until migrate has made it.
  const worker = workerPrivileges(table?.name ?? 'user_logins');
  const { role, missing, unknown } = await missingPrivileges(pool, vaultOn ? [...worker, ...vaultWorkerPrivileges] : worker);
  if (missing.length > 0) {
    return {
      check: 'privileges',
      status: 'problem',
      detail: `role ${role} lacks ${missing.map((p) => p.what).join(', ')}; as the tables' owner run: ${missing.map((p) => `${p.grant(role)};`).join(' ')}`,
    };
  }
  if (unknown.length > 0) {
    return { check: 'privileges', status: 'skipped', detail: `not checked until the migrations have created ${[...new Set(unknown.map((p) => p.what.split(' on ')[1]))].join(', ')}` };
  }
  const vault = vaultOn ? ' and sqs2pg_vault.entries' : '';
  return { check: 'privileges', status: 'ok', detail: `role ${role} may insert into user_logins and sqs2pg.quarantine${vault} and read the migrations` };
}

/**
 * A worker role that could read the vault (a superuser, the tables' owner, or one granted it):
 * a compromised worker host would then need only the private key's absence to be in the way.
 */
async function checkExcessPrivilege(pool: Pool, table: UserLoginsTable | undefined, vaultOn: boolean): Promise<CheckResult> {
  const check = 'least privilege';
  const { role, excess } = await excessPrivileges(pool, table?.name);
  if (excess.length === 0) return { check, status: 'ok', detail: `role ${role} is no superuser, owns none of the tables and cannot read the vault` };
  const how = `as the tables' owner run "sqs2pg grants" and give the worker a login that is a member of the role sqs2pg_worker (GRANT sqs2pg_worker TO <login>), in DATABASE_URL`;
  const what = `role ${role} ${excess.join(', ')}: more than a worker needs`;
  return vaultOn
    ? { check, status: 'problem', detail: `${what}, and the vault is on; ${how}` }
    : { check, status: 'warning', detail: `${what} (the vault is off); ${how}` };
}

/** The schemas a pipeline file names for its tables (an unqualified table is on the search path). */
function declaredSchemas(declared: { pipelines?: PipelineSpec[]; named: boolean }): string[] {
  return [...new Set(declaredSpecs(declared).flatMap((spec) => (spec.table.schema === null ? [] : [spec.table.schema])))];
}

/**
 * A schema on the role's search path that PUBLIC may create in (public, on PostgreSQL 12–14): any
 * role could plant a function or operator there that runs with the rights of whoever calls it. And
 * one a pipeline file names for its tables: any role could plant a table there before migrate made it.
 */
async function checkSearchPath(pool: Pool, tableSchemas: readonly string[]): Promise<CheckResult> {
  const check = 'search path';
  const { role, schemas } = await schemasPublicMayCreateIn(pool);
  const beside = (await namedSchemasPublicMayCreateIn(pool, tableSchemas)).filter((schema) => !schemas.includes(schema));
  if (schemas.length === 0 && beside.length === 0) return { check, status: 'ok', detail: `no schema on the search path of role ${role} lets PUBLIC create objects` };
  const listed = (names: string[]) => `${names.length === 1 ? 'schema' : 'schemas'} ${names.join(', ')}`;
  const why = [
    ...(schemas.length === 0
      ? []
      : [
          `PUBLIC may create objects in ${listed(schemas)}, on the search path of role ${role}: a function or operator planted there runs with the rights of whoever calls it ` +
            `(sqs2pg's own sessions search pg_catalog only; psql and other clients do not)`,
        ]),
    ...(beside.length === 0
      ? []
      : [`PUBLIC may create objects in ${listed(beside)}, which the pipeline file names for its tables: a table planted there before migrate creates a pipeline's is its planter's (migrate and run refuse it)`]),
  ];
  const all = [...schemas, ...beside];
  return { check, status: 'warning', detail: `${why.join('; ')}; as the owner of ${all.join(', ')} run: ${all.map(revokePublicCreate).join(' ')}` };
}

/** A key id this database knows under another key, or a retired one, would make run refuse to start. */
async function checkKeys(pool: Pool, keys: readonly KeyCheck[]): Promise<CheckResult> {
  const check = 'keys';
  if (keys.length === 0) return { check, status: 'ok', detail: 'no key given, nothing to compare' };
  const table = await pool.query<{ ok: boolean }>(`SELECT to_regclass('sqs2pg.key_fingerprints') IS NOT NULL AS ok`);
  if (table.rows[0]?.ok !== true) return { check, status: 'skipped', detail: 'not checked until the migrations have created sqs2pg.key_fingerprints' };
  const problems = await keyProblems(pool, keys);
  if (problems.length > 0) {
    const which = problems.map((problem) =>
      problem.kind === 'retired'
        ? describeKeyProblem(problem)
        : `the ${problem.check.purpose} key and ${problem.check.purpose} key id "${problem.check.keyId}" do not match what this database first saw them with (one key, one id, both ways); set the key first used under the id, or give a new key a new key id (then run sqs2pg rotate)`,
    );
    return { check, status: 'problem', detail: which.join('; ') };
  }
  return { check, status: 'ok', detail: `${keys.map((k) => `${k.purpose} key id ${k.keyId}`).join(' and ')}: first use here, or the key first used under it` };
}
