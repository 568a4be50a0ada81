// The envelopes AWS services put around an event on its way to a queue: an SNS Notification (an SQS
// subscription with raw delivery off, SNS's default) and an EventBridge event (an SQS target). Pure:
// a parsed body in; the event inside, keyed by the envelope's id and dated by its time, or a refusal.
import type { EnvelopeMode } from '../model/pipeline.js';
import { parseJson } from './login-event.js';

export { envelopeModes, type EnvelopeMode } from '../model/pipeline.js';
export type EnvelopeKind = 'sns' | 'eventbridge';

/**
 * The idempotency key of an unwrapped event: the envelope's own id behind a prefix, so it never
 * equals an SQS MessageId (a UUID, no colon) nor the id of the other kind of envelope.
 */
export const ENVELOPE_KEY_PREFIX: Readonly<Record<EnvelopeKind, string>> = { sns: 'sns:', eventbridge: 'eventbridge:' };

/**
 * SNS and EventBridge give every message a UUID. The id becomes the row's sqs_message_id, in clear:
 * anything else (text a sender chose, in a hand-built envelope) is refused rather than stored.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** ISO 8601 with a zone, as SNS (`Timestamp`) and EventBridge (`time`) write it. */
const ISO_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
/** An EventBridge event inside an SNS Notification (rule -> topic -> queue): two layers at most. */
const MAX_LAYERS = 2;
/** The dates a date column takes from any PostgreSQL (which has no year 0): earlier or later is refused. */
const MIN_TIME_MS = Date.UTC(1970, 0, 1);
const MAX_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** The names of envelope fields: AWS's, never a sender's data, so a quarantine shape may show them. */
export const ENVELOPE_FIELD_NAMES: ReadonlySet<string> = new Set([
  'Type', 'MessageId', 'TopicArn', 'Subject', 'Message', 'Timestamp', 'SignatureVersion', 'Signature', 'SigningCertURL',
  'UnsubscribeURL', 'MessageAttributes', 'SubscribeURL', 'Token',
  'version', 'id', 'detail-type', 'source', 'account', 'time', 'region', 'resources', 'detail',
]);

export type Unwrapped =
  /** no envelope: the body is the event */
  | { kind: 'plain' }
  | {
      kind: 'event';
      envelope: EnvelopeKind;
      /** the idempotency key (ENVELOPE_KEY_PREFIX + the envelope's id) */
      key: string;
      /** the envelope's time, epoch milliseconds */
      timeMs: number;
      /** the event, parsed; undefined when an SNS Message is not JSON text */
      event: { value: unknown } | undefined;
    }
  /** an envelope that is not well formed, or none where one is required */
  | { kind: 'bad'; envelope: EnvelopeKind; field: string | null };

type Layer = { kind: 'event'; envelope: EnvelopeKind; key: string; timeMs: number; event: { value: unknown } | undefined } | { kind: 'bad'; envelope: EnvelopeKind; field: string | null };

/**
 * `value`: the body's JSON value. The inner Message of an SNS Notification is text, parsed once
 * more here: it is shorter than the body, which was refused unparsed beyond the plain path's limit.
 */
export function unwrapEnvelope(value: unknown, mode: EnvelopeMode): Unwrapped {
  if (mode === 'none') return { kind: 'plain' };
  if (mode === 'sns') return isRecord(value) && claimsSns(value) ? snsLayer(value) : { kind: 'bad', envelope: 'sns', field: isRecord(value) ? 'Type' : null };
  if (mode === 'eventbridge') {
    return isRecord(value) && claimsEventBridge(value) ? eventBridgeLayer(value) : { kind: 'bad', envelope: 'eventbridge', field: isRecord(value) ? 'detail-type' : null };
  }
  let unwrapped: Unwrapped = { kind: 'plain' };
  let current = value;
  for (let layer = 0; layer < MAX_LAYERS && isRecord(current); layer++) {
    // SNS may only be the outer layer: nothing publishes a Notification into another one.
    const next = layer === 0 && claimsSns(current) ? snsLayer(current) : claimsEventBridge(current) ? eventBridgeLayer(current) : undefined;
    if (next === undefined) break;
    if (next.kind === 'bad') return next;
    unwrapped = next;
    if (next.event === undefined) break;
    current = next.event.value;
  }
  return unwrapped;
}

/**
 * What an envelope-shaped body is made of, for its quarantine record: the body with an SNS
 * Message's JSON text replaced by its value (so the ids and addresses inside are masked and none is
 * shown), the event that names the user, and the text of a Message that is not JSON (scanned for
 * keyed values). Undefined for a body no envelope claims.
 */
export function envelopeView(value: unknown): { value: unknown; event: unknown; texts: string[] } | undefined {
  if (!isRecord(value) || !(claimsSns(value) || claimsEventBridge(value))) return undefined;
  let event: unknown = value;
  const texts: string[] = [];
  let expanded: Record<string, unknown> = value;
  if (claimsSns(value) && typeof value.Message === 'string') {
    const inner = parseJson(value.Message);
    if (inner) {
      expanded = { ...value, Message: inner.value };
      event = inner.value;
    } else texts.push(value.Message);
  }
  if (isRecord(event) && claimsEventBridge(event)) event = event.detail;
  return { value: expanded, event, texts };
}

// An object is taken for an envelope by the two fields no login event has: past that, every
// field it lacks or holds wrongly refuses it as bad_envelope rather than as a login event missing user_id.
function claimsSns(value: Record<string, unknown>): boolean {
  return 'Type' in value && 'TopicArn' in value;
}

function claimsEventBridge(value: Record<string, unknown>): boolean {
  return 'detail-type' in value && 'detail' in value;
}

function snsLayer(value: Record<string, unknown>): Layer {
  const bad = (field: string): Layer => ({ kind: 'bad', envelope: 'sns', field });
  // A SubscriptionConfirmation (a cross-account subscription) carries no event.
  if (value.Type !== 'Notification') return bad('Type');
  if (!isId(value.MessageId)) return bad('MessageId');
  if (typeof value.TopicArn !== 'string' || !value.TopicArn.startsWith('arn:')) return bad('TopicArn');
  if (typeof value.Message !== 'string') return bad('Message');
  const timeMs = timeOf(value.Timestamp);
  if (timeMs === undefined) return bad('Timestamp');
  return { kind: 'event', envelope: 'sns', key: ENVELOPE_KEY_PREFIX.sns + value.MessageId.toLowerCase(), timeMs, event: parseJson(value.Message) };
}

function eventBridgeLayer(value: Record<string, unknown>): Layer {
  const bad = (field: string): Layer => ({ kind: 'bad', envelope: 'eventbridge', field });
  if (typeof value.version !== 'string') return bad('version');
  if (!isId(value.id)) return bad('id');
  if (typeof value['detail-type'] !== 'string') return bad('detail-type');
  if (typeof value.source !== 'string') return bad('source');
  const timeMs = timeOf(value.time);
  if (timeMs === undefined) return bad('time');
  if (!isRecord(value.detail)) return bad('detail');
  return { kind: 'event', envelope: 'eventbridge', key: ENVELOPE_KEY_PREFIX.eventbridge + value.id.toLowerCase(), timeMs, event: { value: value.detail } };
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** Epoch milliseconds of an ISO 8601 time with a zone; fractions past milliseconds are dropped. */
function timeOf(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = ISO_TIME.exec(value);
  if (!match) return undefined;
  const ms = Date.parse(`${match[1]}${(match[2] ?? '').slice(0, 4)}${match[3]}`);
  return ms >= MIN_TIME_MS && ms <= MAX_TIME_MS ? ms : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
