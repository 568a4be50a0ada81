// The protocol choice, on stand-in APIs: which protocol each call goes to, when the choice is
// made and reported, and what is said when no protocol works.
import { describe, expect, it } from 'vitest';
import { SqsProtocolError } from '../../../src/errors.js';
import { ForeignAnswerError, type ForeignAnswer } from '../../../src/source/sqs/answer-check.js';
import { ProtocolChoice, refusalOf, type Refusal, type SqsProtocolSetting } from '../../../src/source/sqs/auto-protocol.js';
import type { QueueAttributeName, SqsApi, SqsProtocol } from '../../../src/source/sqs/sqs-api.js';

const XML_500: ForeignAnswer = { status: 500, format: 'xml', code: 'InternalError', message: 'Operation detection failed.' };
const HTML_404: ForeignAnswer = { status: 404, format: 'html', code: undefined, message: undefined };
const JSON_400: ForeignAnswer = { status: 400, format: 'json', code: 'InvalidAction', message: undefined };

/** An SqsApi whose queueAttributes answers with `behaviour`, counting calls. */
function fakeApi(behaviour: () => Promise<Partial<Record<QueueAttributeName, string>>>): SqsApi & { calls: number; destroyed: boolean } {
  const api = {
    calls: 0,
    destroyed: false,
    queueAttributes: () => {
      api.calls += 1;
      return behaviour();
    },
    receive: () => Promise.resolve([]),
    deleteBatch: () => Promise.resolve([]),
    changeVisibilityBatch: () => Promise.resolve([]),
    listQueues: () => Promise.resolve([]),
    destroy: () => {
      api.destroyed = true;
    },
  };
  return api;
}

const ok = () => Promise.resolve({ ApproximateNumberOfMessages: '3' });
const refuse = (protocol: SqsProtocol, answer: ForeignAnswer) => () => Promise.reject(new ForeignAnswerError(protocol, answer));

function choice(setting: SqsProtocolSetting, apis: Partial<Record<SqsProtocol, SqsApi>>) {
  const chosen: [SqsProtocol, readonly Refusal[]][] = [];
  const opened: SqsProtocol[] = [];
  const api = new ProtocolChoice({
    setting,
    target: 'http://localhost:4566',
    open(protocol) {
      opened.push(protocol);
      const opened_ = apis[protocol];
      if (!opened_) throw new Error(`${protocol} must not be opened`);
      return opened_;
    },
    onChosen: (protocol, refused) => void chosen.push([protocol, refused]),
  });
  const depth = () => api.queueAttributes('http://localhost:4566/0/q', ['ApproximateNumberOfMessages'], AbortSignal.timeout(1000));
  return { api, depth, chosen, opened };
}

describe('ProtocolChoice', () => {
  it('auto: stays on JSON when JSON answers, and never opens the query client', async () => {
    const json = fakeApi(ok);
    const { depth, chosen, opened } = choice('auto', { json });
    await expect(depth()).resolves.toEqual({ ApproximateNumberOfMessages: '3' });
    await depth();
    expect(chosen).toEqual([['json', []]]);
    expect(opened).toEqual(['json']);
    expect(json.calls).toBe(2);
  });

  it('auto: switches to query for the rest of the run when JSON is answered in XML, and reports it once', async () => {
    const json = fakeApi(refuse('json', XML_500));
    const query = fakeApi(ok);
    const { api, depth, chosen } = choice('auto', { json, query });
    await expect(depth()).resolves.toEqual({ ApproximateNumberOfMessages: '3' });
    await depth();
    await depth();
    expect(chosen).toEqual([['query', [{ protocol: 'json', answer: XML_500 }]]]);
    expect([json.calls, query.calls]).toEqual([1, 3]);
    api.destroy();
    expect([json.destroyed, query.destroyed]).toEqual([true, true]);
  });

  it('auto: concurrent first calls report the switch once', async () => {
    const json = fakeApi(refuse('json', XML_500));
    const query = fakeApi(ok);
    const { depth, chosen } = choice('auto', { json, query });
    await Promise.all([depth(), depth(), depth()]);
    expect(chosen).toHaveLength(1);
    await depth();
    expect(json.calls).toBe(3);
  });

  it('auto: a network error decides nothing and is thrown as it is', async () => {
    let fail = true;
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const json = fakeApi(() => (fail ? Promise.reject(reset) : ok()));
    const { depth, chosen, opened } = choice('auto', { json });
    await expect(depth()).rejects.toBe(reset);
    expect(chosen).toEqual([]);
    fail = false;
    await depth();
    expect(chosen).toEqual([['json', []]]);
    expect(opened).toEqual(['json']);
  });

  it('auto: a query-protocol error to the query request (after XML to JSON) is thrown as it is', async () => {
    const missing = Object.assign(new Error('The specified queue does not exist.'), { name: 'QueueDoesNotExist' });
    const json = fakeApi(refuse('json', XML_500));
    const query = fakeApi(() => Promise.reject(missing));
    const { depth, chosen } = choice('auto', { json, query });
    await expect(depth()).rejects.toBe(missing);
    expect(chosen).toEqual([]);
  });

  it('auto: when neither protocol works, one line with both answers and what to do', async () => {
    const json = fakeApi(refuse('json', HTML_404));
    const query = fakeApi(refuse('query', HTML_404));
    const { depth } = choice('auto', { json, query });
    const error = await depth().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SqsProtocolError);
    expect(error).toMatchObject({ code: 'sqs_protocol', exitCode: 3 });
    expect((error as Error).message).toBe(
      'the SQS endpoint http://localhost:4566 speaks neither SQS protocol: a JSON request got an HTML page (HTTP 404), ' +
        'a query-protocol request got an HTML page (HTTP 404); check that SQS_QUEUE_URL and AWS_ENDPOINT_URL_SQS point at SQS or LocalStack (its edge port is 4566)',
    );
  });

  it.each([
    ['json', XML_500, 'speaks only the older query protocol (as LocalStack before 3.0 does): a JSON request got XML (HTTP 500, InternalError: Operation detection failed.); run with --sqs-protocol auto (the default) or query'],
    ['query', JSON_400, 'speaks only the JSON protocol: a query-protocol request got JSON (HTTP 400, InvalidAction); run with --sqs-protocol auto (the default) or json'],
    ['json', HTML_404, 'is not SQS: a JSON request got an HTML page (HTTP 404); check that SQS_QUEUE_URL'],
  ] as const)('--sqs-protocol %s refused with %j: says what to do', async (setting, answer, text) => {
    const api = fakeApi(refuse(setting, answer));
    const { depth, opened } = choice(setting, { [setting]: api });
    await expect(depth()).rejects.toThrow(text);
    expect(opened).toEqual([setting]);
  });
});

describe('refusalOf', () => {
  it('reads a query-protocol server naming a request it cannot route', () => {
    const error = Object.assign(new Error('Unknown action: GetQueueAttributes'), { name: 'InvalidAction', $metadata: { httpStatusCode: 400 } });
    expect(refusalOf(error)).toEqual({ status: 400, format: 'xml', code: 'InvalidAction', message: 'Unknown action: GetQueueAttributes' });
  });

  it.each([
    Object.assign(new Error('nope'), { name: 'QueueDoesNotExist' }),
    Object.assign(new Error('reset'), { code: 'ECONNRESET' }),
    'a string',
    null,
  ])('is undefined for %j', (error) => {
    expect(refusalOf(error)).toBeUndefined();
  });
});
