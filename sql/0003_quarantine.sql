-- Messages that could not become a row, kept with their reason so nothing is lost.
-- The body has every ip and device_id value replaced by its mask: no personal data in clear.
CREATE TABLE IF NOT EXISTS sqs2pg.quarantine (
  sqs_message_id varchar(128) PRIMARY KEY,
  reason text NOT NULL,
  field text,
  detail text,
  receive_count integer NOT NULL,
  sent_at timestamptz NOT NULL,
  quarantined_at timestamptz NOT NULL DEFAULT now(),
  redacted_body text NOT NULL
);
CREATE INDEX IF NOT EXISTS quarantine_reason_idx ON sqs2pg.quarantine (reason);
