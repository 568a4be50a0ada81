-- The erasure lock is a table lock only sqs2pg's owner may take. Until now it was the advisory lock
-- hashtext('sqs2pg vault') (sql/0007), and advisory locks need no privilege: any role that can
-- connect (the analyst, a reporting tool) could take it and hold it, and then every worker's next
-- batch waited forever, and so did every forget. LOCK TABLE is checked before anything is locked
-- (PostgreSQL 12 to 18 refuse every mode to a role without a privilege on the table), and no role but
-- the owner has any privilege on sqs2pg.erasure_lock: the functions below run as the owner.
--
-- The order is unchanged (docs/privacy-and-roles.md, "Erasure is ordered against every writer"):
--   shared    (ROW SHARE):  every batch, in sqs2pg.stop_tombstoned; replay and rotate's batches, at
--             BEGIN through sqs2pg.erasure_lock_shared() (they run as the owner);
--   exclusive (EXCLUSIVE):  forget_user, forget_subject and forget_masked inside; forget at BEGIN and
--             rotate's clean-up and last step through sqs2pg_vault.erasure_lock_exclusive() (the
--             officer's forget calls it: sqs2pg grants gives the officer EXECUTE on it).
-- ROW SHARE does not conflict with ROW SHARE, EXCLUSIVE conflicts with both, and neither with the
-- ACCESS SHARE any role may take unasked (pg_relation_size takes it on any table by oid).
--
-- Why a table lock and not a row lock (SELECT ... FOR SHARE / FOR UPDATE on a one-row table, also
-- refused to other roles): a batch's FOR SHARE that comes while an erasure's FOR UPDATE waits does
-- not queue behind it, it joins the sharers (seen on PostgreSQL 15), so workers whose batches overlap
-- without a gap would keep forget waiting for as long as they load. Table locks queue in order, as
-- the advisory lock did: batches that come after a waiting forget wait for it. ROW SHARE takes the
-- lock manager's fast path and writes nothing (a row lock writes the row, and a multixact per sharer).
--
-- Rolling upgrade: the functions take the table lock only, not the advisory lock as well (taking both
-- would keep the hole open for a release). Workers of the previous release are ordered all the same:
-- their batches lock through stop_tombstoned, which is the database's and changes here. What is not
-- ordered is the previous release's rotate (and replay), which write outside these functions under
-- the advisory lock: do not run a previous release's rotate or replay once this migration is applied.
-- The officer's forget takes the lock at BEGIN: the roles that may erase get it here (the end of this file).
--
-- The four functions are rewritten from their own definitions: only the lock statement changes, so
-- the bodies of sql/0012 and sql/0015 are not copied here. Like 0007, this file runs in the migrating
-- role's session: the definitions are read and run under search_path pg_catalog, pg_temp, then the
-- session's path is put back (the migrations after it find user_logins through it).

CREATE TABLE IF NOT EXISTS sqs2pg.erasure_lock ();
COMMENT ON TABLE sqs2pg.erasure_lock IS 'sqs2pg''s erasure lock (sql/0016): never holds a row; batches lock it ROW SHARE, erasures EXCLUSIVE';
REVOKE ALL ON sqs2pg.erasure_lock FROM PUBLIC;

CREATE OR REPLACE FUNCTION sqs2pg.erasure_lock_shared()
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  LOCK TABLE sqs2pg.erasure_lock IN ROW SHARE MODE;
END $fn$;
REVOKE ALL ON FUNCTION sqs2pg.erasure_lock_shared() FROM PUBLIC;

CREATE OR REPLACE FUNCTION sqs2pg_vault.erasure_lock_exclusive()
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  LOCK TABLE sqs2pg.erasure_lock IN EXCLUSIVE MODE;
END $fn$;
REVOKE ALL ON FUNCTION sqs2pg_vault.erasure_lock_exclusive() FROM PUBLIC;

DO $migration$
DECLARE
  session_path text := pg_catalog.current_setting('search_path');
  fn pg_catalog.regprocedure;
  before text;
  after text;
BEGIN
  PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
  FOREACH fn IN ARRAY ARRAY[
    'sqs2pg.stop_tombstoned(text[])',
    'sqs2pg_vault.forget_user(text, text[], text, text, bytea, bytea, bytea)',
    'sqs2pg_vault.forget_subject(text, text, text[], text, text, bytea, bytea, bytea)',
    'sqs2pg_vault.forget_masked(text, text)'
  ]::pg_catalog.regprocedure[] LOOP
    before := pg_catalog.pg_get_functiondef(fn);
    CONTINUE WHEN pg_catalog.strpos(before, 'LOCK TABLE sqs2pg.erasure_lock') OPERATOR(pg_catalog.>) 0;
    after := pg_catalog.replace(pg_catalog.replace(before,
      'PERFORM pg_advisory_xact_lock_shared(hashtext(''sqs2pg vault''));', 'LOCK TABLE sqs2pg.erasure_lock IN ROW SHARE MODE;'),
      'PERFORM pg_advisory_xact_lock(hashtext(''sqs2pg vault''));', 'LOCK TABLE sqs2pg.erasure_lock IN EXCLUSIVE MODE;');
    IF after OPERATOR(pg_catalog.=) before THEN
      RAISE EXCEPTION '% takes no erasure advisory lock to replace: its definition is not the one sqs2pg made', fn;
    END IF;
    -- CREATE OR REPLACE keeps the owner and the privileges (REVOKE ... FROM PUBLIC, grants' EXECUTE).
    EXECUTE after;
  END LOOP;
  -- No function of sqs2pg's takes the advisory key any more.
  SELECT p.oid::pg_catalog.regprocedure INTO fn FROM pg_catalog.pg_proc p
   WHERE p.pronamespace OPERATOR(pg_catalog.=) ANY (ARRAY['sqs2pg', 'sqs2pg_vault']::pg_catalog.regnamespace[]::pg_catalog.oid[])
     AND p.prosrc OPERATOR(pg_catalog.~~) '%pg_advisory%sqs2pg vault%'
   LIMIT 1;
  IF fn IS NOT NULL THEN
    RAISE EXCEPTION '% still takes the erasure advisory lock', fn;
  END IF;
  PERFORM pg_catalog.set_config('search_path', session_path, true);
END $migration$;

-- Whoever may erase may take the lock erasing takes at BEGIN: the roles sqs2pg grants made (the PII
-- officer) keep working through an upgrade without grants being run again. Names are read from the
-- catalog and quoted; the statement is run under pg_catalog, pg_temp like the block above.
DO $grant$
DECLARE
  session_path text := pg_catalog.current_setting('search_path');
  grantee text;
BEGIN
  PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
  FOR grantee IN
    SELECT DISTINCT pg_catalog.pg_get_userbyid(a.grantee)
      FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
     WHERE p.oid OPERATOR(pg_catalog.=) 'sqs2pg_vault.forget_user(text, text[], text, text, bytea, bytea, bytea)'::pg_catalog.regprocedure::pg_catalog.oid
       AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
       AND a.grantee OPERATOR(pg_catalog.<>) p.proowner
       AND a.grantee OPERATOR(pg_catalog.<>) 0
  LOOP
    EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION sqs2pg_vault.erasure_lock_exclusive() TO %I', grantee);
  END LOOP;
  PERFORM pg_catalog.set_config('search_path', session_path, true);
END $grant$;
