// The declared pipeline the promise tests run beside logins: the example file
// (examples/pipelines.yaml, logins + page_views, each on its own queue), a seeded
// generator of page-view bodies as wide as a login, with malformed ones of the kinds its
// declaration refuses, and both pipelines as cases of one test (describe.each), each run alone.
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { generateSample } from '../../src/local/sample.js';
import type { PipelineSpec } from '../../src/model/pipeline.js';
import type { Masker } from '../../src/transform/mask.js';
import { LOGINS, PAGE_VIEWS } from '../fixtures/pipelines.js';
import { subjectKey } from './declared-load.js';
import { runCli, type TestStack } from './stack.js';

/** The pipeline file every scenario runs with: `run --config` drains both queues in one process. */
export const PIPELINE_FILE = fileURLToPath(new URL('../../examples/pipelines.yaml', import.meta.url));

export const PIPELINES = ['logins', 'page_views'] as const;
export type PipelineName = (typeof PIPELINES)[number];

/** Each pipeline's table, and the column no two of its valid rows share (the subject). */
export const TABLES: Record<PipelineName, { table: string; subject: string }> = {
  logins: { table: 'user_logins', subject: 'user_id' },
  page_views: { table: 'page_views', subject: 'visitor_id' },
};

export interface PlannedBody {
  body: string;
  /** whether the declaration accepts it: it must be loaded, else quarantined */
  valid: boolean;
}

/** mulberry32, as the login sample's generator: the same bodies on every run. */
function generator(seed: number): (max: number) => number {
  let a = seed >>> 0;
  return (max) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * max);
  };
}

/** The reasons the malformed page views are refused with, one kind of body each. */
export const VIEW_REASONS = ['not_json', 'missing_field', 'bad_ip', 'too_long', 'bad_value'] as const;

/**
 * `count` valid page views (each of its own visitor) and `malformed` refused ones, mixed in:
 * not JSON (cut mid-way, after its email and ip), a required field missing, an ip that is none,
 * a visitor id past varchar(64), a viewed_at that is no timestamp. Each refused body still holds
 * personal values, so the scans see whether a quarantine record keeps any in clear.
 */
export function pageViewBodies(count: number, malformed: number, seed: number): PlannedBody[] {
  const next = generator(seed);
  const hex = (digits: number) => Array.from({ length: digits }, () => next(16).toString(16)).join('');
  const view = (i: number) => ({
    visitor: { id: `v${seed}-${i}-${hex(8)}`, email: `p${hex(10)}@example.com` },
    ip: next(4) === 0 ? `2001:db8::${hex(4)}:${hex(4)}` : `${1 + next(223)}.${next(256)}.${next(256)}.${next(256)}`,
    page: { url: `https://shop.example/p/${hex(12)}` },
    duration_ms: next(100_000),
    viewed_at: new Date(Date.UTC(2024, 4, 1) + next(86_400_000)).toISOString(),
    tags: next(3) === 0 ? null : ['home', hex(4)],
  });
  // In the order of VIEW_REASONS: the reason each is refused with.
  const spoil: ((event: ReturnType<typeof view>) => string)[] = [
    (event) => JSON.stringify(event).slice(0, 120),
    (event) => JSON.stringify({ ...event, page: {} }),
    (event) => JSON.stringify({ ...event, ip: `999.${next(256)}.${next(256)}.${next(256)}` }),
    (event) => JSON.stringify({ ...event, visitor: { ...event.visitor, id: `v${hex(70)}` } }),
    (event) => JSON.stringify({ ...event, viewed_at: `yesterday ${hex(6)}` }),
  ];
  const bodies: PlannedBody[] = Array.from({ length: count }, (_, i) => ({ body: JSON.stringify(view(i)), valid: true }));
  for (let i = 0; i < malformed; i++) {
    const body = spoil[i % spoil.length]!(view(count + i));
    bodies.splice(next(bodies.length + 1), 0, { body, valid: false });
  }
  return bodies;
}

/**
 * One pipeline as a test case: the same test, its assertions by table, subject and masked columns,
 * runs against each. Everything a test says differently per pipeline is said here.
 */
export interface PipelineUnderTest {
  name: PipelineName;
  spec: PipelineSpec;
  table: string;
  /** the column that holds the subject (the user or visitor a message is about) */
  subject: string;
  /** the masked columns of a row, in the order `event`'s personal values fill them: the ip's, then `other`'s */
  masked: readonly [ip: string, other: string];
  /** a text column no personal value goes into, that `event`'s `plain` fills */
  plainColumn: string;
  /** `count` valid bodies (each of its own subject) and `malformed` ones the pipeline refuses, mixed */
  bodies(count: number, malformed: number, seed: number): string[];
  /** a valid event of `subject` from `ip` with one more personal value `other` (device id; email), `plain` in plainColumn */
  event(subject: string, ip: string, other: string, plain?: string): string;
  /** an event of `subject`, still holding `ip` and `other`, that the pipeline refuses (a value of the wrong kind) */
  refused(subject: string, ip: string, other: string): string;
  /** the CLI's arguments that erase `subject` (logins: --user-id; declared: --pipeline --subject) */
  forget(subject: string): string[];
  /** the keyed hash of `subject` its records and tombstone hold */
  subjectKey(masker: Masker, subject: string): string;
  /** a worker's environment running this pipeline alone from `queueUrl` (`extra` on top) */
  env(stack: TestStack, queueUrl: string, extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
}

/** A queue no test reads: a pipeline file names one for each pipeline, each its own. */
const notRead = (pipeline: PipelineName) => `http://127.0.0.1:1/000000000000/not-read-${pipeline}`;

const login = (subject: string, ip: string, other: string, plain = 'ios', appVersion = '1.2.3') =>
  JSON.stringify({ user_id: subject, app_version: appVersion, device_type: plain, ip, locale: 'DE', device_id: other });
const pageView = (subject: string, ip: string, other: string, plain = 'https://shop.example/p/1', duration: unknown = 5) =>
  JSON.stringify({ visitor: { id: subject, email: other }, ip, page: { url: plain }, duration_ms: duration, viewed_at: '2024-05-01T10:00:00Z', tags: ['home'] });

export const PIPELINES_UNDER_TEST: readonly PipelineUnderTest[] = [
  {
    // Without a file, as the take-home runs it.
    name: 'logins',
    spec: LOGINS,
    ...TABLES.logins,
    masked: ['masked_ip', 'masked_device_id'],
    plainColumn: 'device_type',
    bodies: (count, malformed, seed) => generateSample({ count, malformed, seed }).bodies,
    event: (subject, ip, other, plain) => login(subject, ip, other, plain),
    refused: (subject, ip, other) => login(subject, ip, other, 'ios', 'not-a-version'),
    forget: (subject) => ['forget', '--user-id', subject],
    subjectKey: (masker, subject) => subjectKey(LOGINS, masker, subject),
    env: (stack, queueUrl, extra = {}) => stack.env(queueUrl, extra),
  },
  {
    // The example file, this pipeline chosen by SQS2PG_PIPELINE: the other's queue is not read.
    name: 'page_views',
    spec: PAGE_VIEWS,
    ...TABLES.page_views,
    masked: ['masked_ip', 'masked_email'],
    plainColumn: 'url',
    bodies: (count, malformed, seed) => pageViewBodies(count, malformed, seed).map((planned) => planned.body),
    event: (subject, ip, other, plain) => pageView(subject, ip, other, plain),
    refused: (subject, ip, other) => pageView(subject, ip, other, undefined, 'long'),
    forget: (subject) => ['forget', '--pipeline', 'page_views', '--subject', subject],
    subjectKey: (masker, subject) => subjectKey(PAGE_VIEWS, masker, subject),
    env: (stack, queueUrl, extra = {}) =>
      stack.env(notRead('page_views'), { SQS2PG_CONFIG: PIPELINE_FILE, SQS2PG_PIPELINE: 'page_views', LOGINS_QUEUE_URL: notRead('logins'), PAGE_VIEWS_QUEUE_URL: queueUrl, ...extra }),
  },
];

/** `migrate --config`: sqs2pg's migrations, then the declared page_views table, before a test touches either. */
export async function migratePipelines(databaseUrl: string): Promise<void> {
  // migrate reads no queue, but the file names one for each pipeline.
  const env = { PATH: process.env.PATH, DATABASE_URL: databaseUrl, SQS2PG_CONFIG: PIPELINE_FILE, LOGINS_QUEUE_URL: notRead('logins'), PAGE_VIEWS_QUEUE_URL: notRead('page_views') };
  const result = await runCli(['migrate'], env);
  if (result.code !== 0) throw new Error(`migrate --config failed (${result.code}):\n${result.stderr}`);
}

/** The pipeline's rows, their distinct message ids, and the quarantine records naming it. */
export async function countRowsOf(pool: pg.Pool, pipeline: PipelineUnderTest): Promise<{ rows: number; distinctIds: number; quarantined: number }> {
  const result = await pool.query<{ rows: string; ids: string; quarantined: string }>(
    `SELECT (SELECT count(*) FROM ${pipeline.table}) AS rows,
            (SELECT count(DISTINCT sqs_message_id) FROM ${pipeline.table}) AS ids,
            (SELECT count(*) FROM sqs2pg.quarantine WHERE pipeline = $1) AS quarantined`,
    [pipeline.name],
  );
  const row = result.rows[0];
  return { rows: Number(row?.rows), distinctIds: Number(row?.ids), quarantined: Number(row?.quarantined) };
}

/** The columns of a quarantine record that hold masks: the login pipeline's two arrays, a declared one's jsonb by column. */
export interface RecordMaskColumns {
  masked_ips: string[] | null;
  masked_device_ids: string[] | null;
  masked_values: Record<string, string[]> | null;
}

/** A quarantine record's masks by the masked column of the pipeline's rows that holds the same values. */
export function recordMasks(pipeline: PipelineUnderTest, record: RecordMaskColumns): Record<string, string[]> {
  if (!pipeline.spec.builtin) return record.masked_values ?? {};
  return { masked_ip: record.masked_ips ?? [], masked_device_id: record.masked_device_ids ?? [] };
}
