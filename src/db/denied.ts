// What PostgreSQL refused, as one line that says what to do: a missing privilege (which role to
// connect as) or a missing table (run migrate). Other errors pass through unchanged. Both are
// DatabaseRefusedError (exit code 5): no retry or restart helps until someone changes the database.
import { ConfigError, DatabaseRefusedError, describeError, type Sqs2pgError } from '../errors.js';

// Objects missing, or not of the kind or type sqs2pg made them: a column, a type, a function, the
// unique index ON CONFLICT needs, a table that is a view. Syntax errors (42601...) are not here: they
// would be sqs2pg's bug, and a bug is not the database's refusal.
const SCHEMA_CODES = new Set(['42P01', '3F000', '42703', '42704', '42883', '42804', '42809', '42P10']);

/** What PostgreSQL raises for a write under a key id sqs2pg rotate has retired (sql/0015). */
export const RETIRED_KEY = 'SQ2RK';

/** db_permission or db_schema when `error` is PostgreSQL refusing for good; undefined otherwise. */
export function refusalCode(error: unknown): 'db_permission' | 'db_schema' | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === '42501') return 'db_permission';
  return typeof code === 'string' && SCHEMA_CODES.has(code) ? 'db_schema' : undefined;
}

/** Rethrows a permission error as db_permission, a missing table as db_schema (both exit 5). */
export function rethrowRefusal(error: unknown, databaseUrl: string, needs: string): never {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === '42501') {
    throw new DatabaseRefusedError(
      'db_permission',
      `the database role${roleOf(databaseUrl)} may not ${needs} (${describeError(error)}); connect as a member of the PII officer role (see sqs2pg grants)`,
      error,
    );
  }
  if (code === '42P01' || code === '3F000') {
    throw new DatabaseRefusedError('db_schema', `the database has no sqs2pg tables yet (${describeError(error)}); run "sqs2pg migrate" first`, error);
  }
  throw error;
}

/**
 * What a worker says when PostgreSQL refuses a write for good (found by its start-up rehearsal or
 * by a batch): undefined when the error is not such a refusal.
 */
export function workerRefusal(error: unknown, when: string): Sqs2pgError | undefined {
  if ((error as { code?: unknown } | null)?.code === RETIRED_KEY) {
    // The key's name and date, from the database (sql/0015): no value of the batch is in it.
    return new ConfigError(
      `${error instanceof Error ? error.message : String(error)}, and this worker still writes under it: the database refused that ${when} (nothing of it was written; its messages return to the queue); give it the key in use (SQS2PG_MASK_KEY and SQS2PG_MASK_KEY_ID, SQS2PG_VAULT_PUBLIC_KEY and SQS2PG_VAULT_KEY_ID) and start it again`,
    );
  }
  const kind = refusalCode(error);
  if (kind === 'db_permission') {
    return new DatabaseRefusedError(
      kind,
      `the database role of DATABASE_URL may not write what a worker writes ${when} (${describeError(error)}); run "sqs2pg grants" as the tables' owner and make that role a member of the worker role, then start again`,
      error,
    );
  }
  if (kind === 'db_schema') {
    return new DatabaseRefusedError(
      kind,
      `the database is not as sqs2pg needs it ${when} (${describeError(error)}); run "sqs2pg migrate" as the tables' owner and check the user_logins table, then start again`,
      error,
    );
  }
  return undefined;
}

function roleOf(databaseUrl: string): string {
  try {
    const user = decodeURIComponent(new URL(databaseUrl).username);
    return user ? ` "${user}"` : '';
  } catch {
    return '';
  }
}
