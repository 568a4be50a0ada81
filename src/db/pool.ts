// The PostgreSQL connection pool, and the start-up check that turns "cannot connect" into one
// line a person can act on: the cause named (password missing or refused, TLS, refused, DNS,
// timeout) and what to do. The password never appears in a message.
// Every connection searches pg_catalog only (then pg_temp, for relations): a function or operator
// that a role planted in a schema it may create in (public, on PostgreSQL 12–14) is then never a
// candidate for what sqs2pg's statements call, so it cannot run with the rights of the worker, the
// officer or the owner (CVE-2018-1058). sqs2pg names its own tables by schema; user_logins is found
// once through the role's own search path (see user-logins.ts).
import pg from 'pg';
import { ConnectError, describeError } from '../errors.js';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

const CONNECT_TIMEOUT_MS = 10_000;

/** The search path of every sqs2pg session. `SET LOCAL search_path TO DEFAULT` gives a transaction the role's own. */
export const PINNED_SEARCH_PATH = 'pg_catalog, pg_temp';

/** The server asked for a password and none was given (not in the URL, not in PGPASSWORD). */
class MissingPasswordError extends Error {
  readonly code = 'password_missing';
  constructor() {
    super('the server asks for a password and none was given');
    this.name = 'MissingPasswordError';
  }
}

/**
 * pg leaves the socket of a connection that failed during start-up open (a missing or refused
 * password): the process then waits for the server's authentication_timeout, 60 s by default.
 * This client closes it at once, and says plainly when the password is missing.
 */
class FailFastClient extends pg.Client {
  constructor(config?: pg.ClientConfig) {
    super(config);
    const self = this as unknown as { password: unknown };
    // pg calls a password function only when the server asks for a password.
    if (self.password === null || self.password === undefined || self.password === '') {
      self.password = () => Promise.reject(new MissingPasswordError());
    }
  }

  override connect(): Promise<pg.Client>;
  override connect(callback: (err: Error) => void): void;
  override connect(callback?: (err: Error) => void): Promise<pg.Client> | void {
    const closeOnFailure = (error: unknown) => {
      if (error) (this as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    };
    if (callback) {
      super.connect((error: Error) => {
        closeOnFailure(error);
        callback(error);
      });
      return;
    }
    return super.connect().catch((error: unknown) => {
      closeOnFailure(error);
      throw error;
    });
  }
}

export function createPool(databaseUrl: string, max: number): pg.Pool {
  const pool = new pg.Pool({
    Client: FailFastClient,
    connectionString: libpqSslModes(databaseUrl),
    max,
    application_name: 'sqs2pg',
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    keepAlive: true,
    // A connection is handed out only once its search path is pinned; a failure ends it and fails the
    // checkout. A SET, not a startup option, so that the role's own path stays the session's default,
    // which user-logins.ts and migrate ask for. pg-pool runs this hook with its error listener on, and
    // waits for the promise it returns (its types say void).
    // eslint-disable-next-line @typescript-eslint/no-misused-promises
    onConnect: (client) => client.query(`SET search_path = ${PINNED_SEARCH_PATH}`),
  });
  // An idle connection that dies (server restart) must not crash the process: the next query
  // on the pool opens a new one, and the writer's retry loop handles the failure it sees.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * DATABASE_URL is libpq's form, so sslmode means what libpq says (require: encrypted, certificate
 * not verified; verify-full: verified). pg's own reading of require is verify-full, and it prints
 * a multi-line warning about that to stderr; asking for libpq's meaning settles both.
 */
function libpqSslModes(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    if (!url.searchParams.has('sslmode') || url.searchParams.has('uselibpqcompat')) return databaseUrl;
    url.searchParams.set('uselibpqcompat', 'true');
    return url.toString();
  } catch {
    return databaseUrl;
  }
}

/** Where a URL points, without its credentials: host:port/database. */
export function describeDatabase(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    return `${url.hostname || 'localhost'}:${url.port || '5432'}${url.pathname || '/'}`;
  } catch {
    return '(unparseable URL)';
  }
}

/** Why a connection failed and what to do, as "cause); action" halves for one line. */
export function explainConnectFailure(error: unknown, databaseUrl: string): { cause: string; action: string } {
  const { code, message } = errorFields(error);
  let url: URL | undefined;
  try {
    url = new URL(databaseUrl);
  } catch {
    url = undefined;
  }
  const host = url?.hostname || 'localhost';
  const user = url?.username ? decodeURIComponent(url.username) : 'the default user';
  const sslmode = url?.searchParams.get('sslmode');
  if (error instanceof MissingPasswordError) {
    return {
      cause: 'the server asks for a password and DATABASE_URL has none',
      action: 'put it in DATABASE_URL (postgres://user:password@host:port/database) or set PGPASSWORD',
    };
  }
  if (code === '28P01') return { cause: `the server refused the password for ${user}`, action: 'check the user and password in DATABASE_URL' };
  if (code === '28000' && /no encryption/i.test(message)) {
    return { cause: 'the server accepts only encrypted (TLS) connections', action: 'add ?sslmode=require (or verify-full, with sslrootcert) to DATABASE_URL' };
  }
  if (code === '28000') return { cause: describeError(error), action: "check the user in DATABASE_URL and the server's pg_hba.conf" };
  if (/does not support SSL/i.test(message)) {
    return { cause: `the server does not offer TLS, and DATABASE_URL asks for it (sslmode=${sslmode ?? 'require'})`, action: 'use sslmode=disable or prefer, or turn TLS on at the server' };
  }
  if (code === '3D000') return { cause: describeError(error), action: 'create the database, or fix its name in DATABASE_URL' };
  if (code === 'ECONNREFUSED') {
    return { cause: `connection refused (ECONNREFUSED): nothing listens on ${host}:${url?.port || '5432'}`, action: "check DATABASE_URL's host and port, and that the server is running" };
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return { cause: `the host name ${host} does not resolve (DNS ${code})`, action: "check DATABASE_URL's host name" };
  }
  if (code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || /timeout expired|connection timeout/i.test(message)) {
    return {
      cause: code === 'EHOSTUNREACH' || code === 'ENETUNREACH' ? `no route to ${host} (${code})` : `no answer from ${host} within ${CONNECT_TIMEOUT_MS / 1000} s`,
      action: "check DATABASE_URL's host and port, and any firewall between here and the server",
    };
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
    return {
      cause: `the server's TLS certificate was not accepted (${code})`,
      action: 'give its CA with sslrootcert=/path/ca.pem in DATABASE_URL, or use sslmode=require to encrypt without verifying',
    };
  }
  return { cause: describeError(error), action: 'check DATABASE_URL and that the server is running and reachable from here' };
}

function errorFields(error: unknown): { code: string; message: string } {
  if (error instanceof AggregateError && error.errors.length > 0) return errorFields(error.errors[0]);
  if (typeof error !== 'object' || error === null) return { code: '', message: String(error) };
  const { code, message, cause } = error as { code?: unknown; message?: unknown; cause?: unknown };
  // pg wraps a connection timeout around the socket's own error.
  if (typeof code !== 'string' && cause !== undefined) {
    const inner = errorFields(cause);
    if (inner.code) return { code: inner.code, message: `${String(message)} ${inner.message}` };
  }
  return { code: typeof code === 'string' ? code : '', message: typeof message === 'string' ? message : '' };
}

export async function assertReachable(pool: pg.Pool, databaseUrl: string): Promise<void> {
  try {
    await pool.query('SELECT 1');
  } catch (error) {
    const { cause, action } = explainConnectFailure(error, databaseUrl);
    throw new ConnectError('db_unreachable', `cannot connect to PostgreSQL at ${describeDatabase(databaseUrl)} (${cause}); ${action}`, error);
  }
}
