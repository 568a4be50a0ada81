// What PostgreSQL refused, as one line that says what to do: a missing privilege (which role to
// connect as) or a missing table (run migrate). Other errors pass through unchanged.
import { describeError, Sqs2pgError } from '../errors.js';

/** Rethrows a permission error as db_permission, a missing table as db_schema (both exit 1). */
export function rethrowRefusal(error: unknown, databaseUrl: string, needs: string): never {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === '42501') {
    throw new Sqs2pgError(
      'db_permission',
      `the database role${roleOf(databaseUrl)} may not ${needs} (${describeError(error)}); connect as a member of the PII officer role (see sqs2pg grants)`,
      1,
      false,
      { cause: error },
    );
  }
  if (code === '42P01' || code === '3F000') {
    throw new Sqs2pgError('db_schema', `the database has no sqs2pg tables yet (${describeError(error)}); run "sqs2pg migrate" first`, 1, false, { cause: error });
  }
  throw error;
}

function roleOf(databaseUrl: string): string {
  try {
    const user = decodeURIComponent(new URL(databaseUrl).username);
    return user ? ` "${user}"` : '';
  } catch {
    return '';
  }
}
