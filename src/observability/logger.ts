// JSON-line logs (pino) on stderr, fed by the event map. Events carry no personal data; the
// redaction paths are a second lock in case a future field slips one in.
import { pino, type Logger } from 'pino';
import type { EventBus } from './events.js';

export type { Logger };

const REDACT = ['ip', 'device_id', 'body', '*.ip', '*.device_id', '*.body', 'maskKey', 'maskKeyFile', 'vaultKey', 'vaultKeyFile', 'vaultPreviousKey', 'vaultPreviousKeyFile', 'vaultPrivateKey', 'vaultPrivateKeyFile', 'vaultPreviousPrivateKey', 'vaultPreviousPrivateKeyFile', 'databaseUrl'];

/** `clearLine`: a progress line shares the terminal, so each log line first erases it (it is redrawn). */
export function createLogger(level: string, options: { clearLine?: boolean } = {}): Logger {
  const hooks = options.clearLine ? { streamWrite: (line: string) => `\r\x1b[K${line}` } : {};
  return pino({ name: 'sqs2pg', level, redact: { paths: REDACT, censor: '[redacted]' }, hooks }, pino.destination(2));
}

/** Writes the events worth a line: problems always, routine progress at debug. */
export function logEvents(bus: EventBus, logger: Logger): void {
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
        `PostgreSQL refused message ${event.messageId} even as a minimal quarantine record (${event.code}); left in the queue with its visibility backed off: check the sqs2pg.quarantine table and the queue's dead-letter queue`,
      );
    })
    .on('source:error', (event) => logger.warn(event, `SQS ${event.operation} failed: ${event.message}`))
    .on('source:protocolSwitched', (event) =>
      logger.info(event, `the SQS endpoint answered a ${event.from === 'json' ? 'JSON' : 'query-protocol'} request with ${event.answer}; using the ${event.to} protocol for this run`),
    )
    .on('source:deletePartialFailure', (event) =>
      logger.warn(event, `${event.count} deletes failed (${event.code}); ${event.willRetry ? 'retrying' : 'left to redelivery, which is harmless'}`),
    )
    .on('sink:retry', (event) => logger.warn(event, `PostgreSQL write failed (${event.message}); retry ${event.attempt} in ${event.delayMs} ms`))
    .on('sink:split', (event) => logger.warn(event, `PostgreSQL refused a row (${event.code}); splitting a batch of ${event.size} to isolate it`))
    .on('message:quarantined', (event) => logger.info(event, `quarantined: ${event.reason}${event.field ? ` (${event.field})` : ''}`))
    .on('batch:committed', (event) => logger.debug(event, 'batch committed'))
    .on('source:released', (event) => logger.info(event, `released ${event.count} messages back to the queue`))
    .on('pipeline:stopping', (event) => logger.info(event, `stopping: ${event.reason}`))
    .on('pipeline:drained', (event) => logger.info(event, 'queue drained'))
    .on('rotate:batch', (event) => logger.debug(event, `rotate: ${event.pass} batch committed`));
}
