// The fixed development mask key of the embedded demo and the tests. It is public, so masks made
// with it protect nothing: real runs must set SQS2PG_MASK_KEY (sqs2pg run refuses to start without it).
export const DEV_MASK_KEY = Buffer.from('sqs2pg-development-key-not-secret-0123456789', 'utf8');
export const DEV_MASK_KEY_ID = 'dev';
