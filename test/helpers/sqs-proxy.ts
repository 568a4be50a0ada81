// Fault-injecting HTTP proxy that sits between the sqs2pg worker and a real SQS-protocol server.
// Integration and fault tests use it to make chosen SQS operations fail (500, throttling, partial
// batch failure, reset, delay before or after the server acts), in either SQS protocol (JSON, or
// the older query/XML one), or to refuse JSON the way a query-only LocalStack does.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type SqsOperation = string; // e.g. 'DeleteMessageBatch', 'ReceiveMessage'
export type SqsWireProtocol = 'json' | 'query';

export interface FaultRule {
  /**
   * operation name from x-amz-target (after 'AmazonSQS.') or, for a query-protocol call, its
   * Action; '*' matches every operation
   */
  operation: SqsOperation;
  /**
   * - 'http500': answer 500 InternalError without forwarding.
   * - 'throttle': answer 400 RequestThrottled without forwarding; the SDK classifies it as a
   *   throttling error and retries it (with its longer throttling backoff).
   * - 'failEntries': answer 200 with every request Entry in `Failed` without forwarding, so the
   *   server state is untouched and the caller sees a total partial failure.
   * - 'failSomeEntries': forward only the entries at even positions, then answer with the
   *   server's result for those plus the withheld ones (every odd position) in `Failed`.
   * - 'reset': destroy the client socket without answering.
   * - 'delay': wait `delayMs`, then forward (dropped if the client disconnected meanwhile).
   * - 'slowAnswer': forward at once, then hold the server's answer `delayMs` before sending it:
   *   the server has acted, the client only learns of it late (or never, if it gives up).
   * - 'dropAnswer': forward, then reset the client's socket instead of sending the server's answer:
   *   the server has acted (a receive has hidden its messages), the client sees a network error.
   *
   * - 'refuseJson': answer a JSON call as LocalStack before 3.0 does, without forwarding: HTTP 500
   *   with an XML InternalError ("Operation detection failed. Missing Action ..."), under the
   *   JSON content-type the request had. Query-protocol calls pass.
   *
   * - 'htmlPage': answer 502 with an HTML error page, as a load balancer in front of SQS does.
   * - 'badMd5': forward, then spoil the MD5OfBody of every message in the answer.
   * - 'oversized': answer 200 with a JSON ReceiveMessage answer of `bytes` bytes (default 4 MiB),
   *   streamed without a content-length, without forwarding.
   *
   * The entry actions apply only to calls with `Entries` (at least two for 'failSomeEntries');
   * for other calls the rule is skipped, as if it did not match. Query-protocol calls get the
   * same faults in XML, except 'failSomeEntries', which skips them.
   */
  action:
    | 'http500'
    | 'throttle'
    | 'failEntries'
    | 'failSomeEntries'
    | 'reset'
    | 'delay'
    | 'slowAnswer'
    | 'dropAnswer'
    | 'refuseJson'
    | 'htmlPage'
    | 'badMd5'
    | 'oversized';
  /** for 'oversized' */
  bytes?: number;
  /** for 'delay' and 'slowAnswer' (default 0) */
  delayMs?: number;
  /** with delayMs: each call waits a seeded-random time from delayMs to maxDelayMs */
  maxDelayMs?: number;
  /**
   * fraction 0..1 of matching calls affected (default 1). Every matching rule is rolled in
   * order and the first that hits applies, so several rules can each fault their own share.
   */
  probability?: number;
  /** the rule faults at most this many calls, then is skipped as if it did not match (default: no limit) */
  times?: number;
}

/** A call's request as the proxy received it (kept with the `recordRequests` option). */
export interface RecordedRequest {
  operation: string;
  protocol: SqsWireProtocol;
  /** the body as sent: JSON, or the query protocol's form */
  body: string;
  /** the fault applied to it, if any */
  fault: FaultRule['action'] | undefined;
}

export interface SqsProxy {
  readonly endpoint: string; // http://127.0.0.1:<port>
  setRules(rules: FaultRule[]): void;
  /** calls seen per operation, and how many were faulted */
  counts(): Record<string, { seen: number; faulted: number }>;
  /** calls seen per wire protocol, faulted ones included */
  callsByProtocol(): Record<SqsWireProtocol, number>;
  /** faults injected per action, e.g. { throttle: 12, reset: 9 } */
  faultsByAction(): Partial<Record<FaultRule['action'], number>>;
  /** the access key id of each signed call, in order (from its Authorization header) */
  accessKeyIds(): string[];
  /** with `recordRequests`: the requests of that operation, in the order they arrived */
  requests(operation: SqsOperation): RecordedRequest[];
  /** closes the server and every open socket */
  close(): Promise<void>;
}

export interface SqsProxyOptions {
  /** seed for the probability rolls, so a flaky-looking run can be replayed (default 1) */
  seed?: number;
  /** keep the request of every call, for requests() (off by default: bodies can be large) */
  recordRequests?: boolean;
}

const TARGET_PREFIX = 'AmazonSQS.';
const JSON_CONTENT_TYPE = 'application/x-amz-json-1.0';
const XML_NAMESPACE = 'http://queue.amazonaws.com/doc/2012-11-05/';

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

interface BatchRequest {
  request: Record<string, unknown>;
  entries: unknown[];
}

/** A call as the proxy sees it: which operation, in which protocol. */
interface Call {
  operation: string;
  protocol: SqsWireProtocol;
}

function identify(req: http.IncomingMessage, body: Buffer): Call | undefined {
  const header = req.headers['x-amz-target'];
  if (typeof header === 'string' && header.startsWith(TARGET_PREFIX)) {
    return { operation: header.slice(TARGET_PREFIX.length), protocol: 'json' };
  }
  if (!String(req.headers['content-type'] ?? '').includes('x-www-form-urlencoded')) return undefined;
  const action = new URLSearchParams(body.toString('utf8')).get('Action');
  return action ? { operation: action, protocol: 'query' } : undefined;
}

/** A query-protocol batch call's entries (`...RequestEntry.N.Id`), in order, as `{ Id }`. */
function queryBatchRequest(body: Buffer): BatchRequest | undefined {
  const ids: [number, string][] = [];
  for (const [key, value] of new URLSearchParams(body.toString('utf8'))) {
    const match = /^\w+Entry\.(\d+)\.Id$/.exec(key);
    if (match) ids.push([Number(match[1]), value]);
  }
  if (ids.length === 0) return undefined;
  ids.sort((a, b) => a[0] - b[0]);
  return { request: {}, entries: ids.map(([, Id]) => ({ Id })) };
}

/** The request's JSON with its `Entries` array, or undefined for a call without one. */
function batchRequest(body: Buffer): BatchRequest | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const entries: unknown = (parsed as { Entries?: unknown }).Entries;
  if (!Array.isArray(entries)) return undefined;
  return { request: parsed as Record<string, unknown>, entries };
}

function entryId(entry: unknown): string {
  const id: unknown = typeof entry === 'object' && entry !== null ? (entry as { Id?: unknown }).Id : undefined;
  return typeof id === 'string' ? id : '';
}

function injectedFailure(Id: string): { Id: string; SenderFault: false; Code: string; Message: string } {
  return { Id, SenderFault: false, Code: 'InternalError', Message: 'injected' };
}

/** Whether a rule can act on this call at all; one that cannot is skipped without a roll. */
function applies(rule: FaultRule, call: Call, batch: BatchRequest | undefined): boolean {
  if (rule.action === 'refuseJson') return call.protocol === 'json';
  if (rule.action === 'failEntries') return batch !== undefined;
  if (rule.action === 'failSomeEntries') return call.protocol === 'json' && batch !== undefined && batch.entries.length >= 2;
  return true;
}

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

function sendXml(res: http.ServerResponse, status: number, xml: string, contentType = 'text/xml'): void {
  const body = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${xml}`);
  res.writeHead(status, { 'content-type': contentType, 'content-length': String(body.length), 'x-amzn-requestid': `injected-${Date.now()}` });
  res.end(body);
}

function xmlError(type: 'Sender' | 'Receiver', code: string, message: string): string {
  return `<ErrorResponse xmlns="${XML_NAMESPACE}"><Error><Type>${type}</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message><Detail/></Error><RequestId>injected</RequestId></ErrorResponse>`;
}

function xmlBatchFailure(operation: string, entries: readonly unknown[]): string {
  const failed = entries
    .map((entry) => {
      const { Id, SenderFault, Code, Message } = injectedFailure(entryId(entry));
      return `<BatchResultErrorEntry><Id>${escapeXml(Id)}</Id><SenderFault>${SenderFault}</SenderFault><Code>${Code}</Code><Message>${Message}</Message></BatchResultErrorEntry>`;
    })
    .join('');
  return `<${operation}Response xmlns="${XML_NAMESPACE}"><${operation}Result>${failed}</${operation}Result><ResponseMetadata><RequestId>injected</RequestId></ResponseMetadata></${operation}Response>`;
}

interface Answer {
  status: number;
  statusMessage: string | undefined;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export async function startSqsProxy(targetEndpoint: string, options: SqsProxyOptions = {}): Promise<SqsProxy> {
  const target = new URL(targetEndpoint);
  const random = seededRandom(options.seed ?? 1);
  const upstreamAgent = new http.Agent({ keepAlive: true });
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const tally = new Map<string, { seen: number; faulted: number }>();
  const byProtocol: Record<SqsWireProtocol, number> = { json: 0, query: 0 };
  const byAction: Partial<Record<FaultRule['action'], number>> = {};
  let rules: FaultRule[] = [];
  /** calls each rule has faulted, for its `times` */
  let ruleHits = new Map<FaultRule, number>();
  const keyIds: string[] = [];
  const recorded: RecordedRequest[] = [];
  let closed = false;

  function pickFault(call: Call, batch: BatchRequest | undefined): FaultRule | undefined {
    for (const rule of rules) {
      if (rule.operation !== call.operation && rule.operation !== '*') continue;
      if (!applies(rule, call, batch)) continue;
      const hits = ruleHits.get(rule) ?? 0;
      if (rule.times !== undefined && hits >= rule.times) continue;
      if (random() < (rule.probability ?? 1)) {
        ruleHits.set(rule, hits + 1);
        return rule;
      }
    }
    return undefined;
  }

  function delayOf(rule: FaultRule): number {
    const min = rule.delayMs ?? 0;
    const max = Math.max(min, rule.maxDelayMs ?? min);
    return Math.round(min + random() * (max - min));
  }

  /** Runs `action` after `ms` unless the proxy closes or the client goes away first. */
  function later(req: http.IncomingMessage, res: http.ServerResponse, ms: number, action: () => void): void {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!closed && !res.destroyed && !req.socket.destroyed) action();
    }, ms);
    timers.add(timer);
  }

  function answer(res: http.ServerResponse, reply: Answer): void {
    if (res.destroyed) return;
    res.writeHead(reply.status, reply.statusMessage, copyHeaders(reply.headers, reply.body.length));
    res.end(reply.body);
  }

  /**
   * Sends the call to the server and its answer back, through `reply` when given (to rewrite
   * or hold it). The headers are copied as the client sent them: the SigV4 signature no longer
   * matches a rewritten body, which fauxqs does not check.
   */
  function forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: Buffer,
    reply: (answer: Answer) => void = (upstreamAnswer) => answer(res, upstreamAnswer),
  ): void {
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
            reply({ status: upstreamRes.statusCode ?? 502, statusMessage: upstreamRes.statusMessage, headers: upstreamRes.headers, body: resBody });
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
    const call = identify(req, body);
    if (call === undefined) {
      forward(req, res, body);
      return;
    }
    const { operation } = call;
    const json = call.protocol === 'json';
    byProtocol[call.protocol] += 1;
    const credential = /Credential=([^/,\s]+)\//.exec(String(req.headers.authorization ?? ''))?.[1];
    if (credential !== undefined) keyIds.push(credential);

    const count = tally.get(operation) ?? { seen: 0, faulted: 0 };
    tally.set(operation, count);
    count.seen += 1;

    const batch = json ? batchRequest(body) : queryBatchRequest(body);
    const rule = pickFault(call, batch);
    if (options.recordRequests) recorded.push({ ...call, body: body.toString('utf8'), fault: rule?.action });
    if (rule === undefined) {
      forward(req, res, body);
      return;
    }
    count.faulted += 1;
    byAction[rule.action] = (byAction[rule.action] ?? 0) + 1;

    switch (rule.action) {
      case 'refuseJson':
        sendXml(
          res,
          500,
          xmlError(
            'Receiver',
            'InternalError',
            'exception while calling sqs with unknown operation: Operation detection failed. Missing Action in request for query-protocol service ServiceModel(sqs).',
          ),
          JSON_CONTENT_TYPE,
        );
        return;
      case 'http500':
        if (!json) {
          sendXml(res, 500, xmlError('Receiver', 'InternalError', 'injected'));
          return;
        }
        sendJson(
          res,
          500,
          { __type: 'com.amazonaws.sqs#InternalError', message: 'injected' },
          { 'x-amzn-query-error': 'InternalError;Receiver' },
        );
        return;
      case 'throttle':
        if (!json) {
          // The SQS model gives RequestThrottled HTTP 403 in the query protocol.
          sendXml(res, 403, xmlError('Sender', 'RequestThrottled', 'injected'));
          return;
        }
        // Either signal alone makes the SDK raise RequestThrottled (the header wins when both
        // are present); send both, as a query-compatible JSON service does.
        sendJson(
          res,
          400,
          { __type: 'com.amazonaws.sqs#RequestThrottled', message: 'injected' },
          { 'x-amzn-query-error': 'RequestThrottled;Sender' },
        );
        return;
      case 'failEntries':
        if (!json) {
          sendXml(res, 200, xmlBatchFailure(operation, batch?.entries ?? []));
          return;
        }
        sendJson(res, 200, { Successful: [], Failed: (batch?.entries ?? []).map((entry) => injectedFailure(entryId(entry))) });
        return;
      case 'failSomeEntries': {
        const entries = batch?.entries ?? [];
        const kept = entries.filter((_, index) => index % 2 === 0);
        const withheld = entries.filter((_, index) => index % 2 === 1).map(entryId);
        const partial = Buffer.from(JSON.stringify({ ...batch?.request, Entries: kept }));
        forward(req, res, partial, (upstreamAnswer) => {
          if (upstreamAnswer.status !== 200) {
            // The whole call failed at the server: that answer already says more than ours would.
            answer(res, upstreamAnswer);
            return;
          }
          let result: { Successful?: unknown[]; Failed?: unknown[] };
          try {
            result = JSON.parse(upstreamAnswer.body.toString('utf8')) as typeof result;
          } catch {
            answer(res, upstreamAnswer);
            return;
          }
          const merged = Buffer.from(
            JSON.stringify({
              ...result,
              Successful: result.Successful ?? [],
              Failed: [...(result.Failed ?? []), ...withheld.map(injectedFailure)],
            }),
          );
          answer(res, { ...upstreamAnswer, body: merged });
        });
        return;
      }
      case 'htmlPage': {
        const page = Buffer.from('<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>');
        res.writeHead(502, { 'content-type': 'text/html', 'content-length': String(page.length) });
        res.end(page);
        return;
      }
      case 'badMd5':
        forward(req, res, body, (upstreamAnswer) => {
          let result: { Messages?: { MD5OfBody?: string }[] };
          try {
            result = JSON.parse(upstreamAnswer.body.toString('utf8')) as typeof result;
          } catch {
            answer(res, upstreamAnswer);
            return;
          }
          for (const message of result.Messages ?? []) message.MD5OfBody = '0'.repeat(32);
          answer(res, { ...upstreamAnswer, body: Buffer.from(JSON.stringify(result)) });
        });
        return;
      case 'oversized': {
        // Streamed in chunks, so a bounded reader must stop it by counting, not by content-length.
        res.writeHead(200, { 'content-type': JSON_CONTENT_TYPE });
        const total = rule.bytes ?? 4 * 1024 * 1024;
        const chunk = `{"MessageId":"m","ReceiptHandle":"r","Body":"${'x'.repeat(64 * 1024)}","MD5OfBody":"0"},`;
        res.write('{"Messages":[');
        let sent = 0;
        const more = (): void => {
          while (sent < total && !res.destroyed) {
            sent += chunk.length;
            if (!res.write(chunk)) {
              res.once('drain', more);
              return;
            }
          }
          if (!res.destroyed) res.end('{"MessageId":"m","ReceiptHandle":"r","Body":"","MD5OfBody":"d41d8cd98f00b204e9800998ecf8427e"}]}');
        };
        more();
        return;
      }
      case 'reset':
        // RST rather than FIN so the client sees ECONNRESET, as with a crashed load balancer.
        req.socket.resetAndDestroy();
        return;
      case 'delay':
        // A client that timed out meanwhile never sent this call as far as it knows; keep it so.
        later(req, res, delayOf(rule), () => forward(req, res, body));
        return;
      case 'dropAnswer':
        // RST once the server has answered: it acted, and the client never learns what it did.
        forward(req, res, body, () => req.socket.resetAndDestroy());
        return;
      case 'slowAnswer': {
        const holdMs = delayOf(rule);
        // The server acts now; an answer nobody waits for any more is dropped.
        forward(req, res, body, (upstreamAnswer) => later(req, res, holdMs, () => answer(res, upstreamAnswer)));
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
      ruleHits = new Map();
    },
    counts(): Record<string, { seen: number; faulted: number }> {
      const snapshot: Record<string, { seen: number; faulted: number }> = {};
      for (const [operation, count] of tally) snapshot[operation] = { ...count };
      return snapshot;
    },
    callsByProtocol() {
      return { ...byProtocol };
    },
    faultsByAction() {
      return { ...byAction };
    },
    accessKeyIds() {
      return [...keyIds];
    },
    requests(operation) {
      return recorded.filter((request) => request.operation === operation);
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
