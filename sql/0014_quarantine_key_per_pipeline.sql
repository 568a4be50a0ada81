-- A quarantine record is one pipeline's: two pipelines fed by one SNS topic each key a message by the
-- notification's MessageId, so when both refuse it, the second record (and its sealed body) was
-- dropped by ON CONFLICT (sqs_message_id), a message lost. Records and sealed bodies are keyed by
-- (pipeline, sqs_message_id) from now on; every reader and writer names both.

ALTER TABLE sqs2pg.quarantine DROP CONSTRAINT IF EXISTS quarantine_pkey;
ALTER TABLE sqs2pg.quarantine ADD CONSTRAINT quarantine_pkey PRIMARY KEY (pipeline, sqs_message_id);
-- The key leads with the pipeline, which the index of 0010 did alone; a message id alone (quarantine
-- show) is found by its own index.
DROP INDEX IF EXISTS sqs2pg.quarantine_pipeline_idx;
CREATE INDEX IF NOT EXISTS quarantine_message_id_idx ON sqs2pg.quarantine (sqs_message_id);

-- Every body so far is the body of the one record of its message id, whose pipeline it takes. No
-- default after that: a body written without its pipeline would belong to no record.
ALTER TABLE sqs2pg_vault.quarantine_bodies ADD COLUMN IF NOT EXISTS pipeline text NOT NULL DEFAULT 'logins';
UPDATE sqs2pg_vault.quarantine_bodies b SET pipeline = q.pipeline
  FROM sqs2pg.quarantine q WHERE q.sqs_message_id = b.sqs_message_id AND b.pipeline <> q.pipeline;
ALTER TABLE sqs2pg_vault.quarantine_bodies ALTER COLUMN pipeline DROP DEFAULT;
ALTER TABLE sqs2pg_vault.quarantine_bodies DROP CONSTRAINT IF EXISTS quarantine_bodies_pkey;
ALTER TABLE sqs2pg_vault.quarantine_bodies ADD CONSTRAINT quarantine_bodies_pkey PRIMARY KEY (pipeline, sqs_message_id);

-- A record removed takes its own body, not another pipeline's of the same message id.
CREATE OR REPLACE FUNCTION sqs2pg_vault.quarantine_body_gone() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    DELETE FROM sqs2pg_vault.quarantine_bodies;
  ELSE
    DELETE FROM sqs2pg_vault.quarantine_bodies b
     WHERE b.pipeline = OLD.pipeline AND b.sqs_message_id = OLD.sqs_message_id;
  END IF;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION sqs2pg_vault.quarantine_body_gone() FROM PUBLIC;

-- An officer's reveal names the pipeline too. The audit row keeps it in detail, and step 2 hands
-- over that pipeline's body alone. The two-argument step 1 of 0006 stays for a message id one
-- pipeline's record holds, and refuses one that two hold (it could not say whose body it audits).
CREATE OR REPLACE FUNCTION sqs2pg_vault.begin_quarantine_reveal(p_pipeline text, p_message_id varchar, p_reason text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  audit_id bigint;
BEGIN
  IF p_reason IS NULL OR length(btrim(p_reason)) < 3 THEN
    RAISE EXCEPTION 'a quarantine reveal needs a reason' USING ERRCODE = '22023';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM sqs2pg_vault.quarantine_bodies b
                  WHERE b.pipeline = p_pipeline AND b.sqs_message_id = p_message_id) THEN
    RETURN NULL;
  END IF;
  INSERT INTO sqs2pg_vault.audit (database_user, session_user_name, action, subject, reason, detail)
  VALUES (session_user, session_user, 'quarantine_reveal', p_message_id, p_reason, jsonb_build_object('pipeline', p_pipeline))
  RETURNING id INTO audit_id;
  RETURN audit_id;
END
$$;
REVOKE ALL ON FUNCTION sqs2pg_vault.begin_quarantine_reveal(text, varchar, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION sqs2pg_vault.begin_quarantine_reveal(p_message_id varchar, p_reason text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  pipelines text[];
BEGIN
  SELECT array_agg(b.pipeline) INTO pipelines FROM sqs2pg_vault.quarantine_bodies b WHERE b.sqs_message_id = p_message_id;
  IF cardinality(pipelines) > 1 THEN
    RAISE EXCEPTION 'the quarantine holds sealed bodies of message % for % pipelines: name the pipeline', p_message_id, cardinality(pipelines) USING ERRCODE = '21000';
  END IF;
  RETURN sqs2pg_vault.begin_quarantine_reveal(coalesce(pipelines[1], ''), p_message_id, p_reason);
END
$$;
REVOKE ALL ON FUNCTION sqs2pg_vault.begin_quarantine_reveal(varchar, text) FROM PUBLIC;

-- Audit rows of 0006's step 1 name no pipeline: such a row opens a body only while its message id has
-- no other pipeline's (it was written when a message id had one body).
CREATE OR REPLACE FUNCTION sqs2pg_vault.revealed_quarantine_body(p_audit_id bigint)
RETURNS TABLE (vault_key_id text, ephemeral_public_key bytea, nonce bytea, ciphertext bytea)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  target text;
  target_pipeline text;
BEGIN
  SELECT a.subject, a.detail ->> 'pipeline' INTO target, target_pipeline FROM sqs2pg_vault.audit a
   WHERE a.id = p_audit_id AND a.action = 'quarantine_reveal'
     AND a.session_user_name = session_user
     AND a.at < now() AND a.at > now() - interval '5 minutes';
  IF target IS NULL THEN
    RAISE EXCEPTION 'no committed quarantine reveal audit row % of this login in the last 5 minutes', p_audit_id USING ERRCODE = '42501';
  END IF;
  RETURN QUERY SELECT b.vault_key_id, b.ephemeral_public_key, b.nonce, b.ciphertext
                 FROM sqs2pg_vault.quarantine_bodies b
                WHERE b.sqs_message_id = target
                  AND (b.pipeline = target_pipeline
                       OR (target_pipeline IS NULL AND NOT EXISTS (SELECT 1 FROM sqs2pg_vault.quarantine_bodies o
                                                                    WHERE o.sqs_message_id = target AND o.pipeline <> b.pipeline)));
END
$$;
REVOKE ALL ON FUNCTION sqs2pg_vault.revealed_quarantine_body(bigint) FROM PUBLIC;
