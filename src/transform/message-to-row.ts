// The whole transform, pure and total: a received message becomes a row of its pipeline's table
// (the login pipeline's user_logins row here; a declared one's in pipeline-transform.ts) or a
// rejection with a reason. It never throws for any body.
import { unwrapEnvelope, type EnvelopeMode } from './envelope.js';
import { largeBodyRefusal } from './json-bounds.js';
import { parseJson, validateLoginEvent } from './login-event.js';
import { sentDate } from './sent-date.js';
import type { Masker } from './mask.js';
import { bodyFacts, MAX_PARSED_BODY_BYTES } from './quarantine-record.js';
import type { InboundMessage, LoginRow, MaskedOriginal, Outcome, Rejection, RejectReason, RowOutcome } from '../model/message.js';
import type { PipelineSpec } from '../model/pipeline.js';

export interface TransformOptions {
  /** what to do with an SNS or EventBridge envelope around the event (see envelope.ts) */
  envelope: EnvelopeMode;
  /** a larger body is too_large: hashed and scanned, never parsed (the queue's MaximumMessageSize in a run) */
  maxBodyBytes: number;
}

const DEFAULT_OPTIONS: TransformOptions = { envelope: 'none', maxBodyBytes: MAX_PARSED_BODY_BYTES };

export function messageToRow(message: InboundMessage, masker: Masker, options: Partial<TransformOptions> = {}): Outcome {
  return readMessage(message, masker, null, { ...DEFAULT_OPTIONS, ...options }, readLogin);
}

/**
 * The same outcome, plus the value behind each of the row's masks, for the vault to encrypt.
 * Kept apart from the outcome so that an outcome never holds personal data in clear; a rejection
 * has no originals (its body is only ever kept masked).
 */
export function messageToVaultedRow(
  message: InboundMessage,
  masker: Masker,
  options: Partial<TransformOptions> = {},
): { outcome: Outcome; originals: MaskedOriginal[] } {
  const originals: MaskedOriginal[] = [];
  return { outcome: readMessage(message, masker, originals, { ...DEFAULT_OPTIONS, ...options }, readLogin), originals };
}

/**
 * The event's own step: its parsed value (unwrapped from any envelope) to a row, or the reason it
 * is refused. `message` carries the id and time the row is keyed and dated by; `originals`, when
 * given, receives the value behind each mask the row holds.
 */
export type EventStep<R> = (message: InboundMessage, value: unknown, originals: MaskedOriginal[] | null, masker: Masker) => EventReading<R>;

export type EventReading<R> = { ok: true; row: R } | { ok: false; reason: RejectReason; field: string | null };

/** Makes a message's quarantine record (reject's signature). */
export type Refuse = typeof reject;

/**
 * The steps every pipeline shares, then its event step: the size limit, the large-body scan, the
 * JSON parse and the envelope, each refusal a quarantine record made by `refuse` (reject, unless the
 * caller's pipeline records refusals its own way).
 */
export function readMessage<R>(
  message: InboundMessage,
  masker: Masker,
  originals: MaskedOriginal[] | null,
  { envelope, maxBodyBytes }: TransformOptions,
  step: EventStep<R>,
  refuse: Refuse = reject,
): RowOutcome<R> {
  // The size is checked before any parsing: a body over the limit is only hashed and scanned.
  const bytes = Buffer.byteLength(message.body, 'utf8');
  if (bytes > maxBodyBytes) return { kind: 'rejected', rejection: refuse(message, masker, 'too_large', null, null, bytes) };
  // A large body is parsed only when one scan shows it is not built to make parsing costly.
  const costly = bytes > MAX_PARSED_BODY_BYTES ? largeBodyRefusal(message.body) : undefined;
  if (costly !== undefined) return { kind: 'rejected', rejection: refuse(message, masker, 'too_large', null, costly, bytes) };
  const json = parseJson(message.body);
  if (!json) {
    // Where an envelope is required, a body that is not JSON is first of all not one.
    const reason = envelope === 'sns' || envelope === 'eventbridge' ? 'bad_envelope' : 'not_json';
    return { kind: 'rejected', rejection: refuse(message, masker, reason, null, reason === 'bad_envelope' ? envelope : null, bytes, undefined) };
  }
  const unwrapped = unwrapEnvelope(json.value, envelope);
  if (unwrapped.kind === 'bad') {
    return { kind: 'rejected', rejection: refuse(message, masker, 'bad_envelope', unwrapped.field, unwrapped.envelope, bytes, json) };
  }
  // An unwrapped event is the envelope's: keyed by its id (two SQS copies of one notification make
  // one row) and dated by its time. Its record keeps the whole body, as received, with that key.
  const event = unwrapped.kind === 'plain' ? { message, value: json.value, detail: null } : {
    message: { ...message, messageId: unwrapped.key, sentAtMs: unwrapped.timeMs },
    value: unwrapped.event?.value,
    detail: unwrapped.envelope,
  };
  if (unwrapped.kind === 'event' && unwrapped.event === undefined) {
    return { kind: 'rejected', rejection: refuse(event.message, masker, 'not_json', null, event.detail, bytes, json) };
  }
  const read = step(event.message, event.value, originals, masker);
  if (!read.ok) return { kind: 'rejected', rejection: refuse(event.message, masker, read.reason, read.field, event.detail, bytes, json) };
  return { kind: 'row', row: read.row };
}

/**
 * The login event's step: the hand-written reader (login-event.ts), for the take-home's row. A
 * pipeline reads the same event straight into its sink's shape (login-table-row.ts); a property
 * test holds the two together (test/unit/transform/pipeline-transform.test.ts).
 */
function readLogin(message: InboundMessage, value: unknown, originals: MaskedOriginal[] | null, masker: Masker): EventReading<LoginRow> {
  const parsed = validateLoginEvent(value);
  if (!parsed.ok) return parsed;
  // The canonical ip is what is masked and vaulted.
  const { event: login, canonicalIp: ip, appVersion } = parsed;
  const maskedIp = masker.mask('ip', ip);
  const maskedDeviceId = masker.mask('device_id', login.device_id);
  originals?.push({ mask: maskedIp, field: 'ip', value: ip }, { mask: maskedDeviceId, field: 'device_id', value: login.device_id });
  return {
    ok: true,
    row: {
      messageId: message.messageId,
      userId: login.user_id,
      userKey: masker.userKey(login.user_id),
      deviceType: login.device_type,
      maskedIp,
      maskedDeviceId,
      locale: login.locale,
      appVersion,
      appVersionRaw: login.app_version,
      createDate: sentDate(message.sentAtMs),
      sentAtMs: message.sentAtMs,
    },
  };
}

/**
 * The full quarantine record of a message; `parsed` saves parsing the body again. `message`: as
 * received, or (an unwrapped event) with the envelope's key and time; its body is always the whole one.
 * `spec`: the declared pipeline that refused it, whose fields the record masks and whose subject it
 * keys (quarantine-record.ts); absent, or the builtin logins, the login event's.
 */
export function reject(
  message: InboundMessage,
  masker: Masker,
  reason: RejectReason,
  field: string | null,
  detail: string | null = null,
  bytes = Buffer.byteLength(message.body, 'utf8'),
  parsed?: { value: unknown },
  spec?: PipelineSpec,
): Rejection {
  return {
    messageId: message.messageId,
    reason,
    field,
    detail,
    receiveCount: message.receiveCount,
    sentAtMs: message.sentAtMs,
    // A body over the default limit is parsed again only when its caller had already parsed it.
    ...bodyFacts(
      message.body,
      bytes,
      masker,
      reason === 'not_json' || reason === 'too_large' || (!parsed && bytes > MAX_PARSED_BODY_BYTES) ? undefined : (parsed ?? parseJson(message.body)),
      spec,
    ),
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
