// The whole transform, pure and total: a received message becomes a user_logins row or a
// rejection with a reason. It never throws for any body.
import { appVersionToInt } from './app-version.js';
import { canonicalIp } from './ip.js';
import { parseLoginEvent } from './login-event.js';
import type { Masker } from './mask.js';
import { redactBody } from './redact.js';
import type { InboundMessage, MaskedOriginal, Outcome, Rejection, RejectReason } from './types.js';

export function messageToRow(message: InboundMessage, masker: Masker): Outcome {
  return toOutcome(message, masker, null);
}

/**
 * The same outcome, plus the value behind each of the row's masks, for the vault to encrypt.
 * Kept apart from the outcome so that an outcome never holds personal data in clear; a rejection
 * has no originals (its body is only ever kept masked).
 */
export function messageToVaultedRow(message: InboundMessage, masker: Masker): { outcome: Outcome; originals: MaskedOriginal[] } {
  const originals: MaskedOriginal[] = [];
  return { outcome: toOutcome(message, masker, originals), originals };
}

function toOutcome(message: InboundMessage, masker: Masker, originals: MaskedOriginal[] | null): Outcome {
  const parsed = parseLoginEvent(message.body);
  if (!parsed.ok) return { kind: 'rejected', rejection: reject(message, masker, parsed.reason, parsed.field) };
  const { event } = parsed;
  // Non-null: the schema has already checked it. The canonical form is what is masked and vaulted.
  const ip = canonicalIp(event.ip) ?? event.ip;
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
      appVersion: appVersionToInt(event.app_version) ?? 0,
      appVersionRaw: event.app_version,
      createDate: utcDate(message.sentAtMs),
    },
  };
}

export function reject(
  message: InboundMessage,
  masker: Masker,
  reason: RejectReason,
  field: string | null,
  detail: string | null = null,
): Rejection {
  return {
    messageId: message.messageId,
    reason,
    field,
    detail,
    receiveCount: message.receiveCount,
    sentAtMs: message.sentAtMs,
    redactedBody: redactBody(message.body, masker),
    userKey: readableUserId(message.body, masker),
  };
}

/** The keyed hash of the body's user_id when the body is a JSON object with a string user_id. */
function readableUserId(body: string, masker: Masker): string | null {
  try {
    const value: unknown = JSON.parse(body);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
    const userId = (value as Record<string, unknown>).user_id;
    return typeof userId === 'string' ? masker.userKey(userId) : null;
  } catch {
    return null;
  }
}

/** YYYY-MM-DD in UTC; a timestamp no Date can hold falls back to now rather than throwing. */
function utcDate(epochMs: number): string {
  const date = new Date(epochMs);
  return (Number.isNaN(date.getTime()) ? new Date() : date).toISOString().slice(0, 10);
}
