// One pipeline's transform: the steps every pipeline shares (size, parse, envelope: message-to-row.ts),
// then its own event step, the hand-written login reader for the builtin pipeline and the compiled
// event reader for a declared one. Either way the row comes out in its table's shape (TableRow), so
// one sink writes every pipeline's. Pure, as the rest of transform/.
import type { InboundMessage, LoginRow, MaskedOriginal, Rejection, RejectReason, TableOutcome, TableRow } from '../model/message.js';
import type { EnvelopeMode, PipelineSpec } from '../model/pipeline.js';
import { compileEventReader } from './event-reader.js';
import type { Masker } from './mask.js';
import { messageToRow, messageToVaultedRow, readMessage, reject, type EventReading, type EventStep, type Refuse, type TransformOptions } from './message-to-row.js';

export interface PipelineTransform {
  /**
   * The message's outcome; vault on, with the values behind its row's masks (personal data in clear).
   * `envelope`: this body's mode, when not the pipeline's (an S3 payload an SNS Notification pointed to).
   */
  read(message: InboundMessage, envelope?: EnvelopeMode): { outcome: TableOutcome; originals?: MaskedOriginal[] };
  /**
   * The quarantine record of a message refused outside `read` (an S3 payload that cannot be had, a
   * row the database refused): every record of the pipeline is made here or in `read`, the same way.
   */
  reject(message: InboundMessage, reason: RejectReason, field: string | null, detail?: string | null): Rejection;
}

export interface PipelineTransformOptions extends TransformOptions {
  /** the vault is on: keep the originals behind the masks */
  vault: boolean;
}

export function compileTransform(spec: PipelineSpec, masker: Masker, options: PipelineTransformOptions): PipelineTransform {
  // The one place a pipeline's quarantine records are made: what a record keeps of a refused body
  // (body-shape.ts, quarantine-record.ts) is the pipeline's to decide, for every refusal alike.
  const record: Refuse = (message, m, reason, field, detail, bytes, parsed) => reject(message, m, reason, field, detail, bytes, parsed, spec);
  const refuse = (message: InboundMessage, reason: RejectReason, field: string | null, detail: string | null = null) => record(message, masker, reason, field, detail);
  if (spec.builtin) return { read: options.vault ? readVaultedLogin(masker, options) : readLogin(masker, options), reject: refuse };
  const reader = compileEventReader(spec, masker, { originals: options.vault });
  const step: EventStep<TableRow> = (message, value, originals): EventReading<TableRow> => {
    const read = reader(message, value);
    if (!read.ok) return read;
    const { values, subjectKey, originals: found } = read.row;
    const masks: string[] = [];
    for (const original of found) {
      masks.push(original.mask);
      originals?.push({ mask: original.mask, field: original.label, value: original.value });
    }
    return { ok: true, row: { messageId: message.messageId, subjectKey, values, masks, sentAtMs: message.sentAtMs } };
  };
  return {
    read(message, envelope) {
      const originals: MaskedOriginal[] | null = options.vault ? [] : null;
      const outcome = readMessage(message, masker, originals, envelope ? { ...options, envelope } : options, step, record);
      return originals ? { outcome, originals } : { outcome };
    },
    reject: refuse,
  };
}

function readLogin(masker: Masker, options: TransformOptions): PipelineTransform['read'] {
  return (message, envelope) => {
    const outcome = messageToRow(message, masker, envelope ? { ...options, envelope } : options);
    return { outcome: outcome.kind === 'row' ? { kind: 'row', row: loginTableRow(outcome.row) } : outcome };
  };
}

function readVaultedLogin(masker: Masker, options: TransformOptions): PipelineTransform['read'] {
  return (message, envelope) => {
    const { outcome, originals } = messageToVaultedRow(message, masker, envelope ? { ...options, envelope } : options);
    return { outcome: outcome.kind === 'row' ? { kind: 'row', row: loginTableRow(outcome.row) } : outcome, originals };
  };
}

/**
 * A user_logins row in the sink's shape: the values in storedColumnsOf(builtinLogins())'s order
 * (user_id, device_type, masked_ip, masked_device_id, app_version, app_version_raw, locale,
 * create_date; a unit test holds the two together).
 */
export function loginTableRow(row: LoginRow): TableRow {
  return {
    messageId: row.messageId,
    subjectKey: row.userKey,
    values: [row.userId, row.deviceType, row.maskedIp, row.maskedDeviceId, String(row.appVersion), row.appVersionRaw, row.locale, row.createDate],
    masks: [row.maskedIp, row.maskedDeviceId],
    sentAtMs: row.sentAtMs,
  };
}
