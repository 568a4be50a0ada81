// A TCP relay that holds every chunk a client sends for a fixed delay before passing it on, as a
// round trip to AWS would (about 15 ms): with it, concurrency decides throughput rather than CPU.
// It does not parse HTTP, so it costs the machine little CPU, as the network to AWS costs the
// host none; answers go back at once. Prints {"endpoint": ...}; runs until SIGTERM.
import net, { type AddressInfo, type Socket } from 'node:net';

const [target = '', delayText = '15'] = process.argv.slice(2);
const delayMs = Number(delayText);
const upstream = new URL(target);
const sockets = new Set<Socket>();

const server = net.createServer((client) => {
  const relay = net.connect({ host: upstream.hostname, port: Number(upstream.port) });
  for (const socket of [client, relay]) {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => {
      client.destroy();
      relay.destroy();
    });
    socket.on('close', () => {
      sockets.delete(socket);
      client.destroy();
      relay.destroy();
    });
  }
  // Timers of one duration fire in the order they were set, so the bytes keep their order.
  client.on('data', (chunk: Buffer) => setTimeout(() => relay.write(chunk), delayMs));
  client.on('end', () => setTimeout(() => relay.end(), delayMs));
  relay.pipe(client);
});
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
});
process.on('SIGTERM', () => {
  for (const socket of sockets) socket.destroy();
  server.close(() => process.exit(0));
});
