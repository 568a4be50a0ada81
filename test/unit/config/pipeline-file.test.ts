// The pipeline file's loader: the issue's example read to the exact specs, every kind of fault with
// its line:col and field (all of them at once, sorted), ${VAR} from the environment, and hostile YAML
// (an alias bomb, a huge file, deep nesting, bytes that are not UTF-8) refused cheaply.
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { builtinLogins } from '../../../src/config/builtin-pipelines.js';
import { loadPipelineFile, parsePipelineFile, selectPipelines, type PipelineFileOptions } from '../../../src/config/pipeline-file.js';
import { LIMITS } from '../../../src/config/pipeline-schema.js';
import { renderPipelines } from '../../../src/config/pipeline-yaml.js';
import { ConfigError, PipelineFileError, type PipelineFileFault } from '../../../src/errors.js';
import type { PipelineSpec } from '../../../src/model/pipeline.js';
import { LOGIN_EVENT_FIELD_NAMES } from '../../../src/transform/login-event.js';

const ENV = { LOGINS_QUEUE_URL: 'http://localhost:4566/000000000000/logins', PAGE_VIEWS_QUEUE_URL: 'http://localhost:4566/000000000000/page-views' };

/** The issue's example, exactly as written there. */
const ISSUE_EXAMPLE = readFileSync(new URL('../../../examples/pipelines.yaml', import.meta.url), 'utf8');

const path = (...parts: string[]) => ({ kind: 'path', path: parts }) as const;
const column = (name: string, from: PipelineSpec['columns'][number]['from'], type: PipelineSpec['columns'][number]['type'], extra: Partial<PipelineSpec['columns'][number]> = {}) => ({
  name,
  from,
  type,
  required: false,
  nullable: false,
  pii: 'none' as const,
  maskLabel: name,
  ...extra,
});

/** The faults of a file that must fail, as `line:col field: message` lines. */
function faultsOf(text: string | Buffer, env: NodeJS.ProcessEnv = ENV, options: PipelineFileOptions = {}): string[] {
  return errorOf(() => parsePipelineFile(text, env, 'p.yaml', options)).faults.map(show);
}

function show(fault: PipelineFileFault): string {
  return `${fault.line}:${fault.col} ${fault.field}: ${fault.message}`;
}

function errorOf(load: () => unknown): PipelineFileError {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(PipelineFileError);
    const e = error as PipelineFileError;
    expect(e).toBeInstanceOf(ConfigError);
    expect([e.code, e.exitCode]).toEqual(['config_invalid', 2]);
    return e;
  }
  throw new Error('expected a PipelineFileError, but the file was accepted');
}

const declared = (columns: string, extra = '') => `pipelines:\n  p:\n    queue: http://localhost:4566/000000000000/q\n${extra}    columns:\n${columns}`;

describe('the issue example', () => {
  it('reads to the builtin logins and the declared page_views, exactly', () => {
    const { pipelines, queuesAsWritten } = parsePipelineFile(ISSUE_EXAMPLE, ENV);
    expect(pipelines).toEqual([
      builtinLogins(ENV.LOGINS_QUEUE_URL),
      {
        name: 'page_views',
        builtin: false,
        queue: ENV.PAGE_VIEWS_QUEUE_URL,
        table: { schema: null, name: 'page_views' },
        subject: ['visitor', 'id'],
        columns: [
          column('visitor_id', path('visitor', 'id'), { kind: 'varchar', length: 64 }, { required: true }),
          column('masked_email', path('visitor', 'email'), { kind: 'varchar', length: 256 }, { pii: 'mask' }),
          column('masked_ip', path('ip'), { kind: 'ip' }, { pii: 'mask' }),
          column('url', path('page', 'url'), { kind: 'text' }, { required: true }),
          column('duration_ms', path('duration_ms'), { kind: 'integer' }),
          column('viewed_at', path('viewed_at'), { kind: 'timestamptz' }, { required: true }),
          column('tags', path('tags'), { kind: 'jsonb' }),
        ],
      },
    ]);
    expect(Object.fromEntries(queuesAsWritten)).toEqual({ logins: '${LOGINS_QUEUE_URL}', page_views: '${PAGE_VIEWS_QUEUE_URL}' });
  });

  it('is the example docs/pipelines.md shows (without the line that points editors at the schema)', () => {
    const [schemaLine, ...rest] = ISSUE_EXAMPLE.split('\n');
    expect(schemaLine).toBe('# yaml-language-server: $schema=../docs/pipeline-file.schema.json');
    expect(readFileSync(new URL('../../../docs/pipelines.md', import.meta.url), 'utf8')).toContain(`\`\`\`yaml\n${rest.join('\n')}\`\`\`\n`);
  });

  it('names the builtin as the file does, and masks a declared column under its own name', () => {
    const { pipelines } = parsePipelineFile(ISSUE_EXAMPLE.replace('  logins:', '  take_home:'), ENV);
    expect(pipelines[0]).toEqual({ ...builtinLogins(ENV.LOGINS_QUEUE_URL), name: 'take_home' });
    expect(pipelines[1]!.columns.map((c) => c.maskLabel)).toEqual(pipelines[1]!.columns.map((c) => c.name));
  });

  it('every type, a qualified table, the message facts, pii: seal and mask', () => {
    const text = declared(
      [
        '      a: { from: a, type: text, pii: seal }',
        '      b: { from: b, type: varchar(10485760), required: true, nullable: true }',
        '      c: { from: c, type: integer }',
        '      d: { from: d, type: bigint }',
        '      e: { from: e, type: numeric, pii: mask }',
        '      f: { from: f, type: boolean, pii: seal }',
        '      g: { from: g, type: date, pii: mask }',
        '      h: { from: h.i-j.K_9, type: timestamptz }',
        '      i: { from: i, type: jsonb, pii: mask }',
        '      j: { from: j, type: ip, pii: none }',
        '      k: { from: k, type: version }',
        '      sent_on: { from: $sent_date, type: date }',
        '      sent_at: { from: $sent_at, type: timestamptz }',
        '      message: { from: $message_id, type: varchar(128) }',
        '',
      ].join('\n'),
      '    table: events.p_rows\n',
    );
    const [spec] = parsePipelineFile(text, {}).pipelines;
    expect(spec!.table).toEqual({ schema: 'events', name: 'p_rows' });
    expect(spec!.subject).toBeNull();
    expect(spec!.columns.map((c) => [c.name, c.type.kind, c.pii])).toEqual([
      ['a', 'text', 'seal'],
      ['b', 'varchar', 'none'],
      ['c', 'integer', 'none'],
      ['d', 'bigint', 'none'],
      ['e', 'numeric', 'mask'],
      ['f', 'boolean', 'seal'],
      ['g', 'date', 'mask'],
      ['h', 'timestamptz', 'none'],
      ['i', 'jsonb', 'mask'],
      ['j', 'ip', 'none'],
      ['k', 'version', 'none'],
      ['sent_on', 'date', 'none'],
      ['sent_at', 'timestamptz', 'none'],
      ['message', 'varchar', 'none'],
    ]);
    expect(spec!.columns[7]!.from).toEqual(path('h', 'i-j', 'K_9'));
    expect(spec!.columns.slice(11).map((c) => c.from)).toEqual([{ kind: 'sent_date' }, { kind: 'sent_at' }, { kind: 'message_id' }]);
    expect(spec!.columns[1]).toMatchObject({ required: true, nullable: true, type: { kind: 'varchar', length: 10_485_760 } });
  });
});

describe('the builtin logins pipeline', () => {
  it("reads the login event's fields in the order its faults are checked, then the sent date", () => {
    const spec = builtinLogins('http://q');
    expect(spec.columns.flatMap((c) => (c.from.kind === 'path' ? c.from.path : []))).toEqual([...LOGIN_EVENT_FIELD_NAMES]);
    expect(spec.columns.map((c) => c.name)).toEqual(['user_id', 'device_type', 'masked_ip', 'masked_device_id', 'app_version', 'locale', 'create_date']);
    expect(spec.columns.filter((c) => c.pii === 'mask').map((c) => c.maskLabel)).toEqual(['ip', 'device_id']);
    expect(spec.columns.at(-1)).toMatchObject({ from: { kind: 'sent_date' }, type: { kind: 'date' } });
    expect(spec).toMatchObject({ name: 'logins', builtin: true, queue: 'http://q', table: { schema: null, name: 'user_logins' }, subject: ['user_id'] });
  });

  it('without a file: the builtin alone, on the queue setting; --pipeline must name it', () => {
    expect(selectPipelines({ queueUrl: 'http://q' }, {})).toEqual([builtinLogins('http://q')]);
    expect(selectPipelines({ queueUrl: 'http://q', pipeline: 'logins' }, {})).toEqual([builtinLogins('http://q')]);
    expect(() => selectPipelines({ queueUrl: 'http://q', pipeline: 'page_views' }, {})).toThrow(
      '--pipeline page_views names no pipeline: without --config (SQS2PG_CONFIG) the one pipeline is logins',
    );
  });
});

describe('envelope and s3_payloads: a pipeline\'s own, over the process-wide flags', () => {
  const file = `pipelines:
  logins: { builtin: true, queue: http://q/a, envelope: sns, s3_payloads: off }
  p: { queue: http://q/b, envelope: none, columns: { a: { from: a, type: text } } }
  r: { queue: http://q/c, columns: { a: { from: a, type: text } } }
`;

  it('are read where set, and absent (the flags apply) where not', () => {
    const [logins, p, r] = parsePipelineFile(file, {}).pipelines;
    expect(logins).toEqual({ ...builtinLogins('http://q/a'), envelope: 'sns', s3Payloads: 'off' });
    expect([p?.envelope, p?.s3Payloads]).toEqual(['none', undefined]);
    expect(r).not.toHaveProperty('envelope');
    expect(r).not.toHaveProperty('s3Payloads');
  });

  it('a value of neither is refused, with the values there are', () => {
    expect(faultsOf(declared('      a: { from: a, type: text }\n', '    envelope: SNS\n    s3_payloads: fetch\n'))).toEqual([
      '4:15 pipelines.p.envelope: expected auto, none, sns or eventbridge',
      '5:18 pipelines.p.s3_payloads: expected resolve or off',
    ]);
  });

  it('pipelines show writes them back', () => {
    const { pipelines } = parsePipelineFile(file, {});
    const shown = renderPipelines(pipelines);
    expect(shown).toContain('    builtin: true\n    queue: http://q/a\n    envelope: sns\n    s3_payloads: off\n');
    expect(parsePipelineFile(shown, {}).pipelines).toEqual(pipelines);
  });
});

describe('faults, each with its line:col and field', () => {
  const q = 'http://localhost:4566/000000000000';
  it.each([
    ['an unknown column key, with the one meant', declared('      a: { from: a, type: text, requird: true }\n'), ['5:33 pipelines.p.columns.a.requird: unknown key "requird"; did you mean required?']],
    ['an unknown pipeline key', declared('      a: { from: a, type: text }\n', '    tabel: x\n'), ['4:5 pipelines.p.tabel: unknown key "tabel"; did you mean table?']],
    ['a long key with a control character in it: escaped and cut', `pipelines: {}\n"\\e[2J${'k'.repeat(100)}": 1\n`, ['1:1 pipelines: no pipeline: declare at least one', `2:1 "\\u001b[2J${'k'.repeat(60)}…": unknown key "\\u001b[2J${'k'.repeat(60)}…"; expected pipelines`]],
    ['an unknown top-level key, nothing near it', `pipelines: {}\nsettings: 1\n`, ['1:1 pipelines: no pipeline: declare at least one', '2:1 settings: unknown key "settings"; expected pipelines']],
    ['a missing queue points at its pipeline', `pipelines:\n  p:\n    columns: { a: { from: a, type: text } }\n`, ['2:3 pipelines.p.queue: queue is required']],
    ['a queue that is no http(s) URL', `pipelines:\n  p: { queue: "sqs://q", columns: { a: { from: a, type: text } } }\n`, ["2:15 pipelines.p.queue: expected the queue's http(s) URL"]],
    ['a missing type', declared('      a: { from: a }\n'), ['5:7 pipelines.p.columns.a.type: type is required']],
    [
      'an unknown type, a bad path',
      declared('      a: { from: a..b, type: varchar }\n'),
      [
        '5:18 pipelines.p.columns.a.from: expected a dotted path into the event (visitor.id) or a message fact ($sent_date, $sent_at, $message_id)',
        '5:30 pipelines.p.columns.a.type: expected one of text, varchar(N), integer, bigint, numeric, boolean, date, timestamptz, jsonb, ip, version',
      ],
    ],
    ['varchar(0) and varchar beyond PostgreSQL', declared('      a: { from: a, type: varchar(0) }\n      b: { from: b, type: varchar(10485761) }\n'), [
      '5:27 pipelines.p.columns.a.type: expected one of text, varchar(N), integer, bigint, numeric, boolean, date, timestamptz, jsonb, ip, version',
      "6:27 pipelines.p.columns.b.type: varchar(N) takes N up to 10485760 (PostgreSQL's limit); use text for longer",
    ]],
    ['yes is not true (YAML 1.2)', declared('      a: { from: a, type: text, required: yes }\n'), ['5:43 pipelines.p.columns.a.required: expected true or false']],
    ['an unknown pii', declared('      a: { from: a, type: text, pii: hash }\n'), ['5:38 pipelines.p.columns.a.pii: expected none, mask or seal']],
    [
      'names PostgreSQL would need quoted, or reserves',
      `pipelines:\n  Views:\n    queue: ${q}/a\n    table: 9t\n    columns: { user: { from: a, type: text }, sqs_message_id: { from: b, type: text }, ok: { from: c, type: text } }\n` +
        `  p:\n    queue: ${q}/b\n    columns:\n      v: { from: v, type: version }\n      v_raw: { from: w, type: text }\n      sqs2pg_subject_key: { from: k, type: text }\n` +
        `      m: { from: m, type: version, pii: mask }\n      m_raw: { from: m, type: text }\n`,
      [
        '2:3 pipelines.Views: a pipeline name must be a lower-case name: letters a-z, digits and _, not starting with a digit, at most 63',
        '4:12 pipelines.Views.table: a table name must be a lower-case name: letters a-z, digits and _, not starting with a digit, at most 63',
        '5:16 pipelines.Views.columns.user: a column name "user" is a reserved word in SQL (every query would have to quote it); choose another',
        "5:47 pipelines.Views.columns.sqs_message_id: column sqs_message_id is sqs2pg's own; choose another name",
        '10:7 pipelines.p.columns.v_raw: column v_raw is where the version column v keeps the text it was read from; choose another name',
        "11:7 pipelines.p.columns.sqs2pg_subject_key: column sqs2pg_subject_key is sqs2pg's own; choose another name",
      ],
    ],
    [
      '__proto__, which zod would skip unchecked',
      `pipelines:\n  __proto__: { queue: 5 }\n  b: { queue: ${q}/b, columns: { __proto__: { from: 7, type: text } } }\n`,
      [
        '2:3 pipelines.__proto__: a pipeline name "__proto__" means something else to JavaScript; choose another',
        '2:3 pipelines.__proto__: a pipeline of your own needs columns (or builtin: true, for the login pipeline)',
        '3:64 pipelines.b.columns.__proto__: a column name "__proto__" means something else to JavaScript; choose another',
      ],
    ],
    ['a table of three parts', `pipelines:\n  p: { queue: ${q}/a, table: a.b.c, columns: { a: { from: a, type: text } } }\n`, ['2:60 pipelines.p.table: a table is name or schema.name']],
    [
      'a builtin pipeline takes no table, subject or columns',
      `pipelines:\n  logins:\n    builtin: true\n    queue: ${q}/a\n    table: t\n    subject: x\n    columns: { a: { from: a, type: text } }\n`,
      ['table', 'subject', 'columns'].map(
        (key, i) => `${5 + i}:5 pipelines.logins.${key}: a builtin pipeline takes no ${key}: its table (user_logins), subject and columns are fixed (sqs2pg pipelines show logins prints them)`,
      ),
    ],
    ['builtin: false', `pipelines:\n  p: { builtin: false, queue: ${q}/a, columns: { a: { from: a, type: text } } }\n`, ['2:17 pipelines.p.builtin: expected true (or leave builtin out, for a pipeline of your own)']],
    ['a pipeline of your own without columns', `pipelines:\n  p: { queue: ${q}/a }\n  r: { queue: ${q}/b, columns: {} }\n`, [
      '2:3 pipelines.p: a pipeline of your own needs columns (or builtin: true, for the login pipeline)',
      '3:53 pipelines.r.columns: no column: declare at least one',
    ]],
    [
      'two pipelines on one queue, on one table (named or by default)',
      `pipelines:\n  a: { queue: ${q}/x, columns: { c: { from: c, type: text } } }\n  b: { queue: ${q}/x, table: a, columns: { c: { from: c, type: text } } }\n  user_logins: { queue: ${q}/y, columns: { c: { from: c, type: text } } }\n  logins: { builtin: true, queue: ${q}/z }\n`,
      [
        '3:15 pipelines.b.queue: the same queue as pipeline a: one queue feeds one pipeline (two would split its messages between two tables)',
        '3:60 pipelines.b.table: the same table as pipeline a: one table is loaded by one pipeline',
        '5:3 pipelines.logins: the same table as pipeline user_logins: one table is loaded by one pipeline',
      ],
    ],
    ['public.t is t', `pipelines:\n  a: { queue: ${q}/x, table: public.t, columns: { c: { from: c, type: text } } }\n  t: { queue: ${q}/y, columns: { c: { from: c, type: text } } }\n`, ['3:3 pipelines.t: the same table as pipeline a: one table is loaded by one pipeline']],
    ['a subject that is a message fact', declared('      a: { from: a, type: text }\n', '    subject: $message_id\n'), ['4:14 pipelines.p.subject: expected a dotted path into the event (visitor.id), not a message fact']],
    ['pii: mask on a boolean', declared('      a: { from: a, type: boolean, pii: mask }\n'), ['5:41 pipelines.p.columns.a.pii: pii: mask on a boolean hides nothing (two values, two masks): use pii: seal']],
    [
      'message facts: their own type, never pii',
      declared('      a: { from: $sent_date, type: text }\n      b: { from: $sent_at, type: date, pii: mask }\n      c: { from: $message_id, type: varchar(64) }\n'),
      [
        '5:36 pipelines.p.columns.a.type: $sent_date is a date: declare the column so',
        '6:34 pipelines.p.columns.b.type: $sent_at is a timestamptz: declare the column so',
        '6:45 pipelines.p.columns.b.pii: $sent_at is a fact of the message, not personal data: leave pii out',
        '7:37 pipelines.p.columns.c.type: $message_id is a text or varchar(128): declare the column so',
      ],
    ],
    ['nullable without required', declared('      a: { from: a, type: text, nullable: true }\n'), ['5:43 pipelines.p.columns.a.nullable: nullable: true needs required: true (a field not required may already be absent or null)']],
    ['a key written twice', declared('      a: { from: a, type: text }\n      a: { from: b, type: text }\n'), ['6:7 pipelines.p.columns.a: a key written twice in one map']],
    ['an empty file', '', ['1:1 : expected a map whose one key is pipelines']],
    ['a list', '- pipelines\n', ['1:1 : expected a map whose one key is pipelines']],
    ['a column that is no map', declared('      a: text\n'), ['5:10 pipelines.p.columns.a: expected a map: { from, type, required, nullable, pii }']],
  ])('%s', (_, text, expected) => {
    expect(faultsOf(text)).toEqual(expected);
  });

  it('broken YAML: only what the YAML parser says, where it says it', () => {
    expect(faultsOf("pipelines:\n  p: { queue: 'http://q\n")).toEqual([
      '3:1 : not YAML: Flow map in block collection must be sufficiently indented and end with a }',
      "3:1 : not YAML: Missing closing 'quote",
    ]);
    // A token the parser quotes is cut, its control characters escaped.
    const quoted = faultsOf(`pipelines:\n  p: { queue: x }}\u0007${'y'.repeat(500)}\n`);
    expect(quoted.find((fault) => fault.includes('\\u0007yyy'))).toMatch(/^2:19 : not YAML: Unexpected scalar token in YAML stream: "\\u0007y{100,}…$/);
    for (const fault of quoted) expect(fault.length).toBeLessThan(220);
    expect(faultsOf('pipelines: {}\n---\npipelines: {}\n')).toEqual([expect.stringMatching(/^2:1 : not YAML: Source contains multiple documents/)]);
  });

  it('every fault at once, sorted by line and column, whatever order they are found in', () => {
    const text = `extra: 1\npipelines:\n  B:\n    queue: \${NOPE}\n    columns: { a: { from: a, type: boolean, pii: mask, x: 1 } }\n  c: { queue: http://q, colums: {} }\n`;
    const faults = faultsOf(text);
    expect(faults).toEqual([
      '1:1 extra: unknown key "extra"; expected pipelines',
      '3:3 pipelines.B: a pipeline name must be a lower-case name: letters a-z, digits and _, not starting with a digit, at most 63',
      '4:12 pipelines.B.queue: ${NOPE} is not set in the environment (or is empty)',
      '5:50 pipelines.B.columns.a.pii: pii: mask on a boolean hides nothing (two values, two masks): use pii: seal',
      '5:56 pipelines.B.columns.a.x: unknown key "x"; expected from, type, required, nullable, pii',
      '6:3 pipelines.c: a pipeline of your own needs columns (or builtin: true, for the login pipeline)',
      '6:25 pipelines.c.colums: unknown key "colums"; did you mean columns?',
    ]);
    const error = errorOf(() => parsePipelineFile(text, {}, 'p.yaml'));
    expect(error.message.split('\n')).toEqual([
      `p.yaml: 7 faults in the pipeline file; fix each (sqs2pg pipelines validate p.yaml checks again):`,
      ...error.faults.map((fault) => `  p.yaml:${fault.line}:${fault.col}: ${fault.field}: ${fault.message}`),
    ]);
  });

  it(`lists the first ${LIMITS.faults} faults and counts the rest`, () => {
    const columns = Array.from({ length: 150 }, (_, i) => `      c${i}: { from: a, type: nope }\n`).join('');
    const error = errorOf(() => parsePipelineFile(declared(columns), {}, 'p.yaml'));
    expect(error.faults).toHaveLength(LIMITS.faults);
    expect(error.more).toBe(50);
    expect(error.message.split('\n').at(-1)).toBe('  … and 50 more');
  });
});

describe('${VAR} from the environment', () => {
  it('in any value; $${ is a literal ${', () => {
    const text = declared('      a: { from: a, type: text }\n', '    table: ${SCHEMA}.t_${SUFFIX}\n').replace('queue: http://localhost:4566/000000000000/q', () => 'queue: http://${HOST}/000000000000/q$${X}');
    const [spec] = parsePipelineFile(text, { HOST: 'sqs.local:4566', SCHEMA: 'events', SUFFIX: 'v2' }).pipelines;
    expect(spec!.queue).toBe('http://sqs.local:4566/000000000000/q${X}');
    expect(spec!.table).toEqual({ schema: 'events', name: 't_v2' });
  });

  it('a variable missing or empty is named, at its line; its value is never quoted', () => {
    const secret = 'hunter2 secret value';
    // In a flow map ({ ... }) a ${VAR} is quoted: YAML reads { as the start of a map.
    const text = `pipelines:\n  p:\n    queue: \${QUEUE}\n    table: \${SECRET}\n    columns:\n      a: { from: "\${EMPTY}", type: text }\n`;
    const error = errorOf(() => parsePipelineFile(text, { SECRET: secret, EMPTY: '' }, 'p.yaml'));
    expect(error.faults.map(show)).toEqual([
      '3:12 pipelines.p.queue: ${QUEUE} is not set in the environment (or is empty)',
      '4:12 pipelines.p.table: a table name must be a lower-case name: letters a-z, digits and _, not starting with a digit, at most 63',
      '6:18 pipelines.p.columns.a.from: ${EMPTY} is not set in the environment (or is empty)',
    ]);
    expect(error.message).not.toContain('hunter2');
  });

  it('a ${ that opens no variable', () => {
    expect(faultsOf(declared('      a: { from: a, type: text }\n', '    table: ${1X}\n'), {})).toEqual([
      '4:12 pipelines.p.table: a "${" opens no ${NAME} (letters, digits and _, then "}"); write "$${" for a literal "${"',
    ]);
  });

  it('a value cannot add YAML of its own, and keys are not substituted', () => {
    const injected = 'http://localhost:4566/000000000000/q\n    table: other\n    builtin: true';
    const [spec] = parsePipelineFile(declared('      a: { from: a, type: text }\n').replace('queue: http://localhost:4566/000000000000/q', () => 'queue: "${Q}"'), { Q: 'http://localhost:4566/000000000000/q?a={b}&c=[d]#e:f' }).pipelines;
    expect(spec).toMatchObject({ builtin: false, table: { name: 'p' }, queue: 'http://localhost:4566/000000000000/q?a={b}&c=[d]#e:f' });
    expect(faultsOf(declared('      a: { from: a, type: text }\n').replace('queue: http://localhost:4566/000000000000/q', () => 'queue: "${Q}"'), { Q: injected })).toEqual([
      "3:12 pipelines.p.queue: expected the queue's http(s) URL",
    ]);
    expect(faultsOf(declared('      ${COL}: { from: a, type: text }\n'), { COL: 'a' })).toEqual([
      '5:7 pipelines.p.columns."${COL}": a column name must be a lower-case name: letters a-z, digits and _, not starting with a digit, at most 63',
    ]);
  });

  it("queueOf (demo, local): each queue is the one given, the file's ${VAR} need not be set, the rest still is", () => {
    const queueOf = (name: string) => `http://127.0.0.1:9/000000000000/${name}`;
    const { pipelines, queuesAsWritten } = parsePipelineFile(ISSUE_EXAMPLE, {}, 'pipelines.yaml', { queueOf });
    expect(pipelines.map((spec) => spec.queue)).toEqual([queueOf('logins'), queueOf('page_views')]);
    expect(Object.fromEntries(queuesAsWritten)).toEqual({ logins: '${LOGINS_QUEUE_URL}', page_views: '${PAGE_VIEWS_QUEUE_URL}' });
    expect(faultsOf(declared('      a: { from: a, type: text }\n', '    table: ${T}\n'), {}, { queueOf })).toEqual(['4:12 pipelines.p.table: ${T} is not set in the environment (or is empty)']);
  });
});

describe('hostile files are refused cheaply', () => {
  it('an alias bomb (billion laughs): refused at the first alias, not expanded', () => {
    const levels = 'abcdefghi'.split('');
    const text = `pipelines:\n  a: &a ["x","x","x","x","x","x","x","x","x"]\n${levels.slice(1).map((name, i) => `  ${name}: &${name} [${Array(9).fill(`*${levels[i]}`).join(',')}]\n`).join('')}`;
    expect(faultsOf(text)).toEqual([`3:10 : aliases expand to more than ${LIMITS.aliases} nodes: refused as a resource-exhaustion attack (billion laughs)`]);
  });

  it('a few aliases are YAML like any other', () => {
    const text = `pipelines:\n  a: { queue: http://q/a, columns: &cols { c: { from: c, type: text } } }\n  b: { queue: http://q/b, columns: *cols }\n`;
    expect(parsePipelineFile(text, {}).pipelines.map((spec) => spec.columns.length)).toEqual([1, 1]);
  });

  it(`a file over ${LIMITS.fileBytes} bytes: refused before it is parsed`, () => {
    expect(faultsOf(`# ${'x'.repeat(LIMITS.fileBytes)}\n`)).toEqual([`1:1 : ${LIMITS.fileBytes + 3} bytes: a pipeline file is at most ${LIMITS.fileBytes} bytes (256 KiB)`]);
  });

  it('nesting deeper than any pipeline file: refused where it goes too deep, before the tree is built', () => {
    expect(faultsOf(`pipelines:\n  a: ${'['.repeat(200_000)}\n`)).toEqual([`2:${6 + LIMITS.flowDepth} : more than ${LIMITS.flowDepth} nested [ or {: refused (no pipeline file needs them, and each level costs memory to read)`]);
    expect(faultsOf(`pipelines:\n  a: "${'['.repeat(1000)}"\n`)).toEqual(['2:6 pipelines.a: expected a map: { queue, table, subject, columns } (or { builtin: true, queue })']);
  });

  it('bytes that are not UTF-8: the line they are on', () => {
    const latin1 = Buffer.from(`pipelines:\n  p:\n    queue: caf\u00e9\n`, 'latin1');
    expect(faultsOf(latin1)).toEqual(['3:1 : not UTF-8 text: save the file as UTF-8']);
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('pipelines: {}\n', 'utf16le')]);
    expect(faultsOf(utf16)).toEqual(['1:1 : not UTF-8 text: save the file as UTF-8']);
  });

  it('a UTF-8 byte order mark is no fault', () => {
    expect(parsePipelineFile(`\uFEFF${ISSUE_EXAMPLE}`, ENV).pipelines).toHaveLength(2);
  });
});

describe('loadPipelineFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sqs2pg-pipelines-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file; names it in every fault', () => {
    writeFileSync(join(dir, 'ok.yaml'), ISSUE_EXAMPLE);
    expect(loadPipelineFile(join(dir, 'ok.yaml'), ENV).pipelines.map((spec) => spec.name)).toEqual(['logins', 'page_views']);
    writeFileSync(join(dir, 'bad.yaml'), 'pipelines: { p: {} }\n');
    const error = errorOf(() => loadPipelineFile(join(dir, 'bad.yaml'), {}));
    expect(error.message).toContain(`${join(dir, 'bad.yaml')}:1:14: pipelines.p.queue: queue is required`);
  });

  it('a file too large is refused from its size, unread', () => {
    writeFileSync(join(dir, 'big.yaml'), Buffer.alloc(LIMITS.fileBytes + 1, 0xff));
    expect(errorOf(() => loadPipelineFile(join(dir, 'big.yaml'), {})).faults.map(show)).toEqual([`1:1 : ${LIMITS.fileBytes + 1} bytes: a pipeline file is at most ${LIMITS.fileBytes} bytes (256 KiB)`]);
  });

  it('no such file, or a folder: a ConfigError that says which setting', () => {
    expect(() => loadPipelineFile(join(dir, 'none.yaml'), {})).toThrow(new ConfigError(`cannot read the pipeline file ${join(dir, 'none.yaml')} (ENOENT); check --config (SQS2PG_CONFIG)`));
    mkdirSync(join(dir, 'folder'));
    expect(() => loadPipelineFile(join(dir, 'folder'), {})).toThrow(new ConfigError(`the pipeline file ${join(dir, 'folder')} is not a regular file; check --config (SQS2PG_CONFIG)`));
  });

  it('--pipeline picks one pipeline of the file, or names the ones it has', () => {
    writeFileSync(join(dir, 'two.yaml'), ISSUE_EXAMPLE);
    const file = join(dir, 'two.yaml');
    expect(selectPipelines({ config: file, pipeline: 'page_views', queueUrl: 'http://ignored' }, ENV).map((spec) => spec.name)).toEqual(['page_views']);
    expect(() => selectPipelines({ config: file, pipeline: 'purchases', queueUrl: 'http://ignored' }, ENV)).toThrow(`--pipeline purchases names no pipeline: ${file} declares logins, page_views`);
  });
});

describe('pipelines show: YAML a user can start from', () => {
  it('the builtin, as shown, is a file that reads back to the builtin', () => {
    const shown = renderPipelines([builtinLogins('${SQS_QUEUE_URL}')]);
    expect(parsePipelineFile(shown, { SQS_QUEUE_URL: 'http://q/logins' }).pipelines).toEqual([builtinLogins('http://q/logins')]);
  });

  it('its commented lines, uncommented without builtin, declare the same columns, masked under their own names', () => {
    const shown = renderPipelines([builtinLogins('http://q/logins')]);
    const own = shown.replace('    builtin: true\n', '').replaceAll('    # table: user_logins', '    table: my_logins').replace(/^ {4}# (?=subject|columns| {2}\w+:)/gm, '    ');
    const [spec] = parsePipelineFile(own, {}).pipelines;
    const builtin = builtinLogins('http://q/logins');
    expect(spec).toEqual({ ...builtin, builtin: false, table: { schema: null, name: 'my_logins' }, columns: builtin.columns.map((c) => ({ ...c, maskLabel: c.name })) });
  });

  it('a declared pipeline reads back to itself, with its queue as the file wrote it', () => {
    const { pipelines, queuesAsWritten } = parsePipelineFile(ISSUE_EXAMPLE, ENV);
    const shown = renderPipelines(pipelines, queuesAsWritten);
    expect(shown).toContain('    queue: ${PAGE_VIEWS_QUEUE_URL}\n');
    expect(parsePipelineFile(shown, ENV).pipelines).toEqual(pipelines);
    const odd = parsePipelineFile(declared('      a: { from: "123", type: text }\n      b: { from: "true", type: text }\n'), {}).pipelines;
    expect(parsePipelineFile(renderPipelines(odd), {}).pipelines).toEqual(odd);
  });
});
