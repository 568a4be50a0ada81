// The envelope step: what each mode unwraps, keys and dates; what it refuses, and that a refused or
// unwrapped-then-refused body keeps nothing of the event in clear (its values masked, its keys hidden).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ENVELOPE_FIELD_NAMES, unwrapEnvelope, type EnvelopeMode } from '../../../src/transform/envelope.js';
import { createMasker } from '../../../src/transform/mask.js';
import { messageToRow, messageToVaultedRow } from '../../../src/transform/message-to-row.js';
import type { InboundMessage, LoginRow, Outcome, Rejection } from '../../../src/model/message.js';
import { FIELD_NAMES, hostileBody } from '../../security/hostile-keys.js';

const masker = createMasker(Buffer.alloc(32, 7), 'k1');
const SENT_AT = Date.UTC(2024, 0, 15, 12, 0, 0);
const SNS_ID = '6b0e6a4c-2d53-5bd1-9a3f-2c1e7b0d9f11';
const EB_ID = '0f3c2a9e-7d61-4b2e-8c55-3a1d9e7f6b20';
const EVENT = {
  user_id: 'user-7f3a',
  app_version: '2.3.0',
  device_type: 'android',
  ip: '199.172.111.135',
  locale: 'RU',
  device_id: 'Pixel7-of-alice',
};

function sns(event: unknown, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    Type: 'Notification',
    MessageId: SNS_ID,
    TopicArn: 'arn:aws:sns:us-east-1:000000000000:logins',
    Subject: null,
    Message: typeof event === 'string' ? event : JSON.stringify(event),
    Timestamp: '2026-03-04T23:59:58.123Z',
    SignatureVersion: '1',
    Signature: 'EXAMPLE',
    SigningCertURL: 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem',
    UnsubscribeURL: 'https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe',
    MessageAttributes: {},
    ...overrides,
  };
}

function eventBridge(detail: unknown, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: '0',
    id: EB_ID,
    'detail-type': 'UserLoggedIn',
    source: 'com.example.auth',
    account: '000000000000',
    time: '2026-05-06T00:00:01Z',
    region: 'us-east-1',
    resources: [],
    detail,
    ...overrides,
  };
}

function message(body: unknown, messageId = 'sqs-1'): InboundMessage {
  return { messageId, body: typeof body === 'string' ? body : JSON.stringify(body), sentAtMs: SENT_AT, receiveCount: 2 };
}

function rowOf(outcome: Outcome): LoginRow {
  if (outcome.kind !== 'row') throw new Error(`expected a row, got ${JSON.stringify(outcome)}`);
  return outcome.row;
}

function rejectionOf(outcome: Outcome): Rejection {
  if (outcome.kind !== 'rejected') throw new Error(`expected a rejection, got ${JSON.stringify(outcome)}`);
  return outcome.rejection;
}

/** Every path segment of a stored shape is a field name (the event's or AWS's envelope's), `<n chars>` or `[i]`; entries hold no value. */
function shapeLeaks(shapeText: string): string | undefined {
  const shape = JSON.parse(shapeText) as { json: boolean; entries?: { path: string; type: string; length: number }[] };
  if (!shape.json) return undefined;
  const shown = new Set<string>([...FIELD_NAMES, ...ENVELOPE_FIELD_NAMES]);
  for (const entry of shape.entries ?? []) {
    if (Object.keys(entry).sort().join(',') !== 'length,path,type') return `entry ${JSON.stringify(entry)}`;
    if (entry.path === '$') continue;
    for (const segment of entry.path.replace(/\[\d+\]/g, '').split('.')) {
      if (segment !== '' && !shown.has(segment) && !/^<\d+ chars>$/.test(segment)) return `segment ${segment}`;
    }
  }
  return undefined;
}

describe('unwrapEnvelope', () => {
  it.each<[string, unknown, EnvelopeMode, unknown]>([
    ['an SNS Notification, auto', sns(EVENT), 'auto', { kind: 'event', envelope: 'sns', key: `sns:${SNS_ID}`, timeMs: Date.UTC(2026, 2, 4, 23, 59, 58, 123) }],
    ['an SNS Notification, sns', sns(EVENT), 'sns', { kind: 'event', envelope: 'sns' }],
    ['an EventBridge event, auto', eventBridge(EVENT), 'auto', { kind: 'event', envelope: 'eventbridge', key: `eventbridge:${EB_ID}`, timeMs: Date.UTC(2026, 4, 6, 0, 0, 1) }],
    ['an EventBridge event, eventbridge', eventBridge(EVENT), 'eventbridge', { kind: 'event', envelope: 'eventbridge' }],
    // EventBridge rule -> SNS topic -> queue: the event's own id and time, not the notification's.
    ['an EventBridge event inside an SNS Notification, auto', sns(eventBridge(EVENT)), 'auto', { kind: 'event', envelope: 'eventbridge', key: `eventbridge:${EB_ID}` }],
    ['a plain event, auto', EVENT, 'auto', { kind: 'plain' }],
    ['an SNS Notification, none', sns(EVENT), 'none', { kind: 'plain' }],
    ['an upper-case id: one key for either case', sns(EVENT, { MessageId: SNS_ID.toUpperCase() }), 'auto', { key: `sns:${SNS_ID}` }],
    ['a time with microseconds and an offset', eventBridge(EVENT, { time: '2026-05-06T01:30:00.123456+02:00' }), 'auto', { timeMs: Date.UTC(2026, 4, 5, 23, 30, 0, 123) }],
  ])('%s', (_name, value, mode, expected) => {
    expect(unwrapEnvelope(value, mode)).toMatchObject(expected as object);
  });

  it.each<[string, unknown, EnvelopeMode, string | null]>([
    ['a plain event where SNS is required', EVENT, 'sns', 'Type'],
    ['a plain event where EventBridge is required', EVENT, 'eventbridge', 'detail-type'],
    ['an array where SNS is required', [sns(EVENT)], 'sns', null],
    ['an EventBridge event where SNS is required', eventBridge(EVENT), 'sns', 'Type'],
    ['a SubscriptionConfirmation (cross-account subscription)', sns(EVENT, { Type: 'SubscriptionConfirmation' }), 'auto', 'Type'],
    ['an SNS MessageId that is not a UUID', sns(EVENT, { MessageId: 'alice@example.com' }), 'auto', 'MessageId'],
    ['an SNS MessageId missing', sns(EVENT, { MessageId: undefined }), 'auto', 'MessageId'],
    ['a TopicArn that is not an ARN', sns(EVENT, { TopicArn: 'logins' }), 'auto', 'TopicArn'],
    ['a Message that is an object', sns(EVENT, { Message: EVENT }), 'auto', 'Message'],
    ['a Timestamp that is not ISO 8601', sns(EVENT, { Timestamp: 'yesterday' }), 'auto', 'Timestamp'],
    ['a Timestamp without a zone', sns(EVENT, { Timestamp: '2026-03-04T23:59:58' }), 'auto', 'Timestamp'],
    ['a Timestamp in year 0 (no PostgreSQL date)', sns(EVENT, { Timestamp: '0000-01-01T00:00:00Z' }), 'auto', 'Timestamp'],
    ['a month 13', eventBridge(EVENT, { time: '2026-13-01T00:00:00Z' }), 'auto', 'time'],
    ['an EventBridge version that is a number', eventBridge(EVENT, { version: 0 }), 'auto', 'version'],
    ['an EventBridge id with spaces', eventBridge(EVENT, { id: 'user 42 logged in' }), 'auto', 'id'],
    ['an EventBridge source missing', eventBridge(EVENT, { source: undefined }), 'auto', 'source'],
    ['an EventBridge detail that is text', eventBridge(JSON.stringify(EVENT)), 'auto', 'detail'],
    ['an EventBridge detail that is an array', eventBridge([EVENT]), 'eventbridge', 'detail'],
    ['a bad EventBridge event inside an SNS Notification', sns(eventBridge(EVENT, { time: 'now' })), 'auto', 'time'],
  ])('refuses %s', (_name, value, mode, field) => {
    const parsed: unknown = JSON.parse(JSON.stringify(value));
    expect(unwrapEnvelope(parsed, mode)).toMatchObject({ kind: 'bad', field });
  });

  it('leaves an SNS Message that is not JSON to the event parser', () => {
    expect(unwrapEnvelope(sns('user_id=alice'), 'auto')).toMatchObject({ kind: 'event', event: undefined });
  });

  it('unwraps two layers at most: an SNS Notification inside another is the event', () => {
    expect(unwrapEnvelope(sns(sns(EVENT)), 'auto')).toMatchObject({ kind: 'event', envelope: 'sns', event: { value: { Type: 'Notification' } } });
  });
});

describe('messageToRow with envelopes', () => {
  it('keys an unwrapped event by the envelope id and dates it by the envelope time', () => {
    const row = rowOf(messageToRow(message(sns(EVENT)), masker, { envelope: 'auto' }));
    const plain = rowOf(messageToRow(message(EVENT), masker, { envelope: 'auto' }));
    expect(row).toEqual({ ...plain, messageId: `sns:${SNS_ID}`, createDate: '2026-03-04', sentAtMs: Date.parse('2026-03-04T23:59:58.123Z') });
    expect(rowOf(messageToRow(message(eventBridge(EVENT)), masker, { envelope: 'eventbridge' }))).toEqual({
      ...plain,
      messageId: `eventbridge:${EB_ID}`,
      createDate: '2026-05-06',
      sentAtMs: Date.parse('2026-05-06T00:00:01Z'),
    });
  });

  it('makes one row of two SQS copies of one notification (SNS delivers at least once)', () => {
    const first = messageToRow(message(sns(EVENT), 'sqs-a'), masker, { envelope: 'auto' });
    const second = messageToRow(message({ ...sns(EVENT), UnsubscribeURL: 'https://elsewhere' }, 'sqs-b'), masker, { envelope: 'auto' });
    expect(second).toEqual(first);
  });

  it('takes a plain body as it is in auto: the same outcome as none', () => {
    for (const body of [EVENT, { ...EVENT, ip: 'nope' }, '{"foo": "oops_wrong_msg_type", "bar": "123"}', 'not json']) {
      expect(messageToRow(message(body), masker, { envelope: 'auto' })).toEqual(messageToRow(message(body), masker, { envelope: 'none' }));
    }
  });

  it('refuses a body without the required envelope as bad_envelope, under the SQS id', () => {
    for (const body of [EVENT, 'not json at all']) {
      const rejection = rejectionOf(messageToRow(message(body), masker, { envelope: 'sns' }));
      expect(rejection).toMatchObject({ messageId: 'sqs-1', reason: 'bad_envelope', detail: 'sns', sentAtMs: SENT_AT });
    }
  });

  it('records an unwrapped event that is refused under the envelope key and time, its values masked, nothing in clear', () => {
    const body = JSON.stringify(sns({ ...EVENT, ip: '10.0.0.1', app_version: 'v-two', 'alice@example.com': 1 }));
    const rejection = rejectionOf(messageToRow(message(body), masker, { envelope: 'auto' }));
    expect(rejection).toMatchObject({
      messageId: `sns:${SNS_ID}`,
      reason: 'bad_app_version',
      field: 'app_version',
      detail: 'sns',
      sentAtMs: Date.UTC(2026, 2, 4, 23, 59, 58, 123),
      userKey: masker.userKey(EVENT.user_id),
    });
    expect(rejection.body!.maskedIps).toEqual([masker.mask('ip', '10.0.0.1')]);
    expect(rejection.body!.maskedDeviceIds).toEqual([masker.mask('device_id', EVENT.device_id)]);
    // The whole body as received is what is hashed (and, vault on, sealed).
    expect(rejection.body!.bytes).toBe(Buffer.byteLength(body));
    const text = JSON.stringify(rejection);
    for (const value of [EVENT.user_id, '10.0.0.1', EVENT.device_id, 'alice@example.com', 'v-two']) expect(text).not.toContain(value);
    expect(shapeLeaks(rejection.body!.shape)).toBeUndefined();
    expect(rejection.body!.shape).toContain('"path":"Message.app_version"');
  });

  it('masks what a malformed envelope holds too, and keeps its user key', () => {
    const rejection = rejectionOf(messageToRow(message(sns(EVENT, { Timestamp: 'soon' })), masker, { envelope: 'auto' }));
    expect(rejection).toMatchObject({ messageId: 'sqs-1', reason: 'bad_envelope', field: 'Timestamp', userKey: masker.userKey(EVENT.user_id) });
    expect(rejection.body!.maskedIps).toEqual([masker.mask('ip', EVENT.ip)]);
    expect(JSON.stringify(rejection)).not.toContain(EVENT.device_id);
    // An SNS Message that is not JSON: its keyed values are still read from the text.
    const text = rejectionOf(messageToRow(message(sns(`{'ip': '${EVENT.ip}', 'device_id': '${EVENT.device_id}'`)), masker, { envelope: 'auto' }));
    expect(text).toMatchObject({ messageId: `sns:${SNS_ID}`, reason: 'not_json', detail: 'sns' });
    expect(text.body!.maskedIps).toEqual([masker.mask('ip', EVENT.ip)]);
    expect(JSON.stringify(text)).not.toContain(EVENT.device_id);
  });

  it('vaults the originals of an unwrapped row as of a plain one', () => {
    const { outcome, originals } = messageToVaultedRow(message(eventBridge(EVENT)), masker, { envelope: 'auto' });
    expect(rowOf(outcome).messageId).toBe(`eventbridge:${EB_ID}`);
    expect(originals.map((o) => o.value).sort()).toEqual([EVENT.device_id, EVENT.ip].sort());
  });
});

describe('hostile bodies inside envelopes (fast-check)', () => {
  const wrappings: ((body: string) => string)[] = [
    (body) => JSON.stringify(sns(body)),
    (body) => JSON.stringify(sns(body, { Timestamp: 'never' })),
    (body) => {
      try {
        return JSON.stringify(eventBridge(JSON.parse(body)));
      } catch {
        return JSON.stringify(eventBridge({ note: body }));
      }
    },
    (body) => {
      try {
        return JSON.stringify(sns(eventBridge(JSON.parse(body))));
      } catch {
        return JSON.stringify(sns(body));
      }
    },
  ];

  it('a planted key or value is never in the record, and the shape shows only field names', () => {
    fc.assert(
      fc.property(hostileBody, fc.nat(wrappings.length - 1), fc.constantFrom<EnvelopeMode>('auto', 'sns', 'eventbridge', 'none'), ({ body, secret }, which, mode) => {
        const outcome = messageToRow(message(wrappings[which]!(body)), masker, { envelope: mode });
        if (outcome.kind !== 'rejected') return;
        expect(JSON.stringify(outcome.rejection)).not.toContain(secret);
        expect(shapeLeaks(outcome.rejection.body!.shape)).toBeUndefined();
      }),
      { numRuns: 2_000 },
    );
  });

  it('any JSON inside any envelope: never throws, and a row only from a valid event', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.nat(wrappings.length - 1), (value, which) => {
        const outcome = messageToRow(message(wrappings[which]!(JSON.stringify(value))), masker, { envelope: 'auto' });
        expect(outcome.kind).toBe('rejected');
      }),
      { numRuns: 1_000 },
    );
  });

  it('bounds: a 60 KiB Message nested 20,000 deep costs one more parse and a bounded record', () => {
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    const rejection = rejectionOf(messageToRow(message(sns(deep)), masker, { envelope: 'auto' }));
    expect(rejection.reason).toBe('not_object');
    expect(rejection.body!.shape.length).toBeLessThan(8_000);
    const huge = rejectionOf(messageToRow(message(sns('x'.repeat(70 * 1024))), masker, { envelope: 'sns' }));
    expect(huge).toMatchObject({ reason: 'too_large', messageId: 'sqs-1' });
  });
});
