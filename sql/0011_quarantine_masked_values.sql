-- A declared pipeline's quarantine record keeps the masks of its `pii: mask` fields that could be read
-- from the refused body, by each column's mask label: {"masked_email": ["k1:..."], "masked_ip": ["k1:..."]},
-- so an officer can match a record with the rows (and records) that hold the same value. The labels
-- are the declaration's, so one jsonb column serves every pipeline; the login pipeline keeps
-- masked_ips and masked_device_ids and writes '{}' here. NULL: a minimal record (db_rejected), or one
-- written by a worker of an earlier release during a rolling upgrade.
ALTER TABLE sqs2pg.quarantine ADD COLUMN IF NOT EXISTS masked_values jsonb;
-- Masks only, never a value: labels are identifiers, each holds an array of `<key id>:<64 hex>`.
-- A writer's mistake is refused here rather than stored (the batch then quarantines minimal records).
ALTER TABLE sqs2pg.quarantine DROP CONSTRAINT IF EXISTS quarantine_masked_values_check;
ALTER TABLE sqs2pg.quarantine ADD CONSTRAINT quarantine_masked_values_check CHECK (
  masked_values IS NULL OR (
    pg_catalog.jsonb_typeof(masked_values) = 'object'
    AND NOT pg_catalog.jsonb_path_exists(masked_values, 'strict $.keyvalue() ? (!(@.key like_regex "^[a-z_][a-z0-9_]{0,62}$") || @.value.type() != "array")')
    AND NOT pg_catalog.jsonb_path_exists(masked_values, 'strict $.*[*] ? (@.type() != "string" || !(@ like_regex "^[a-z0-9]{1,16}:[0-9a-f]{64}$"))')
  )
);
-- The records that hold a mask: WHERE masked_values @> '{"masked_email": ["k1:..."]}'.
CREATE INDEX IF NOT EXISTS quarantine_masked_values_idx ON sqs2pg.quarantine USING gin (masked_values jsonb_path_ops);
