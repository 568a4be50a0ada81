// Sends one AWS JSON 1.0 call to SQS the short way: the body signed with the SDK's own SigV4
// signer and credentials (so refresh, profiles, SSO and IRSA behave as in the SDK), on undici's
// keep-alive pool, the answer read with a byte bound, and failed calls retried as the SDK's
// standard retry strategy does (3 attempts; throttling, 5xx, network errors; jittered backoff; a
// retry quota shared by every call, so a failing SQS is not sent three calls for each one).
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { IncomingHttpHeaders } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import { foreignAnswer, ForeignAnswerError } from './answer-check.js';
import type { BudgetReader, ByteBudget } from './byte-budget.js';
import { errorFromAnswer, type LeanOperation } from './json-wire.js';
import { RequestSigner } from './request-signer.js';

export interface LeanTransportOptions {
  /** http(s)://host[:port][/path] the calls go to */
  endpoint: string;
  /** the SDK client's own, resolved: its region, credential chain (with refresh) and hash */
  region: SQSClient['config']['region'];
  credentials: SQSClient['config']['credentials'];
  sha256: SQSClient['config']['sha256'];
  maxSockets: number;
  /** the longest long poll, so answers are not cut short */
  receiveWaitSec: number;
  /** while true, an answer in another protocol (XML, HTML) is a ForeignAnswerError, for the protocol choice */
  checkingAnswers: () => boolean;
}

/** The answer was larger than any SQS answer to this call can be: the endpoint is not (plain) SQS. */
/**
 * An answer's bytes counted into a byte budget while it streams in: `bytes` is what this call holds
 * of the budget now (an attempt that fails gives its bytes back at once); the caller gives the rest
 * back once it has turned the answer into what it keeps.
 */
export interface CountedAnswer {
  budget: ByteBudget;
  bytes: number;
}

export class AnswerTooLargeError extends Error {
  readonly code = 'AnswerTooLarge';
  constructor(operation: LeanOperation, limit: number) {
    super(`the ${operation} answer is larger than ${limit} bytes, more than SQS can send for it; check SQS_QUEUE_URL and AWS_ENDPOINT_URL_SQS`);
    this.name = 'AnswerTooLargeError';
  }
}

// What an answer's bytes cost by the time it is parsed, counted as they arrive: the answer's bytes
// (past its first MiB, copied into one buffer as they come, each chunk garbage at once), then the
// bodies decoded straight from them (json-bytes.ts), a byte of body string for each byte of answer at
// most. The answer is never one string, nor (past its first MiB) chunks and their concatenation at
// once, which cost four times its bytes.
export const ANSWER_COST_FACTOR = 2;
/** Answers up to this size are gathered as chunks and joined at the end; beyond, into one buffer. */
const JOIN_MAX_BYTES = 1024 * 1024;

const MAX_ATTEMPTS = 3;
// The SDK's standard strategy as @aws-sdk/client-sqs 3.1175 has it (@smithy/core's retries-2026
// config): full jitter over base × 2^retry, a longer base when throttled; a quota of 500 tokens,
// a retry takes 14 (5 when throttled), a success gives back what its retry took, or 1.
const RETRY_BASE_MS = 50;
const THROTTLING_BASE_MS = 1_000;
const RETRY_MAX_MS = 20_000;
const QUOTA_TOKENS = 500;
const RETRY_COST = 14;
const THROTTLING_RETRY_COST = 5;
const SUCCESS_TOKENS = 1;
const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'TransactionInProgressException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'LimitExceededException',
  'RequestThrottled',
  'SlowDown',
  'PriorRequestNotComplete',
  'EC2ThrottledException',
]);
const TRANSIENT_STATUS = new Set([500, 502, 503, 504]);
const TRANSIENT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT']);

export class LeanTransport {
  private readonly pool: Pool;
  private readonly signer: RequestSigner;
  private readonly path: string;
  private readonly stops = new StopFanOut();
  private quota = QUOTA_TOKENS;

  constructor(private readonly options: LeanTransportOptions) {
    const url = new URL(options.endpoint);
    this.path = url.pathname || '/';
    const timeoutMs = (options.receiveWaitSec + 10) * 1_000;
    this.pool = new Pool(url.origin, {
      connections: options.maxSockets,
      connectTimeout: 5_000,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      keepAliveTimeout: 30_000,
    });
    this.signer = new RequestSigner({ url, region: options.region, credentials: options.credentials, sha256: options.sha256 });
  }

  /** Sends `body` as `operation`, retrying what the SDK retries; resolves to a 2xx answer's bytes. */
  async call(operation: LeanOperation, body: string, maxAnswerBytes: number, signal: AbortSignal, counted?: CountedAnswer): Promise<Buffer> {
    if (signal.aborted) throw abortError(signal.reason);
    const stop = this.stops.follow(signal);
    let retryCost: number | undefined;
    try {
      for (let retries = 0; ; retries++) {
        try {
          const answer = await this.once(operation, body, maxAnswerBytes, stop, counted);
          this.quota = Math.min(QUOTA_TOKENS, this.quota + (retryCost ?? SUCCESS_TOKENS));
          return answer;
        } catch (error) {
          if (stop.stopped) throw abortError(stop.reason);
          const retry = retryClass(error);
          if (retry === undefined || retries + 1 >= MAX_ATTEMPTS) throw error;
          retryCost = retry === 'throttling' ? THROTTLING_RETRY_COST : RETRY_COST;
          if (this.quota < retryCost) throw error;
          this.quota -= retryCost;
          const base = retry === 'throttling' ? THROTTLING_BASE_MS : RETRY_BASE_MS;
          await sleep(Math.floor(Math.random() * Math.min(RETRY_MAX_MS, base * 2 ** retries)), stop);
        }
      }
    } finally {
      this.stops.unfollow(signal, stop);
    }
  }

  /** Retry tokens left (for tests): 500 when nothing has failed lately. */
  get retryQuota(): number {
    return this.quota;
  }

  close(): void {
    void this.pool.destroy().catch(() => undefined);
  }

  private async once(operation: LeanOperation, body: string, maxAnswerBytes: number, stop: CallStop, counted: CountedAnswer | undefined): Promise<Buffer> {
    const headers = await this.signer.headers(operation, body);
    const answer = await exchange(this.pool, { method: 'POST', path: this.path, headers, body }, operation, maxAnswerBytes, stop, counted).catch(
      (error: unknown) => {
        // The failed attempt's chunks are garbage now: a retry counts its own.
        if (counted) {
          counted.budget.returnAnswer(counted.bytes);
          counted.bytes = 0;
        }
        throw error;
      },
    );
    const { status, bytes } = answer;
    const contentType = header(answer.headers['content-type']);
    if (this.options.checkingAnswers() && !(status >= 200 && status < 300 && /json/i.test(contentType ?? ''))) {
      const foreign = foreignAnswer('json', status, bytes.toString('utf8', 0, 4096));
      if (foreign !== undefined) throw new ForeignAnswerError('json', foreign);
    }
    if (status >= 200 && status < 300) return bytes;
    throw errorFromAnswer(status, header(answer.headers['x-amzn-query-error']), bytes.toString('utf8'));
  }
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  bytes: Buffer;
}

/**
 * One request on the pool, its answer gathered straight from the socket's chunks (no stream per
 * call) and refused, its socket closed, once it passes `limit` bytes. Past its first MiB, and once
 * the budget lets it go on, an answer with a Content-Length (SQS always sends one) is copied into one
 * buffer of that size, chunk by chunk as they arrive, so the chunks are garbage at once and a large
 * answer is never held twice (chunks and their concatenation). Not sooner: answers waiting for their
 * turn would each hold a buffer of up to 10 MiB that, untouched, costs no memory but is reported as
 * if it did (process.memoryUsage, V8's external memory). With `counted`, every chunk is counted into
 * the budget as it arrives, and reading pauses while the budget says so.
 */
function exchange(
  pool: Pool,
  request: { method: 'POST'; path: string; headers: Record<string, string>; body: string },
  operation: LeanOperation,
  limit: number,
  stop: CallStop,
  counted: CountedAnswer | undefined,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let headers: IncomingHttpHeaders = {};
    /** the answer past its first MiB, allocated at its Content-Length; its pages touched only as bytes arrive */
    let whole: Buffer | undefined;
    let length = Number.NaN;
    let chunks: Buffer[] = [];
    let bytes = 0;
    let controller: Dispatcher.DispatchController | undefined;
    // Resumed on a later microtask: a budget may hand on from inside another answer's callback,
    // while undici is still parsing that answer's socket.
    const reader: BudgetReader = { resume: () => queueMicrotask(() => controller?.resume()) };
    stop.onStop = (reason) => controller?.abort(abortError(reason));
    const settle = (error: Error | undefined, answer?: Answer) => {
      stop.onStop = undefined;
      counted?.budget.finished(reader);
      if (answer) resolve(answer);
      else if (error) reject(error instanceof AnswerTooLargeError || error.name === 'AbortError' ? error : sdkShaped(error));
    };
    pool.dispatch(request, {
      onRequestStart(started) {
        controller = started;
        if (stop.stopped) started.abort(abortError(stop.reason));
      },
      onResponseStart(started, statusCode, answerHeaders) {
        status = statusCode;
        headers = answerHeaders;
        length = Number(header(answerHeaders['content-length']) ?? Number.NaN);
        if (length > limit) started.abort(new AnswerTooLargeError(operation, limit));
      },
      onResponseData(started, chunk) {
        bytes += chunk.length;
        if (bytes > limit) {
          started.abort(new AnswerTooLargeError(operation, limit));
          return;
        }
        if (whole === undefined) chunks.push(chunk);
        else if (bytes <= whole.length) chunk.copy(whole, bytes - chunk.length);
        else {
          started.abort(new Error(`the ${operation} answer is longer than its Content-Length`));
          return;
        }
        if (counted) {
          const cost = ANSWER_COST_FACTOR * chunk.length;
          counted.bytes += cost;
          if (!counted.budget.take(reader, cost)) {
            started.pause();
            return;
          }
        }
        if (whole === undefined && bytes > JOIN_MAX_BYTES && Number.isSafeInteger(length) && length >= bytes) {
          whole = Buffer.allocUnsafe(length);
          let at = 0;
          for (const piece of chunks) at += piece.copy(whole, at);
          chunks = [];
        }
      },
      onResponseEnd() {
        // An answer of one chunk (most: ten small bodies) is that chunk, not a copy of it.
        const answer = whole !== undefined ? whole.subarray(0, bytes) : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bytes);
        settle(undefined, { status, headers, bytes: answer });
      },
      onResponseError(_controller, error) {
        settle(error);
      },
    });
  });
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** 'throttling' or 'transient' when the SDK's standard strategy retries this error; else undefined. */
export function retryClass(error: unknown): 'throttling' | 'transient' | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { name, code, Code, $metadata } = error as { name?: unknown; code?: unknown; Code?: unknown; $metadata?: { httpStatusCode?: unknown } };
  const status = typeof $metadata?.httpStatusCode === 'number' ? $metadata.httpStatusCode : undefined;
  if (status === 429 || THROTTLING.has(String(name)) || THROTTLING.has(String(Code))) return 'throttling';
  if (status !== undefined && TRANSIENT_STATUS.has(status)) return 'transient';
  if (TRANSIENT_NAMES.has(String(name)) || NETWORK_CODES.has(String(code))) return 'transient';
  return undefined;
}

/** undici's own error names, as the SDK's handler reports the same failures (so codes and metrics match). */
function sdkShaped(error: Error): Error {
  const { code } = error as { code?: unknown };
  // The SDK's handler names a reset socket TimeoutError, with the socket's code.
  if (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET') {
    const reset = Object.assign(new Error('socket hang up', { cause: error }), { code: 'ECONNRESET' });
    reset.name = 'TimeoutError';
    return reset;
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    const timeout = new Error('the SQS call got no answer in time', { cause: error });
    timeout.name = 'TimeoutError';
    return timeout;
  }
  if (code === 'UND_ERR_ABORTED') return abortError();
  return error;
}

/** The caller's stop as the SDK reports it; a deadline (AbortSignal.timeout) as the timeout it is. */
function abortError(reason?: unknown): Error {
  const timedOut = reason instanceof Error && reason.name === 'TimeoutError';
  const error = new Error(timedOut ? 'the SQS call got no answer within its time limit' : 'Request aborted');
  error.name = timedOut ? 'TimeoutError' : 'AbortError';
  return error;
}

/** One call's view of its caller's signal: cheaper than an AbortController and a listener per call. */
interface CallStop {
  stopped: boolean;
  reason?: unknown;
  /** what the call is waiting on (an exchange, a backoff) and how to end it */
  onStop?: (reason: unknown) => void;
}

/**
 * One listener per caller's signal, however many calls share it (every poller shares the
 * pipeline's stop signal): a listener per call would pass Node's limit of ten and warn.
 */
class StopFanOut {
  private readonly followers = new WeakMap<AbortSignal, Set<CallStop>>();

  follow(signal: AbortSignal): CallStop {
    const stop: CallStop = { stopped: false };
    let set = this.followers.get(signal);
    if (set === undefined) {
      const followers = new Set<CallStop>();
      set = followers;
      this.followers.set(signal, followers);
      signal.addEventListener('abort', () => {
        for (const follower of followers) {
          follower.stopped = true;
          follower.reason = signal.reason;
          follower.onStop?.(signal.reason);
        }
      }, { once: true });
    }
    set.add(stop);
    return stop;
  }

  unfollow(signal: AbortSignal, stop: CallStop): void {
    this.followers.get(signal)?.delete(stop);
  }
}

function sleep(ms: number, stop: CallStop): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stop.stopped) return reject(abortError(stop.reason));
    const timer = setTimeout(() => {
      stop.onStop = undefined;
      resolve();
    }, ms);
    stop.onStop = (reason) => {
      clearTimeout(timer);
      reject(abortError(reason));
    };
  });
}
