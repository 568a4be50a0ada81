// Attack: plant functions, operators and tables in schema public (PUBLIC may create there on
// PostgreSQL 12–14; granted here on later majors to be the same), as each sqs2pg role in turn, each
// one a better match than pg_catalog's for something sqs2pg's statements or functions call, and each
// logging who ran it. Then every function each role may call is called, and every command runs as
// the role it is meant for: the planted code must never run as anyone but its planter (no hijack of
// the owner through a SECURITY DEFINER function, none of a worker's or officer's session), read
// nothing of the vault and delete no audit row. (CVE-2018-1058 is the pattern.)
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateSample } from '../../src/local/sample.js';
import { createMasker } from '../../src/transform/mask.js';
import { createTestStack, runCli, TEST_MASK_KEY, type CliResult, type TestStack } from '../helpers/stack.js';
import { TEST_VAULT_PRIVATE_KEY, TEST_VAULT_PUBLIC_KEY } from '../helpers/vault.js';
import { createLoginRoles, ROLE_KINDS, type LoginRoles, type RoleKind } from './login-roles.js';

// Every planted function reports its caller, then tries what that caller may and the planter may not.
const PLANT = `
CREATE TABLE public.loot (who name NOT NULL, via text NOT NULL, stolen text);
GRANT INSERT ON public.loot TO PUBLIC;
CREATE FUNCTION public.sneak(via text) RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
  INSERT INTO public.loot (who, via) VALUES (current_user, via);
  BEGIN
    INSERT INTO public.loot (who, via, stolen) SELECT current_user, via, count(*)::text FROM sqs2pg_vault.entries;
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
  BEGIN
    DELETE FROM sqs2pg_vault.audit;
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
END $$;
CREATE FUNCTION public.eq_varchar_text(a varchar, b text) RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN PERFORM public.sneak('=(varchar, text)'); RETURN a::text = b; END $$;
CREATE OPERATOR public.= (LEFTARG = varchar, RIGHTARG = text, FUNCTION = public.eq_varchar_text);
CREATE FUNCTION public.eq_varchar(a varchar, b varchar) RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN PERFORM public.sneak('=(varchar, varchar)'); RETURN a::text = b::text; END $$;
CREATE OPERATOR public.= (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = public.eq_varchar);
CREATE FUNCTION public.div_bigint_numeric(a bigint, b numeric) RETURNS numeric LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN PERFORM public.sneak('/(bigint, numeric)'); RETURN a::numeric / b; END $$;
CREATE OPERATOR public./ (LEFTARG = bigint, RIGHTARG = numeric, FUNCTION = public.div_bigint_numeric);
CREATE FUNCTION public.to_timestamp(v numeric) RETURNS timestamptz LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN PERFORM public.sneak('to_timestamp(numeric)'); RETURN to_timestamp(v::float8); END $$;
CREATE FUNCTION public.left(s varchar, n integer) RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN PERFORM public.sneak('left(varchar, integer)'); RETURN left(s::text, n); END $$;
CREATE FUNCTION public.unnest(a text[]) RETURNS SETOF text LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN PERFORM public.sneak('unnest(text[])'); RETURN QUERY SELECT unnest(a); END $$;
CREATE FUNCTION public.unnest(a varchar[]) RETURNS SETOF varchar LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN PERFORM public.sneak('unnest(varchar[])'); RETURN QUERY SELECT unnest(a); END $$;
CREATE FUNCTION public.hashtext(s varchar) RETURNS integer LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN PERFORM public.sneak('hashtext(varchar)'); RETURN hashtext(s::text); END $$;
-- Look-alike tables, for any statement that would find one of sqs2pg's tables through the path.
CREATE TABLE public.tombstones (user_key text);
CREATE TABLE public.entries (masked_value text);
CREATE TABLE public.audit (id bigint);
CREATE TABLE public.quarantine (sqs_message_id text);
GRANT ALL ON public.tombstones, public.entries, public.audit, public.quarantine TO PUBLIC;
`;

let stack: TestStack;
let roles: LoginRoles;
/** The owner's look at the results, in a session that no planted object can reach. */
let owner: pg.Pool;
const masker = createMasker(Buffer.from(TEST_MASK_KEY, 'hex'), 'k1');
const sample = generateSample({ count: 240, malformed: 24, seed: 2218 });

const count = async (sql: string, params: unknown[] = []) => Number((await owner.query<{ n: string }>(sql, params)).rows[0]?.n);

beforeAll(async () => {
  stack = await createTestStack();
  roles = await createLoginRoles(stack);
  // PostgreSQL 15 took this from PUBLIC; 12–14 grant it by default, and sqs2pg grants takes it back
  // only where its role owns public: granted again after it, for the sessions to be attacked anyway.
  await stack.pool.query('GRANT CREATE ON SCHEMA public TO PUBLIC');
  owner = new pg.Pool({ connectionString: stack.databaseUrl, max: 1, options: '-c search_path=pg_catalog,pg_temp' });
  const queueUrl = await stack.newQueue();
  await stack.send(queueUrl, sample.bodies);
  const loaded = await runCli(['run', '--drain'], stack.env(queueUrl, { DATABASE_URL: roles.urlAs('worker'), SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY }), 120_000);
  expect(loaded.code, loaded.stderr).toBe(0);
}, 180_000);

afterAll(async () => {
  await owner?.end();
  await roles?.drop();
  await stack?.close();
});

/** A user with rows, a mask of theirs, and a quarantined message id, none used by an earlier phase. */
async function pickTargets(): Promise<{ userId: string; mask: string; refusedId: string }> {
  const row = await owner.query<{ user_id: string; masked_ip: string }>(
    `SELECT user_id, masked_ip FROM public.user_logins u
      WHERE NOT EXISTS (SELECT 1 FROM sqs2pg_vault.audit a WHERE a.masked_value = u.masked_ip) ORDER BY sqs_message_id LIMIT 1 OFFSET 7`,
  );
  const refused = await owner.query<{ id: string }>(
    `SELECT q.sqs_message_id AS id FROM sqs2pg.quarantine q JOIN sqs2pg_vault.quarantine_bodies b USING (sqs_message_id) ORDER BY 1 LIMIT 1`,
  );
  return { userId: row.rows[0]!.user_id, mask: row.rows[0]!.masked_ip, refusedId: refused.rows[0]!.id };
}

describe.each(ROLE_KINDS)('the %s role plants objects in public', (attacker: RoleKind) => {
  // What the attacker planted goes with them, pass or fail; the next role plants anew.
  afterEach(async () => {
    await stack.pool.query(`DROP OWNED BY ${pg.escapeIdentifier(roles.logins[attacker])}`);
  });

  it('gains nothing: the planted code runs as nobody else, reads no vault and deletes no audit row', async () => {
    const planter = roles.poolAs(attacker);
    await planter.query(PLANT);
    const auditBefore = await count('SELECT count(*) AS n FROM sqs2pg_vault.audit');
    const { userId, mask, refusedId } = await pickTargets();

    // The officer calls each audited function from their own session, where the attacker may also
    // have planted temporary look-alikes of sqs2pg's tables.
    const officer = await roles.poolAs('officer').connect();
    try {
      await officer.query('CREATE TEMP TABLE IF NOT EXISTS user_logins (user_id varchar(128), masked_ip varchar(256), masked_device_id varchar(256))');
      await officer.query('CREATE TEMP TABLE IF NOT EXISTS tombstones (user_key text)');
      const revealId = (await officer.query<{ id: string }>('SELECT sqs2pg_vault.begin_reveal($1, $2) AS id', [mask, 'search path test'])).rows[0]!.id;
      await officer.query('SELECT * FROM sqs2pg_vault.revealed_entry($1)', [revealId]);
      const bodyId = (await officer.query<{ id: string }>('SELECT sqs2pg_vault.begin_quarantine_reveal($1, $2) AS id', [refusedId, 'search path test'])).rows[0]!.id;
      await officer.query('SELECT * FROM sqs2pg_vault.revealed_quarantine_body($1)', [bodyId]);
      await officer.query('SELECT * FROM sqs2pg_vault.forget_masked($1, $2)', [mask, 'search path test']);
      await officer.query('SELECT * FROM sqs2pg_vault.forget_user($1, $2, $3, NULL, NULL, NULL, NULL)', [userId, [masker.userKey(userId)], 'search path test']);
    } finally {
      officer.release();
    }
    // The erasure went to the real table, not to a look-alike.
    expect(await count('SELECT count(*) AS n FROM public.user_logins WHERE user_id OPERATOR(pg_catalog.=) $1::text', [userId])).toBe(0);
    await roles.poolAs('worker').query('SELECT sqs2pg.stop_tombstoned($1::text[])', [[masker.userKey(userId), masker.userKey('nobody')]]);

    // Every command, as the role it is meant for.
    const queueUrl = await stack.newQueue();
    await stack.send(queueUrl, generateSample({ count: 30, malformed: 6, seed: 100 + ROLE_KINDS.indexOf(attacker) }).bodies);
    const base = { PATH: process.env.PATH, SQS2PG_MASK_KEY: TEST_MASK_KEY };
    const asOfficer = { ...base, DATABASE_URL: roles.urlAs('officer'), SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY };
    const asOwner = { ...base, DATABASE_URL: stack.databaseUrl, SQS2PG_VAULT_PRIVATE_KEY: TEST_VAULT_PRIVATE_KEY };
    const next = await pickTargets();
    const commands: [string, Promise<CliResult>][] = [];
    const run = (name: string, args: string[], env: NodeJS.ProcessEnv) => {
      commands.push([name, runCli(args, env, 120_000)]);
      return commands.at(-1)![1];
    };
    await run('run', ['run', '--drain'], stack.env(queueUrl, { DATABASE_URL: roles.urlAs('worker'), SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY }));
    await run('check', ['check'], stack.env(queueUrl, { DATABASE_URL: roles.urlAs('worker'), SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY }));
    await run('reveal', ['reveal', next.mask, '--reason', 'search path test'], asOfficer);
    await run('quarantine show', ['quarantine', 'show', next.refusedId, '--reveal', '--reason', 'search path test'], asOfficer);
    await run('forget --masked', ['forget', '--masked', next.mask, '--reason', 'search path test'], asOfficer);
    await run('forget --user-id', ['forget', '--user-id', next.userId, '--reason', 'search path test'], { ...asOfficer, SQS2PG_VAULT_PUBLIC_KEY: TEST_VAULT_PUBLIC_KEY });
    await run('replay', ['replay', '--reason', 'search path test'], asOwner);
    await run('rotate', ['rotate', '--reason', 'search path test'], asOwner);
    await run('migrate', ['migrate'], asOwner);
    for (const [name, result] of commands) {
      const { code, stderr } = await result;
      // check may find a problem or warn; every other command must succeed.
      if (name !== 'check') expect(code, `${name}: ${stderr}`).toBe(0);
    }

    // Who ran which planted object, and whether it could read the vault from there.
    const loot = await owner.query<{ who: string; via: string; read_vault: boolean }>(
      'SELECT DISTINCT who::text, via, stolen IS NOT NULL AS read_vault FROM public.loot ORDER BY 1, 2, 3',
    );
    expect(loot.rows.filter((row) => row.who !== roles.logins[attacker]), 'planted code that ran as another role').toEqual([]);
    expect(loot.rows.filter((row) => row.read_vault), 'planted code that read the vault').toEqual([]);
    expect(await count('SELECT count(*) AS n FROM sqs2pg_vault.audit'), 'audit rows').toBeGreaterThan(auditBefore);
  }, 600_000);
});
