// The take-home's login pipeline, described in the words every declared pipeline uses: what run
// does without a pipeline file, and what `builtin: true` means in one.
import type { ColumnSpec, PipelineSpec } from '../model/pipeline.js';

export const BUILTIN_LOGINS_NAME = 'logins';

const path = (...parts: string[]) => ({ kind: 'path', path: parts }) as const;

/**
 * The columns in the order the login event's faults are checked (transform/login-event.ts), so a
 * body's reason is the one it gets today. Every field is required, as login-event.ts requires it;
 * locale alone may be null. The masks keep their labels `ip` and `device_id`, so they stay as they are.
 */
const LOGINS_COLUMNS: readonly ColumnSpec[] = [
  { name: 'user_id', from: path('user_id'), type: { kind: 'varchar', length: 128 }, required: true, nullable: false, pii: 'none', maskLabel: 'user_id' },
  { name: 'device_type', from: path('device_type'), type: { kind: 'varchar', length: 32 }, required: true, nullable: false, pii: 'none', maskLabel: 'device_type' },
  { name: 'masked_ip', from: path('ip'), type: { kind: 'ip' }, required: true, nullable: false, pii: 'mask', maskLabel: 'ip' },
  { name: 'masked_device_id', from: path('device_id'), type: { kind: 'varchar', length: 256 }, required: true, nullable: false, pii: 'mask', maskLabel: 'device_id' },
  { name: 'app_version', from: path('app_version'), type: { kind: 'version' }, required: true, nullable: false, pii: 'none', maskLabel: 'app_version' },
  { name: 'locale', from: path('locale'), type: { kind: 'varchar', length: 32 }, required: true, nullable: true, pii: 'none', maskLabel: 'locale' },
  { name: 'create_date', from: { kind: 'sent_date' }, type: { kind: 'date' }, required: false, nullable: false, pii: 'none', maskLabel: 'create_date' },
];

/** Today's user_logins pipeline, reading `queue`. */
export function builtinLogins(queue: string, name = BUILTIN_LOGINS_NAME): PipelineSpec {
  return {
    name,
    builtin: true,
    queue,
    table: { schema: null, name: 'user_logins' },
    subject: ['user_id'],
    columns: LOGINS_COLUMNS,
  };
}
