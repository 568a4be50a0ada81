// Picks the SQS wire protocol on the first answer: JSON first and, with `auto`, the older query
// protocol when the endpoint answers JSON in XML (LocalStack before 3.0, ElasticMQ before JSON
// support). Once a protocol has worked it is kept for the run; if none does, one actionable error.
import { SqsProtocolError } from '../../errors.js';
import { describeAnswer, ForeignAnswerError, type ForeignAnswer } from './answer-check.js';
import type { ByteBudget } from './byte-budget.js';
import type {
  BatchEntry,
  BatchEntryFailure,
  QueueAttributeName,
  ReceivedMessage,
  ReceiveRequest,
  SqsApi,
  SqsProtocol,
} from './sqs-api.js';

export type SqsProtocolSetting = 'auto' | SqsProtocol;

export interface ProtocolChoiceOptions {
  setting: SqsProtocolSetting;
  /** where the calls go (endpoint or queue URL origin), for messages */
  target: string;
  /** opens the API for one protocol; called at most once per protocol */
  open(protocol: SqsProtocol): SqsApi;
  /** a protocol has answered properly: `refused` holds the answers of the ones tried before it */
  onChosen(protocol: SqsProtocol, refused: readonly Refusal[]): void;
}

export interface Refusal {
  protocol: SqsProtocol;
  answer: ForeignAnswer;
}

// Query-protocol servers name a request they cannot route so; a JSON server never does.
const QUERY_REFUSAL_CODES = new Set(['MissingAction', 'InvalidAction']);

export class ProtocolChoice implements SqsApi {
  private chosen: SqsProtocol | undefined;
  private readonly opened = new Map<SqsProtocol, SqsApi>();
  private readonly candidates: readonly SqsProtocol[];

  constructor(private readonly options: ProtocolChoiceOptions) {
    this.candidates = options.setting === 'auto' ? ['json', 'query'] : [options.setting];
  }

  /** The chosen protocol's client's; false until one is chosen (the caller then reserves). */
  get countsAnswerBytes(): boolean {
    return this.chosen !== undefined && this.opened.get(this.chosen)?.countsAnswerBytes === true;
  }

  receive(request: ReceiveRequest, signal: AbortSignal, budget?: ByteBudget): Promise<ReceivedMessage[]> {
    return this.call((api) => api.receive(request, signal, api.countsAnswerBytes === true ? budget : undefined));
  }

  deleteBatch(queueUrl: string, entries: readonly BatchEntry[], signal: AbortSignal): Promise<BatchEntryFailure[]> {
    return this.call((api) => api.deleteBatch(queueUrl, entries, signal));
  }

  changeVisibilityBatch(
    queueUrl: string,
    entries: readonly BatchEntry[],
    visibilityTimeoutSec: number,
    signal: AbortSignal,
  ): Promise<BatchEntryFailure[]> {
    return this.call((api) => api.changeVisibilityBatch(queueUrl, entries, visibilityTimeoutSec, signal));
  }

  queueAttributes(
    queueUrl: string,
    names: readonly QueueAttributeName[],
    signal: AbortSignal,
  ): Promise<Partial<Record<QueueAttributeName, string>>> {
    return this.call((api) => api.queueAttributes(queueUrl, names, signal));
  }

  listQueues(max: number, signal: AbortSignal, prefix?: string): Promise<string[]> {
    return this.call((api) => api.listQueues(max, signal, prefix));
  }

  destroy(): void {
    for (const api of this.opened.values()) api.destroy();
  }

  private api(protocol: SqsProtocol): SqsApi {
    let api = this.opened.get(protocol);
    if (api === undefined) {
      api = this.options.open(protocol);
      this.opened.set(protocol, api);
    }
    return api;
  }

  /**
   * Until a protocol has answered properly, tries each candidate in turn; an answer in another
   * protocol moves on to the next, any other failure (a network error, a missing queue) is
   * thrown as it is and decides nothing.
   */
  private async call<T>(operation: (api: SqsApi) => Promise<T>): Promise<T> {
    if (this.chosen !== undefined) return operation(this.api(this.chosen));
    const refused: Refusal[] = [];
    for (const protocol of this.candidates) {
      try {
        const result = await operation(this.api(protocol));
        this.choose(protocol, refused);
        return result;
      } catch (error) {
        const answer = refusalOf(error);
        if (answer === undefined) throw error;
        refused.push({ protocol, answer });
        // A concurrent call may have found the protocol meanwhile.
        if (this.chosen !== undefined) return operation(this.api(this.chosen));
      }
    }
    throw new SqsProtocolError(refusedMessage(this.options.setting, this.options.target, refused));
  }

  private choose(protocol: SqsProtocol, refused: readonly Refusal[]): void {
    if (this.chosen !== undefined) return;
    this.chosen = protocol;
    this.options.onChosen(protocol, refused);
  }
}

/** The answer, when `error` says the endpoint does not speak the protocol of the request. */
export function refusalOf(error: unknown): ForeignAnswer | undefined {
  if (error instanceof ForeignAnswerError) return error.answer;
  if (typeof error !== 'object' || error === null) return undefined;
  const { name, message, $metadata } = error as { name?: unknown; message?: unknown; $metadata?: { httpStatusCode?: number } };
  if (typeof name !== 'string' || !QUERY_REFUSAL_CODES.has(name)) return undefined;
  return {
    status: $metadata?.httpStatusCode ?? 0,
    format: 'xml',
    code: name,
    message: typeof message === 'string' ? message.replace(/\s+/g, ' ').slice(0, 120) : undefined,
  };
}

/** One line: what the endpoint answered to each protocol tried, and what to do. */
export function refusedMessage(setting: SqsProtocolSetting, target: string, refused: readonly Refusal[]): string {
  const checkUrls = 'check that SQS_QUEUE_URL and AWS_ENDPOINT_URL_SQS point at SQS or LocalStack (its edge port is 4566)';
  const got = (refusal: Refusal) => `a ${refusal.protocol === 'json' ? 'JSON' : 'query-protocol'} request got ${describeAnswer(refusal.answer)}`;
  if (setting === 'auto' || refused.length !== 1) {
    return `the SQS endpoint ${target} speaks neither SQS protocol: ${refused.map(got).join(', ')}; ${checkUrls}`;
  }
  const [refusal] = refused as [Refusal];
  if (refusal.answer.format === 'html') {
    return `the SQS endpoint ${target} is not SQS: ${got(refusal)}; ${checkUrls}`;
  }
  const other: SqsProtocol = refusal.protocol === 'json' ? 'query' : 'json';
  const speaks = other === 'query' ? 'only the older query protocol (as LocalStack before 3.0 does)' : 'only the JSON protocol';
  return `the SQS endpoint ${target} speaks ${speaks}: ${got(refusal)}; run with --sqs-protocol auto (the default) or ${other}`;
}
