// The whole transform, pure and total: a received message becomes a user_logins row or a
// rejection with a reason. It never throws for any body.
import { largeBodyRefusal } from './json-bounds.js';
import { parseJson, validateLoginEvent } from './login-event.js';
import type { Masker } from './mask.js';
import { bodyFacts, MAX_PARSED_BODY_BYTES } from './quarantine-record.js';
import type { InboundMessage, MaskedOriginal, Outcome, Rejection, RejectReason } from './types.js';

export interface TransformLimits {
  /** a larger body is too_large: hashed and scanned, never parsed (the queue's MaximumMessageSize in a run) */
  maxBodyBytes: number;
}

const DEFAULT_LIMITS: TransformLimits = { maxBodyBytes: MAX_PARSED_BODY_BYTES };

export function messageToRow(message: InboundMessage, masker: Masker, limits: TransformLimits = DEFAULT_LIMITS): Outcome {
  return toOutcome(message, masker, null, limits);
}

/**
 * The same outcome, plus the value behind each of the row's masks, for the vault to encrypt.
 * Kept apart from the outcome so that an outcome never holds personal data in clear; a rejection
 * has no originals (its body is only ever kept masked).
 */
export function messageToVaultedRow(
  message: InboundMessage,
  masker: Masker,
  limits: TransformLimits = DEFAULT_LIMITS,
): { outcome: Outcome; originals: MaskedOriginal[] } {
  const originals: MaskedOriginal[] = [];
  return { outcome: toOutcome(message, masker, originals, limits), originals };
}

function toOutcome(message: InboundMessage, masker: Masker, originals: MaskedOriginal[] | null, limits: TransformLimits): Outcome {
  // The size is checked before any parsing: a body over the limit is only hashed and scanned.
  const bytes = Buffer.byteLength(message.body, 'utf8');
  if (bytes > limits.maxBodyBytes) return { kind: 'rejected', rejection: reject(message, masker, 'too_large', null, null, bytes) };
  // A large body is parsed only when one scan shows it is not built to make parsing costly.
  const costly = bytes > MAX_PARSED_BODY_BYTES ? largeBodyRefusal(message.body) : undefined;
  if (costly !== undefined) return { kind: 'rejected', rejection: reject(message, masker, 'too_large', null, costly, bytes) };
  const json = parseJson(message.body);
  if (!json) return { kind: 'rejected', rejection: reject(message, masker, 'not_json', null, null, bytes, undefined) };
  const parsed = validateLoginEvent(json.value);
  if (!parsed.ok) return { kind: 'rejected', rejection: reject(message, masker, parsed.reason, parsed.field, null, bytes, json) };
  // The canonical ip is what is masked and vaulted.
  const { event, canonicalIp: ip, appVersion } = parsed;
  const maskedIp = masker.mask('ip', ip);
  const maskedDeviceId = masker.mask('device_id', event.device_id);
  originals?.push({ mask: maskedIp, field: 'ip', value: ip }, { mask: maskedDeviceId, field: 'device_id', value: event.device_id });
  return {
    kind: 'row',
    row: {
      messageId: message.messageId,
      userId: event.user_id,
      userKey: masker.userKey(event.user_id),
      deviceType: event.device_type,
      maskedIp,
      maskedDeviceId,
      locale: event.locale,
      appVersion,
      appVersionRaw: event.app_version,
      createDate: utcDate(message.sentAtMs),
    },
  };
}

/** The full quarantine record of a message; `parsed` saves parsing the body again. */
export function reject(
  message: InboundMessage,
  masker: Masker,
  reason: RejectReason,
  field: string | null,
  detail: string | null = null,
  bytes = Buffer.byteLength(message.body, 'utf8'),
  parsed?: { value: unknown },
): Rejection {
  return {
    messageId: message.messageId,
    reason,
    field,
    detail,
    receiveCount: message.receiveCount,
    sentAtMs: message.sentAtMs,
    // A body over the default limit is parsed again only when its caller had already parsed it.
    ...bodyFacts(message.body, bytes, masker, reason === 'not_json' || reason === 'too_large' || (!parsed && bytes > MAX_PARSED_BODY_BYTES) ? undefined : (parsed ?? parseJson(message.body))),
  };
}

/**
 * The minimal record, for when PostgreSQL refused the full one: ids, the SQLSTATE, and nothing
 * from the body, so no value of it can be the reason it is refused again.
 */
export function minimalRejection(message: InboundMessage, code: string, userKey: string | null): Rejection {
  return {
    messageId: message.messageId,
    reason: 'db_rejected',
    field: null,
    detail: code,
    receiveCount: message.receiveCount,
    sentAtMs: message.sentAtMs,
    // A keyed hash, not the body's text: kept so that forget and the tombstones still find it.
    userKey,
    body: null,
  };
}


const DAY_MS = 86_400_000;
// The last day formatted: messages of one day all share it, and a Date per message is the cost saved.
let lastDay = { index: NaN, text: '' };

/** YYYY-MM-DD in UTC; a timestamp no Date can hold falls back to now rather than throwing. */
function utcDate(epochMs: number): string {
  const index = Math.floor(epochMs / DAY_MS);
  if (index === lastDay.index) return lastDay.text;
  const date = new Date(epochMs);
  if (Number.isNaN(date.getTime())) return new Date().toISOString().slice(0, 10);
  lastDay = { index, text: date.toISOString().slice(0, 10) };
  return lastDay.text;
}
