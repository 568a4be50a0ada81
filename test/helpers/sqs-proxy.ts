// Fault-injecting HTTP proxy that sits between the sqs2pg worker and a real SQS-protocol server.
// Integration tests use it to make chosen SQS operations fail (500, partial batch failure, reset, delay).
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type SqsOperation = string; // e.g. 'DeleteMessageBatch', 'ReceiveMessage'

export interface FaultRule {
  /** operation name from x-amz-target (after 'AmazonSQS.'); '*' matches every operation */
  operation: SqsOperation;
  /**
   * - 'http500': answer 500 InternalError without forwarding.
   * - 'failEntries': answer 200 with every request Entry in `Failed` without forwarding, so the
   *   server state is untouched and the caller sees a total partial failure. Requests without
   *   `Entries` are forwarded unharmed.
   * - 'reset': destroy the client socket without answering.
   * - 'delay': wait `delayMs`, then forward (dropped if the client disconnected meanwhile).
   */
  action: 'http500' | 'failEntries' | 'reset' | 'delay';
  delayMs?: number;
  /** fraction 0..1 of matching calls affected (default 1) */
  probability?: number;
}

export interface SqsProxy {
  readonly endpoint: string; // http://127.0.0.1:<port>
  setRules(rules: FaultRule[]): void;
  /** calls seen per operation, and how many were faulted */
  counts(): Record<string, { seen: number; faulted: number }>;
  /** closes the server and every open socket */
  close(): Promise<void>;
}

export interface SqsProxyOptions {
  /** seed for the probability rolls, so a flaky-looking run can be replayed (default 1) */
  seed?: number;
}

const TARGET_PREFIX = 'AmazonSQS.';
const JSON_CONTENT_TYPE = 'application/x-amz-json-1.0';

// Connection-scoped headers must not leak across the two independent connections.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

// mulberry32: tiny deterministic PRNG; reproducible fault patterns beat Math.random in CI.
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function copyHeaders(source: http.IncomingHttpHeaders, bodyLength: number): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(source)) {
    if (value === undefined || HOP_BY_HOP.has(name) || name === 'content-length') continue;
    out[name] = value;
  }
  // The body is fully buffered, so an exact length is always known and chunking is never needed.
  out['content-length'] = String(bodyLength);
  return out;
}

function readBody(stream: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
    // A peer that vanishes mid-body never emits 'end'; without this the handler would hang forever.
    stream.on('close', () => reject(new Error('stream closed before end')));
  });
}

function sendJson(res: http.ServerResponse, status: number, payload: unknown, extra: http.OutgoingHttpHeaders = {}): void {
  const body = Buffer.from(JSON.stringify(payload));
  res.writeHead(status, {
    'content-type': JSON_CONTENT_TYPE,
    'content-length': String(body.length),
    'x-amzn-requestid': `injected-${Date.now()}`,
    ...extra,
  });
  res.end(body);
}

function entryIds(body: Buffer): string[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const entries: unknown = (parsed as { Entries?: unknown }).Entries;
  if (!Array.isArray(entries)) return undefined;
  return entries.map((entry: unknown) => {
    const id: unknown = typeof entry === 'object' && entry !== null ? (entry as { Id?: unknown }).Id : undefined;
    return typeof id === 'string' ? id : '';
  });
}

export async function startSqsProxy(targetEndpoint: string, options: SqsProxyOptions = {}): Promise<SqsProxy> {
  const target = new URL(targetEndpoint);
  const random = seededRandom(options.seed ?? 1);
  const upstreamAgent = new http.Agent({ keepAlive: true });
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const tally = new Map<string, { seen: number; faulted: number }>();
  let rules: FaultRule[] = [];
  let closed = false;

  function pickFault(operation: string): FaultRule | undefined {
    const rule = rules.find((r) => r.operation === operation || r.operation === '*');
    if (rule === undefined) return undefined;
    return random() < (rule.probability ?? 1) ? rule : undefined;
  }

  function forward(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
    const upstream = http.request(
      {
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        // Host is kept as the client sent it because SigV4 signed it.
        headers: copyHeaders(req.headers, body.length),
        agent: upstreamAgent,
      },
      (upstreamRes) => {
        readBody(upstreamRes).then(
          (resBody) => {
            if (res.destroyed) return;
            res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, copyHeaders(upstreamRes.headers, resBody.length));
            res.end(resBody);
          },
          () => res.destroy(),
        );
      },
    );
    upstream.on('error', (err: Error) => {
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      // A 502 tells the test the target is broken, not that a fault was injected.
      sendJson(res, 502, { __type: 'com.amazonaws.sqs#BadGateway', message: `sqs-proxy upstream: ${err.message}` });
    });
    upstream.end(body);
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    const header = req.headers['x-amz-target'];
    const operation = typeof header === 'string' && header.startsWith(TARGET_PREFIX) ? header.slice(TARGET_PREFIX.length) : undefined;
    if (operation === undefined) {
      forward(req, res, body);
      return;
    }

    const count = tally.get(operation) ?? { seen: 0, faulted: 0 };
    tally.set(operation, count);
    count.seen += 1;

    const rule = pickFault(operation);
    const ids = rule?.action === 'failEntries' ? entryIds(body) : undefined;
    if (rule === undefined || (rule.action === 'failEntries' && ids === undefined)) {
      forward(req, res, body);
      return;
    }
    count.faulted += 1;

    switch (rule.action) {
      case 'http500':
        sendJson(
          res,
          500,
          { __type: 'com.amazonaws.sqs#InternalError', message: 'injected' },
          { 'x-amzn-query-error': 'InternalError;Receiver' },
        );
        return;
      case 'failEntries':
        sendJson(res, 200, {
          Successful: [],
          Failed: (ids ?? []).map((Id) => ({ Id, SenderFault: false, Code: 'InternalError', Message: 'injected' })),
        });
        return;
      case 'reset':
        // RST rather than FIN so the client sees ECONNRESET, as with a crashed load balancer.
        req.socket.resetAndDestroy();
        return;
      case 'delay': {
        const timer = setTimeout(() => {
          timers.delete(timer);
          // A client that timed out meanwhile never sent this call as far as it knows; keep it so.
          if (!closed && !res.destroyed && !req.socket.destroyed) forward(req, res, body);
        }, rule.delayMs ?? 0);
        timers.add(timer);
        return;
      }
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    setRules(next: FaultRule[]): void {
      rules = [...next];
    },
    counts(): Record<string, { seen: number; faulted: number }> {
      const snapshot: Record<string, { seen: number; faulted: number }> = {};
      for (const [operation, count] of tally) snapshot[operation] = { ...count };
      return snapshot;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      // server.close() alone would wait for idle keep-alive clients to time out.
      for (const socket of sockets) socket.destroy();
      upstreamAgent.destroy();
      await stopped;
    },
  };
}
