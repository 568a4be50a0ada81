// Parses and validates a message body as a login event. Every refusal carries a stable reason code
// and the field to blame; nothing here knows any particular bad message by its text.
import { z } from 'zod';
import { appVersionToInt } from './app-version.js';
import { canonicalIp } from './ip.js';
import type { RejectReason } from './types.js';

/** Longest device_id accepted; it is masked, so the limit only guards against absurd input. */
export const DEVICE_ID_MAX_CHARS = 256;

const text = (max: number) => z.string().max(max);

const loginEventSchema = z.object({
  user_id: text(128),
  device_type: text(32),
  ip: text(64).refine((value) => canonicalIp(value) !== null, { params: { reason: 'bad_ip' } }),
  device_id: text(DEVICE_ID_MAX_CHARS),
  app_version: text(32).refine((value) => appVersionToInt(value) !== null, { params: { reason: 'bad_app_version' } }),
  locale: text(32).nullable(),
});
// Fields in the order they are checked, so the reason reported for a body is always the same one.
const fields = Object.keys(loginEventSchema.shape) as (keyof LoginEvent)[];

export type LoginEvent = z.output<typeof loginEventSchema>;

export type ParseResult =
  | { ok: true; event: LoginEvent }
  | { ok: false; reason: RejectReason; field: string | null };

export function parseLoginEvent(body: string): ParseResult {
  const parsed = parseJson(body);
  return parsed ? validateLoginEvent(parsed.value) : { ok: false, reason: 'not_json', field: null };
}

/** The body's JSON value (a leading byte order mark ignored), or undefined when it is not JSON. */
export function parseJson(body: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(stripByteOrderMark(body)) };
  } catch {
    return undefined;
  }
}

/** Validates a parsed JSON value as a login event. */
export function validateLoginEvent(value: unknown): ParseResult {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'not_object', field: null };
  }
  const record = value as Record<string, unknown>;
  for (const field of fields) {
    // A null where a value is required is as absent as a missing key; locale alone may be null.
    const present = record[field] !== undefined && (record[field] !== null || field === 'locale');
    if (!present) return { ok: false, reason: 'missing_field', field };
  }
  for (const field of fields) {
    const fieldValue = record[field];
    if (typeof fieldValue === 'string' && !isCleanText(fieldValue)) return { ok: false, reason: 'bad_char', field };
  }
  const result = loginEventSchema.safeParse(record);
  if (result.success) return { ok: true, event: result.data };
  const issue = result.error.issues.sort(
    (a, b) => fields.indexOf(a.path[0] as keyof LoginEvent) - fields.indexOf(b.path[0] as keyof LoginEvent),
  )[0];
  const field = typeof issue?.path[0] === 'string' ? issue.path[0] : null;
  return { ok: false, reason: reasonOf(issue), field };
}

function reasonOf(issue: z.core.$ZodIssue | undefined): RejectReason {
  if (issue?.code === 'too_big') return 'too_long';
  if (issue?.code === 'custom') return (issue.params?.reason as RejectReason | undefined) ?? 'bad_type';
  return 'bad_type';
}

/**
 * Control characters and lone UTF-16 surrogates have no place in these fields, and PostgreSQL
 * refuses NUL outright: reject them here rather than fail a whole batch in the database.
 */
function isCleanText(value: string): boolean {
  // eslint-disable-next-line no-control-regex
  return value.isWellFormed() && !/[\u0000-\u001f\u007f]/.test(value);
}

function stripByteOrderMark(body: string): string {
  return body.charCodeAt(0) === 0xfeff ? body.slice(1) : body;
}
