// The baseline: how most people write this job, written fairly as sqs-consumer's and pg's docs
// suggest: handleMessage per message (batchSize 10, so ten at a time), one INSERT per row through
// a pg Pool, the same HMAC masking and the same idempotent insert as sqs2pg. Runs until SIGTERM.
import { createHmac } from 'node:crypto';
import { SQSClient } from '@aws-sdk/client-sqs';
import pg from 'pg';
import { Consumer } from 'sqs-consumer';

const [endpoint = '', queueUrl = '', databaseUrl = ''] = process.argv.slice(2);
const key = Buffer.alloc(32, 7);
const mask = (field: string, value: string) => `k1:${createHmac('sha256', key).update(`${field}:${value}`).digest('hex')}`;
const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });

interface Login {
  user_id: string;
  device_type: string;
  ip: string;
  device_id: string;
  locale: string | null;
  app_version: string;
}

const consumer = Consumer.create({
  queueUrl,
  sqs: new SQSClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }),
  batchSize: 10,
  messageSystemAttributeNames: ['SentTimestamp'],
  handleMessage: async (message) => {
    const event = JSON.parse(message.Body ?? '') as Login;
    const [major = 0, minor = 0, patch = 0] = event.app_version.split('.').map(Number);
    const sentAt = new Date(Number(message.Attributes?.SentTimestamp ?? Date.now()));
    await pool.query(
      `INSERT INTO user_logins (sqs_message_id, user_id, device_type, masked_ip, masked_device_id, locale, app_version, app_version_raw, create_date)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (sqs_message_id) DO NOTHING`,
      [
        message.MessageId,
        event.user_id,
        event.device_type,
        mask('ip', event.ip),
        mask('device_id', event.device_id),
        event.locale,
        major * 1_000_000 + minor * 1_000 + patch,
        event.app_version,
        sentAt.toISOString().slice(0, 10),
      ],
    );
    return message;
  },
});
consumer.on('error', (error) => console.error(error.message));
consumer.on('processing_error', (error) => console.error(error.message));
consumer.start();
process.on('SIGTERM', () => {
  consumer.stop({ abort: true });
  void pool.end().then(() => process.exit(0));
});
