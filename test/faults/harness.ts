// Shared by the fault scenarios: a workload whose every message id is known, split between two
// pipelines run in one process (logins and a declared page_views, see test/helpers/page-views.ts),
// the end-of-run check by message id in each pipeline's table (lost, duplicated, misrouted), the
// personal-data scan, and the figures line each scenario publishes. FAULTS_SCALE=full
// (npm run test:faults) runs the published sizes.
import { appendFileSync } from 'node:fs';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { inject } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import { PIPELINE_FILE, PIPELINES, TABLES, pageViewBodies, type PipelineName, type PlannedBody } from '../helpers/page-views.js';
import type { TestStack } from '../helpers/stack.js';

export const SCALE: 'short' | 'full' = process.env.FAULTS_SCALE === 'full' ? 'full' : 'short';

/** The short size in `npm test`, the full one in `npm run test:faults`. */
export function scaled(short: number, full: number): number {
  return SCALE === 'full' ? full : short;
}

/** A generous per-test bound: the full sizes take minutes, the short ones seconds. */
export const SCENARIO_TIMEOUT_MS = SCALE === 'full' ? 420_000 : 90_000;

export interface Workload {
  /** each pipeline's queue: the scenario's worker drains both, in one process */
  queues: Record<PipelineName, string>;
  /** SQS MessageId of every message sent, its pipeline, and whether its body is a valid event of it */
  sent: Map<string, { valid: boolean; pipeline: PipelineName }>;
  valid: number;
  /** every raw personal value the bodies hold (ip, device_id, email): none may appear anywhere but the queue */
  secrets: Set<string>;
}

/** A queue for each pipeline. */
export async function newQueues(stack: TestStack): Promise<Record<PipelineName, string>> {
  return { logins: await stack.newQueue(), page_views: await stack.newQueue() };
}

/** The environment of a worker that runs both pipelines of PIPELINE_FILE (`extra` on top). */
export function pipelinesEnv(stack: TestStack, queues: Record<PipelineName, string>, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  // SQS_QUEUE_URL names no queue: with a file, each pipeline reads its own.
  return stack.env('http://127.0.0.1:1/000000000000/not-read', {
    SQS2PG_CONFIG: PIPELINE_FILE,
    LOGINS_QUEUE_URL: queues.logins,
    PAGE_VIEWS_QUEUE_URL: queues.page_views,
    ...extra,
  });
}

/**
 * An empty workload on fresh queues; `sendTo` fills it. Generated workloads split their messages
 * between the two pipelines (logins get the odd one), so a scenario's size stays what it was.
 */
export async function emptyWorkload(stack: TestStack): Promise<Workload> {
  return { queues: await newQueues(stack), sent: new Map(), valid: 0, secrets: new Set() };
}

/** Both pipelines' queues, visible and hidden messages added up. */
export async function inQueues(stack: TestStack, workload: Workload): Promise<{ visible: number; notVisible: number }> {
  const total = { visible: 0, notVisible: 0 };
  for (const pipeline of PIPELINES) {
    const depth = await stack.queueDepth(workload.queues[pipeline]);
    total.visible += depth.visible;
    total.notVisible += depth.notVisible;
  }
  return total;
}

/** Generates `count` events (+ `malformed`) split across both pipelines, sends them and records each MessageId. */
export async function sendWorkload(stack: TestStack, options: { count: number; malformed?: number; seed?: number }): Promise<Workload> {
  const { count, malformed = 0, seed = 1 } = options;
  const workload = await emptyWorkload(stack);
  const half = (n: number) => Math.floor(n / 2);
  const logins = generateSample({ count: count - half(count), malformed: malformed - half(malformed), seed }).bodies;
  await sendTo(stack, workload, 'logins', logins.map((body) => ({ body, valid: isValidSampleBody(body) })));
  await sendTo(stack, workload, 'page_views', pageViewBodies(half(count), half(malformed), seed));
  return workload;
}

/** Sends `items` to `pipeline`'s queue, ten per call, and adds them to `workload`. */
export async function sendTo(stack: TestStack, workload: Workload, pipeline: PipelineName, items: readonly PlannedBody[]): Promise<void> {
  for (const { body } of items) for (const secret of secretsOf(body)) workload.secrets.add(secret);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const start = next;
      next += 10;
      const chunk = items.slice(start, start + 10);
      const output = await stack.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: workload.queues[pipeline],
          Entries: chunk.map((item, i) => ({ Id: String(i), MessageBody: item.body })),
        }),
      );
      if (output.Failed?.length) throw new Error(`SendMessageBatch failed for ${output.Failed.length} entries`);
      for (const entry of output.Successful ?? []) {
        const item = chunk[Number(entry.Id)];
        if (item && entry.MessageId) workload.sent.set(entry.MessageId, { valid: item.valid, pipeline });
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  workload.valid = [...workload.sent.values()].filter((m) => m.valid).length;
}

export interface Delivery {
  sent: number;
  loaded: number;
  quarantined: number;
  /** sent but neither loaded nor quarantined */
  lost: number;
  /** loaded more than once: rows beyond one per message id, or one per (unique) subject, in each table; or loaded and quarantined */
  duplicated: number;
  /**
   * valid events that ended in the quarantine, invalid ones loaded, an event loaded into the other
   * pipeline's table, or a quarantine record naming the wrong pipeline
   */
  misrouted: number;
  /** the same counts, pipeline by pipeline */
  pipelines: Record<PipelineName, Omit<Delivery, 'pipelines'>>;
}

/** The database's view of a workload, by message id. The database must hold only this workload. */
export async function checkDelivery(stack: TestStack, workload: Workload): Promise<Delivery> {
  const quarantine = await stack.pool.query<{ id: string; pipeline: string }>('SELECT sqs_message_id AS id, pipeline FROM sqs2pg.quarantine');
  const quarantinedIn = new Map(quarantine.rows.map((row) => [row.id, row.pipeline]));
  const loadedIn = new Map<string, PipelineName>();
  const pipelines = {} as Delivery['pipelines'];
  for (const pipeline of PIPELINES) {
    const { table, subject } = TABLES[pipeline];
    const rows = await tableRows(stack, table, subject);
    const part = { sent: 0, loaded: rows.ids.length, quarantined: 0, lost: 0, duplicated: rows.duplicated, misrouted: 0 };
    for (const id of rows.ids) {
      // Loaded into two tables is misrouted (below) as much as loaded twice.
      if (loadedIn.has(id)) part.duplicated += 1;
      loadedIn.set(id, pipeline);
    }
    for (const named of quarantinedIn.values()) if (named === pipeline) part.quarantined += 1;
    pipelines[pipeline] = part;
  }
  for (const [id, { valid, pipeline }] of workload.sent) {
    const part = pipelines[pipeline];
    part.sent += 1;
    const loaded = loadedIn.get(id);
    const quarantined = quarantinedIn.get(id);
    if (loaded === undefined && quarantined === undefined) part.lost += 1;
    // Loaded and quarantined both: a copy delivered again went to the quarantine (a redelivery the insert did not skip).
    else if (loaded !== undefined && quarantined !== undefined) part.duplicated += 1;
    else if (valid !== (loaded === pipeline) || (quarantined !== undefined && quarantined !== pipeline)) part.misrouted += 1;
  }
  const sum = (key: keyof Omit<Delivery, 'pipelines'>) => PIPELINES.reduce((total, pipeline) => total + pipelines[pipeline][key], 0);
  return {
    sent: sum('sent'),
    loaded: sum('loaded'),
    quarantined: quarantinedIn.size,
    lost: sum('lost'),
    duplicated: sum('duplicated'),
    misrouted: sum('misrouted'),
    pipelines,
  };
}

/** A table's message ids, and its rows beyond one per message id or one per subject; none before it exists. */
async function tableRows(stack: TestStack, table: string, subject: string): Promise<{ ids: string[]; duplicated: number }> {
  if (!(await tableExists(stack, table))) return { ids: [], duplicated: 0 };
  const rows = await stack.pool.query<{ id: string; n: string }>(`SELECT sqs_message_id AS id, count(*) AS n FROM ${table} GROUP BY sqs_message_id`);
  const subjects = await stack.pool.query<{ extra: string }>(`SELECT count(*) - count(DISTINCT ${subject}) AS extra FROM ${table}`);
  const extraRows = rows.rows.reduce((sum, row) => sum + Number(row.n) - 1, 0);
  return { ids: rows.rows.map((row) => row.id), duplicated: Math.max(extraRows, Number(subjects.rows[0]?.extra ?? 0)) };
}

/** Whether `table` exists in public: page_views is made by the first run (or migrate --config). */
export async function tableExists(stack: TestStack, table: string): Promise<boolean> {
  const found = await stack.pool.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [`public.${table}`]);
  return found.rows[0]?.ok === true;
}

/**
 * How many raw personal values of the workload (ip, device_id, email) occur in the texts and in
 * everything the database stores: both pipelines' rows, quarantine, erasure tombstones, the vault's
 * entries and its audit (the ciphertexts as bytes too). The text is split into tokens once, so a
 * large run costs one pass, not one per value.
 */
export async function piiFound(stack: TestStack, workload: Workload, texts: readonly string[]): Promise<number> {
  const pageViews = (await tableExists(stack, 'page_views')) ? "coalesce((SELECT json_agg(p)::text FROM page_views p), '') ||" : '';
  const stored = await stack.pool.query<{ text: string; bytes: Buffer | null }>(
    `SELECT coalesce((SELECT json_agg(q)::text FROM sqs2pg.quarantine q), '') ||
            coalesce((SELECT json_agg(u)::text FROM user_logins u), '') || ${pageViews}
            coalesce((SELECT json_agg(t)::text FROM sqs2pg.tombstones t), '') ||
            coalesce((SELECT json_agg(e)::text FROM sqs2pg_vault.entries e), '') ||
            coalesce((SELECT json_agg(a)::text FROM sqs2pg_vault.audit a), '') AS text,
            coalesce((SELECT string_agg(ciphertext, '\\x00'::bytea) FROM sqs2pg_vault.entries), ''::bytea) ||
            coalesce((SELECT string_agg(sealed_user_id, '\\x00'::bytea) FROM sqs2pg.tombstones), ''::bytea) AS bytes`,
  );
  // Ciphertext read as Latin-1 text: a value stored unencrypted in a bytea would show as itself.
  const haystack = [...texts, stored.rows[0]?.text ?? '', stored.rows[0]?.bytes?.toString('latin1') ?? ''].join('\n');
  const tokens = new Set(haystack.split(/[^\w.:@-]+/));
  let found = 0;
  for (const secret of workload.secrets) {
    const hit = TOKEN.test(secret) ? tokens.has(secret) : containsValue(haystack, secret);
    if (hit) found += 1;
  }
  return found;
}

/** The characters of a token: an ip, a device_id, an email is one. */
const TOKEN = /^[\w.:@-]+$/;

export interface Figures {
  scenario: string;
  messages: number;
  faults: string;
  lost: number;
  duplicated: number;
  seconds: number;
  pii: number;
}

/** Prints the scenario's line and keeps it for the table the run ends with. */
export function recordFigures(figures: Figures): void {
  const line = `${figures.scenario}: ${figures.messages} messages, ${figures.faults}, lost ${figures.lost}, duplicated ${figures.duplicated}, pii ${figures.pii}, ${figures.seconds.toFixed(1)} s`;
  console.log(`[faults:${SCALE}] ${line}`);
  appendFileSync(inject('figuresFile'), `${JSON.stringify({ ...figures, scale: SCALE })}\n`);
}

function isValidSampleBody(body: string): boolean {
  try {
    const value = JSON.parse(body) as Record<string, unknown>;
    return (
      typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value) &&
      ['user_id', 'device_type', 'ip', 'device_id', 'app_version'].every((key) => typeof value[key] === 'string') &&
      (value.user_id as string).length <= 128 &&
      /^\d{1,3}(\.\d{1,3}){0,2}$/.test(value.app_version as string) &&
      !/^999\./.test(value.ip as string)
    );
  } catch {
    return false;
  }
}

/** The ip, device_id and email values a body holds, wherever they sit in it. */
export function secretsOf(body: string): string[] {
  const found = [...body.matchAll(/"(?:ip|device_id|email)"\s*:\s*"([^"]+)"/gi)].map((match) => match[1] ?? '');
  return found.filter((value) => value.length >= 7);
}

/** A value counts as found only as a whole token, not as part of a longer number or mask. */
function containsValue(haystack: string, value: string): boolean {
  let index = haystack.indexOf(value);
  while (index !== -1) {
    const before = haystack[index - 1] ?? ' ';
    const after = haystack[index + value.length] ?? ' ';
    if (!/[\w.:@-]/.test(before) && !/[\w.:@-]/.test(after)) return true;
    index = haystack.indexOf(value, index + 1);
  }
  return false;
}

