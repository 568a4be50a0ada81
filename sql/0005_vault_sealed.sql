-- Privacy that holds against insiders (issue 11):
--   * vault entries sealed to an X25519 public key (sqs2pg vault v2): workers encrypt, only the
--     holder of the private key decrypts; entries without an ephemeral key are legacy v1
--     (symmetric) entries, which reveal and rotate still open;
--   * every reveal and erasure goes through SECURITY DEFINER functions owned by the schema's
--     owner that write the audit row themselves; no other role may write, change or delete it;
--   * tombstones: a keyed hash of each erased user id, so workers load no later message of theirs;
--   * one key has one key id (the other direction, one id one key, is the primary key).

ALTER TABLE sqs2pg_vault.entries ADD COLUMN IF NOT EXISTS ephemeral_public_key bytea
  CHECK (ephemeral_public_key IS NULL OR octet_length(ephemeral_public_key) = 32);

ALTER TABLE sqs2pg_vault.audit DROP CONSTRAINT IF EXISTS audit_action_check;
ALTER TABLE sqs2pg_vault.audit ADD CONSTRAINT audit_action_check
  CHECK (action IN ('reveal', 'forget_user', 'forget_masked', 'rotate', 'quarantine_reveal', 'replay'));

-- A database that already registered one key under two ids (the finding this closes) keeps its
-- rows; sqs2pg refuses such keys at start, and the index is created once the duplicates are gone.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM sqs2pg.key_fingerprints GROUP BY purpose, fingerprint HAVING count(*) > 1) THEN
    CREATE UNIQUE INDEX IF NOT EXISTS key_fingerprints_one_id_per_key ON sqs2pg.key_fingerprints (purpose, fingerprint);
  ELSE
    RAISE WARNING 'sqs2pg.key_fingerprints holds one key under two key ids; sqs2pg refuses that key until one id is retired';
  END IF;
END $$;

-- Quarantine records name their user by the same keyed hash as tombstones (where the body's
-- user_id could be read), so forget --user-id finds them without reading bodies.
ALTER TABLE sqs2pg.quarantine ADD COLUMN IF NOT EXISTS user_key text;
CREATE INDEX IF NOT EXISTS quarantine_user_key_idx ON sqs2pg.quarantine (user_key);

-- One row per erased user and mask key id: `<mask key id>:<HMAC of the user id>` under a key
-- derived from the mask key for this purpose alone, never the id itself. The id may also be kept
-- sealed to the vault's public key (vault on), so that sqs2pg rotate, holding the private key,
-- can re-key the tombstone under a new mask key; without the vault, forget is run again then.
CREATE TABLE IF NOT EXISTS sqs2pg.tombstones (
  user_key text PRIMARY KEY CHECK (user_key ~ '^[a-z0-9]{1,16}:[0-9a-f]{64}$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  -- messages of this user that arrived after the erasure and were dropped (a redelivered copy counts again)
  messages_stopped bigint NOT NULL DEFAULT 0,
  vault_key_id text,
  ephemeral_public_key bytea CHECK (ephemeral_public_key IS NULL OR octet_length(ephemeral_public_key) = 32),
  nonce bytea CHECK (nonce IS NULL OR octet_length(nonce) = 12),
  sealed_user_id bytea CHECK (sealed_user_id IS NULL OR octet_length(sealed_user_id) >= 16),
  CHECK ((vault_key_id IS NULL) = (sealed_user_id IS NULL))
);
REVOKE ALL ON sqs2pg.tombstones FROM PUBLIC;

-- The only writer of audit rows. Who and when come from the server: session_user is the login,
-- which a SECURITY DEFINER function does not change (current_user would be the owner).
CREATE OR REPLACE FUNCTION sqs2pg_vault.record_audit(p_action text, p_masked_value text, p_reason text, p_detail jsonb)
RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  INSERT INTO sqs2pg_vault.audit (action, database_user, masked_value, reason, detail)
  VALUES (p_action, session_user, p_masked_value, p_reason, p_detail)
  RETURNING id
$$;
REVOKE ALL ON FUNCTION sqs2pg_vault.record_audit(text, text, text, jsonb) FROM PUBLIC;

-- Reveal, step 1: records the reveal and returns its audit id, or NULL when the vault holds no
-- entry for the mask (nothing to reveal, nothing audited). The caller commits it.
CREATE OR REPLACE FUNCTION sqs2pg_vault.begin_reveal(p_masked_value text, p_reason text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
  IF p_reason IS NULL OR length(btrim(p_reason)) < 3 THEN
    RAISE EXCEPTION 'a reveal needs a reason' USING ERRCODE = '22023';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM sqs2pg_vault.entries WHERE masked_value = p_masked_value) THEN
    RETURN NULL;
  END IF;
  RETURN sqs2pg_vault.record_audit('reveal', p_masked_value, p_reason, NULL);
END $$;
REVOKE ALL ON FUNCTION sqs2pg_vault.begin_reveal(text, text) FROM PUBLIC;

-- Reveal, step 2: the entry's ciphertext, only for a reveal audited by this login in an earlier,
-- committed transaction (its row is visible and older than this transaction), in the last five
-- minutes. A caller that rolls back cannot take the audit row with it: it was committed first.
CREATE OR REPLACE FUNCTION sqs2pg_vault.revealed_entry(p_audit_id bigint)
RETURNS TABLE (masked_value varchar, field text, vault_key_id text, ephemeral_public_key bytea, nonce bytea, ciphertext bytea)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
  target varchar;
BEGIN
  SELECT a.masked_value INTO target FROM sqs2pg_vault.audit a
   WHERE a.id = p_audit_id AND a.action = 'reveal' AND a.session_user_name = session_user
     AND a.at < now() AND a.at > now() - interval '5 minutes';
  IF target IS NULL THEN
    RAISE EXCEPTION 'no committed reveal audit row % of this login in the last 5 minutes', p_audit_id USING ERRCODE = '42501';
  END IF;
  RETURN QUERY SELECT e.masked_value, e.field, e.vault_key_id, e.ephemeral_public_key, e.nonce, e.ciphertext
                 FROM sqs2pg_vault.entries e WHERE e.masked_value = target;
END $$;
REVOKE ALL ON FUNCTION sqs2pg_vault.revealed_entry(bigint) FROM PUBLIC;

-- Erasure of a user: rows, quarantine records, vault entries no other row uses, tombstones, and
-- the audit row (counts only), in the caller's transaction under the vault's delete lock.
-- p_user_keys: the user's keyed hash under the current mask key first (its tombstone holds the
-- sealed id, when given), then under the previous mask key while a rotation is under way, so that
-- quarantine records and workers of either key are covered.
CREATE OR REPLACE FUNCTION sqs2pg_vault.forget_user(
  p_user_id text, p_user_keys text[], p_reason text,
  p_vault_key_id text, p_ephemeral_public_key bytea, p_nonce bytea, p_sealed_user_id bytea)
RETURNS TABLE (rows_deleted bigint, quarantined bigint, vault_entries bigint, vault_entries_kept bigint, messages_stopped bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
  masks varchar[];
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('sqs2pg vault'));
  WITH gone AS (DELETE FROM user_logins WHERE user_id = p_user_id RETURNING masked_ip, masked_device_id)
  SELECT (SELECT count(*) FROM gone),
         coalesce((SELECT array_agg(DISTINCT v.m) FROM gone, LATERAL (VALUES (gone.masked_ip), (gone.masked_device_id)) AS v(m)
                    WHERE v.m IS NOT NULL), '{}')
    INTO rows_deleted, masks;
  WITH q AS (DELETE FROM sqs2pg.quarantine WHERE user_key = ANY (p_user_keys) RETURNING 1) SELECT count(*) INTO quarantined FROM q;
  WITH used AS (
    SELECT masked_ip AS mask FROM user_logins WHERE masked_ip = ANY (masks)
    UNION SELECT masked_device_id FROM user_logins WHERE masked_device_id = ANY (masks)
  ), deleted AS (
    DELETE FROM sqs2pg_vault.entries WHERE masked_value = ANY (masks) AND masked_value NOT IN (SELECT mask FROM used) RETURNING 1
  )
  SELECT (SELECT count(*) FROM deleted), (SELECT count(*) FROM sqs2pg_vault.entries e WHERE e.masked_value IN (SELECT mask FROM used))
    INTO vault_entries, vault_entries_kept;
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
END $$;
REVOKE ALL ON FUNCTION sqs2pg_vault.forget_user(text, text[], text, text, bytea, bytea, bytea) FROM PUBLIC;

-- Erasure of one value: its vault entry (crypto-shredding); the rows keep the mask.
CREATE OR REPLACE FUNCTION sqs2pg_vault.forget_masked(p_masked_value text, p_reason text)
RETURNS TABLE (vault_entries bigint, rows_using_it bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('sqs2pg vault'));
  WITH d AS (DELETE FROM sqs2pg_vault.entries WHERE masked_value = p_masked_value RETURNING 1) SELECT count(*) INTO vault_entries FROM d;
  SELECT count(*) INTO rows_using_it FROM user_logins WHERE masked_ip = p_masked_value OR masked_device_id = p_masked_value;
  -- The mask may be recorded: the rows that keep it are still there.
  PERFORM sqs2pg_vault.record_audit('forget_masked', p_masked_value, p_reason,
    jsonb_build_object('vaultEntries', vault_entries, 'rowsUsingIt', rows_using_it));
  RETURN NEXT;
END $$;
REVOKE ALL ON FUNCTION sqs2pg_vault.forget_masked(text, text) FROM PUBLIC;

-- The worker's tombstone check, run in each batch's transaction before its inserts: which of the
-- batch's user keys are erased, counting the messages stopped. The worker gets EXECUTE on this
-- alone, never SELECT on the tombstones.
CREATE OR REPLACE FUNCTION sqs2pg.stop_tombstoned(p_user_keys text[])
RETURNS SETOF text LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  WITH hits AS (SELECT k, count(*) AS n FROM unnest(p_user_keys) AS k GROUP BY k),
  stopped AS (
    UPDATE sqs2pg.tombstones t SET messages_stopped = t.messages_stopped + hits.n
      FROM hits WHERE t.user_key = hits.k
    RETURNING t.user_key
  )
  SELECT user_key FROM stopped
$$;
REVOKE ALL ON FUNCTION sqs2pg.stop_tombstoned(text[]) FROM PUBLIC;

-- The functions that name user_logins find it where the migrations created it (the migrating
-- role's search path), fixed now so that a caller's search path cannot substitute another table.
DO $$
DECLARE
  home text := (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass('user_logins'));
BEGIN
  EXECUTE format('ALTER FUNCTION sqs2pg_vault.forget_user(text, text[], text, text, bytea, bytea, bytea) SET search_path = %I, pg_temp', home);
  EXECUTE format('ALTER FUNCTION sqs2pg_vault.forget_masked(text, text) SET search_path = %I, pg_temp', home);
END $$;
