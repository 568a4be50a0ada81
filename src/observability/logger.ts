// Logs on stderr, fed by the event map: pino's JSON lines for machines (stderr not a terminal, or
// --log-format json), short human lines on a terminal (--log-format pretty). Events carry no
// personal data; the redaction paths are a second lock in case a future field slips one in.
import { writeSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import type { RejectReason } from '../model/message.js';
import type { EventBus } from './events.js';
import { DEFAULT_PIPELINES, pipelineOf } from './pipeline-of.js';

export type { Logger };

export type LogFormat = 'json' | 'pretty';
export type LogFormatSetting = LogFormat | 'auto';

const REDACT = ['ip', 'device_id', 'body', '*.ip', '*.device_id', '*.body', 'maskKey', 'maskKeyFile', 'vaultKey', 'vaultKeyFile', 'vaultPreviousKey', 'vaultPreviousKeyFile', 'vaultPrivateKey', 'vaultPrivateKeyFile', 'vaultPreviousPrivateKey', 'vaultPreviousPrivateKeyFile', 'databaseUrl'];
const QUARANTINE_SUMMARY_MS = 10_000;

/** auto: pretty on a terminal, JSON lines anywhere else (a pipe, a file, a log collector). */
export function resolveLogFormat(setting: LogFormatSetting, stream: { isTTY?: boolean }): LogFormat {
  if (setting !== 'auto') return setting;
  return stream.isTTY === true ? 'pretty' : 'json';
}

export interface LoggerOptions {
  format?: LogFormat;
  /** a progress line shares the terminal, so each log line first erases it (it is redrawn) */
  clearLine?: boolean;
  /** colour the level of pretty lines */
  color?: boolean;
}

export function createLogger(level: string, options: LoggerOptions = {}): Logger {
  const prefix = options.clearLine ? '\r\x1b[K' : '';
  const base = { name: 'sqs2pg', level, redact: { paths: REDACT, censor: '[redacted]' } };
  if (options.format === 'pretty') {
    const color = options.color ?? false;
    // Synchronous, like pino.destination(2): a line written just before process.exit is not lost.
    const stream = { write: (line: string) => void writeSync(2, `${prefix}${prettyLine(line, color)}\n`) };
    return pino(base, stream);
  }
  const hooks = prefix ? { streamWrite: (line: string) => `${prefix}${line}` } : {};
  return pino({ ...base, hooks }, pino.destination(2));
}

const LEVELS: Record<number, { name: string; colour: string }> = {
  10: { name: 'TRACE', colour: '2' },
  20: { name: 'DEBUG', colour: '2' },
  30: { name: 'INFO', colour: '36' },
  40: { name: 'WARN', colour: '33' },
  50: { name: 'ERROR', colour: '31' },
  60: { name: 'FATAL', colour: '31' },
};

/** One pino JSON line as "12:03:04 WARN  message": the message already says what matters. */
export function prettyLine(json: string, color: boolean): string {
  let record: { level?: number; time?: number; msg?: string };
  try {
    record = JSON.parse(json) as typeof record;
  } catch {
    return json.trimEnd();
  }
  const level = LEVELS[record.level ?? 30] ?? { name: String(record.level), colour: '0' };
  const time = new Date(record.time ?? Date.now()).toTimeString().slice(0, 8);
  const name = level.name.padEnd(5);
  return `${time} ${color ? `\x1b[${level.colour}m${name}\x1b[0m` : name} ${record.msg ?? ''}`;
}

/**
 * Writes the events worth a line: problems always, routine progress at debug. Quarantined
 * and released messages are one line each only at debug; at info they are summed up every 10 s
 * and at the end (`flush`), so a batch of bad input or a stop does not bury the terminal. A
 * pipeline's event carries its name (`pipeline`) in the JSON line; in a run of several pipelines
 * the message starts with it too (`page_views: SQS receive failed: …`), and the sums are per pipeline.
 */
export function logEvents(bus: EventBus, logger: Logger, options: { pipelines?: readonly string[] } = {}): { flush(): void } {
  const pipelines = options.pipelines ?? DEFAULT_PIPELINES;
  // A run of one pipeline reads as today: its name is in the JSON, not in every message.
  const named = (payload: { pipeline?: string }, text: string) =>
    payload.pipeline === undefined || (pipelines.length === 1 && payload.pipeline === pipelines[0]) ? text : `${payload.pipeline}: ${text}`;
  /** by pipeline name ('' for events that name none), what is waiting to be summed up */
  const pending = new Map<string, { reasons: Map<RejectReason, number>; released: number }>();
  const pendingOf = (pipeline: string | undefined) => {
    let entry = pending.get(pipeline ?? '');
    if (!entry) pending.set(pipeline ?? '', (entry = { reasons: new Map(), released: 0 }));
    return entry;
  };
  let timer: NodeJS.Timeout | undefined;
  const later = () => (timer ??= setTimeout(flush, QUARANTINE_SUMMARY_MS).unref());
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    for (const [name, entry] of pending) {
      const about = name === '' ? {} : { pipeline: name };
      if (entry.released > 0) logger.info({ ...about, count: entry.released }, named(about, `released ${entry.released} messages back to the queue`));
      if (entry.reasons.size === 0) continue;
      const byReason = Object.fromEntries(entry.reasons) as Partial<Record<RejectReason, number>>;
      const count = [...entry.reasons.values()].reduce((sum, n) => sum + n, 0);
      const reasons = Object.entries(byReason)
        .sort(([, a], [, b]) => b - a)
        .map(([reason, n]) => `${reason} ${n}`)
        .join(', ');
      logger.info({ ...about, count, byReason }, named(about, `quarantined ${count} message${count === 1 ? '' : 's'} (${reasons}); see sqs2pg.quarantine`));
    }
    pending.clear();
  };
  // A message left in the queue comes back after its backoff and may be refused again: one line per
  // message is enough (the metric counts every time). Bounded: the oldest ids are forgotten first.
  const leftLogged = new Set<string>();
  bus
    .on('message:leftInQueue', (event) => {
      if (leftLogged.has(event.messageId)) return;
      if (leftLogged.size >= 10_000) leftLogged.delete(leftLogged.values().next().value ?? '');
      leftLogged.add(event.messageId);
      logger.warn(
        event,
        named(
          event,
          `PostgreSQL refused message ${event.messageId} even as a minimal quarantine record (${event.code}); left in the queue with its visibility backed off: check the sqs2pg.quarantine table and the queue's dead-letter queue`,
        ),
      );
    })
    .on('source:error', (event) => logger.warn(event, named(event, `SQS ${event.operation} failed: ${event.message}`)))
    .on('payload:error', (event) =>
      logger.warn(
        event,
        named(
          event,
          event.operation === 'get'
            ? `S3 GetObject of a message's payload failed (${event.message}); the message goes back to the queue and is tried again`
            : `S3 DeleteObject of a committed payload failed (${event.message}); the object stays in its bucket`,
        ),
      ),
    )
    .on('source:protocolSwitched', (event) =>
      logger.info(
        event,
        named(event, `the SQS endpoint answered a ${event.from === 'json' ? 'JSON' : 'query-protocol'} request with ${event.answer}; using the ${event.to} protocol for this run`),
      ),
    )
    .on('source:deletePartialFailure', (event) =>
      logger.warn(event, named(event, `${event.count} deletes failed (${event.code}); ${event.willRetry ? 'retrying' : 'left to redelivery, which is harmless'}`)),
    )
    .on('sink:retry', (event) => logger.warn(event, named(event, `PostgreSQL write failed (${event.message}); retry ${event.attempt} in ${event.delayMs} ms`)))
    .on('sink:split', (event) => logger.warn(event, named(event, `PostgreSQL refused a row (${event.code}); splitting a batch of ${event.size} to isolate it`)))
    .on('message:quarantined', (event) => {
      logger.debug(event, named(event, `quarantined: ${event.reason}${event.field ? ` (${event.field})` : ''}`));
      if (!logger.isLevelEnabled('info')) return;
      const { reasons } = pendingOf(pipelineOf(event, pipelines));
      reasons.set(event.reason, (reasons.get(event.reason) ?? 0) + 1);
      later();
    })
    .on('batch:committed', (event) => logger.debug(event, named(event, 'batch committed')))
    // Released ten at a time on a stop: summed up like the quarantine.
    .on('source:released', (event) => {
      logger.debug(event, named(event, `released ${event.count} messages back to the queue`));
      if (!logger.isLevelEnabled('info')) return;
      pendingOf(pipelineOf(event, pipelines)).released += event.count;
      later();
    })
    .on('source:left', (event) =>
      logger.warn(
        event,
        named(
          event,
          `left ${event.count} uncommitted messages to the visibility timeout (${event.visibilityTimeoutSec} s): the run is ending on a failure, and a restart must not receive them again sooner`,
        ),
      ),
    )
    .on('pipeline:stopping', (event) => {
      flush();
      logger.info(event, named(event, `stopping: ${event.reason}`));
    })
    .on('pipeline:drained', (event) => {
      flush();
      logger.info(event, named(event, 'queue drained'));
    })
    .on('rotate:batch', (event) => logger.debug(event, named(event, `rotate: ${event.pass} batch committed`)));
  return { flush };
}
