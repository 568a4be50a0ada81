// Attack: a sender plants an identifier as a KEY of a body sqs2pg will quarantine, or personal data
// where a pipeline's fields go and where they do not, hoping the stored record shows it. The record is
// made as a worker makes it (the pipeline's compiled transform) and may hold none of it; its shape may
// show no key but the pipeline's own field names: every other key is `<n chars>`, at any depth, with
// duplicate keys, in arrays of any length, written with escapes. The properties run against the
// builtin logins and a declared pipeline (page_views, masked and sealed), each with its own hostile
// bodies beside the login-shaped ones; then the cases particular to each.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonShape, shapeText } from '../../src/transform/body-shape.js';
import { LOGIN_EVENT_FIELD_NAMES } from '../../src/transform/login-event.js';
import { createMasker } from '../../src/transform/mask.js';
import { compileTransform } from '../../src/transform/pipeline-transform.js';
import { MAX_PARSED_BODY_BYTES } from '../../src/transform/quarantine-record.js';
import type { InboundMessage, Rejection } from '../../src/model/message.js';
import type { PipelineSpec } from '../../src/model/pipeline.js';
import { PAGE_VIEWS } from '../fixtures/pipelines.js';
import { PIPELINES_UNDER_TEST, type PipelineName } from '../helpers/page-views.js';
import { bodyTextInShape, FIELD_NAMES, hostileBody, secret } from './hostile-keys.js';

const masker = createMasker(Buffer.alloc(32, 7), 'k1');
const message = (body: string): InboundMessage => ({ messageId: 'm-1', body, sentAtMs: Date.UTC(2026, 0, 1), receiveCount: 1 });
const LOGINS_SPEC = PIPELINES_UNDER_TEST[0]!.spec;
/** page_views with its masked fields sealed instead: kept by nobody but the vault, not even as a mask. */
const SEALED: PipelineSpec = { ...PAGE_VIEWS, name: 'sealed_views', columns: PAGE_VIEWS.columns.map((c) => (c.pii === 'mask' ? { ...c, pii: 'seal' as const } : c)) };
const namesOf = (spec: PipelineSpec) => (spec.builtin ? [...FIELD_NAMES] : [...new Set(spec.columns.flatMap((c) => (c.from.kind === 'path' ? c.from.path : [])))]);

/** The record a worker of `spec` writes for `body` (vault on or off), or undefined when it is a row. */
function recordOf(spec: PipelineSpec, body: string, vault = false): Rejection | undefined {
  const { outcome } = compileTransform(spec, masker, { envelope: 'auto', maxBodyBytes: MAX_PARSED_BODY_BYTES, vault }).read(message(body));
  return outcome.kind === 'rejected' ? outcome.rejection : undefined;
}

/** A page view the declaration refuses (duration_ms is text), holding `s` in one hostile way. */
type Placement = 'values' | 'keys' | 'duplicate' | 'escaped' | 'deep' | 'jsonbKeys' | 'notJson' | 'envelope' | 'arrays';

const escaped = (s: string) => `"${[...s].map((c) => [...c].map((unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')).join('')}"`;

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


/** Each pipeline's hostile bodies: the login-shaped ones (a declared pipeline refuses them too) and its own. */
const HOSTILE: Record<PipelineName, fc.Arbitrary<{ body: string; secret: string; placement: string }>> = {
  logins: hostileBody,
  page_views: fc.oneof(hostileBody, hostileView),
};
/** What each property is run with: the logins' as before; page_views' masked and sealed at the runs its file had. */
const CASES = PIPELINES_UNDER_TEST.map((pipeline) => ({
  pipeline,
  specs: pipeline.spec.builtin ? [pipeline.spec] : [pipeline.spec, SEALED],
  runs: pipeline.spec.builtin ? 3_000 : 2_000,
}));

describe.each(CASES)('quarantine shape properties, $pipeline.name (fast-check)', ({ pipeline, specs, runs }) => {
  it('a planted key or value is in no field of the stored record, wherever and however it is written', () => {
    fc.assert(
      fc.property(HOSTILE[pipeline.name], fc.constantFrom(...specs), ({ body, secret: planted, placement }, spec) => {
        const record = recordOf(spec, body);
        if (!record) return;
        expect(JSON.stringify(record)).not.toContain(planted);
        // The shape's form, field by field (AWS's names in an envelope are not lower-case: checked by search alone).
        if (placement !== 'envelope') expect(bodyTextInShape(record.body!.shape, namesOf(spec))).toBeUndefined();
        // A sealed field is kept by nobody but the vault: not even its mask.
        if (spec === SEALED) expect(record.body!.maskedValues).toEqual({});
      }),
      { numRuns: runs },
    );
  });

  it('any JSON value under every field name: no string of it longer than a few characters is in the record', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        // The value at every path the pipeline reads, and a field of the wrong kind so that it is refused.
        const event: Record<string, unknown> = {};
        for (const column of pipeline.spec.columns) {
          if (column.from.kind !== 'path') continue;
          let at = event;
          for (const part of column.from.path.slice(0, -1)) at = (at[part] ??= {}) as Record<string, unknown>;
          at[column.from.path.at(-1)!] = value;
        }
        const record = recordOf(pipeline.spec, JSON.stringify({ ...event, [pipeline.spec.builtin ? 'app_version' : 'duration_ms']: 'x' }));
        if (!record) return;
        const text = JSON.stringify(record);
        const strings: string[] = [];
        JSON.stringify(value, (key, v: unknown) => (strings.push(key), typeof v === 'string' && strings.push(v), v));
        // Names and words a record holds anyway (reasons, field names, shape words) are not leaks.
        for (const s of strings.filter((s) => s.length >= 6 && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(s))) expect(text).not.toContain(s);
        expect(bodyTextInShape(record.body!.shape, namesOf(pipeline.spec))).toBeUndefined();
      }),
      { numRuns: 1_000 },
    );
  });

  it('vault on or off, the record is the same: the originals of a rejection are never kept', () => {
    fc.assert(
      fc.property(HOSTILE[pipeline.name], ({ body }) => {
        const plain = compileTransform(pipeline.spec, masker, { envelope: 'auto', maxBodyBytes: MAX_PARSED_BODY_BYTES, vault: false }).read(message(body));
        const vaulted = compileTransform(pipeline.spec, masker, { envelope: 'auto', maxBodyBytes: MAX_PARSED_BODY_BYTES, vault: true }).read(message(body));
        expect(vaulted.outcome).toEqual(plain.outcome);
        if (plain.outcome.kind === 'rejected') expect(vaulted.originals).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('a secret among many keys of a wide object past the entry limit is still not shown', () => {
    fc.assert(
      fc.property(secret, fc.nat(200), (planted, at) => {
        const keys = Array.from({ length: 201 }, (_, i) => (i === at ? JSON.stringify(planted) : `"k${i}"`));
        const record = recordOf(pipeline.spec, `{${keys.map((k) => `${k}:1`).join(',')}}`)!;
        expect(record.body!.shape).not.toContain(planted);
        expect(bodyTextInShape(record.body!.shape, namesOf(pipeline.spec))).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  // Time is not asserted (a busy machine); size is, and a quadratic or recursive walk would still
  // run past the test's timeout or overflow the stack on these.
  it('describes 64 KiB of keys, 1 MiB of text and 100,000-deep nesting in bounded size', () => {
    const wide = `{${Array.from({ length: 6_000 }, (_, i) => `"Key${i}":${i}`).join(',')}}`;
    const longArray = `[${Array.from({ length: 12_000 }, (_, i) => `{"D${i}":1}`).join(',')}]`.slice(0, 64 * 1024);
    const duplicates = `{${Array.from({ length: 5_000 }, () => '"device_id":"DUPLICATED-ID"').join(',')}}`;
    for (const body of [wide, longArray, duplicates, '{"a":'.repeat(100_000), 'Q'.repeat(1024 * 1024), `[${'{"Z":['.repeat(10_000)}`]) {
      const record = recordOf(pipeline.spec, body)!;
      expect(record.body!.shape.length).toBeLessThan(8_000);
      expect(bodyTextInShape(record.body!.shape, namesOf(pipeline.spec))).toBeUndefined();
    }
  });
});

describe('logins: the cases the rule "hide the body\'s own ip/device_id values" missed', () => {
  it.each([
    ['a duplicate key: the real device id survives only as a key', '{"device_id":"Pixel7_of_alice","Pixel7_of_alice":1,"device_id":"phone-2"}', 'Pixel7_of_alice'],
    // The values are read last item first: 16 others fill the list before this one is reached.
    ['a device id past the 16th item of an array', `{"device_id":["Pixel7_of_bob",${Array.from({ length: 16 }, (_, i) => `"f${i}"`).join(',')}],"Pixel7_of_bob":true}`, 'Pixel7_of_bob'],
    ['an identifier-like key a sender chose', '{"user_id":"u","ip":"bad","AliceSmith1984":{"ssn":1}}', 'AliceSmith1984'],
    ['a key written with escapes', '{"\\u0041lice_Phone":1}', 'Alice_Phone'],
  ])('shows no text of %s', (_name, body, planted) => {
    const record = recordOf(LOGINS_SPEC, body);
    expect(record).toBeDefined();
    expect(record!.body!.shape).not.toContain(planted);
    expect(bodyTextInShape(record!.body!.shape)).toBeUndefined();
  });

  it('shows the login event\'s own field names, at any depth and in arrays', () => {
    const shape = recordOf(LOGINS_SPEC, '{"user_id":7,"device_id":[{"ip":1}],"locale":{"app_version":{"device_type":null}},"other":1}')!.body!.shape;
    const paths = (JSON.parse(shape) as { entries: { path: string }[] }).entries.map((entry) => entry.path);
    expect(paths).toEqual(['$', 'user_id', 'device_id', 'locale', '<5 chars>', 'device_id[0]', 'locale.app_version', 'device_id[0].ip', 'locale.app_version.device_type']);
  });

  it('takes the keys it may show as a parameter (issue 25: the declared fields of a pipeline)', () => {
    const shape = shapeText(jsonShape({ sku: 1, user_id: 2, AliceSmith: 3 }, new Set(['sku'])));
    expect((JSON.parse(shape) as { entries: { path: string }[] }).entries.map((entry) => entry.path)).toEqual(['$', 'sku', '<7 chars>', '<10 chars>']);
    expect([...LOGIN_EVENT_FIELD_NAMES].sort()).toEqual([...FIELD_NAMES].sort());
  });
});

describe('page_views: a masked field\'s value is kept as its mask', () => {
  it('masks the planted value where a masked field holds it, so the officer who knows it finds the record', () => {
    fc.assert(
      fc.property(secret, (planted) => {
        const record = recordOf(PAGE_VIEWS, `{"visitor":{"id":"v-1","email":${JSON.stringify(planted)}},"duration_ms":"long"}`)!;
        expect(record.body!.maskedValues.masked_email).toEqual([masker.mask('masked_email', planted)]);
      }),
      { numRuns: 300 },
    );
  });

});
