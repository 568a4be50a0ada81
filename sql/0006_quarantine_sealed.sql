-- The quarantine keeps nothing of a refused body in clear (issue 10). A record says what the body
-- looked like (bytes, SHA-256, shape: keys with value types and lengths, never a value), the masks
-- of the ip and device_id values that could be read, the user's key (a keyed hash of user_id, how
-- forget finds the record), and, vault on, the whole body sealed to the vault's public key.
ALTER TABLE sqs2pg.quarantine
  ALTER COLUMN redacted_body DROP NOT NULL,
  ADD COLUMN IF NOT EXISTS body_bytes integer,
  ADD COLUMN IF NOT EXISTS body_sha256 text,
  ADD COLUMN IF NOT EXISTS body_shape text,
  ADD COLUMN IF NOT EXISTS masked_ips varchar(256)[],
  ADD COLUMN IF NOT EXISTS masked_device_ids varchar(256)[],
  ADD COLUMN IF NOT EXISTS user_key varchar(256);

-- The pattern-based redactor let values through (addresses in free text, device ids in arrays or
-- under escaped keys): what it stored is cleared. VACUUM FULL sqs2pg.quarantine removes the old
-- row versions from disk too (see the README's upgrade notes).
UPDATE sqs2pg.quarantine SET redacted_body = NULL WHERE redacted_body IS NOT NULL;

-- Workers of an earlier release still send a redacted body during a rolling upgrade: never store it.
CREATE OR REPLACE FUNCTION sqs2pg.quarantine_without_redacted_body() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  NEW.redacted_body := NULL;
  RETURN NEW;
END
$$;
DROP TRIGGER IF EXISTS quarantine_without_redacted_body ON sqs2pg.quarantine;
CREATE TRIGGER quarantine_without_redacted_body BEFORE INSERT OR UPDATE OF redacted_body ON sqs2pg.quarantine
  FOR EACH ROW WHEN (NEW.redacted_body IS NOT NULL) EXECUTE FUNCTION sqs2pg.quarantine_without_redacted_body();

CREATE INDEX IF NOT EXISTS quarantine_user_key_idx ON sqs2pg.quarantine (user_key) WHERE user_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS quarantine_quarantined_at_idx ON sqs2pg.quarantine (quarantined_at);

-- Sealed bodies live in the vault's schema, which only the schema owner reads: an officer gets one
-- only through begin_quarantine_reveal and revealed_quarantine_body below, which audit it first. Removing a record (forget, replay,
-- DELETE or TRUNCATE by hand) removes its body, by the triggers below; no foreign key, so that a
-- TRUNCATE of the quarantine needs no CASCADE nor any privilege on the vault.
CREATE TABLE IF NOT EXISTS sqs2pg_vault.quarantine_bodies (
  sqs_message_id varchar(128) PRIMARY KEY,
  vault_key_id text NOT NULL,
  ephemeral_public_key bytea NOT NULL CHECK (octet_length(ephemeral_public_key) = 32),
  nonce bytea NOT NULL CHECK (octet_length(nonce) = 12),
  -- AES-256-GCM ciphertext and tag; associated data: the key id and quarantineContext(message id)
  ciphertext bytea NOT NULL CHECK (octet_length(ciphertext) >= 16),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION sqs2pg_vault.quarantine_body_gone() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    DELETE FROM sqs2pg_vault.quarantine_bodies;
  ELSE
    DELETE FROM sqs2pg_vault.quarantine_bodies WHERE sqs_message_id = OLD.sqs_message_id;
  END IF;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION sqs2pg_vault.quarantine_body_gone() FROM PUBLIC;
DROP TRIGGER IF EXISTS quarantine_body_gone ON sqs2pg.quarantine;
CREATE TRIGGER quarantine_body_gone AFTER DELETE ON sqs2pg.quarantine
  FOR EACH ROW EXECUTE FUNCTION sqs2pg_vault.quarantine_body_gone();
DROP TRIGGER IF EXISTS quarantine_bodies_truncated ON sqs2pg.quarantine;
CREATE TRIGGER quarantine_bodies_truncated AFTER TRUNCATE ON sqs2pg.quarantine
  FOR EACH STATEMENT EXECUTE FUNCTION sqs2pg_vault.quarantine_body_gone();

-- Audit: two more actions, and the subject of one (a message id) where it is not a mask.
-- The same list as issue 11's migration, so either order of the two leaves the same constraint.
ALTER TABLE sqs2pg_vault.audit ADD COLUMN IF NOT EXISTS subject text;
ALTER TABLE sqs2pg_vault.audit DROP CONSTRAINT IF EXISTS audit_action_check;
ALTER TABLE sqs2pg_vault.audit ADD CONSTRAINT audit_action_check
  CHECK (action IN ('reveal', 'forget_user', 'forget_masked', 'rotate', 'quarantine_reveal', 'replay'));

-- An officer's way to a sealed body, in two steps that cannot be reordered (as reveal's, in 0005).
-- Step 1 writes the audit row and returns its id (NULL when the record has no sealed body: nothing
-- to open, nothing audited); the caller commits it. Step 2 hands the sealed body over only for an
-- audit row of this login committed in an earlier transaction in the last five minutes, so rolling
-- back cannot take the audit row with it. Owned by the schema owner, fixed search_path; who asked is
-- session_user (current_user is the owner in here). Replay runs as the owner and audits itself.
CREATE OR REPLACE FUNCTION sqs2pg_vault.begin_quarantine_reveal(p_message_id varchar, p_reason text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  audit_id bigint;
BEGIN
  IF p_reason IS NULL OR length(btrim(p_reason)) < 3 THEN
    RAISE EXCEPTION 'a quarantine reveal needs a reason' USING ERRCODE = '22023';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM sqs2pg_vault.quarantine_bodies b WHERE b.sqs_message_id = p_message_id) THEN
    RETURN NULL;
  END IF;
  INSERT INTO sqs2pg_vault.audit (database_user, session_user_name, action, subject, reason)
  VALUES (session_user, session_user, 'quarantine_reveal', p_message_id, p_reason)
  RETURNING id INTO audit_id;
  RETURN audit_id;
END
$$;
REVOKE ALL ON FUNCTION sqs2pg_vault.begin_quarantine_reveal(varchar, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION sqs2pg_vault.revealed_quarantine_body(p_audit_id bigint)
RETURNS TABLE (vault_key_id text, ephemeral_public_key bytea, nonce bytea, ciphertext bytea)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  target text;
BEGIN
  SELECT a.subject INTO target FROM sqs2pg_vault.audit a
   WHERE a.id = p_audit_id AND a.action = 'quarantine_reveal' AND a.session_user_name = session_user
     AND a.at < now() AND a.at > now() - interval '5 minutes';
  IF target IS NULL THEN
    RAISE EXCEPTION 'no committed quarantine reveal audit row % of this login in the last 5 minutes', p_audit_id USING ERRCODE = '42501';
  END IF;
  RETURN QUERY SELECT b.vault_key_id, b.ephemeral_public_key, b.nonce, b.ciphertext
                 FROM sqs2pg_vault.quarantine_bodies b WHERE b.sqs_message_id = target;
END
$$;
REVOKE ALL ON FUNCTION sqs2pg_vault.revealed_quarantine_body(bigint) FROM PUBLIC;
