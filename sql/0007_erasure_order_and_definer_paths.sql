-- Issue 22, items 1 and 2.
--
-- Erasure ordered against every writer. Every batch, whatever it holds (rows, quarantine records,
-- sealed bodies, vault entries), asks sqs2pg.stop_tombstoned which of its users are erased before it
-- writes anything, in its own transaction. That check now takes the erasure lock shared, held until
-- the batch commits, and forget takes it exclusively: a batch either commits before forget's deletes
-- begin (they see what it wrote) or checks after forget has committed (it sees the tombstone). So
-- nothing of an erased user appears after forget returns, vault on or off, for any batch, any number
-- of workers, and replay (which writes through the same check). The lock's key is the one vault
-- writers and rotate already hold ('sqs2pg vault'), so workers of an earlier release are ordered too.
-- forget holds it while it deletes, so it must be quick: user_logins gets an index on user_id (its
-- seven columns stay as they are), and the one remaining scan runs only for masks the vault holds.
--
-- rotate leaves a re-masked value's old entry in place until its clean-up at the end (workers still on
-- the old key may need it), and forget knows only the masks the user's rows carry now: so each entry
-- rotate replaces names its replacement, and forget follows those links both ways, so that the old
-- entries of an erased user's values go too (an interrupted rotate left them for good before).
--
-- No function a role can subvert. Every SECURITY DEFINER function runs with search_path pg_catalog,
-- pg_temp: no schema a role may create in (public, on PostgreSQL 12 to 14) is searched for the functions
-- and operators it calls, so none can be planted to run as the owner. user_logins is named by the
-- schema it is in, resolved now. This file is written to be safe under any search path too: it runs
-- in the migrating role's session, where public may be writable, so it names pg_catalog's functions
-- and operators explicitly.

ALTER TABLE sqs2pg_vault.entries ADD COLUMN IF NOT EXISTS superseded_by varchar(256);
CREATE INDEX IF NOT EXISTS entries_superseded_by_idx ON sqs2pg_vault.entries (superseded_by) WHERE superseded_by IS NOT NULL;

-- Every mask of the same values as `p_masks`, under any mask key: the masks themselves, the entries
-- they replaced and the entries that replaced them, as far as the links go.
CREATE OR REPLACE FUNCTION sqs2pg_vault.mask_lineage(p_masks varchar[])
RETURNS varchar[] LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
  WITH RECURSIVE lineage(m) AS (
    SELECT x FROM unnest(p_masks) AS x
    UNION
    SELECT CASE WHEN e.superseded_by = l.m THEN e.masked_value ELSE e.superseded_by END
      FROM sqs2pg_vault.entries e JOIN lineage l ON e.superseded_by = l.m OR e.masked_value = l.m
     WHERE e.superseded_by IS NOT NULL
  )
  SELECT coalesce(array_agg(m), '{}') FROM lineage
$fn$;
REVOKE ALL ON FUNCTION sqs2pg_vault.mask_lineage(varchar[]) FROM PUBLIC;

DO $migration$
DECLARE
  home name := (
    SELECT n.nspname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
     WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass('user_logins'));
BEGIN
  EXECUTE pg_catalog.format('CREATE INDEX IF NOT EXISTS user_logins_user_id_idx ON %I.user_logins (user_id)', home);

  EXECUTE pg_catalog.format($sql$
CREATE OR REPLACE FUNCTION sqs2pg_vault.forget_user(
  p_user_id text, p_user_keys text[], p_reason text,
  p_vault_key_id text, p_ephemeral_public_key bytea, p_nonce bytea, p_sealed_user_id bytea)
RETURNS TABLE (rows_deleted bigint, quarantined bigint, vault_entries bigint, vault_entries_kept bigint, messages_stopped bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
#variable_conflict use_column
DECLARE
  masks varchar[];
  vaulted varchar[];
  kept varchar[] := '{}';
BEGIN
  -- Every writer holds this lock shared from its tombstone check to its commit: once it is granted,
  -- no batch is half way, and none writes this user again (the tombstone below commits with this).
  PERFORM pg_advisory_xact_lock(hashtext('sqs2pg vault'));
  WITH gone AS (
    DELETE FROM %1$I.user_logins u WHERE u.user_id OPERATOR(pg_catalog.=) p_user_id RETURNING u.masked_ip, u.masked_device_id
  )
  SELECT (SELECT count(*) FROM gone),
         coalesce((SELECT array_agg(DISTINCT v.m) FROM gone, LATERAL (VALUES (gone.masked_ip), (gone.masked_device_id)) AS v(m)
                    WHERE v.m IS NOT NULL), '{}')
    INTO rows_deleted, masks;
  WITH q AS (DELETE FROM sqs2pg.quarantine q WHERE q.user_key = ANY (p_user_keys) RETURNING 1) SELECT count(*) INTO quarantined FROM q;
  -- The vault entries of those values (under any mask key a rotation left), unless other rows still
  -- use them. With the vault off there are none, and no row is read.
  SELECT coalesce(array_agg(e.masked_value), '{}') INTO vaulted FROM sqs2pg_vault.entries e
   WHERE e.masked_value = ANY (sqs2pg_vault.mask_lineage(masks));
  IF cardinality(vaulted) > 0 THEN
    SELECT coalesce(array_agg(DISTINCT v.m), '{}') INTO kept
      FROM %1$I.user_logins u, LATERAL (VALUES (u.masked_ip), (u.masked_device_id)) AS v(m)
     WHERE (u.masked_ip OPERATOR(pg_catalog.=) ANY (vaulted) OR u.masked_device_id OPERATOR(pg_catalog.=) ANY (vaulted))
       AND v.m OPERATOR(pg_catalog.=) ANY (vaulted);
  END IF;
  WITH deleted AS (DELETE FROM sqs2pg_vault.entries e WHERE e.masked_value = ANY (vaulted) AND NOT e.masked_value = ANY (kept) RETURNING 1)
  SELECT count(*), cardinality(kept) INTO vault_entries, vault_entries_kept FROM deleted;
  INSERT INTO sqs2pg.tombstones (user_key) SELECT k FROM unnest(p_user_keys[2:]) AS k ON CONFLICT (user_key) DO NOTHING;
  INSERT INTO sqs2pg.tombstones (user_key, vault_key_id, ephemeral_public_key, nonce, sealed_user_id)
  VALUES (p_user_keys[1], p_vault_key_id, p_ephemeral_public_key, p_nonce, p_sealed_user_id)
  ON CONFLICT (user_key) DO UPDATE SET
    vault_key_id = coalesce(sqs2pg.tombstones.vault_key_id, excluded.vault_key_id),
    ephemeral_public_key = coalesce(sqs2pg.tombstones.ephemeral_public_key, excluded.ephemeral_public_key),
    nonce = coalesce(sqs2pg.tombstones.nonce, excluded.nonce),
    sealed_user_id = coalesce(sqs2pg.tombstones.sealed_user_id, excluded.sealed_user_id);
  SELECT sum(t.messages_stopped) INTO messages_stopped FROM sqs2pg.tombstones t WHERE t.user_key = ANY (p_user_keys);
  -- Counts only: neither the user id, its keyed hash nor the masks, which the erasure leaves nowhere else.
  PERFORM sqs2pg_vault.record_audit('forget_user', NULL, p_reason, jsonb_build_object(
    'rows', rows_deleted, 'quarantined', quarantined, 'vaultEntries', vault_entries, 'vaultEntriesKept', vault_entries_kept));
  RETURN NEXT;
END $fn$
$sql$, home);

  EXECUTE pg_catalog.format($sql$
CREATE OR REPLACE FUNCTION sqs2pg_vault.forget_masked(p_masked_value text, p_reason text)
RETURNS TABLE (vault_entries bigint, rows_using_it bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
#variable_conflict use_column
BEGIN
  -- Counted before the lock, so that writers do not wait on this scan: the rows keeping the mask as
  -- the erasure begins (the count is for the officer and the audit; the erasure does not depend on it).
  SELECT count(*) INTO rows_using_it FROM %1$I.user_logins u
   WHERE u.masked_ip OPERATOR(pg_catalog.=) p_masked_value OR u.masked_device_id OPERATOR(pg_catalog.=) p_masked_value;
  -- Writers that vault this value and are half way commit first, and their entry is deleted too; so
  -- are the entries of the same value under other mask keys that a rotation left.
  PERFORM pg_advisory_xact_lock(hashtext('sqs2pg vault'));
  WITH d AS (DELETE FROM sqs2pg_vault.entries e WHERE e.masked_value = ANY (sqs2pg_vault.mask_lineage(ARRAY[p_masked_value::varchar])) RETURNING 1)
  SELECT count(*) INTO vault_entries FROM d;
  -- The mask may be recorded: the rows that keep it are still there.
  PERFORM sqs2pg_vault.record_audit('forget_masked', p_masked_value, p_reason,
    jsonb_build_object('vaultEntries', vault_entries, 'rowsUsingIt', rows_using_it));
  RETURN NEXT;
END $fn$
$sql$, home);
END $migration$;

REVOKE ALL ON FUNCTION sqs2pg_vault.forget_user(text, text[], text, text, bytea, bytea, bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION sqs2pg_vault.forget_masked(text, text) FROM PUBLIC;

-- The workers' tombstone check, run first in each batch's transaction (and replay's): it takes the
-- erasure lock shared, then says which of the batch's user keys are erased, counting the messages
-- stopped. The count locks those tombstones, in one order, so that two batches holding the same
-- erased users wait for each other instead of deadlocking; a batch with no erased user locks none.
CREATE OR REPLACE FUNCTION sqs2pg.stop_tombstoned(p_user_keys text[])
RETURNS SETOF text LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  erased text[];
BEGIN
  PERFORM pg_advisory_xact_lock_shared(hashtext('sqs2pg vault'));
  SELECT array_agg(t.user_key ORDER BY t.user_key) INTO erased FROM sqs2pg.tombstones t WHERE t.user_key = ANY (p_user_keys);
  IF erased IS NULL THEN
    RETURN;
  END IF;
  PERFORM 1 FROM sqs2pg.tombstones t WHERE t.user_key = ANY (erased) ORDER BY t.user_key FOR UPDATE;
  RETURN QUERY
    WITH hits AS (SELECT k, count(*) AS n FROM unnest(p_user_keys) AS k WHERE k = ANY (erased) GROUP BY k),
    stopped AS (
      UPDATE sqs2pg.tombstones t SET messages_stopped = t.messages_stopped + hits.n FROM hits WHERE t.user_key = hits.k RETURNING t.user_key
    )
    SELECT s.user_key FROM stopped s;
END $fn$;
REVOKE ALL ON FUNCTION sqs2pg.stop_tombstoned(text[]) FROM PUBLIC;
