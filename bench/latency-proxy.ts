// An HTTP proxy that adds a fixed delay to every call, as a round trip to AWS would (about 15 ms):
// with it, concurrency decides throughput rather than CPU. Prints {"endpoint": ...}; runs until SIGTERM.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const [target = '', delayText = '15'] = process.argv.slice(2);
const delayMs = Number(delayText);
const upstream = new URL(target);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    setTimeout(() => {
      const forward = http.request(
        { hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.destroy());
      forward.end(Buffer.concat(chunks));
    }, delayMs);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
