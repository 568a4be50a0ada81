// What a mask-key rotation re-keys of each pipeline (pure: from the registry's records), and what a
// vault entry's mask becomes under the new key: a column's label, or a keyed subject's scope.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { registrationOf } from '../../../src/db/pipeline-registry.js';
import { subjectEntryField, subjectScopeOfField, type PipelineSpec } from '../../../src/model/pipeline.js';
import { createMasker } from '../../../src/transform/mask.js';
import { remaskedValue } from '../../../src/vault/rotation.js';
import { declaredScope, qualifiedTable } from '../../../src/vault/rotation-targets.js';
import { column, LOGINS, PAGE_VIEWS } from '../../fixtures/pipelines.js';

const SIGNUPS: PipelineSpec = {
  name: 'signups',
  builtin: false,
  queue: 'q',
  table: { schema: 'crm', name: 'signups' },
  subject: ['user', 'email'],
  columns: [
    column('masked_email', 'user.email', { kind: 'text' }, { pii: 'mask' }),
    column('phone', 'phone', { kind: 'text' }, { pii: 'seal' }),
    column('plan', 'plan', { kind: 'text' }),
  ],
};
const EVENTS: PipelineSpec = { ...SIGNUPS, name: 'events', table: { schema: null, name: 'events' }, subject: null, columns: [column('kind', 'kind', { kind: 'text' })] };

describe('what rotate re-keys of each registered pipeline', () => {
  it('logins and page_views: their masked columns under their labels; a subject stored as read is not re-keyed', () => {
    const scope = declaredScope([{ ...registrationOf(LOGINS, 'public'), table: '"public"."user_logins"' }, registrationOf(PAGE_VIEWS, 'analytics')]);
    expect(scope).toEqual([
      { pipeline: 'logins', table: '"public"."user_logins"', columns: [{ name: 'masked_ip', field: 'ip' }, { name: 'masked_device_id', field: 'device_id' }] },
      { pipeline: 'page_views', table: '"analytics"."page_views"', columns: [{ name: 'masked_email', field: 'masked_email' }, { name: 'masked_ip', field: 'masked_ip' }] },
    ]);
  });

  it('a keyed subject is re-keyed from its subject entry; a sealed column, whose references are under no key, is not', () => {
    expect(declaredScope([registrationOf(SIGNUPS, 'crm')])).toEqual([
      {
        pipeline: 'signups',
        table: '"crm"."signups"',
        columns: [{ name: 'masked_email', field: 'masked_email' }, { name: 'sqs2pg_subject_key', field: 'subject:signups' }],
      },
    ]);
  });

  it('a pipeline with nothing personal is no target', () => {
    expect(declaredScope([registrationOf(EVENTS, 'public')])).toEqual([]);
  });

  it('quotes the table as a query names it', () => {
    expect(qualifiedTable({ tableSchema: 'we"ird', tableName: 'Page' })).toBe('"we""ird"."Page"');
  });
});

describe("a vault entry's mask under the new key", () => {
  const masker = createMasker(Buffer.alloc(32, 7), 'k2');

  it('a column label: the mask of the value under that label; a subject field: the subject key of its scope', () => {
    expect(remaskedValue(masker, 'masked_email', 'a@b.c')).toBe(masker.mask('masked_email', 'a@b.c'));
    expect(remaskedValue(masker, 'ip', '10.0.0.1')).toBe(masker.mask('ip', '10.0.0.1'));
    expect(remaskedValue(masker, subjectEntryField('signups'), 'a@b.c')).toBe(masker.subjectKey('signups', 'a@b.c'));
    expect(remaskedValue(masker, subjectEntryField('signups'), 'a@b.c')).not.toBe(masker.mask('signups', 'a@b.c'));
  });

  it('a subject field and its scope go both ways, and no label is a subject field', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z_][a-z0-9_]{0,62}$/), (name) => {
        expect(subjectScopeOfField(subjectEntryField(name))).toBe(name);
        expect(subjectScopeOfField(name)).toBeUndefined();
      }),
    );
  });
});
