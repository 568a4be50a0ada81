// Differential: the generic reader, given the logins spec, and the hand-written login path agree on
// every body: accept or refuse, the reason and the field, every value, mask, key and original.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compileEventReader } from '../../../src/transform/event-reader.js';
import { parseJson } from '../../../src/transform/login-event.js';
import { createMasker } from '../../../src/transform/mask.js';
import { messageToVaultedRow } from '../../../src/transform/message-to-row.js';
import type { InboundMessage } from '../../../src/model/message.js';
import { LOGINS } from '../../fixtures/pipelines.js';

const masker = createMasker(Buffer.from('ecfa96dd3f29bc244460689c0b9ccc3042fa97318679104bbe50bb0a90c805ce', 'hex'), 'k1');
const reader = compileEventReader(LOGINS, masker);

/** Both paths' answers for one body, in one shape. */
function both(body: string, sentAtMs: number) {
  const message: InboundMessage = { messageId: 'm-1', body, sentAtMs, receiveCount: 1 };
  const { outcome, originals } = messageToVaultedRow(message, masker);
  const today =
    outcome.kind === 'rejected'
      ? { ok: false, reason: outcome.rejection.reason, field: outcome.rejection.field }
      : {
          ok: true,
          values: [
            outcome.row.userId,
            outcome.row.deviceType,
            outcome.row.maskedIp,
            outcome.row.maskedDeviceId,
            String(outcome.row.appVersion),
            outcome.row.appVersionRaw,
            outcome.row.locale,
            outcome.row.createDate,
          ],
          subjectKey: outcome.row.userKey,
          originals: originals.map((o) => ({ mask: o.mask, label: o.field, value: o.value })),
        };
  // too_large and not_json are the caller's, before the reader: the same prelude as message-to-row's.
  const parsed = parseJson(body);
  if (!parsed) return { today, generic: { ok: false, reason: 'not_json', field: null } };
  const reading = reader(message, parsed.value);
  const generic = reading.ok ? { ok: true, ...reading.row } : { ok: false, reason: reading.reason, field: reading.field };
  return { today, generic };
}

type Field = 'user_id' | 'device_type' | 'ip' | 'device_id' | 'app_version' | 'locale';

const controlChar = fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c));
const hostileText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.tuple(fc.string({ maxLength: 10 }), fc.constantFrom(...'\u0000\u001f\u007f\ud800\udc00'.split('')), fc.string({ maxLength: 10 })).map(([a, c, b]) => a + c + b),
  fc.tuple(fc.string({ maxLength: 5 }), controlChar).map(([a, c]) => a + c),
  fc.integer({ min: 25, max: 300 }).chain((n) => fc.string({ minLength: n, maxLength: n, unit: fc.constantFrom('a', 'é', '🙂', '1') })),
);
const ipText = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.ipV4Extended(),
  fc.constantFrom('::ffff:1.2.3.4', '::FFFF:0102:0304', 'fe80::1%eth0', '1.2.3', '01.2.3.4', '::', '2001:DB8::1', ' 1.2.3.4', `${'1'.repeat(70)}`),
  hostileText,
);
const versionText = fc.oneof(
  fc.tuple(fc.nat(1200), fc.option(fc.nat(1200)), fc.option(fc.nat(1200))).map(([a, b, c]) => [a, b, c].filter((x) => x !== null).join('.')),
  fc.constantFrom('1.2.3.4', '', '1.', '.1', '01.2', 'v1', '1.2.3 ', `${'9'.repeat(40)}`),
  hostileText,
);
const anyJson = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.array(fc.string(), { maxLength: 2 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }));
const valueFor = (field: Field) =>
  fc.oneof(
    { weight: 6, arbitrary: field === 'ip' ? ipText : field === 'app_version' ? versionText : hostileText },
    { weight: 1, arbitrary: anyJson },
  );
// Each field: usually present, sometimes absent; extra keys, prototype names among them.
const loginLike = fc.record(
  {
    user_id: valueFor('user_id'),
    device_type: valueFor('device_type'),
    ip: valueFor('ip'),
    device_id: valueFor('device_id'),
    app_version: valueFor('app_version'),
    locale: valueFor('locale'),
    constructor: fc.string(),
    ['__proto__']: fc.string(),
    toString: anyJson,
    extra: anyJson,
  },
  { requiredKeys: [] },
);
const validish = fc.record({
  user_id: fc.string({ maxLength: 130 }),
  device_type: fc.string({ maxLength: 34 }),
  ip: ipText,
  device_id: fc.string({ maxLength: 258 }),
  app_version: versionText,
  locale: fc.option(fc.string({ maxLength: 34 })),
});
const body = fc.oneof(
  { weight: 4, arbitrary: loginLike.map((record) => JSON.stringify(record)) },
  { weight: 4, arbitrary: validish.map((record) => JSON.stringify(record)) },
  { weight: 1, arbitrary: fc.jsonValue().map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 50 }) },
  // The names a JSON text spells that JSON.stringify of a record would not: __proto__ as an own key.
  { weight: 1, arbitrary: validish.map((record) => JSON.stringify(record).replace('"user_id"', '"__proto__":{"user_id":"x"},"user_id"')) },
);
const sentAt = fc.oneof(fc.constant(Date.UTC(2024, 0, 15)), fc.integer({ min: 0, max: 4_102_444_800_000 }));

describe('the generic reader with the logins spec against the login path', () => {
  it('agrees on every body', () => {
    fc.assert(
      fc.property(body, sentAt, (text, ms) => {
        const { today, generic } = both(text, ms);
        expect(generic).toEqual(today);
      }),
      { numRuns: 10_000 },
    );
  });

  it('agrees on the take-home\'s sample events and bad ones, and the generators reach every outcome', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(body, sentAt, (text, ms) => {
        const { today } = both(text, ms);
        seen.add(today.ok ? 'row' : `${today.reason}`);
      }),
      { numRuns: 5_000 },
    );
    // A differential test whose generators never reach a reason proves nothing about it.
    expect([...seen].sort()).toEqual(['bad_app_version', 'bad_char', 'bad_ip', 'bad_type', 'missing_field', 'not_json', 'not_object', 'row', 'too_long']);
    for (const text of [
      '{"user_id":"424cdd21-063a-43a7-b91b-7ca1a833afae","app_version":"2.3.0","device_type":"android","ip":"199.172.111.135","locale":"RU","device_id":"593-47-5928"}',
      '{"foo": "oops_wrong_msg_type", "bar": "123"}',
      '{"user_id":"u","app_version":"0.96","device_type":"ios","ip":"::FFFF:10.1.2.3","locale":null,"device_id":"d"}',
    ]) {
      const { today, generic } = both(text, Date.UTC(2024, 0, 15));
      expect(generic).toEqual(today);
    }
  });
});
