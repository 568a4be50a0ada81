-- A declared pipeline whose subject no column stores as read keeps only its keyed hash in the table
-- (sqs2pg_subject_key). So that a mask-key rotation can give those rows the key the new mask key
-- gives, the worker (vault on) also seals the subject's value in the vault, as an entry whose mask
-- is the subject key itself and whose field is `subject:<scope>` (the pipeline's subject_scope).
-- The prefix cannot be a declared column's label (labels are plain identifiers): an entry is a
-- column's value or a subject, never both. Like every entry, forget shreds it with the subject.
ALTER TABLE sqs2pg_vault.entries DROP CONSTRAINT IF EXISTS entries_field_check;
ALTER TABLE sqs2pg_vault.entries ADD CONSTRAINT entries_field_check CHECK (field ~ '^(subject:)?[a-z_][a-z0-9_]{0,62}$');
