// The operator's HTTP port (node:http, no framework): GET /metrics for Prometheus, /healthz (the
// process is alive and its event loop turns) and /readyz (see health.ts). Nothing else is served.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, describeError } from '../errors.js';
import type { ReadinessReport } from './health.js';

export interface HttpServer {
  /** e.g. http://127.0.0.1:9464 */
  url: string;
  close(): Promise<void>;
}

export interface HttpServerOptions {
  host: string;
  port: number;
  /** a worker's metrics, or a supervisor's aggregated over its workers */
  metrics: { contentType: string; render(): Promise<string> };
  readiness: { report(): Promise<Pick<ReadinessReport, 'ready'>> };
}

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const server = createServer((req, res) => {
    route(req, res, options).catch((error: unknown) => send(res, 500, 'text/plain', `error: ${describeError(error)}\n`));
  });
  // Probes and scrapes are short: do not let a stuck client hold a socket for long.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;
  await listen(server, options.host, options.port);
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function route(req: IncomingMessage, res: ServerResponse, options: HttpServerOptions): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'only GET\n');
  switch (path) {
    case '/metrics':
      return send(res, 200, options.metrics.contentType, await options.metrics.render());
    case '/healthz':
      return send(res, 200, 'text/plain', 'ok\n');
    case '/readyz': {
      const report = await options.readiness.report();
      return send(res, report.ready ? 200 : 503, 'application/json', `${JSON.stringify(report)}\n`);
    }
    default:
      return send(res, 404, 'text/plain', 'not found: try /metrics, /healthz or /readyz\n');
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error) => {
      reject(
        new ConfigError(
          `cannot serve metrics and health on ${host}:${port} (${describeError(error)}); set --http-port (SQS2PG_HTTP_PORT) to a free port, --http-host (SQS2PG_HTTP_HOST) to an address of this host, or the port to 0 to turn the server off`,
        ),
      );
    });
    server.listen(port, host, () => resolve());
  });
}
