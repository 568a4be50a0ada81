// A TCP proxy that can cut a server off and bring it back, for outage tests: while cut, open
// connections are reset and new ones are refused, as when the server's host goes away.
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** reset every connection and refuse new ones */
  cut(): Promise<void>;
  /** accept connections again, on the same port */
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const makeServer = () =>
    createServer((client) => {
      const upstream = connect(targetPort, targetHost);
      track(client);
      track(upstream);
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
  const listen = (server: Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        const address = server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  const closeServer = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));
  const resetAll = () => {
    for (const socket of sockets) socket.resetAndDestroy();
    sockets.clear();
  };

  let server: Server | undefined = makeServer();
  const port = await listen(server, 0);
  return {
    port,
    async cut() {
      if (!server) return;
      const closing = closeServer(server);
      server = undefined;
      resetAll();
      await closing;
    },
    async restore() {
      if (server) return;
      server = makeServer();
      await listen(server, port);
    },
    async close() {
      resetAll();
      if (server) await closeServer(server);
      server = undefined;
    },
  };
}
