-- Issue 25: erasure of any declared pipeline's subject, and vault entries that no table still uses.
--
-- forget_subject is forget_user for every registered pipeline (sqs2pg.pipelines, sql/0010): the caller
-- names a pipeline and a subject, never a table; the table, the column the subject's rows are found by
-- and the columns holding masks come from the registry, which only the owner writes. It deletes the
-- subject's rows, the pipeline's quarantine records naming the subject's keys, the vault entries of
-- the masks those rows held unless a row of any registered table still holds them, records a
-- tombstone that names its scope (so rotate can re-key it from the sealed value), and audits counts
-- only, under the erasure lock exactly as forget_user takes it (sql/0007 says why).
--
-- One mask can sit in two tables: masks are made per label, and a declared column's label is its
-- name, so a column named like another table's masked column holds the same mask for the same value.
-- So the vault entries an erasure would shred are checked against every registered table
-- (masks_in_use), by forget_user too, which until now read user_logins only; and forget --masked
-- counts the rows of every registered table that keep the mask (rows_holding).
--
-- Like 0007, this file runs in the migrating role's session, where public may be writable: it names
-- pg_catalog's functions and operators where it calls them outside a pinned function.

ALTER TABLE sqs2pg_vault.audit DROP CONSTRAINT IF EXISTS audit_action_check;
ALTER TABLE sqs2pg_vault.audit ADD CONSTRAINT audit_action_check
  CHECK (action IN ('reveal', 'forget_user', 'forget_masked', 'forget_subject', 'rotate', 'quarantine_reveal', 'replay'));

-- Which of p_masks a row of a registered table still holds, other than p_except's rows (a table the
-- caller has read itself). A mask is made under its vault entry's label, so only the columns
-- registered under those labels are read: erasing a page view's email reads no login's address.
CREATE OR REPLACE FUNCTION sqs2pg_vault.masks_in_use(p_masks varchar[], p_except regclass)
RETURNS varchar[] LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  labels text[];
  reg record;
  target regclass;
  held text[];
  found varchar[];
  kept varchar[] := '{}';
BEGIN
  IF p_masks IS NULL OR cardinality(p_masks) = 0 THEN
    RETURN kept;
  END IF;
  SELECT array_agg(DISTINCT e.field) INTO labels FROM sqs2pg_vault.entries e WHERE e.masked_value = ANY (p_masks);
  IF labels IS NULL THEN
    RETURN kept;
  END IF;
  FOR reg IN SELECT p.name, p.table_schema, p.table_name, p.pii_columns FROM sqs2pg.pipelines p ORDER BY p.name LOOP
    target := to_regclass(format('%I.%I', reg.table_schema, reg.table_name));
    CONTINUE WHEN target IS NULL OR target = p_except;
    SELECT array_agg(c ->> 'column') INTO held FROM jsonb_array_elements(reg.pii_columns) AS c WHERE c ->> 'label' = ANY (labels);
    CONTINUE WHEN held IS NULL;
    EXECUTE format(
      'SELECT coalesce(array_agg(DISTINCT v.m), ''{}'') FROM %I.%I t, LATERAL (VALUES %s) AS v(m) WHERE (%s) AND v.m = ANY ($1)',
      reg.table_schema, reg.table_name,
      (SELECT string_agg(format('(t.%I::varchar)', h), ', ') FROM unnest(held) AS h),
      (SELECT string_agg(format('t.%I = ANY ($1)', h), ' OR ') FROM unnest(held) AS h))
      INTO found USING p_masks;
    kept := kept || found;
  END LOOP;
  RETURN ARRAY(SELECT DISTINCT k FROM unnest(kept) AS k);
END $fn$;
REVOKE ALL ON FUNCTION sqs2pg_vault.masks_in_use(varchar[], regclass) FROM PUBLIC;

-- How many rows of the registered tables other than p_except hold p_mask, in a column registered
-- under its label: what forget --masked reports as keeping a mask nobody can reverse any more.
CREATE OR REPLACE FUNCTION sqs2pg_vault.rows_holding(p_mask varchar, p_label text, p_except regclass)
RETURNS bigint LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  reg record;
  target regclass;
  held text[];
  found bigint;
  total bigint := 0;
BEGIN
  FOR reg IN SELECT p.table_schema, p.table_name, p.pii_columns FROM sqs2pg.pipelines p ORDER BY p.name LOOP
    target := to_regclass(format('%I.%I', reg.table_schema, reg.table_name));
    CONTINUE WHEN target IS NULL OR target = p_except;
    SELECT array_agg(c ->> 'column') INTO held FROM jsonb_array_elements(reg.pii_columns) AS c WHERE c ->> 'label' = p_label;
    CONTINUE WHEN held IS NULL;
    EXECUTE format('SELECT count(*) FROM %I.%I t WHERE %s', reg.table_schema, reg.table_name,
      (SELECT string_agg(format('t.%I = $1', h), ' OR ') FROM unnest(held) AS h))
      INTO found USING p_mask;
    total := total + found;
  END LOOP;
  RETURN total;
END $fn$;
REVOKE ALL ON FUNCTION sqs2pg_vault.rows_holding(varchar, text, regclass) FROM PUBLIC;

-- Erasure of one subject of one registered pipeline. p_subject: the subject as the event carries it
-- (rows are found by it where a column holds it as read); p_subject_keys: its keyed hash under the
-- current mask key first (its tombstone holds p_sealed_subject, when given), then under the previous
-- one while a rotation is under way, as forget_user takes them.
CREATE OR REPLACE FUNCTION sqs2pg_vault.forget_subject(
  p_pipeline text, p_subject text, p_subject_keys text[], p_reason text,
  p_vault_key_id text, p_ephemeral_public_key bytea, p_nonce bytea, p_sealed_subject bytea)
RETURNS TABLE (rows_deleted bigint, quarantined bigint, vault_entries bigint, vault_entries_kept bigint, messages_stopped bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
#variable_conflict use_column
DECLARE
  reg record;
  target regclass;
  subject_category "char";
  subject_type text;
  matches text;
  held text;
  masks varchar[] := '{}';
  vaulted varchar[];
  kept varchar[] := '{}';
BEGIN
  -- As forget_user: every writer holds this lock shared from its tombstone check to its commit.
  PERFORM pg_advisory_xact_lock(hashtext('sqs2pg vault'));
  SELECT p.name, p.table_schema, p.table_name, p.builtin, p.subject_column, p.subject_is_key, p.subject_scope, p.pii_columns
    INTO reg FROM sqs2pg.pipelines p WHERE p.name = p_pipeline;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no pipeline % is registered in this database (sqs2pg.pipelines)', quote_literal(p_pipeline) USING ERRCODE = '42704';
  END IF;
  IF reg.subject_column IS NULL THEN
    RAISE EXCEPTION 'pipeline % names no subject: none of its rows can be found by subject', reg.name USING ERRCODE = '22023';
  END IF;
  -- The registry is the owner's; still, no erasure reaches sqs2pg's own tables or the catalog through it.
  IF reg.table_schema IN ('sqs2pg', 'sqs2pg_vault', 'pg_catalog', 'information_schema') OR starts_with(reg.table_schema, 'pg_') THEN
    RAISE EXCEPTION 'pipeline % is registered on a table of schema %, which sqs2pg never erases from', reg.name, reg.table_schema USING ERRCODE = '42501';
  END IF;
  IF p_subject_keys IS NULL OR cardinality(p_subject_keys) = 0 OR array_position(p_subject_keys, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'forget_subject needs the subject''s keys' USING ERRCODE = '22023';
  END IF;

  rows_deleted := 0;
  target := to_regclass(format('%I.%I', reg.table_schema, reg.table_name));
  IF target IS NOT NULL THEN
    IF reg.subject_is_key THEN
      matches := format('t.%I = ANY ($2)', reg.subject_column);
    ELSE
      SELECT t.typcategory, format_type(a.atttypid, a.atttypmod) INTO subject_category, subject_type
        FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
       WHERE a.attrelid = target AND a.attname = reg.subject_column AND a.attnum > 0 AND NOT a.attisdropped;
      IF subject_type IS NULL THEN
        RAISE EXCEPTION 'column % of % is gone: run sqs2pg migrate with the pipeline file', reg.subject_column, target USING ERRCODE = '42703';
      END IF;
      -- Text is compared as text: a cast to varchar(N) would cut a longer subject down to someone else's.
      matches := CASE WHEN subject_category = 'S' THEN format('t.%I = $1', reg.subject_column)
                      ELSE format('t.%I = CAST($1 AS %s)', reg.subject_column, subject_type) END;
    END IF;
    SELECT string_agg(format('t.%I::varchar', c ->> 'column'), ', ') INTO held FROM jsonb_array_elements(reg.pii_columns) AS c;
    BEGIN
      EXECUTE format(
        'WITH gone AS (DELETE FROM %I.%I t WHERE %s RETURNING ARRAY[%s]::varchar[] AS m)
         SELECT (SELECT count(*) FROM gone), coalesce((SELECT array_agg(DISTINCT v) FROM gone, unnest(gone.m) AS v WHERE v IS NOT NULL), ''{}'')',
        reg.table_schema, reg.table_name, matches, coalesce(held, ''))
        INTO rows_deleted, masks USING p_subject, p_subject_keys;
    EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range OR invalid_datetime_format
                    OR datetime_field_overflow OR invalid_parameter_value THEN
      -- A subject the column's type cannot hold has no row there; its records and tombstone still follow.
      rows_deleted := 0;
      masks := '{}';
    END;
  END IF;

  -- The builtin's records are found by key alone: its keys are of no other pipeline, and records
  -- of releases before pipelines had names are all its own.
  WITH q AS (DELETE FROM sqs2pg.quarantine q WHERE q.user_key = ANY (p_subject_keys) AND (reg.builtin OR q.pipeline = reg.name) RETURNING 1)
  SELECT count(*) INTO quarantined FROM q;

  -- The vault entries of those values (under any mask key a rotation left), unless a row of any
  -- registered table still holds them, and any entry made under the subject's keys themselves (a
  -- subject only its key names may be vaulted so that rotate can re-key its rows: it is the subject's
  -- own). With the vault off there are none, and no row is read.
  SELECT coalesce(array_agg(e.masked_value), '{}') INTO vaulted FROM sqs2pg_vault.entries e
   WHERE e.masked_value = ANY (sqs2pg_vault.mask_lineage(masks || p_subject_keys::varchar[]));
  IF cardinality(vaulted) > 0 THEN
    kept := sqs2pg_vault.masks_in_use(vaulted, NULL);
  END IF;
  WITH deleted AS (DELETE FROM sqs2pg_vault.entries e WHERE e.masked_value = ANY (vaulted) AND NOT e.masked_value = ANY (kept) RETURNING 1)
  SELECT count(*), cardinality(kept) INTO vault_entries, vault_entries_kept FROM deleted;

  INSERT INTO sqs2pg.tombstones (user_key, scope) SELECT k, reg.subject_scope FROM unnest(p_subject_keys[2:]) AS k ON CONFLICT (user_key) DO NOTHING;
  INSERT INTO sqs2pg.tombstones (user_key, scope, vault_key_id, ephemeral_public_key, nonce, sealed_user_id)
  VALUES (p_subject_keys[1], reg.subject_scope, p_vault_key_id, p_ephemeral_public_key, p_nonce, p_sealed_subject)
  ON CONFLICT (user_key) DO UPDATE SET
    vault_key_id = coalesce(sqs2pg.tombstones.vault_key_id, excluded.vault_key_id),
    ephemeral_public_key = coalesce(sqs2pg.tombstones.ephemeral_public_key, excluded.ephemeral_public_key),
    nonce = coalesce(sqs2pg.tombstones.nonce, excluded.nonce),
    sealed_user_id = coalesce(sqs2pg.tombstones.sealed_user_id, excluded.sealed_user_id);
  SELECT sum(t.messages_stopped) INTO messages_stopped FROM sqs2pg.tombstones t WHERE t.user_key = ANY (p_subject_keys);
  -- Counts and the pipeline's name only: neither the subject, its keyed hash nor the masks.
  PERFORM sqs2pg_vault.record_audit('forget_subject', NULL, p_reason, jsonb_build_object(
    'pipeline', reg.name, 'rows', rows_deleted, 'quarantined', quarantined, 'vaultEntries', vault_entries, 'vaultEntriesKept', vault_entries_kept));
  RETURN NEXT;
END $fn$;
REVOKE ALL ON FUNCTION sqs2pg_vault.forget_subject(text, text, text[], text, text, bytea, bytea, bytea) FROM PUBLIC;

-- forget_user as in 0007, but an entry it would shred is kept while a row of another registered
-- table holds the same mask (a declared column named ip or device_id masks as the login's do).
DO $migration$
DECLARE
  home name := (
    SELECT n.nspname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
     WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass('user_logins'));
BEGIN
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
  -- use them, here or in another registered table. With the vault off there are none, and no row is read.
  SELECT coalesce(array_agg(e.masked_value), '{}') INTO vaulted FROM sqs2pg_vault.entries e
   WHERE e.masked_value = ANY (sqs2pg_vault.mask_lineage(masks));
  IF cardinality(vaulted) > 0 THEN
    SELECT coalesce(array_agg(DISTINCT v.m), '{}') INTO kept
      FROM %1$I.user_logins u, LATERAL (VALUES (u.masked_ip), (u.masked_device_id)) AS v(m)
     WHERE (u.masked_ip OPERATOR(pg_catalog.=) ANY (vaulted) OR u.masked_device_id OPERATOR(pg_catalog.=) ANY (vaulted))
       AND v.m OPERATOR(pg_catalog.=) ANY (vaulted);
    kept := ARRAY(SELECT DISTINCT k FROM unnest(kept || sqs2pg_vault.masks_in_use(vaulted, %2$L::regclass)) AS k);
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
$sql$, home, pg_catalog.format('%I.user_logins', home));

  -- forget_masked as in 0007, counting the rows of every registered table that keep the mask.
  EXECUTE pg_catalog.format($sql$
CREATE OR REPLACE FUNCTION sqs2pg_vault.forget_masked(p_masked_value text, p_reason text)
RETURNS TABLE (vault_entries bigint, rows_using_it bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
#variable_conflict use_column
DECLARE
  label text;
BEGIN
  -- Counted before the lock, so that writers do not wait on this scan: the rows keeping the mask as
  -- the erasure begins (the count is for the officer and the audit; the erasure does not depend on it).
  -- Other tables are read where the entry says under which label the mask was made.
  SELECT count(*) INTO rows_using_it FROM %1$I.user_logins u
   WHERE u.masked_ip OPERATOR(pg_catalog.=) p_masked_value OR u.masked_device_id OPERATOR(pg_catalog.=) p_masked_value;
  SELECT e.field INTO label FROM sqs2pg_vault.entries e WHERE e.masked_value = p_masked_value;
  IF label IS NOT NULL THEN
    rows_using_it := rows_using_it + sqs2pg_vault.rows_holding(p_masked_value::varchar, label, %2$L::regclass);
  END IF;
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
$sql$, home, pg_catalog.format('%I.user_logins', home));
END $migration$;

REVOKE ALL ON FUNCTION sqs2pg_vault.forget_user(text, text[], text, text, bytea, bytea, bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION sqs2pg_vault.forget_masked(text, text) FROM PUBLIC;
