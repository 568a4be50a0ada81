// The hand-written validator against the zod schema it replaced (the transform's hot path, see
// login-event.ts): for any record, the same verdict, the same reason, the same field to blame.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { z } from 'zod';
import { appVersionToInt } from '../../../src/transform/app-version.js';
import { canonicalIp } from '../../../src/transform/ip.js';
import { DEVICE_ID_MAX_CHARS, parseJson, validateLoginEvent, type ParseResult } from '../../../src/transform/login-event.js';
import type { RejectReason } from '../../../src/model/message.js';

// The schema as it stood, with the checks around it, unchanged.
const text = (max: number) => z.string().max(max);
const loginEventSchema = z.object({
  user_id: text(128),
  device_type: text(32),
  ip: text(64).refine((value) => canonicalIp(value) !== null, { params: { reason: 'bad_ip' } }),
  device_id: text(DEVICE_ID_MAX_CHARS),
  app_version: text(32).refine((value) => appVersionToInt(value) !== null, { params: { reason: 'bad_app_version' } }),
  locale: text(32).nullable(),
});
type Field = keyof typeof loginEventSchema.shape;
const fields = Object.keys(loginEventSchema.shape) as Field[];

function schemaVerdict(value: unknown): ParseResult {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'not_object', field: null };
  const record = value as Record<string, unknown>;
  for (const field of fields) {
    const present = record[field] !== undefined && (record[field] !== null || field === 'locale');
    if (!present) return { ok: false, reason: 'missing_field', field };
  }
  for (const field of fields) {
    const fieldValue = record[field];
    // eslint-disable-next-line no-control-regex
    if (typeof fieldValue === 'string' && !(fieldValue.isWellFormed() && !/[\u0000-\u001f\u007f]/.test(fieldValue))) {
      return { ok: false, reason: 'bad_char', field };
    }
  }
  const result = loginEventSchema.safeParse(record);
  if (result.success) {
    const event = result.data;
    return { ok: true, event, canonicalIp: canonicalIp(event.ip) ?? event.ip, appVersion: appVersionToInt(event.app_version) ?? 0 };
  }
  const issue = result.error.issues.sort((a, b) => fields.indexOf(a.path[0] as Field) - fields.indexOf(b.path[0] as Field))[0];
  const field = typeof issue?.path[0] === 'string' ? issue.path[0] : null;
  const reason: RejectReason =
    issue?.code === 'too_big' ? 'too_long' : issue?.code === 'custom' ? ((issue.params?.reason as RejectReason | undefined) ?? 'bad_type') : 'bad_type';
  return { ok: false, reason, field };
}

// Values near every limit and every check: valid and invalid ips and versions, lengths at and past
// each field's limit, control characters, lone surrogates, other JSON types, null and absence.
const lengthsNear = (max: number) => fc.oneof(fc.constant(max), fc.constant(max + 1), fc.nat(max + 2));
const fieldValue = fc.oneof(
  { weight: 4, arbitrary: fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4Extended(), fc.constantFrom('::ffff:10.0.0.1', 'fe80::1%eth0', '999.1.2.3', ' 1.2.3.4', '')) },
  { weight: 4, arbitrary: fc.oneof(fc.tuple(fc.nat(1200), fc.nat(1200), fc.nat(1200)).map((p) => p.join('.')), fc.constantFrom('7', '0.96', '1.2.3.4', 'v1-beta', '01.002')) },
  {
    weight: 3,
    // limits count characters, not UTF-16 units: an emoji is two units and one character
    arbitrary: fc.tuple(fc.oneof(lengthsNear(32), lengthsNear(64), lengthsNear(128), lengthsNear(DEVICE_ID_MAX_CHARS)), fc.constantFrom('x', '\u{1F600}', 'é'), fc.nat(3))
      .map(([n, char, extra]) => char.repeat(n) + 'x'.repeat(extra)),
  },
  { weight: 3, arbitrary: fc.string({ unit: fc.oneof(fc.constantFrom('\u0000', '\u001f', '\u007f', '\ud800', '\udc00', '\u{1F600}', '1', '.', ':', 'a'), fc.string({ minLength: 1, maxLength: 1 })), maxLength: 40 }) },
  { weight: 2, arbitrary: fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.constant(null)) },
);
const record = fc.dictionary(
  fc.constantFrom('user_id', 'device_type', 'ip', 'device_id', 'app_version', 'locale', 'extra'),
  fieldValue,
);

describe('validateLoginEvent, against the zod schema it replaced', () => {
  it('gives the same verdict, reason and field for any record', () => {
    fc.assert(
      fc.property(record, (r) => {
        expect(validateLoginEvent(r)).toEqual(schemaVerdict(r));
      }),
      { numRuns: 3000 },
    );
  });

  it('gives the same for any JSON text, parsed', () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        const value = parseJson(text)?.value;
        expect(validateLoginEvent(value)).toEqual(schemaVerdict(value));
      }),
      { numRuns: 300 },
    );
  });

  it('covers every outcome the schema can give (the generator is not one-sided)', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(record, (r) => {
        const verdict = schemaVerdict(r);
        seen.add(verdict.ok ? 'ok' : verdict.reason);
      }),
      { numRuns: 3000, seed: 14 },
    );
    expect([...seen].sort()).toEqual(['bad_app_version', 'bad_char', 'bad_ip', 'bad_type', 'missing_field', 'ok', 'too_long']);
  });
});
