-- Declared pipelines (issue 25): every pipeline's table is registered here by migrate (and by run at
-- start), so that erasure, rotation and grants, which run as other roles or without the pipeline
-- file, know each declared table and which of its columns hold masks, from the database alone. Only
-- the owner writes it; SECURITY DEFINER functions read it, so a caller can name a pipeline, never a table.
CREATE TABLE IF NOT EXISTS sqs2pg.pipelines (
  name text PRIMARY KEY CHECK (name ~ '^[a-z_][a-z0-9_]{0,62}$'),
  table_schema name NOT NULL,
  table_name name NOT NULL,
  builtin boolean NOT NULL DEFAULT false,
  -- the column a subject's rows are found by: the subject as read (logins: user_id), or
  -- sqs2pg_subject_key (its keyed hash); NULL: the pipeline names no subject
  subject_column name,
  subject_is_key boolean NOT NULL DEFAULT false,
  -- the scope the subject's keys are derived under (Masker.subjectKey(scope, value)); NULL for logins (Masker.userKey)
  subject_scope text,
  -- [{"column": "masked_ip", "label": "ip", "pii": "mask"}, ...]: the columns holding masks (pii: mask)
  -- or nothing (pii: seal), and the label each mask's key is derived under
  pii_columns jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(pii_columns) = 'array'),
  registered_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (table_schema, table_name)
);
REVOKE ALL ON sqs2pg.pipelines FROM PUBLIC;

-- Each quarantine record names its pipeline; the records kept before are all the login pipeline's.
ALTER TABLE sqs2pg.quarantine ADD COLUMN IF NOT EXISTS pipeline text NOT NULL DEFAULT 'logins';
CREATE INDEX IF NOT EXISTS quarantine_pipeline_idx ON sqs2pg.quarantine (pipeline);

-- A vault entry's field is the label its mask was made under: ip and device_id for logins, a declared
-- column's label (its name, by default) for other pipelines. Still a plain identifier, never a value.
ALTER TABLE sqs2pg_vault.entries DROP CONSTRAINT IF EXISTS entries_field_check;
ALTER TABLE sqs2pg_vault.entries ADD CONSTRAINT entries_field_check CHECK (field ~ '^[a-z_][a-z0-9_]{0,62}$');

-- A tombstone names the scope its key was made under, so that rotate can re-key it from its sealed
-- value: NULL for a login user's (Masker.userKey), a declared pipeline's subject_scope otherwise.
ALTER TABLE sqs2pg.tombstones ADD COLUMN IF NOT EXISTS scope text;
