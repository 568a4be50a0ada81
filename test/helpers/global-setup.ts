// Starts what the integration tests talk to, once per `npm test`: a real PostgreSQL (the one
// DATABASE_URL names, or an embedded one in a temporary folder) and a real SQS-protocol server.
import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    const postgres = await startEmbeddedPostgres({ dataDir, persistent: false, fast: true });
    stops.push(() => postgres.stop());
    adminDatabaseUrl = postgres.url;
  }
  const sqs = await startEmbeddedSqs();
  stops.push(() => sqs.stop());
  project.provide('adminDatabaseUrl', adminDatabaseUrl);
  project.provide('sqsEndpoint', sqs.endpoint);
  return async () => {
    for (const stop of stops.reverse()) await stop();
  };
}
