// The SqsApi the pipeline uses: one SDK client per protocol, opened when first needed, behind
// the protocol choice (--sqs-protocol). A switch of protocol is reported once, as an event.
import type { Emit } from '../../observability/events.js';
import { describeAnswer, installAnswerCheck } from './answer-check.js';
import { ProtocolChoice, type SqsProtocolSetting } from './auto-protocol.js';
import { createSqsClient, type SqsClientOptions } from './client.js';
import { SdkSqsApi } from './sdk-api.js';
import type { SqsApi } from './sqs-api.js';

export interface SqsApiOptions {
  protocol: SqsProtocolSetting;
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
      return new SdkSqsApi(client, protocol);
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
