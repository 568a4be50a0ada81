#!/usr/bin/env node
// The container image's HEALTHCHECK (the image has no curl): GET /healthz on this worker's own
// HTTP port, as the environment configures it; exit 0 when it answers 200, 1 otherwise.
import { settings } from './config/schema.js';

const env = process.env;
const port = settings.httpPort.schema.safeParse(env.SQS2PG_HTTP_PORT || settings.httpPort.default);
const bound = env.SQS2PG_HTTP_HOST || settings.httpHost.default || '127.0.0.1';
// A wildcard bind answers on loopback; a specific address only on itself.
const host = bound === '0.0.0.0' || bound === '::' ? '127.0.0.1' : bound.includes(':') ? `[${bound}]` : bound;

if (!port.success || port.data === 0) {
  console.error('sqs2pg healthcheck: SQS2PG_HTTP_PORT is 0 or invalid, so there is no /healthz to ask; set it to the port the worker serves');
  process.exit(1);
}
try {
  const response = await fetch(`http://${host}:${port.data}/healthz`, { signal: AbortSignal.timeout(4_000) });
  process.exit(response.ok ? 0 : 1);
} catch (error) {
  console.error(`sqs2pg healthcheck: http://${host}:${port.data}/healthz did not answer (${error instanceof Error ? error.message : String(error)})`);
  process.exit(1);
}
