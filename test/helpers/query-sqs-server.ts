// local-aws-sqs on 127.0.0.1: an SQS-protocol server that speaks the query (XML) protocol as
// well as JSON, for the tests that need the query protocol. Its quirks: it polls every 10 ms,
// counts in-flight messages as visible, and does not escape < and & in XML message bodies.
import type { AddressInfo } from 'node:net';
import { createSqsServer } from 'local-aws-sqs';

export interface QuerySqsServer {
  endpoint: string;
  stop(): Promise<void>;
}

export async function startQuerySqsServer(): Promise<QuerySqsServer> {
  const server = await createSqsServer({ port: 0, hostname: '127.0.0.1', emulateQueueCreationLifecycle: false });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Idle keep-alive sockets of the test's clients would hold close() open.
        server.closeAllConnections();
      }),
  };
}
