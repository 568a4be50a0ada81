// Attack, for a declared pipeline's quarantine (issue 25): a sender puts personal data where a
// page view's declared fields go, and where they do not (as keys, duplicate keys, escaped, deep, in a
// jsonb field's keys, in text that is not JSON, inside an envelope), in a body the pipeline refuses.
// No record field may hold any of it; its shape may show no key but the declaration's names.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileEventReader } from '../../src/transform/event-reader.js';
import { parseJson } from '../../src/transform/login-event.js';
import { createMasker } from '../../src/transform/mask.js';
import { reject } from '../../src/transform/message-to-row.js';
import { unwrapEnvelope } from '../../src/transform/envelope.js';
import type { InboundMessage, Rejection } from '../../src/model/message.js';
import type { PipelineSpec } from '../../src/model/pipeline.js';
import { PAGE_VIEWS } from '../fixtures/pipelines.js';
import { bodyTextInShape, secret } from './hostile-keys.js';

const masker = createMasker(Buffer.alloc(32, 5), 'k1');
const message = (body: string): InboundMessage => ({ messageId: 'm-1', body, sentAtMs: Date.UTC(2026, 0, 1), receiveCount: 1 });
const SEALED: PipelineSpec = { ...PAGE_VIEWS, name: 'sealed_views', columns: PAGE_VIEWS.columns.map((c) => (c.pii === 'mask' ? { ...c, pii: 'seal' as const } : c)) };
const namesOf = (spec: PipelineSpec) => [...new Set(spec.columns.flatMap((c) => (c.from.kind === 'path' ? c.from.path : [])))];

/** The record the runtime would write, or undefined when the body is a valid page view (a row). */
function recordOf(spec: PipelineSpec, body: string): Rejection | undefined {
  const bytes = Buffer.byteLength(body);
  const json = parseJson(body);
  if (!json) return reject(message(body), masker, 'not_json', null, null, bytes, undefined, spec);
  const unwrapped = unwrapEnvelope(json.value, 'auto');
  const event = unwrapped.kind === 'event' ? unwrapped.event?.value : json.value;
  const reading = compileEventReader(spec, masker)(message(body), event);
  if (reading.ok) return undefined;
  return reject(message(body), masker, reading.reason, reading.field, null, bytes, json, spec);
}

type Placement = 'values' | 'keys' | 'duplicate' | 'escaped' | 'deep' | 'jsonbKeys' | 'notJson' | 'envelope' | 'arrays';

const escaped = (s: string) => `"${[...s].map((c) => [...c].map((unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')).join('')}"`;

/** A refused page view (duration_ms is text) holding `s` in one hostile way. */
const hostileView = fc
  .tuple(secret, fc.constantFrom<Placement>('values', 'keys', 'duplicate', 'escaped', 'deep', 'jsonbKeys', 'notJson', 'envelope', 'arrays'), fc.nat(6), fc.json({ maxDepth: 2 }))
  .map(([s, placement, depth, json]) => {
    const k = JSON.stringify(s);
    const rest = `"page":{"url":${k}},"duration_ms":"long","viewed_at":"2026-01-01T00:00:00Z"`;
    const bodies: Record<Placement, string> = {
      values: `{"visitor":{"id":${k},"email":${k}},"ip":${k},${rest}}`,
      keys: `{"visitor":{${k}:1,"id":"v"},${k}:${json},${rest}}`,
      // JSON.parse keeps the second email: the first survives only as text in the body.
      duplicate: `{"visitor":{"email":${k},${k}:true,"email":"x@y"},${rest}}`,
      escaped: `{${escaped(s)}:1,"visitor":{"email":${escaped(s)},"id":${escaped(s)}},${rest}}`,
      deep: `{"a":${'{"b":'.repeat(depth)}{"email":${k},${k}:${json}}${'}'.repeat(depth)},${rest}}`,
      jsonbKeys: `{"tags":{${k}:{${k}:[${k}]}},"visitor":{"id":"v"},${rest}}`,
      notJson: [`{'visitor': {'email': '${s}', 'id': '${s}'}, 'ip': '${s}'`, `email=${s} ${k}: ${k}`, `{${k}: 1`][depth % 3]!,
      envelope: JSON.stringify({
        Type: 'Notification',
        MessageId: '0f0e0d0c-0b0a-4909-8807-060504030201',
        TopicArn: 'arn:aws:sns:eu-west-1:123456789012:views',
        Message: `{"visitor":{"id":${k},"email":${k},${k}:1},"ip":${k},${rest}}`,
        Timestamp: '2026-01-01T10:00:00.000Z',
      }),
      arrays: `{"visitor":[{"email":[${k},${k}]},{${k}:[]}],"ip":[[${k}]],${rest}}`,
    };
    return { body: bodies[placement], secret: s, placement };
  });

describe('a declared pipeline\'s quarantine record holds none of a hostile body\'s personal data (fast-check)', () => {
  it('in no field, masked or sealed; its shape shows no key but the declared names', () => {
    fc.assert(
      fc.property(hostileView, fc.constantFrom(PAGE_VIEWS, SEALED), ({ body, secret: planted, placement }, spec) => {
        const record = recordOf(spec, body);
        expect(record).toBeDefined();
        expect(JSON.stringify(record)).not.toContain(planted);
        // The shape's form, field by field (AWS's names in an envelope are not lower-case: checked by search alone).
        if (placement !== 'envelope') expect(bodyTextInShape(record!.body!.shape, namesOf(spec))).toBeUndefined();
        // A sealed field is kept by nobody but the vault: not even its mask.
        if (spec === SEALED) expect(record!.body!.maskedValues).toEqual({});
      }),
      { numRuns: 2_000 },
    );
  });

  it('masks the planted value where a masked field holds it, so the officer who knows it finds the record', () => {
    fc.assert(
      fc.property(secret, (planted) => {
        const record = recordOf(PAGE_VIEWS, `{"visitor":{"id":"v-1","email":${JSON.stringify(planted)}},"duration_ms":"long"}`)!;
        expect(record.body!.maskedValues.masked_email).toEqual([masker.mask('masked_email', planted)]);
      }),
      { numRuns: 300 },
    );
  });

  it('any JSON value under any declared name: no string of it longer than a few characters is in the record', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        const body = JSON.stringify({ visitor: { id: value, email: value }, ip: value, page: { url: value }, tags: value, duration_ms: 'x' });
        const record = recordOf(PAGE_VIEWS, body);
        if (!record) return;
        const text = JSON.stringify(record);
        const strings: string[] = [];
        JSON.stringify(value, (key, v: unknown) => (strings.push(key), typeof v === 'string' && strings.push(v), v));
        // Names and words a record holds anyway (reasons, field names, shape words) are not leaks.
        for (const s of strings.filter((s) => s.length >= 6 && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(s))) expect(text).not.toContain(s);
        expect(bodyTextInShape(record.body!.shape, namesOf(PAGE_VIEWS))).toBeUndefined();
      }),
      { numRuns: 1_000 },
    );
  });
});
