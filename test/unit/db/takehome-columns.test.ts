// check compares user_logins with a constant; the constant must be the take-home's DDL itself.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { takehomeColumns } from '../../../src/db/verify.js';

const DDL = readFileSync(fileURLToPath(new URL('../../../sql/0001_user_logins.sql', import.meta.url)), 'utf8');

it('takehomeColumns is sql/0001_user_logins.sql, in format_type spelling', () => {
  const body = /CREATE TABLE IF NOT EXISTS user_logins \(([^;]+)\);/.exec(DDL)?.[1];
  expect(body).toBeDefined();
  const columns = body!
    .split(',')
    .map((column) => column.trim().split(/\s+/))
    .map(([name, type]) => ({ name, type: type!.replace(/^varchar\((\d+)\)$/, 'character varying($1)') }));
  expect(columns).toEqual(takehomeColumns);
  expect(columns).toHaveLength(7);
});
