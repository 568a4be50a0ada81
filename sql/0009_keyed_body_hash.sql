-- A quarantine record's body hash becomes keyed (issue 22's review, noted and now closed): a bare
-- SHA-256 of a short refused body (one ip, a user id and a device id) could be found by hashing
-- guesses, by anyone who may read the quarantine. Records now hold `<keyId>:` + HMAC-SHA-256 under a
-- key derived from the mask key; rotate re-keys them with the rest. The bare hashes already stored
-- are dropped: they cannot be keyed without their bodies, and they are what the attack reads.
UPDATE sqs2pg.quarantine SET body_sha256 = NULL WHERE body_sha256 IS NOT NULL AND strpos(body_sha256, ':') = 0;
COMMENT ON COLUMN sqs2pg.quarantine.body_sha256 IS
  'keyed hash of the refused body: <mask key id>:HMAC-SHA-256 under a key derived from the mask key (sqs2pg body hash v1)';
