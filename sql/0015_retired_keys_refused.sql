-- A retired key seals and keys nothing more, and PostgreSQL says so. sqs2pg rotate retires a key id
-- once nothing is left under it, and tells its owner the key may be destroyed; but a worker started
-- before (a pod the rolling restart missed) still held it, and went on sealing to the retired vault
-- key and masking under the retired mask key: what it wrote after the retirement was stranded. From
-- now on every write under a retired key id is refused (SQLSTATE SQ2RK, the whole batch rolls back)
-- and the worker stops saying which key to set; its messages return to the queue.
--
-- The order is the erasure lock's: a batch takes it shared before it writes (stop_tombstoned), and
-- rotate retires under it exclusively, so a batch either commits before the retirement counts what
-- is left (and the key is not retired) or writes after it (and is refused). Only inserts are checked:
-- rotate itself updates what is under the old keys, and tombstones keep their old-key twins.

-- Raises SQ2RK when a key id of `p_key_ids` is retired for `p_purpose`; nulls and non-key prefixes
-- ('sealed' of a sealed cell's reference) are no key id and pass.
CREATE OR REPLACE FUNCTION sqs2pg.refuse_retired_keys(p_purpose text, p_key_ids text[])
RETURNS void LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  retired record;
BEGIN
  SELECT k.key_id, k.retired_at::date AS retired_on INTO retired FROM sqs2pg.key_fingerprints k
   WHERE k.purpose = p_purpose AND k.retired_at IS NOT NULL AND k.key_id = ANY (p_key_ids)
   ORDER BY k.key_id LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '% key id "%" was retired by sqs2pg rotate on %', p_purpose, retired.key_id, retired.retired_on
      USING ERRCODE = 'SQ2RK', HINT = 'nothing may be written under a retired key: give this process the key in use';
  END IF;
END $fn$;
REVOKE ALL ON FUNCTION sqs2pg.refuse_retired_keys(text, text[]) FROM PUBLIC;

CREATE OR REPLACE FUNCTION sqs2pg_vault.entries_under_live_keys() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  PERFORM sqs2pg.refuse_retired_keys('vault', (SELECT array_agg(DISTINCT n.vault_key_id) FROM new_rows n));
  PERFORM sqs2pg.refuse_retired_keys('mask', (SELECT array_agg(DISTINCT split_part(n.masked_value, ':', 1)) FROM new_rows n));
  RETURN NULL;
END $fn$;
REVOKE ALL ON FUNCTION sqs2pg_vault.entries_under_live_keys() FROM PUBLIC;
DROP TRIGGER IF EXISTS entries_under_live_keys ON sqs2pg_vault.entries;
CREATE TRIGGER entries_under_live_keys AFTER INSERT ON sqs2pg_vault.entries
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sqs2pg_vault.entries_under_live_keys();

CREATE OR REPLACE FUNCTION sqs2pg_vault.quarantine_bodies_under_live_keys() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  PERFORM sqs2pg.refuse_retired_keys('vault', (SELECT array_agg(DISTINCT n.vault_key_id) FROM new_rows n));
  RETURN NULL;
END $fn$;
REVOKE ALL ON FUNCTION sqs2pg_vault.quarantine_bodies_under_live_keys() FROM PUBLIC;
DROP TRIGGER IF EXISTS quarantine_bodies_under_live_keys ON sqs2pg_vault.quarantine_bodies;
CREATE TRIGGER quarantine_bodies_under_live_keys AFTER INSERT ON sqs2pg_vault.quarantine_bodies
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sqs2pg_vault.quarantine_bodies_under_live_keys();

-- A record's user key and body hash are keyed by the mask key (a record without a user is caught here too).
CREATE OR REPLACE FUNCTION sqs2pg.quarantine_under_live_keys() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  PERFORM sqs2pg.refuse_retired_keys('mask', (
    SELECT array_agg(DISTINCT split_part(k, ':', 1)) FROM new_rows n, unnest(ARRAY[n.user_key, n.body_sha256]) AS k WHERE k IS NOT NULL));
  RETURN NULL;
END $fn$;
REVOKE ALL ON FUNCTION sqs2pg.quarantine_under_live_keys() FROM PUBLIC;
DROP TRIGGER IF EXISTS quarantine_under_live_keys ON sqs2pg.quarantine;
CREATE TRIGGER quarantine_under_live_keys AFTER INSERT ON sqs2pg.quarantine
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sqs2pg.quarantine_under_live_keys();

CREATE OR REPLACE FUNCTION sqs2pg.tombstones_under_live_keys() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  PERFORM sqs2pg.refuse_retired_keys('vault', (SELECT array_agg(DISTINCT n.vault_key_id) FROM new_rows n WHERE n.vault_key_id IS NOT NULL));
  PERFORM sqs2pg.refuse_retired_keys('mask', (SELECT array_agg(DISTINCT split_part(n.user_key, ':', 1)) FROM new_rows n));
  RETURN NULL;
END $fn$;
REVOKE ALL ON FUNCTION sqs2pg.tombstones_under_live_keys() FROM PUBLIC;
DROP TRIGGER IF EXISTS tombstones_under_live_keys ON sqs2pg.tombstones;
CREATE TRIGGER tombstones_under_live_keys AFTER INSERT ON sqs2pg.tombstones
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sqs2pg.tombstones_under_live_keys();

-- The rows of the pipelines' own tables carry no trigger of sqs2pg's (user_logins keeps the
-- take-home's DDL): the batch's tombstone check, which every batch with a user or subject runs
-- first, refuses user keys under a retired mask key instead, right after it takes the erasure lock.
-- The function is rewritten from its own definition (0007's), only that line added, as 0016 does;
-- run under search_path pg_catalog, pg_temp, then the session's path put back.
DO $migration$
DECLARE
  session_path text := pg_catalog.current_setting('search_path');
  lock_line constant text := 'PERFORM pg_advisory_xact_lock_shared(hashtext(''sqs2pg vault''));';
  check_line constant text := 'PERFORM sqs2pg.refuse_retired_keys(''mask'', (SELECT array_agg(DISTINCT split_part(k, '':'', 1)) FROM unnest(p_user_keys) AS k));';
  before text;
  after text;
BEGIN
  PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
  before := pg_catalog.pg_get_functiondef('sqs2pg.stop_tombstoned(text[])'::pg_catalog.regprocedure);
  IF pg_catalog.strpos(before, check_line) OPERATOR(pg_catalog.=) 0 THEN
    after := pg_catalog.replace(before, lock_line, lock_line OPERATOR(pg_catalog.||) E'\n  ' OPERATOR(pg_catalog.||) check_line);
    IF after OPERATOR(pg_catalog.=) before THEN
      RAISE EXCEPTION 'sqs2pg.stop_tombstoned(text[]) takes no erasure lock to check after: its definition is not the one sqs2pg made';
    END IF;
    -- CREATE OR REPLACE keeps the owner and the privileges (REVOKE ... FROM PUBLIC, grants' EXECUTE).
    EXECUTE after;
  END IF;
  PERFORM pg_catalog.set_config('search_path', session_path, true);
END $migration$;
