-- The SQS message id makes a redelivered message harmless: the insert skips an id it already holds.
-- app_version_raw keeps the text the integer column was computed from.
ALTER TABLE user_logins ADD COLUMN IF NOT EXISTS sqs_message_id varchar(128);
ALTER TABLE user_logins ADD COLUMN IF NOT EXISTS app_version_raw varchar(32);
CREATE UNIQUE INDEX IF NOT EXISTS user_logins_sqs_message_id_key ON user_logins (sqs_message_id);
