// The embedded SQS-protocol server (fauxqs) for the zero-setup demo and the tests, bound to
// 127.0.0.1 only. Its queue URLs name a host that does not resolve: clients use `endpoint`.
import type { AddressInfo } from 'node:net';
import { Sqs2pgError } from '../errors.js';

export interface EmbeddedSqs {
  endpoint: string;
  stop(): Promise<void>;
}

export async function startEmbeddedSqs(): Promise<EmbeddedSqs> {
  let fauxqs: typeof import('fauxqs');
  try {
    fauxqs = await import('fauxqs');
  } catch {
    throw new Sqs2pgError(
      'embedded_unavailable',
      'the embedded SQS server (optional dependency fauxqs) is not installed; run "npm ci" without --omit=optional, or use "sqs2pg run" against a real queue',
      3,
    );
  }
  // buildApp + listen, not startFauxqs: that one binds every interface.
  const app = fauxqs.buildApp({ logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, stop: () => app.close() };
}
