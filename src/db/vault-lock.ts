// The erasure lock. Every transaction that writes something of a subject (a worker's batch, replay,
// rotate's re-masking) holds it shared from before it decides what to write until it commits;
// erasure (forget) and rotate's clean-up take it exclusively, so they run between such
// transactions, never beside one. Batches take it inside sqs2pg.stop_tombstoned, their tombstone
// check; these statements are for the transactions that lock rows before that check, or that write
// without it. It is a lock on the table sqs2pg.erasure_lock (sql/0016), which only the owner may
// lock: the advisory lock it was before could be taken and held by any role that can connect.
/** Sent with BEGIN in one round trip (simple protocol, no parameters). Replay and rotate run as the owner. */
export const BEGIN_VAULT_WRITE = 'BEGIN; SELECT sqs2pg.erasure_lock_shared()';
/** forget (as the officer: grants gives it EXECUTE) and rotate's clean-up and last step. */
export const BEGIN_VAULT_DELETE = 'BEGIN; SELECT sqs2pg_vault.erasure_lock_exclusive()';
