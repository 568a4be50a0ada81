// The login event's step for a pipeline: the hand-written reader (login-event.ts) straight into the
// sink's shape (TableRow), one row object per message. messageToRow's LoginRow turned into a
// TableRow afterwards was a second row, and its arrays, for every message of the builtin pipeline.
import type { InboundMessage, LoginRow, MaskedOriginal, TableRow } from '../model/message.js';
import { validateLoginEvent } from './login-event.js';
import type { Masker } from './mask.js';
import type { EventReading } from './message-to-row.js';
import { sentDate } from './sent-date.js';

/**
 * The login event read into its row: the values in storedColumnsOf(builtinLogins())'s order
 * (user_id, device_type, masked_ip, masked_device_id, app_version, app_version_raw, locale,
 * create_date; a unit test holds the two together), as messageToRow's row would give them.
 */
export function readLoginTableRow(message: InboundMessage, value: unknown, originals: MaskedOriginal[] | null, masker: Masker): EventReading<TableRow> {
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
      subjectKey: masker.userKey(login.user_id),
      values: [login.user_id, login.device_type, maskedIp, maskedDeviceId, String(appVersion), login.app_version, login.locale, sentDate(message.sentAtMs)],
      masks: [maskedIp, maskedDeviceId],
      sentAtMs: message.sentAtMs,
    },
  };
}

/** A LoginRow (messageToRow's) in the sink's shape: what readLoginTableRow gives for the same message. */
export function loginTableRow(row: LoginRow): TableRow {
  return {
    messageId: row.messageId,
    subjectKey: row.userKey,
    values: [row.userId, row.deviceType, row.maskedIp, row.maskedDeviceId, String(row.appVersion), row.appVersionRaw, row.locale, row.createDate],
    masks: [row.maskedIp, row.maskedDeviceId],
    sentAtMs: row.sentAtMs,
  };
}
