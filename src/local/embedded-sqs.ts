// The embedded SQS-protocol server (fauxqs) for the zero-setup demo, `sqs2pg local` and the tests,
// bound to 127.0.0.1 only. fauxqs names its queues http://sqs.REGION.localhost:PORT/…, a host that
// does not resolve, and finds a queue by that whole URL: with `loopbackQueueUrls` it answers with
// URLs on 127.0.0.1 instead, and takes a queue URL on any host of this port, so a URL it prints
// works as printed, in any SQS client.
import type { AddressInfo } from 'node:net';
import { Sqs2pgError } from '../errors.js';

export interface EmbeddedSqs {
  endpoint: string;
  stop(): Promise<void>;
}

export interface EmbeddedSqsOptions {
  /** answer with queue URLs on 127.0.0.1:PORT, and accept them (demo, local) */
  loopbackQueueUrls?: boolean;
  /** the port to listen on; 0 or absent: any free one */
  port?: number;
}

export async function startEmbeddedSqs(options: EmbeddedSqsOptions = {}): Promise<EmbeddedSqs> {
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
  if (options.loopbackQueueUrls) {
    // fauxqs's own name of each queue, by its path (/ACCOUNT/NAME), learnt from its answers.
    const ownUrls = new Map<string, string>();
    const fauxqsUrl = /http:\/\/sqs\.[a-z0-9-]+\.localhost:\d+(\/\d+\/[\w.-]+)/g;
    app.addHook('preHandler', (request, _reply, done) => {
      const body = request.body as { QueueUrl?: unknown } | undefined;
      if (typeof body?.QueueUrl === 'string') {
        const own = ownUrls.get(pathOf(body.QueueUrl));
        if (own !== undefined) body.QueueUrl = own;
      }
      done();
    });
    app.addHook('onSend', (_request, _reply, payload, done) => {
      if (typeof payload !== 'string') return done(null, payload);
      const { port } = app.server.address() as AddressInfo;
      done(
        null,
        payload.replace(fauxqsUrl, (url, path: string) => {
          ownUrls.set(path, url);
          return `http://127.0.0.1:${port}${path}`;
        }),
      );
    });
  }
  await app.listen({ port: options.port ?? 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, stop: () => app.close() };
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}
