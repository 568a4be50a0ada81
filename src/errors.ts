// Errors a person can act on: each carries a stable `code` (catalogued in docs/errors.md),
// the process exit code it maps to, and whether retrying may help.

/**
 * The process exit codes, one table for every command. What matters to whatever starts sqs2pg again
 * (a supervisor, Kubernetes, a cron job) is whether starting again can help: after `crashed` it may;
 * after `unreachable`, later; after `config`, `refused` or `crashLoop`, not until someone changes
 * something, and a restart that comes sooner fails at start-up without receiving a message.
 */
export const EXIT = {
  ok: 0,
  /** an error sqs2pg did not foresee (or check: a check did not pass): starting again may help */
  crashed: 1,
  /** a setting or a key is missing, malformed or not the one the database knows */
  config: 2,
  /** PostgreSQL or SQS cannot be reached (at start, or for longer than --max-outage-sec in a drain) */
  unreachable: 3,
  /** reveal, quarantine show: nothing to show */
  notFound: 4,
  /** PostgreSQL refuses what sqs2pg must do: a privilege, a table, a column, a function is missing or not as made */
  refused: 5,
  /** run --workers N: a worker died again and again without committing anything */
  crashLoop: 6,
  /** a second SIGINT/SIGTERM */
  forced: 130,
} as const;

export type ErrorCode =
  | 'config_invalid'
  | 'sqs_unreachable'
  | 'sqs_protocol'
  | 's3_unreachable'
  | 'db_unreachable'
  | 'db_schema'
  | 'db_refused'
  | 'embedded_unavailable'
  | 'db_permission'
  | 'vault_integrity'
  | 'rotate_running'
  | 'vault_not_found'
  | 'worker_crash_loop';

export class Sqs2pgError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly exitCode: number,
    readonly retryable = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'Sqs2pgError';
  }
}

/** A setting is missing or malformed: exit code 2. */
export class ConfigError extends Sqs2pgError {
  constructor(message: string) {
    super('config_invalid', message, 2);
    this.name = 'ConfigError';
  }
}

/** One fault of a pipeline file: where it is, which field, what is wrong (never a value of it). */
export interface PipelineFileFault {
  line: number;
  col: number;
  /** the field's path, dotted: pipelines.page_views.columns.url.type */
  field: string;
  message: string;
}

/**
 * A pipeline file (--config) that cannot be used: every fault at once, each with its file:line:col
 * and field, sorted. Exit code 2, like any setting. The message's first line says how many.
 */
export class PipelineFileError extends ConfigError {
  constructor(
    readonly file: string,
    readonly faults: readonly PipelineFileFault[],
    /** faults found beyond those listed (a hostile file's thousands are counted, not printed) */
    readonly more = 0,
  ) {
    const total = faults.length + more;
    super(
      [
        `${file}: ${total} fault${total === 1 ? '' : 's'} in the pipeline file; fix ${total === 1 ? 'it' : 'each'} (sqs2pg pipelines validate ${file} checks again):`,
        ...faults.map((fault) => `  ${describeFault(file, fault)}`),
        ...(more > 0 ? [`  … and ${more} more`] : []),
      ].join('\n'),
    );
    this.name = 'PipelineFileError';
  }
}

export function describeFault(file: string, fault: PipelineFileFault): string {
  return `${file}:${fault.line}:${fault.col}: ${fault.field ? `${fault.field}: ` : ''}${fault.message}`;
}

/**
 * PostgreSQL refuses what sqs2pg must do, and will until someone changes the database: a privilege
 * (db_permission), a table, column or function missing or not as sqs2pg made it (db_schema). Exit
 * code 5: no restart can help, so a supervisor stops the run rather than restart into it.
 */
export class DatabaseRefusedError extends Sqs2pgError {
  constructor(code: 'db_permission' | 'db_schema', message: string, cause?: unknown) {
    super(code, message, EXIT.refused, false, { cause });
    this.name = 'DatabaseRefusedError';
  }
}

/** SQS or PostgreSQL (or, for replay, S3) cannot be reached: exit code 3. */
export class ConnectError extends Sqs2pgError {
  constructor(code: 'sqs_unreachable' | 'db_unreachable' | 's3_unreachable', message: string, cause?: unknown) {
    super(code, message, 3, true, { cause });
    this.name = 'ConnectError';
  }
}

/** The SQS endpoint answers, but not in a protocol sqs2pg was told (or able) to use: exit code 3. */
export class SqsProtocolError extends Sqs2pgError {
  constructor(message: string) {
    super('sqs_protocol', message, 3);
    this.name = 'SqsProtocolError';
  }
}

/** A one-line description of any thrown value, for messages that must stay on one line. */
export function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describeError(error.errors[0]);
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const text = error.message || error.name;
    return (typeof code === 'string' && !text.includes(code) ? `${code}: ${text}` : text).replace(/\s+/g, ' ').trim();
  }
  return String(error).replace(/\s+/g, ' ').trim();
}
