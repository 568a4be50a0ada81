// The quarantine record of a refused body: what an operator needs to understand it and match two
// copies of it, and nothing of its values. Its ip and device_id values (a declared pipeline's
// `pii: mask` fields) are kept only as masks and its user_id (subject) only as the user's key; the
// whole body is kept only sealed, by the writer, when the vault is on.
import { jsonShape, shapeText, textShape, type BodyShape } from './body-shape.js';
import { declaredFactsOf, type DeclaredValues } from './declared-values.js';
import { ENVELOPE_FIELD_NAMES, envelopeView } from './envelope.js';
import { canonicalIp } from './ip.js';
import { LOGIN_EVENT_FIELD_NAMES } from './login-event.js';
import type { Masker } from './mask.js';
import { readJsonValues, readTextValues, type ReadableValues } from './readable-values.js';
import type { BodyFacts } from '../model/message.js';
import type { PipelineSpec } from '../model/pipeline.js';

/**
 * Bodies longer than this are never parsed: a login event is a few hundred bytes, and a refused
 * body must cost work linear in its size with a small constant (hashing, one scan), whatever it holds.
 */
export const MAX_PARSED_BODY_BYTES = 64 * 1024;

/**
 * `parsed`: the body's JSON value when the caller already parsed it (undefined: not JSON or not
 * parsed). `spec`: the pipeline that refused it; absent (or the builtin logins), the login event's rules.
 */
export function bodyFacts(body: string, bytes: number, masker: Masker, parsed?: { value: unknown }, spec?: PipelineSpec): { body: BodyFacts; userKey: string | null } {
  if (spec && !spec.builtin) return declaredBodyFacts(body, bytes, masker, parsed, spec);
  let values: ReadableValues;
  let shape: BodyShape;
  const envelope = parsed && envelopeView(parsed.value);
  if (envelope) {
    // Whatever mode refused it, an envelope's record reads the event inside: its values masked,
    // its user's key kept, and nothing of it shown but the names AWS and the login event give keys.
    values = readJsonValues(envelope.value);
    values.userId = isRecord(envelope.event) && typeof envelope.event.user_id === 'string' ? envelope.event.user_id : values.userId;
    for (const text of envelope.texts) {
      const found = readTextValues(text);
      values.userId ??= found.userId;
      values.ip.push(...found.ip);
      values.deviceId.push(...found.deviceId);
    }
    shape = jsonShape(envelope.value, SHOWN_IN_ENVELOPES);
  } else if (parsed) {
    values = readJsonValues(parsed.value);
    shape = jsonShape(parsed.value, LOGIN_EVENT_FIELD_NAMES);
  } else {
    // Only the head of a huge body is read for keyed values: enough for any real event.
    values = readTextValues(bytes > MAX_PARSED_BODY_BYTES ? body.slice(0, MAX_PARSED_BODY_BYTES) : body);
    shape = textShape(body);
  }
  return {
    body: {
      bytes,
      hash: masker.bodyHash(body),
      shape: shapeText(shape),
      maskedIps: unique(values.ip.map((ip) => masker.mask('ip', canonicalIp(ip) ?? ip))),
      maskedDeviceIds: unique(values.deviceId.map((id) => masker.mask('device_id', id))),
      maskedValues: NO_MASKED_VALUES,
    },
    userKey: values.userId === null ? null : masker.userKey(values.userId),
  };
}

/**
 * A declared pipeline's record: as a login's, with its own fields. The shape shows only the names
 * its declaration gives (and AWS's, in an envelope); the masks of its `pii: mask` fields are kept
 * by label, those of ip and device_id only where a field is so labelled; the subject only as its key.
 */
function declaredBodyFacts(body: string, bytes: number, masker: Masker, parsed: { value: unknown } | undefined, spec: PipelineSpec): { body: BodyFacts; userKey: string | null } {
  const facts = declaredFactsOf(spec);
  let values: DeclaredValues;
  let shape: BodyShape;
  const envelope = parsed && envelopeView(parsed.value);
  if (envelope) {
    values = facts.readJson(envelope.event, envelope.value);
    for (const text of envelope.texts) facts.readText(text, values);
    shape = jsonShape(envelope.value, facts.shownInEnvelopes);
  } else if (parsed) {
    values = facts.readJson(parsed.value);
    shape = jsonShape(parsed.value, facts.shownKeys);
  } else {
    values = facts.readText(bytes > MAX_PARSED_BODY_BYTES ? body.slice(0, MAX_PARSED_BODY_BYTES) : body);
    shape = textShape(body);
  }
  const masked = Object.fromEntries([...values.values].map(([label, texts]) => [label, unique(texts.map((text) => masker.mask(label, text)))]));
  return {
    body: {
      bytes,
      hash: masker.bodyHash(body),
      shape: shapeText(shape),
      maskedIps: [],
      maskedDeviceIds: [],
      maskedValues: masked,
    },
    userKey: values.subject === null ? null : facts.keyOf(masker, values.subject),
  };
}

const NO_MASKED_VALUES: Readonly<Record<string, readonly string[]>> = Object.freeze({});

const SHOWN_IN_ENVELOPES: ReadonlySet<string> = new Set([...LOGIN_EVENT_FIELD_NAMES, ...ENVELOPE_FIELD_NAMES]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
