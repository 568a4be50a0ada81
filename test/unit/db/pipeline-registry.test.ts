import { describe, expect, it } from 'vitest';
import { registrationOf } from '../../../src/db/pipeline-registry.js';
import { LOGINS, PAGE_VIEWS } from '../../fixtures/pipelines.js';

describe('what the registry records of a pipeline', () => {
  it('logins: found by user_id as read, keyed by userKey (no scope), ip and device_id under their own labels', () => {
    expect(registrationOf(LOGINS, 'public')).toEqual({
      name: 'logins',
      tableSchema: 'public',
      tableName: 'user_logins',
      builtin: true,
      subjectColumn: 'user_id',
      subjectIsKey: false,
      subjectScope: null,
      piiColumns: [
        { column: 'masked_ip', label: 'ip', pii: 'mask' },
        { column: 'masked_device_id', label: 'device_id', pii: 'mask' },
      ],
    });
  });

  it('a declared pipeline: scoped by its table, every masked column under its label', () => {
    const registered = registrationOf(PAGE_VIEWS, 'analytics');
    expect(registered).toMatchObject({ name: 'page_views', tableSchema: 'analytics', tableName: 'page_views', builtin: false, subjectScope: 'page_views' });
    expect(registered.piiColumns).toEqual([
      { column: 'masked_email', label: 'masked_email', pii: 'mask' },
      { column: 'masked_ip', label: 'masked_ip', pii: 'mask' },
    ]);
  });
});
