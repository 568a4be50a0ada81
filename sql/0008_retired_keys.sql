-- A key change strands nothing (issue 22). When sqs2pg rotate has moved everything sealed to a vault
-- key id, and everything keyed by a mask key id, onto the new key, it retires the old id here: from
-- then on every command refuses that key (run, forget, replay, rotate, check), so nothing new is
-- sealed to, or keyed by, a key its owner has been told may be destroyed. Workers read it with the
-- SELECT they already hold on this table; only the owner (rotate) sets it.
ALTER TABLE sqs2pg.key_fingerprints ADD COLUMN IF NOT EXISTS retired_at timestamptz;
