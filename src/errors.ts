// Errors a person can act on: each carries a stable `code` (catalogued in docs/errors.md),
// the process exit code it maps to, and whether retrying may help.

export type ErrorCode =
  | 'config_invalid'
  | 'sqs_unreachable'
  | 'sqs_protocol'
  | 'db_unreachable'
  | 'db_schema'
  | 'embedded_unavailable'
  | 'db_permission'
  | 'vault_integrity'
  | 'rotate_running'
  | 'vault_not_found';

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

/** SQS or PostgreSQL cannot be reached: exit code 3. */
export class ConnectError extends Sqs2pgError {
  constructor(code: 'sqs_unreachable' | 'db_unreachable', message: string, cause?: unknown) {
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
