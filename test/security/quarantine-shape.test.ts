// Attack: a sender plants an identifier as a KEY of a body sqs2pg will quarantine, hoping the stored
// shape shows it. The shape may show no key but the login event's own field names: every other key
// is `<n chars>`, at any depth, with duplicate keys, in arrays of any length, written with escapes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonShape, shapeText } from '../../src/transform/body-shape.js';
import { LOGIN_EVENT_FIELD_NAMES } from '../../src/transform/login-event.js';
import { createMasker } from '../../src/transform/mask.js';
import { messageToRow, messageToVaultedRow } from '../../src/transform/message-to-row.js';
import type { InboundMessage, Rejection } from '../../src/model/message.js';
import { bodyTextInShape, FIELD_NAMES, hostileBody, secret } from './hostile-keys.js';

const masker = createMasker(Buffer.alloc(32, 7), 'k1');
const message = (body: string): InboundMessage => ({ messageId: 'm-1', body, sentAtMs: Date.UTC(2026, 0, 1), receiveCount: 1 });

function rejectionOf(body: string): Rejection | undefined {
  const outcome = messageToRow(message(body), masker);
  return outcome.kind === 'rejected' ? outcome.rejection : undefined;
}

describe('the quarantine shape: the cases the rule "hide the body\'s own ip/device_id values" missed', () => {
  it.each([
    ['a duplicate key: the real device id survives only as a key', '{"device_id":"Pixel7_of_alice","Pixel7_of_alice":1,"device_id":"phone-2"}', 'Pixel7_of_alice'],
    // The values are read last item first: 16 others fill the list before this one is reached.
    ['a device id past the 16th item of an array', `{"device_id":["Pixel7_of_bob",${Array.from({ length: 16 }, (_, i) => `"f${i}"`).join(',')}],"Pixel7_of_bob":true}`, 'Pixel7_of_bob'],
    ['an identifier-like key a sender chose', '{"user_id":"u","ip":"bad","AliceSmith1984":{"ssn":1}}', 'AliceSmith1984'],
    ['a key written with escapes', '{"\\u0041lice_Phone":1}', 'Alice_Phone'],
  ])('shows no text of %s', (_name, body, planted) => {
    const record = rejectionOf(body);
    expect(record).toBeDefined();
    expect(record!.body!.shape).not.toContain(planted);
    expect(bodyTextInShape(record!.body!.shape)).toBeUndefined();
  });

  it('shows the login event\'s own field names, at any depth and in arrays', () => {
    const shape = rejectionOf('{"user_id":7,"device_id":[{"ip":1}],"locale":{"app_version":{"device_type":null}},"other":1}')!.body!.shape;
    const paths = (JSON.parse(shape) as { entries: { path: string }[] }).entries.map((entry) => entry.path);
    expect(paths).toEqual(['$', 'user_id', 'device_id', 'locale', '<5 chars>', 'device_id[0]', 'locale.app_version', 'device_id[0].ip', 'locale.app_version.device_type']);
  });

  it('takes the keys it may show as a parameter (issue 25: the declared fields of a pipeline)', () => {
    const shape = shapeText(jsonShape({ sku: 1, user_id: 2, AliceSmith: 3 }, new Set(['sku'])));
    expect((JSON.parse(shape) as { entries: { path: string }[] }).entries.map((entry) => entry.path)).toEqual(['$', 'sku', '<7 chars>', '<10 chars>']);
    expect([...LOGIN_EVENT_FIELD_NAMES].sort()).toEqual([...FIELD_NAMES].sort());
  });
});

describe('quarantine shape properties (fast-check)', () => {
  it('a planted key is never in the stored record, wherever and however it is written', () => {
    fc.assert(
      fc.property(hostileBody, ({ body, secret: planted }) => {
        const record = rejectionOf(body);
        if (!record) return;
        // The whole record as the sink gets it, and its shape by its form: no key but a field name.
        expect(JSON.stringify(record)).not.toContain(planted);
        expect(bodyTextInShape(record.body!.shape)).toBeUndefined();
      }),
      { numRuns: 3_000 },
    );
  });

  it('any JSON value: the shape holds no key but the field names, and no value at all', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const shape = shapeText(jsonShape(value, LOGIN_EVENT_FIELD_NAMES));
        expect(bodyTextInShape(shape)).toBeUndefined();
      }),
      { numRuns: 3_000 },
    );
  });

  it('vault on or off, the record is the same: the originals of a rejection are never kept', () => {
    fc.assert(
      fc.property(hostileBody, ({ body }) => {
        const plain = messageToRow(message(body), masker);
        const vaulted = messageToVaultedRow(message(body), masker);
        expect(vaulted.outcome).toEqual(plain);
        if (plain.kind === 'rejected') expect(vaulted.originals).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('a secret among many keys of a wide object past the entry limit is still not shown', () => {
    fc.assert(
      fc.property(secret, fc.nat(200), (planted, at) => {
        const keys = Array.from({ length: 201 }, (_, i) => (i === at ? JSON.stringify(planted) : `"k${i}"`));
        const record = rejectionOf(`{${keys.map((k) => `${k}:1`).join(',')}}`)!;
        expect(record.body!.shape).not.toContain(planted);
        expect(bodyTextInShape(record.body!.shape)).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });
});

describe('bounds on hostile bodies', () => {
  // Time is not asserted (a busy machine); size is, and a quadratic or recursive walk would still
  // run past the test's timeout or overflow the stack on these.
  it('describes 64 KiB of keys, 1 MiB of text and 100,000-deep nesting in bounded size', () => {
    const wide = `{${Array.from({ length: 6_000 }, (_, i) => `"Key${i}":${i}`).join(',')}}`;
    const longArray = `[${Array.from({ length: 12_000 }, (_, i) => `{"D${i}":1}`).join(',')}]`.slice(0, 64 * 1024);
    const duplicates = `{${Array.from({ length: 5_000 }, () => '"device_id":"DUPLICATED-ID"').join(',')}}`;
    for (const body of [wide, longArray, duplicates, '{"a":'.repeat(100_000), 'Q'.repeat(1024 * 1024), `[${'{"Z":['.repeat(10_000)}`]) {
      const record = rejectionOf(body)!;
      expect(record.body!.shape.length).toBeLessThan(8_000);
      expect(bodyTextInShape(record.body!.shape)).toBeUndefined();
    }
  });
});
