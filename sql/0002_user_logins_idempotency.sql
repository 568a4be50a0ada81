-- The SQS message id makes a redelivered message harmless: the insert skips an id it already holds.
-- app_version_raw keeps the text the integer column was computed from.
ALTER TABLE user_logins ADD COLUMN IF NOT EXISTS sqs_message_id varchar(128);
ALTER TABLE user_logins ADD COLUMN IF NOT EXISTS app_version_raw varchar(32);
-- A table partitioned by create_date (as the README advises for a large one) can only have unique
-- indexes that include the partition key: there the index is (sqs_message_id, create_date), which is
-- as good, because create_date comes from SentTimestamp and so is the same for every copy of a message.
DO $$
BEGIN
  IF (SELECT relkind FROM pg_class WHERE oid = 'user_logins'::regclass) = 'p' THEN
    CREATE UNIQUE INDEX IF NOT EXISTS user_logins_sqs_message_id_create_date_key ON user_logins (sqs_message_id, create_date);
  ELSE
    CREATE UNIQUE INDEX IF NOT EXISTS user_logins_sqs_message_id_key ON user_logins (sqs_message_id);
  END IF;
END
$$;
