// The messages of a worker's start-up rehearsal: one that becomes a row (and, vault on, vault
// entries) and one that becomes a quarantine record, so that the trial batch sends every statement a
// real batch can. Made up, and rolled back: no person's data, nothing kept. The address is from
// 192.0.2.0/24, reserved for documentation (RFC 5737).
import { randomUUID } from 'node:crypto';
import type { InboundMessage } from '../model/message.js';
import type { ColumnType, PipelineSpec } from '../model/pipeline.js';

const TEXT = 'sqs2pg-rehearsal';

/** `spec`: a declared pipeline's event is made from its columns; without one (or the builtin), a login event. */
export function rehearsalMessages(nowMs: number, spec?: PipelineSpec): InboundMessage[] {
  const id = `sqs2pg-rehearsal-${randomUUID()}`;
  const event = spec && !spec.builtin ? declaredEvent(spec) : { user_id: TEXT, app_version: '0.0.0', device_type: TEXT, ip: '192.0.2.1', locale: null, device_id: TEXT };
  return [
    { messageId: `${id}-row`, body: JSON.stringify(event), sentAtMs: nowMs, receiveCount: 1 },
    { messageId: `${id}-record`, body: 'sqs2pg rehearsal: not an event', sentAtMs: nowMs, receiveCount: 1 },
  ];
}

/** An event with a value of its type at every column's path, and the subject's. */
function declaredEvent(spec: PipelineSpec): Record<string, unknown> {
  const event: Record<string, unknown> = {};
  for (const column of spec.columns) if (column.from.kind === 'path') place(event, column.from.path, sampleOf(column.type));
  if (spec.subject !== null) place(event, spec.subject, TEXT);
  return event;
}

/** Sets `path` in `event`, unless a value is there already (two columns may read one path). */
function place(event: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let at = event;
  for (const [i, part] of path.entries()) {
    if (i === path.length - 1) {
      if (!Object.hasOwn(at, part)) at[part] = value;
      return;
    }
    const next = at[part];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) {
      if (next !== undefined) return;
      at[part] = {};
    }
    at = at[part] as Record<string, unknown>;
  }
}

function sampleOf(type: ColumnType): unknown {
  switch (type.kind) {
    case 'text':
      return TEXT;
    case 'varchar':
      return TEXT.slice(0, type.length);
    case 'integer':
    case 'bigint':
    case 'numeric':
      return 0;
    case 'boolean':
      return false;
    case 'date':
      return '2000-01-01';
    case 'timestamptz':
      return '2000-01-01T00:00:00Z';
    case 'jsonb':
      return { sqs2pg: 'rehearsal' };
    case 'ip':
      return '192.0.2.1';
    case 'version':
      return '0.0.0';
  }
}
