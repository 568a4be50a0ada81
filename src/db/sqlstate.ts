// What a PostgreSQL failure means for a batch: retry it later (transient), split it to find the
// row the server refuses (data), or stop because no retry can help (fatal). Keyed by SQLSTATE.

export type FailureKind = 'transient' | 'data' | 'fatal';

const TRANSIENT_CLASSES = ['08', '53', '57', '58'];
// 25006 (read-only transaction): the server is a standby, as a primary is after a failover, or the
// database was made read-only for maintenance; a new connection may reach the writable one.
const TRANSIENT_CODES = new Set(['40001', '40P01', '55P03', '55006', '25006']);
// A session that met these stays as it is (a standby's sessions stay read-only, a database's settings
// apply to new sessions only): its connection is discarded rather than handed out again.
const SPOILED_SESSION_CODES = new Set(['25006']);
// 22: data exception (too long, NUL, a character the database encoding lacks...); 23: a constraint a
// user added refuses one row; 54: a value too large for an index or a row. One message can cause each.
const DATA_CLASSES = ['22', '23', '54'];
// Node socket errors: the server went away or never answered.
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

export function classifyFailure(error: unknown): { kind: FailureKind; code: string } {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return { kind: 'transient', code };
    if (TRANSIENT_CODES.has(code) || TRANSIENT_CLASSES.includes(code.slice(0, 2))) return { kind: 'transient', code };
    if (DATA_CLASSES.includes(code.slice(0, 2))) return { kind: 'data', code };
    if (/^[0-9A-Z]{5}$/.test(code)) return { kind: 'fatal', code };
  }
  // pg reports a dropped connection as a plain Error without a code.
  const message = error instanceof Error ? error.message : String(error);
  if (/connection|terminat|timeout|socket/i.test(message)) return { kind: 'transient', code: 'connection' };
  return { kind: 'fatal', code: 'unknown' };
}

/** Whether the connection that met `error` must be discarded: retrying on it would meet it again. */
export function spoilsSession(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && SPOILED_SESSION_CODES.has(code);
}
