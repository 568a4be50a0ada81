// One lock orders vault inserts against vault deletes. An insert of a mask that is already vaulted
// does nothing, so without it an erasure could delete the entry between a worker's conflict check
// and its commit, leaving a new row whose mask can never be revealed or rotated. Writers of rows
// (workers, rotation) hold it shared for their whole transaction; erasure and the rotation's
// clean-up hold it exclusively, briefly, after the writers in progress have committed.
const KEY = "hashtext('sqs2pg vault')";

/** Sent with BEGIN in one round trip (simple protocol, no parameters). */
export const BEGIN_VAULT_WRITE = `BEGIN; SELECT pg_advisory_xact_lock_shared(${KEY})`;
export const BEGIN_VAULT_DELETE = `BEGIN; SELECT pg_advisory_xact_lock(${KEY})`;
