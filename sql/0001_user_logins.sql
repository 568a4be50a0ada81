-- The take-home's table, exactly as its PostgreSQL image creates it. A table that already exists
-- is left as it is: sqs2pg never drops or retypes one of these columns.
CREATE TABLE IF NOT EXISTS user_logins (
  user_id varchar(128),
  device_type varchar(32),
  masked_ip varchar(256),
  masked_device_id varchar(256),
  locale varchar(32),
  app_version integer,
  create_date date
);
