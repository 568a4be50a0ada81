// Static: every SECURITY DEFINER function in a migrated database, with its settings. Each runs with
// the owner's rights, so each must search pg_catalog only (a schema a role may create in, on its
// path, would let that role plant what it calls), name user_logins by its schema, and be callable
// only by the roles sqs2pg grants name, never PUBLIC. The list is read from the catalog, so a
// function added later is held to the same rules without being named here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestStack, migrateWithCli, type TestStack } from '../helpers/stack.js';

interface DefinerFunction {
  fn: string;
  config: string[] | null;
  public_execute: boolean;
  source: string;
}

let stack: TestStack;
let definers: DefinerFunction[];
beforeAll(async () => {
  stack = await createTestStack();
  await migrateWithCli(stack.databaseUrl);
  const result = await stack.pool.query<DefinerFunction>(
    `SELECT p.oid::regprocedure::text AS fn, p.proconfig AS config, has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute, p.prosrc AS source
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      ORDER BY 1`,
  );
  definers = result.rows;
  console.log(`SECURITY DEFINER functions:\n${definers.map((d) => `  ${d.fn}  ${JSON.stringify(d.config)}`).join('\n')}`);
});
afterAll(async () => {
  await stack.close();
});

describe('SECURITY DEFINER functions', () => {
  it('are the ones sqs2pg made (at least), and only in its schemas', () => {
    const names = definers.map((d) => d.fn);
    expect(names).toEqual(
      expect.arrayContaining([
        'sqs2pg.stop_tombstoned(text[])',
        'sqs2pg_vault.begin_quarantine_reveal(character varying,text)',
        'sqs2pg_vault.begin_quarantine_reveal(text,character varying,text)',
        'sqs2pg_vault.begin_reveal(text,text)',
        'sqs2pg_vault.forget_masked(text,text)',
        'sqs2pg_vault.forget_subject(text,text,text[],text,text,bytea,bytea,bytea)',
        'sqs2pg_vault.forget_user(text,text[],text,text,bytea,bytea,bytea)',
        'sqs2pg_vault.quarantine_body_gone()',
        'sqs2pg_vault.record_audit(text,text,text,jsonb)',
        'sqs2pg_vault.revealed_entry(bigint)',
        'sqs2pg_vault.revealed_quarantine_body(bigint)',
      ]),
    );
    expect(names.filter((name) => !/^sqs2pg(_vault)?\./.test(name))).toEqual([]);
  });

  it('each searches pg_catalog, then pg_temp, and nothing else', () => {
    const wrong = definers.filter((d) => JSON.stringify(d.config) !== JSON.stringify(['search_path=pg_catalog, pg_temp']));
    expect(wrong.map((d) => `${d.fn} ${JSON.stringify(d.config)}`)).toEqual([]);
  });

  it('none may be called by PUBLIC', () => {
    expect(definers.filter((d) => d.public_execute).map((d) => d.fn)).toEqual([]);
  });

  it('each names user_logins by its schema', () => {
    const unqualified = definers.filter((d) => /(^|[^.\w"])"?user_logins\b/.test(d.source));
    expect(unqualified.map((d) => d.fn)).toEqual([]);
    // The functions that reach user_logins do reach it, by schema.
    expect(definers.filter((d) => /public\.user_logins\b/.test(d.source)).map((d) => d.fn)).toEqual([
      'sqs2pg_vault.forget_masked(text,text)',
      'sqs2pg_vault.forget_user(text,text[],text,text,bytea,bytea,bytea)',
    ]);
  });
});
