-- Which key each key id stands for, as a fingerprint (an HMAC under a key derived from it, which
-- reveals nothing about the key): sqs2pg refuses to start with another key under a known id.
CREATE TABLE IF NOT EXISTS sqs2pg.key_fingerprints (
  purpose text NOT NULL CHECK (purpose IN ('mask', 'vault')),
  key_id text NOT NULL,
  fingerprint text NOT NULL,
  first_used_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (purpose, key_id)
);

-- The vault has a schema of its own, so privileges can keep it from the worker and the analysts
-- (see sqs2pg grants). Nothing in it is in clear: one row per distinct masked value, holding the
-- value behind the mask encrypted (AES-256-GCM) under the vault key, which the database never sees.
CREATE SCHEMA IF NOT EXISTS sqs2pg_vault;
REVOKE ALL ON SCHEMA sqs2pg_vault FROM PUBLIC;

CREATE TABLE IF NOT EXISTS sqs2pg_vault.entries (
  masked_value varchar(256) PRIMARY KEY,
  field text NOT NULL CHECK (field IN ('ip', 'device_id')),
  vault_key_id text NOT NULL,
  nonce bytea NOT NULL CHECK (octet_length(nonce) = 12),
  -- ciphertext and its 16-byte authentication tag; the mask, field and key id are its associated data
  ciphertext bytea NOT NULL CHECK (octet_length(ciphertext) >= 16),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Every reveal, erasure and rotation. Who and when come from the server, not from the client:
-- sqs2pg grants lets the PII officer insert only the other columns.
CREATE TABLE IF NOT EXISTS sqs2pg_vault.audit (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  database_user name NOT NULL DEFAULT current_user,
  session_user_name name NOT NULL DEFAULT session_user,
  client_addr inet DEFAULT inet_client_addr(),
  action text NOT NULL CHECK (action IN ('reveal', 'forget_user', 'forget_masked', 'rotate')),
  -- reveal and forget --masked: the mask concerned; never an original value, never an erased user's
  masked_value varchar(256),
  reason text,
  detail jsonb
);
CREATE INDEX IF NOT EXISTS audit_at_idx ON sqs2pg_vault.audit (at);
