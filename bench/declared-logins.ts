// The login event declared as any pipeline is (not builtin): the same width as the builtin one, the
// generic reader and sink, a table of its own. The bench's `sqs2pg, declared` contender.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const DECLARED_TABLE = 'declared_logins';

/** Writes the pipeline file (its queue: ${BENCH_QUEUE_URL}) into a folder of its own; returns its path. */
export function writeDeclaredLogins(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'sqs2pg-bench-declared-')), 'pipelines.yaml');
  writeFileSync(
    file,
    [
      'pipelines:',
      '  declared_logins:',
      '    queue: ${BENCH_QUEUE_URL}',
      `    table: ${DECLARED_TABLE}`,
      '    subject: user_id',
      '    columns:',
      '      user_id:          { from: user_id, type: varchar(128), required: true }',
      '      device_type:      { from: device_type, type: varchar(32), required: true }',
      '      masked_ip:        { from: ip, type: ip, required: true, pii: mask }',
      '      masked_device_id: { from: device_id, type: varchar(256), required: true, pii: mask }',
      '      app_version:      { from: app_version, type: version, required: true }',
      '      locale:           { from: locale, type: varchar(32), required: true, nullable: true }',
      '      create_date:      { from: $sent_date, type: date }',
      '',
    ].join('\n'),
  );
  return file;
}
