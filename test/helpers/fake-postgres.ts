// A server that speaks just enough of PostgreSQL's start-up protocol to refuse a client in the
// ways real servers do: asking for a password (and then waiting, as a server does for its
// 60 s authentication_timeout), rejecting the password, or requiring TLS. Deterministic, unlike
// changing a shared server's pg_hba.conf.
import { createServer, type Server, type Socket } from 'node:net';

export type FakePostgresMode =
  /** asks for SCRAM-SHA-256 and waits for ever */
  | 'scram'
  /** asks for a cleartext password, then refuses it with 28P01 */
  | 'wrong-password'
  /** refuses TLS (answers an SSLRequest with N) and every connection without it with 28000 */
  | 'tls-required';

export interface FakePostgres {
  readonly port: number;
  /** connections accepted so far */
  connections(): number;
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;

function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

function int32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value);
  return buffer;
}

function errorResponse(code: string, text: string): Buffer {
  const fields = [`SFATAL`, `VFATAL`, `C${code}`, `M${text}`].map((field) => Buffer.from(`${field}\0`, 'utf8'));
  return message('E', Buffer.concat([...fields, Buffer.from('\0')]));
}

export async function startFakePostgres(mode: FakePostgresMode): Promise<FakePostgres> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = Buffer.alloc(0);
    let started = false;
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        // Start-up packets have no type byte; every later message has one.
        const offset = started ? 1 : 0;
        if (buffered.length < offset + 4) return;
        const length = buffered.readInt32BE(offset);
        if (buffered.length < offset + length) return;
        const packet = buffered.subarray(0, offset + length);
        buffered = buffered.subarray(offset + length);
        if (!started && packet.length >= 8 && packet.readInt32BE(4) === SSL_REQUEST) {
          socket.write('N');
          continue;
        }
        if (!started) {
          started = true;
          if (mode === 'scram') socket.write(message('R', Buffer.concat([int32(10), Buffer.from('SCRAM-SHA-256\0\0')])));
          else if (mode === 'wrong-password') socket.write(message('R', int32(3)));
          else socket.end(errorResponse('28000', 'no pg_hba.conf entry for host "127.0.0.1", user "u", database "d", no encryption'));
          continue;
        }
        if (mode === 'wrong-password' && packet[0] === 0x70 /* p */) {
          socket.end(errorResponse('28P01', 'password authentication failed for user "u"'));
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    connections: () => accepted,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
