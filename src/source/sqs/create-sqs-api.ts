// The SqsApi the pipeline uses: one SDK client per protocol, opened when first needed, behind
// the protocol choice (--sqs-protocol). Over JSON the hot calls take the lean path unless
// --sqs-client sdk. A switch of protocol is reported once, as an event.
import type { Emit } from '../../observability/events.js';
import { describeAnswer, installAnswerCheck } from './answer-check.js';
import { ProtocolChoice, type SqsProtocolSetting } from './auto-protocol.js';
import { createSqsClient, type SqsClientOptions } from './client.js';
import { LeanSqsApi } from './lean-api.js';
import { SdkSqsApi } from './sdk-api.js';
import type { SqsApi } from './sqs-api.js';

export type SqsClientSetting = 'lean' | 'sdk';

export interface SqsApiOptions {
  protocol: SqsProtocolSetting;
  /** the hot calls' client over JSON (default lean); the query protocol is always the SDK's */
  sqsClient?: SqsClientSetting | undefined;
  /** where the calls go (endpoint or queue URL origin), for messages */
  target: string;
  client: Omit<SqsClientOptions, 'protocol'>;
  emit: Emit;
}

export function createSqsApi(options: SqsApiOptions): SqsApi {
  // Answers are checked only until a protocol has worked: afterwards a stray HTML error page
  // from a proxy is just a failed call, retried as any other.
  let checking = true;
  return new ProtocolChoice({
    setting: options.protocol,
    target: options.target,
    open(protocol) {
      const client = createSqsClient({ ...options.client, protocol });
      installAnswerCheck(client, protocol, () => checking);
      const sdk = new SdkSqsApi(client, protocol);
      if (protocol === 'query' || options.sqsClient === 'sdk') return sdk;
      return new LeanSqsApi({
        client,
        sdk,
        endpoint: options.client.endpoint ?? new URL(options.client.queueUrl).origin,
        maxSockets: options.client.maxSockets,
        receiveWaitSec: options.client.receiveWaitSec,
        checkingAnswers: () => checking,
      });
    },
    onChosen(protocol, refused) {
      checking = false;
      const first = refused[0];
      if (first !== undefined) {
        options.emit('source:protocolSwitched', { from: first.protocol, to: protocol, answer: describeAnswer(first.answer) });
      }
    },
  });
}
