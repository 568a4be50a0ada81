// The pipeline file through the built CLI: pipelines show (the builtin, as a file to start from),
// validate (ok with one line a pipeline, or every fault and exit 2), schema (the JSON Schema docs/
// holds), and check --config against a real SQS server and PostgreSQL: the file's pipelines and
// each one's queue, or every fault of the file.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneErrorLine } from '../helpers/cli-output.js';
import { createTestStack, migrateWithCli, runCli, type CliResult, type TestStack } from '../helpers/stack.js';

const GIVE_UP_MS = 30_000;
const ISSUE_EXAMPLE = readFileSync(new URL('../../examples/pipelines.yaml', import.meta.url), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'sqs2pg-pipelines-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const QUEUES = { LOGINS_QUEUE_URL: 'http://localhost:4566/000000000000/logins', PAGE_VIEWS_QUEUE_URL: 'http://localhost:4566/000000000000/page-views' };

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runCli(['pipelines', ...args], { PATH: process.env.PATH, ...env }, GIVE_UP_MS);
}

describe('sqs2pg pipelines show', () => {
  it('without --config: the builtin logins, as a file that validates as it stands', async () => {
    const shown = await cli(['show']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stderr).toBe('');
    expect(shown.stdout).toContain('  logins:\n');
    expect(shown.stdout).toContain('    builtin: true\n    queue: ${SQS_QUEUE_URL}\n');
    expect(shown.stdout).toContain('    #   masked_ip:        { from: ip, type: ip, required: true, pii: mask }\n');
    const saved = file('shown.yaml', shown.stdout);
    const validated = await cli(['validate', saved], { SQS_QUEUE_URL: 'http://localhost:4566/000000000000/login-queue' });
    expect(validated.code, validated.stderr).toBe(0);
    expect(validated.stdout).toBe(
      `ok: ${saved} declares 1 pipeline\n  logins  builtin login pipeline: queue http://localhost:4566/000000000000/login-queue, table user_logins, 7 columns (2 masked), subject user_id\n`,
    );
  });

  it('sqs2pg pipelines show logins is the same; another name is refused, naming the one there is', async () => {
    const [all, logins, other] = await Promise.all([cli(['show']), cli(['show', 'logins']), cli(['show', 'page_views'])]);
    expect(logins.stdout).toBe(all.stdout);
    expect(other.code).toBe(2);
    expect(oneErrorLine(other)).toBe('sqs2pg: --pipeline page_views names no pipeline: without --config (SQS2PG_CONFIG) the one pipeline is logins; see: sqs2pg pipelines show');
  });

  it('with --config (or SQS2PG_CONFIG): a pipeline of the file, its queue as the file writes it', async () => {
    const example = file('example.yaml', ISSUE_EXAMPLE);
    const [byFlag, byEnv] = await Promise.all([cli(['show', 'page_views', '--config', example], QUEUES), cli(['show', 'page_views'], { ...QUEUES, SQS2PG_CONFIG: example })]);
    expect(byFlag.code, byFlag.stderr).toBe(0);
    expect(byEnv.stdout).toBe(byFlag.stdout);
    expect(byFlag.stdout).toContain(
      [
        '  page_views:',
        '    queue: ${PAGE_VIEWS_QUEUE_URL}',
        '    table: page_views',
        '    subject: visitor.id',
        '    columns:',
        '      visitor_id:   { from: visitor.id, type: varchar(64), required: true }',
        '      masked_email: { from: visitor.email, type: varchar(256), pii: mask }',
        '      masked_ip:    { from: ip, type: ip, pii: mask }',
        '      url:          { from: page.url, type: text, required: true }',
        '      duration_ms:  { from: duration_ms, type: integer }',
        '      viewed_at:    { from: viewed_at, type: timestamptz, required: true }',
        '      tags:         { from: tags, type: jsonb }',
        '',
      ].join('\n'),
    );
    expect(byFlag.stdout).not.toContain('logins');
  });
});

describe('sqs2pg pipelines validate', () => {
  it("the issue's example: ok, one line a pipeline", async () => {
    const example = file('valid.yaml', ISSUE_EXAMPLE);
    const result = await cli(['validate', example], QUEUES);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split('\n')).toEqual([
      `ok: ${example} declares 2 pipelines`,
      `  logins      builtin login pipeline: queue ${QUEUES.LOGINS_QUEUE_URL}, table user_logins, 7 columns (2 masked), subject user_id`,
      `  page_views  queue ${QUEUES.PAGE_VIEWS_QUEUE_URL}, table page_views, 7 columns (2 masked), subject visitor.id`,
      '',
    ]);
  });

  it('every fault at once, with file:line:col and field, never an environment value; exit 2', async () => {
    const bad = file(
      'bad.yaml',
      ['pipelines:', '  page_views:', '    queue: ${PAGE_VIEWS_QUEUE_URL}', '    table: ${TOKEN}', '    columns:', '      visitor_id: { from: visitor.id, type: varchar(64), requird: true }', '      flag: { from: f, type: boolean, pii: mask }', ''].join('\n'),
    );
    const result = await cli(['validate', bad], { TOKEN: 'Secret-Token-Value' });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.split('\n')).toEqual([
      `sqs2pg: ${bad}: 4 faults in the pipeline file; fix each (sqs2pg pipelines validate ${bad} checks again):`,
      `  ${bad}:3:12: pipelines.page_views.queue: \${PAGE_VIEWS_QUEUE_URL} is not set in the environment (or is empty)`,
      `  ${bad}:4:12: pipelines.page_views.table: a table name must be a lower-case name: letters a-z, digits and _, not starting with a digit, at most 63`,
      `  ${bad}:6:58: pipelines.page_views.columns.visitor_id.requird: unknown key "requird"; did you mean required?`,
      `  ${bad}:7:44: pipelines.page_views.columns.flag.pii: pii: mask on a boolean hides nothing (two values, two masks): use pii: seal`,
      '',
    ]);
    expect(result.stderr).not.toContain('Secret-Token-Value');
  });

  it('no file: says what it needs; a file that is not there: which one', async () => {
    const none = await cli(['validate']);
    expect(none.code).toBe(2);
    expect(oneErrorLine(none)).toBe('sqs2pg: pipelines validate needs <file> (or --config, SQS2PG_CONFIG); see: sqs2pg pipelines --help');
    const missing = await cli(['validate', join(dir, 'missing.yaml')]);
    expect(missing.code).toBe(2);
    expect(oneErrorLine(missing)).toBe(`sqs2pg: cannot read the pipeline file ${join(dir, 'missing.yaml')} (ENOENT); check --config (SQS2PG_CONFIG)`);
    const neither = await cli(['list']);
    expect(neither.code).toBe(2);
    expect(oneErrorLine(neither)).toBe('sqs2pg: pipelines needs "show [<name>]", "validate <file>" or "schema"; see: sqs2pg pipelines --help');
  });
});

describe('sqs2pg pipelines schema', () => {
  it('prints the JSON Schema docs/pipeline-file.schema.json holds', async () => {
    const result = await cli(['schema']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(JSON.parse(readFileSync(new URL('../../docs/pipeline-file.schema.json', import.meta.url), 'utf8')));
  });
});

describe('sqs2pg check --config', () => {
  let stack: TestStack;
  const queues: Record<string, string> = {};
  beforeAll(async () => {
    stack = await createTestStack();
    queues.LOGINS_QUEUE_URL = await stack.newQueue();
    queues.PAGE_VIEWS_QUEUE_URL = await stack.newQueue();
    await migrateWithCli(stack.databaseUrl);
  });
  afterAll(async () => {
    await stack.close();
  });

  /** The check lines: [status, check, detail]. */
  const linesOf = (result: CliResult) =>
    result.stdout
      .trim()
      .split('\n')
      .map((line) => {
        const match = /^(ok|warning|problem|skipped) +([^:]+): (.*)$/.exec(line);
        expect(match, `not a check line: ${line}`).not.toBeNull();
        return [match![1]!, match![2]!, match![3]!] as const;
      });

  it("lists the file's pipelines and reads each one's queue instead of --queue-url", async () => {
    const example = file('check.yaml', ISSUE_EXAMPLE);
    // --queue-url names a queue that does not exist: with a file, it is not read.
    const result = await runCli(['check', '--config', example], stack.env(`${stack.sqsEndpoint}/000000000000/no-such-queue`, queues), GIVE_UP_MS);
    const lines = linesOf(result);
    expect(lines.filter(([, check]) => check.startsWith('pipeline') || check.startsWith('SQS queue'))).toEqual([
      ['ok', 'pipeline file', `${example} is valid; 2 pipelines to run`],
      ['ok', 'pipeline logins', `builtin login pipeline: queue ${queues.LOGINS_QUEUE_URL}, table user_logins, 7 columns (2 masked), subject user_id`],
      ['ok', 'pipeline page_views', `queue ${queues.PAGE_VIEWS_QUEUE_URL}, table page_views, 7 columns (2 masked), subject visitor.id`],
      ['ok', 'SQS queue (logins)', expect.stringContaining(`${queues.LOGINS_QUEUE_URL} answers GetQueueAttributes`)],
      ['ok', 'SQS queue (page_views)', expect.stringContaining(`${queues.PAGE_VIEWS_QUEUE_URL} answers GetQueueAttributes`)],
    ]);
    expect(lines.find(([, check]) => check === 'configuration')).toEqual(['ok', 'configuration', expect.stringContaining(`(pipeline file ${example}, database `)]);
    expect(result.code, result.stdout).toBe(0);
  });

  it('--pipeline checks one of them', async () => {
    const example = file('check-one.yaml', ISSUE_EXAMPLE);
    const result = await runCli(['check', '--config', example, '--pipeline', 'page_views'], stack.env(queues.LOGINS_QUEUE_URL!, queues), GIVE_UP_MS);
    expect(linesOf(result).filter(([, check]) => check.startsWith('pipeline') || check.startsWith('SQS queue')).map(([status, check]) => `${status} ${check}`)).toEqual([
      'ok pipeline file',
      'ok pipeline page_views',
      'ok SQS queue (page_views)',
    ]);
    expect(result.code, result.stdout).toBe(0);
  });

  it('a file with faults: each on a problem line, the queues skipped, exit 2', async () => {
    const bad = file('check-bad.yaml', 'pipelines:\n  logins: { builtin: true, queue: "${LOGINS_QUEUE_URL}", table: t }\n  views: { queue: "${LOGINS_QUEUE_URL}", columns: { a: { from: a, type: txt } } }\n');
    const result = await runCli(['check', '--config', bad], stack.env(queues.LOGINS_QUEUE_URL!, queues), GIVE_UP_MS);
    expect(result.code, result.stdout).toBe(2);
    expect(linesOf(result).filter(([, check]) => check.startsWith('pipeline') || check.startsWith('SQS queue'))).toEqual([
      ['problem', 'pipeline file', `${bad}:2:58: pipelines.logins.table: a builtin pipeline takes no table: its table (user_logins), subject and columns are fixed (sqs2pg pipelines show logins prints them)`],
      ['problem', 'pipeline file', `${bad}:3:19: pipelines.views.queue: the same queue as pipeline logins: one queue feeds one pipeline (two would split its messages between two tables)`],
      ['problem', 'pipeline file', `${bad}:3:73: pipelines.views.columns.a.type: expected one of text, varchar(N), integer, bigint, numeric, boolean, date, timestamptz, jsonb, ip, version`],
      ['skipped', 'SQS queue', 'needs a pipeline file without faults'],
    ]);
  });

  it('without --config, as before: no pipeline lines, the queue of --queue-url', async () => {
    const result = await runCli(['check'], stack.env(queues.LOGINS_QUEUE_URL!), GIVE_UP_MS);
    const checks = linesOf(result).map(([, check]) => check);
    expect(checks.filter((check) => check.startsWith('pipeline'))).toEqual([]);
    expect(checks).toContain('SQS queue');
    expect(result.code, result.stdout).toBe(0);
  });
});
