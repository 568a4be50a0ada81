// One pipeline's transform: the steps every pipeline shares (size, parse, envelope: message-to-row.ts),
// then its own event step, the hand-written login reader for the builtin pipeline (login-table-row.ts)
// and the compiled event reader for a declared one. Either way the row comes out in its table's shape
// (TableRow), so one sink writes every pipeline's. Pure, as the rest of transform/.
import type { InboundMessage, MaskedOriginal, Rejection, RejectReason, TableOutcome, TableRow } from '../model/message.js';
import type { EnvelopeMode, PipelineSpec } from '../model/pipeline.js';
import { compileEventReader } from './event-reader.js';
import { readLoginTableRow } from './login-table-row.js';
import type { Masker } from './mask.js';
import { readMessage, reject, type EventReading, type EventStep, type Refuse, type TransformOptions } from './message-to-row.js';

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
  const step = spec.builtin ? readLoginTableRow : declaredStep(spec, masker, options.vault);
  // Settled once for the pipeline, not per message; a body read under another envelope gets its own.
  const settings: TransformOptions = { envelope: options.envelope, maxBodyBytes: options.maxBodyBytes };
  const vault = options.vault;
  return {
    read(message, envelope) {
      const originals: MaskedOriginal[] | null = vault ? [] : null;
      const outcome = readMessage(message, masker, originals, envelope === undefined ? settings : { ...settings, envelope }, step, record);
      return originals ? { outcome, originals } : { outcome };
    },
    reject: refuse,
  };
}

/** A declared pipeline's event step: its compiled reader, the row in its table's shape. */
function declaredStep(spec: PipelineSpec, masker: Masker, vault: boolean): EventStep<TableRow> {
  const reader = compileEventReader(spec, masker, { originals: vault });
  return (message, value, originals): EventReading<TableRow> => {
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
}
