// The events demo --config makes for a declared pipeline from its declaration: every well-formed one
// becomes a row through the pipeline's own transform, the malformed ones are refused with the reasons
// they were made for, and nothing personal-looking comes from outside the documentation ranges.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePipelineFile } from '../../../src/config/pipeline-file.js';
import type { ColumnType, PipelineSpec } from '../../../src/model/pipeline.js';
import type { InboundMessage, TableOutcome } from '../../../src/model/message.js';
import { generateDeclaredSample } from '../../../src/local/declared-sample.js';
import { createMasker } from '../../../src/transform/mask.js';
import { compileTransform } from '../../../src/transform/pipeline-transform.js';
import { column } from '../../fixtures/pipelines.js';

const EXAMPLE = readFileSync(new URL('../../../examples/pipelines.yaml', import.meta.url), 'utf8');
const ENV = { LOGINS_QUEUE_URL: 'http://127.0.0.1:1/000000000000/logins', PAGE_VIEWS_QUEUE_URL: 'http://127.0.0.1:1/000000000000/page-views' };
const PAGE_VIEWS = parsePipelineFile(EXAMPLE, ENV).pipelines.find((spec) => spec.name === 'page_views')!;
const masker = createMasker(Buffer.alloc(32, 7), 'k1');

function outcomes(spec: PipelineSpec, bodies: readonly string[]): TableOutcome[] {
  const transform = compileTransform(spec, masker, { envelope: 'none', maxBodyBytes: 1024 * 1024, vault: false });
  return bodies.map((body, i) => {
    const message: InboundMessage = { messageId: `m-${i}`, body, sentAtMs: Date.UTC(2026, 11, 7), receiveCount: 1 };
    return transform.read(message).outcome;
  });
}

const reasons = (all: TableOutcome[]) => all.flatMap((outcome) => (outcome.kind === 'rejected' ? [outcome.rejection.reason] : []));

describe('generateDeclaredSample', () => {
  it("the example's page views: every well-formed event a row, each malformed one refused as made", () => {
    const sample = generateDeclaredSample(PAGE_VIEWS, { count: 200, malformed: 3 });
    expect(sample.bodies).toHaveLength(203);
    const all = outcomes(PAGE_VIEWS, sample.bodies);
    expect(all.filter((outcome) => outcome.kind === 'row')).toHaveLength(200);
    // visitor.id (required) missing; visitor.id a number; not JSON.
    expect(reasons(all)).toEqual(['missing_field', 'bad_type', 'not_json']);
  });

  it('personal values come from example.com and the documentation address ranges only', () => {
    const events = generateDeclaredSample(PAGE_VIEWS, { count: 300, malformed: 0 }).bodies.map((body) => JSON.parse(body) as { visitor: { email?: string }; ip?: string; page: { url: string } });
    const emails = events.flatMap((event) => event.visitor.email ?? []);
    const ips = events.flatMap((event) => event.ip ?? []);
    expect(emails.length).toBeGreaterThan(200);
    for (const email of emails) expect(email).toMatch(/^[a-z]+\.\d+@example\.com$/);
    for (const ip of ips) expect(ip).toMatch(/^(192\.0\.2|198\.51\.100|203\.0\.113)\.\d+$|^2001:db8::[0-9a-f]+$/);
    for (const event of events) expect(event.page.url).toMatch(/^https:\/\/shop\.example\.com\//);
    // Fewer people than views: one visitor's masks recur, as a real stream's do.
    expect(new Set(emails).size).toBeLessThan(emails.length);
  });

  it('is the same for the same seed, another for another', () => {
    const a = generateDeclaredSample(PAGE_VIEWS, { count: 20, malformed: 2, seed: 7 });
    expect(generateDeclaredSample(PAGE_VIEWS, { count: 20, malformed: 2, seed: 7 })).toEqual(a);
    expect(generateDeclaredSample(PAGE_VIEWS, { count: 20, malformed: 2, seed: 8 }).bodies).not.toEqual(a.bodies);
  });

  it('refuses a count that is not a whole number', () => {
    expect(() => generateDeclaredSample(PAGE_VIEWS, { count: -1 })).toThrow(RangeError);
    expect(() => generateDeclaredSample(PAGE_VIEWS, { count: 1, malformed: 0.5 })).toThrow(RangeError);
  });

  it('a column whose path is inside a jsonb one: the deeper one gets the value, the jsonb column its object', () => {
    const spec: PipelineSpec = {
      ...PAGE_VIEWS,
      subject: null,
      columns: [column('visitor', 'visitor', { kind: 'jsonb' }, { required: true }), column('visitor_id', 'visitor.id', { kind: 'varchar', length: 8 }, { required: true })],
    };
    const all = outcomes(spec, generateDeclaredSample(spec, { count: 50, malformed: 0 }).bodies);
    expect(all.every((outcome) => outcome.kind === 'row')).toBe(true);
  });

  const types: ColumnType[] = [
    { kind: 'text' },
    { kind: 'varchar', length: 1 },
    { kind: 'varchar', length: 64 },
    { kind: 'integer' },
    { kind: 'bigint' },
    { kind: 'numeric' },
    { kind: 'boolean' },
    { kind: 'date' },
    { kind: 'timestamptz' },
    { kind: 'jsonb' },
    { kind: 'ip' },
    { kind: 'version' },
  ];
  // Keys that name what a value looks like, and some that name nothing; paths one to three deep.
  const key = fc.constantFrom('id', 'user_id', 'email', 'url', 'ip', 'phone', 'name', 'duration_ms', 'count', 'tags', 'a', '__proto__', 'constructor');
  const columnArb = fc.record({
    path: fc.array(key, { minLength: 1, maxLength: 3 }),
    type: fc.constantFrom(...types),
    required: fc.boolean(),
    nullable: fc.boolean(),
    pii: fc.constantFrom('none', 'mask', 'seal'),
  });

  it('any declaration whose paths do not nest: every well-formed event a row, every malformed one refused', () => {
    fc.assert(
      fc.property(fc.array(columnArb, { minLength: 1, maxLength: 8 }), fc.option(fc.array(key, { minLength: 1, maxLength: 2 }), { nil: null }), fc.integer(), (drawn, subject, seed) => {
        const paths = drawn.map((c) => c.path.join('.'));
        // A path inside another's value cannot hold a value of both: such a file loads no event with both.
        fc.pre(paths.every((p, i) => paths.every((q, j) => i === j || (p !== q && !q.startsWith(`${p}.`)))));
        if (subject !== null) fc.pre(paths.every((p) => p === subject.join('.') || (!p.startsWith(`${subject.join('.')}.`) && !subject.join('.').startsWith(`${p}.`))));
        const spec: PipelineSpec = {
          name: 'things',
          builtin: false,
          queue: 'http://127.0.0.1:1/000000000000/things',
          table: { schema: null, name: 'things' },
          subject,
          columns: drawn.map((c, i) =>
            column(`c${i}`, c.path.join('.'), c.type, {
              required: c.required,
              nullable: c.required && c.nullable,
              pii: c.pii === 'mask' && c.type.kind === 'boolean' ? 'seal' : c.pii,
            }),
          ),
        };
        const sample = generateDeclaredSample(spec, { count: 30, malformed: 3, seed });
        const all = outcomes(spec, sample.bodies);
        expect(all.filter((outcome) => outcome.kind === 'row')).toHaveLength(30);
        expect(reasons(all)).toHaveLength(3);
      }),
      { numRuns: 200 },
    );
  });
});
