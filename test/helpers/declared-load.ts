// Loads events into any pipeline's table as a worker does, for the erasure tests: each body read by
// the event reader (the one every pipeline's worker uses), its row inserted with sqs_message_id, the
// values behind its masks sealed into the vault, and a body the reader refuses kept as a quarantine
// record that names its pipeline and its subject's key. The statements are the table's own INSERT,
// sqs2pg_vault's INSERT_ENTRIES and a quarantine record of the shape the sink writes.
import pg from 'pg';
import { storedColumnsOf, MESSAGE_ID_COLUMN, type PipelineSpec } from '../../src/model/pipeline.js';
import { compileEventReader } from '../../src/transform/event-reader.js';
import type { Masker } from '../../src/transform/mask.js';
import { entryColumns, INSERT_ENTRIES } from '../../src/vault/entry.js';
import { sealBatch } from '../../src/vault/seal-batch.js';
import type { VaultSealer } from '../../src/vault/sealed-box.js';

export interface LoadResult {
  rows: number;
  quarantined: number;
}

/** The subject's keyed hash, as the reader makes it for a row (logins: userKey; declared: subjectKey in the table's scope). */
export function subjectKey(spec: PipelineSpec, masker: Masker, subject: string): string {
  return spec.builtin ? masker.userKey(subject) : masker.subjectKey(spec.table.name, subject);
}

/** The value at `path` in a parsed body, or undefined. */
export function valueAt(event: unknown, path: readonly string[]): unknown {
  let value = event;
  for (const part of path) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** `bodies` by message id into `schema`.`spec.table.name`; vault on when `sealer` is given. */
export async function loadAsWorker(
  db: pg.Pool | pg.PoolClient,
  spec: PipelineSpec,
  schema: string,
  bodies: Readonly<Record<string, string>>,
  masker: Masker,
  sealer?: VaultSealer,
): Promise<LoadResult> {
  const read = compileEventReader(spec, masker, { originals: sealer !== undefined });
  const columns = [...storedColumnsOf(spec).map((column) => column.name), MESSAGE_ID_COLUMN];
  const table = `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(spec.table.name)}`;
  const insert = `INSERT INTO ${table} (${columns.map((name) => pg.escapeIdentifier(name)).join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`;
  const originals: { mask: string; field: string; value: string }[] = [];
  const result: LoadResult = { rows: 0, quarantined: 0 };
  for (const [messageId, body] of Object.entries(bodies)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = undefined;
    }
    const reading = parsed === undefined ? { ok: false as const, reason: 'not_json', field: null } : read({ messageId, body, sentAtMs: 1_700_000_000_000, receiveCount: 1 }, parsed);
    if (reading.ok) {
      await db.query(insert, [...reading.row.values, messageId]);
      for (const original of reading.row.originals) originals.push({ mask: original.mask, field: original.label, value: original.value });
      result.rows++;
    } else {
      const subject = spec.subject === null ? undefined : valueAt(parsed, spec.subject);
      await db.query(
        `INSERT INTO sqs2pg.quarantine (sqs_message_id, reason, field, receive_count, sent_at, body_bytes, user_key, pipeline)
         VALUES ($1, $2, $3, 1, now(), $4, $5, $6)`,
        [messageId, reading.reason, reading.field, Buffer.byteLength(body), typeof subject === 'string' ? subjectKey(spec, masker, subject) : null, spec.name],
      );
      result.quarantined++;
    }
  }
  if (sealer && originals.length > 0) await db.query(INSERT_ENTRIES, entryColumns(sealBatch(originals, sealer)));
  return result;
}
