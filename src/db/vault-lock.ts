// The erasure lock. Every transaction that writes something of a subject (a worker's batch, replay,
// rotate's re-masking) holds it shared from before it decides what to write until it commits;
// erasure (forget) and rotate's clean-up take it exclusively, so they run between such
// transactions, never beside one. Batches take it inside sqs2pg.stop_tombstoned (sql/0007), their
// tombstone check; these statements are for the transactions that lock rows before that check, or
// that write without it. (Named for the vault, where it began: the key stays, so releases agree.)
const KEY = "pg_catalog.hashtext('sqs2pg vault')";

/** Sent with BEGIN in one round trip (simple protocol, no parameters). */
export const BEGIN_VAULT_WRITE = `BEGIN; SELECT pg_catalog.pg_advisory_xact_lock_shared(${KEY})`;
export const BEGIN_VAULT_DELETE = `BEGIN; SELECT pg_catalog.pg_advisory_xact_lock(${KEY})`;
