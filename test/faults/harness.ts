// Shared by the fault scenarios: a workload whose every message id is known, the end-of-run
// check by message id (lost, duplicated), the personal-data scan, and the figures line each
// scenario publishes. FAULTS_SCALE=full (npm run test:faults) runs the published sizes.
import { appendFileSync } from 'node:fs';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { inject } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import type { TestStack } from '../helpers/stack.js';

export const SCALE: 'short' | 'full' = process.env.FAULTS_SCALE === 'full' ? 'full' : 'short';

/** The short size in `npm test`, the full one in `npm run test:faults`. */
export function scaled(short: number, full: number): number {
  return SCALE === 'full' ? full : short;
}

/** A generous per-test bound: the full sizes take minutes, the short ones seconds. */
export const SCENARIO_TIMEOUT_MS = SCALE === 'full' ? 420_000 : 90_000;

export interface Workload {
  queueUrl: string;
  /** SQS MessageId of every message sent, and whether its body is a valid login event */
  sent: Map<string, { valid: boolean }>;
  valid: number;
  /** every raw ip and device_id the bodies hold: none may appear anywhere but the queue */
  secrets: Set<string>;
}

/** Generates `count` events (+ `malformed`), sends them and records each MessageId. */
export async function sendWorkload(
  stack: TestStack,
  queueUrl: string,
  options: { count: number; malformed?: number; seed?: number; bodies?: readonly { body: string; valid: boolean }[] },
): Promise<Workload> {
  const items =
    options.bodies ??
    generateSample({ count: options.count, malformed: options.malformed ?? 0, seed: options.seed ?? 1 }).bodies.map(
      (body) => ({ body, valid: isValidSampleBody(body) }),
    );
  const sent = new Map<string, { valid: boolean }>();
  const secrets = new Set<string>();
  for (const { body } of items) for (const secret of secretsOf(body)) secrets.add(secret);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const start = next;
      next += 10;
      const chunk = items.slice(start, start + 10);
      const output = await stack.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: chunk.map((item, i) => ({ Id: String(i), MessageBody: item.body })),
        }),
      );
      if (output.Failed?.length) throw new Error(`SendMessageBatch failed for ${output.Failed.length} entries`);
      for (const entry of output.Successful ?? []) {
        const item = chunk[Number(entry.Id)];
        if (item && entry.MessageId) sent.set(entry.MessageId, { valid: item.valid });
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return { queueUrl, sent, valid: [...sent.values()].filter((m) => m.valid).length, secrets };
}

export interface Delivery {
  sent: number;
  loaded: number;
  quarantined: number;
  /** sent but neither loaded nor quarantined */
  lost: number;
  /** loaded more than once: rows beyond one per message id, or one per (unique) user_id */
  duplicated: number;
  /** valid events that ended in the quarantine, or invalid ones loaded */
  misrouted: number;
}

/** The database's view of a workload, by message id. The database must hold only this workload. */
export async function checkDelivery(stack: TestStack, workload: Workload): Promise<Delivery> {
  const rows = await stack.pool.query<{ id: string; n: string; users: string }>(
    'SELECT sqs_message_id AS id, count(*) AS n, count(DISTINCT user_id) AS users FROM user_logins GROUP BY sqs_message_id',
  );
  const quarantine = await stack.pool.query<{ id: string }>('SELECT sqs_message_id AS id FROM sqs2pg.quarantine');
  const userDuplicates = await stack.pool.query<{ extra: string }>(
    'SELECT count(*) - count(DISTINCT user_id) AS extra FROM user_logins',
  );
  const loadedIds = new Set(rows.rows.map((row) => row.id));
  const quarantinedIds = new Set(quarantine.rows.map((row) => row.id));
  let lost = 0;
  let misrouted = 0;
  for (const [id, { valid }] of workload.sent) {
    if (!loadedIds.has(id) && !quarantinedIds.has(id)) lost += 1;
    else if (valid !== loadedIds.has(id)) misrouted += 1;
  }
  const extraRows = rows.rows.reduce((sum, row) => sum + Number(row.n) - 1, 0);
  return {
    sent: workload.sent.size,
    loaded: loadedIds.size,
    quarantined: quarantinedIds.size,
    lost,
    duplicated: Math.max(extraRows, Number(userDuplicates.rows[0]?.extra ?? 0)),
    misrouted,
  };
}

/**
 * How many raw ip/device_id values of the workload occur in the texts and in everything the
 * database stores: rows, quarantine, erasure tombstones, the vault's entries and its audit (the
 * ciphertexts as bytes too). The text is split into tokens once, so a large run costs one pass,
 * not one per value.
 */
export async function piiFound(stack: TestStack, workload: Workload, texts: readonly string[]): Promise<number> {
  const stored = await stack.pool.query<{ text: string; bytes: Buffer | null }>(
    `SELECT coalesce((SELECT json_agg(q)::text FROM sqs2pg.quarantine q), '') ||
            coalesce((SELECT json_agg(u)::text FROM user_logins u), '') ||
            coalesce((SELECT json_agg(t)::text FROM sqs2pg.tombstones t), '') ||
            coalesce((SELECT json_agg(e)::text FROM sqs2pg_vault.entries e), '') ||
            coalesce((SELECT json_agg(a)::text FROM sqs2pg_vault.audit a), '') AS text,
            coalesce((SELECT string_agg(ciphertext, '\\x00'::bytea) FROM sqs2pg_vault.entries), ''::bytea) ||
            coalesce((SELECT string_agg(sealed_user_id, '\\x00'::bytea) FROM sqs2pg.tombstones), ''::bytea) AS bytes`,
  );
  // Ciphertext read as Latin-1 text: a value stored unencrypted in a bytea would show as itself.
  const haystack = [...texts, stored.rows[0]?.text ?? '', stored.rows[0]?.bytes?.toString('latin1') ?? ''].join('\n');
  const tokens = new Set(haystack.split(/[^\w.:-]+/));
  let found = 0;
  for (const secret of workload.secrets) {
    const hit = /^[\w.:-]+$/.test(secret) ? tokens.has(secret) : containsValue(haystack, secret);
    if (hit) found += 1;
  }
  return found;
}

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

/** The ip and device_id values a body holds, wherever they sit in it. */
export function secretsOf(body: string): string[] {
  const found = [...body.matchAll(/"(?:ip|device_id)"\s*:\s*"([^"]+)"/gi)].map((match) => match[1] ?? '');
  return found.filter((value) => value.length >= 7);
}

/** A value counts as found only as a whole token, not as part of a longer number or mask. */
function containsValue(haystack: string, value: string): boolean {
  let index = haystack.indexOf(value);
  while (index !== -1) {
    const before = haystack[index - 1] ?? ' ';
    const after = haystack[index + value.length] ?? ' ';
    if (!/[\w.:-]/.test(before) && !/[\w.:-]/.test(after)) return true;
    index = haystack.indexOf(value, index + 1);
  }
  return false;
}

