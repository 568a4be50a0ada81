// Key rotation, online: batches small enough that workers keep loading between them (each batch
// is one short transaction, optionally followed by a pause). Re-masking needs the originals, so it
// works only for values the vault holds; re-encryption re-seals each entry (legacy v1 entries
// included) to the public key of the vault private key given, one ephemeral key per batch.
import { backoffDelayMs, sleep } from '../backoff.js';
import type { Emit } from '../observability/events.js';
import { classifyFailure } from '../sink/postgres/sqlstate.js';
import type { Masker } from '../transform/mask.js';
import type { VaultEntry } from './entry.js';
import type { VaultKeyring } from './keyring.js';
import type { RemaskBatch, RotationStore } from './rotation-store.js';
import { entryContext, type VaultSealer } from './sealed-box.js';

export interface RotationOptions {
  batchRows: number;
  pauseMs: number;
  emit: Emit;
  /** aborted: stop after the batch in progress (a rerun resumes) */
  signal: AbortSignal;
}

export interface RemaskResult {
  rowsScanned: number;
  rowsRemasked: number;
  valuesUnvaulted: number;
  entriesAdded: number;
}

/** Re-masks every row whose masks are not under `masker.keyId`, from the vault's originals. */
export async function remaskRows(store: RotationStore, masker: Masker, keyring: VaultKeyring, sealer: VaultSealer, options: RotationOptions): Promise<RemaskResult> {
  const totals: RemaskResult = { rowsScanned: 0, rowsRemasked: 0, valuesUnvaulted: 0, entriesAdded: 0 };
  const remask = (entries: readonly VaultEntry[]) => {
    const next = new Map<string, VaultEntry>();
    const batch = sealer.batch();
    for (const entry of entries) {
      const value = keyring.open(entry);
      const mask = masker.mask(entry.field, value);
      next.set(entry.maskedValue, { maskedValue: mask, field: entry.field, ...batch.seal(entryContext(entry.field, mask), value) });
    }
    return next;
  };
  let after = '';
  while (!options.signal.aborted) {
    const batch: RemaskBatch = await retryingConflicts(() => store.remaskBatch(after, masker.keyId, options.batchRows, remask));
    if (batch.lastMessageId === undefined) break;
    after = batch.lastMessageId;
    totals.rowsScanned += batch.rows;
    totals.rowsRemasked += batch.remasked;
    totals.valuesUnvaulted += batch.unvaulted;
    totals.entriesAdded += batch.vaulted;
    options.emit('rotate:batch', { pass: 'mask', items: batch.rows, changed: batch.remasked, doneSoFar: totals.rowsRemasked });
    if (options.pauseMs > 0) await sleep(options.pauseMs, options.signal);
  }
  return totals;
}

/** Re-seals every vault entry not sealed to `sealer`'s key (legacy v1 entries included). */
export async function reencryptVault(store: RotationStore, keyring: VaultKeyring, sealer: VaultSealer, options: RotationOptions): Promise<number> {
  const reseal = (entries: readonly VaultEntry[]): VaultEntry[] => {
    const batch = sealer.batch();
    return entries.map((entry) => ({ maskedValue: entry.maskedValue, field: entry.field, ...batch.seal(entryContext(entry.field, entry.maskedValue), keyring.open(entry)) }));
  };
  let after = '';
  let done = 0;
  while (!options.signal.aborted) {
    const batch = await retryingConflicts(() => store.reencryptBatch(after, sealer.keyId, options.batchRows, reseal));
    if (batch.lastMaskedValue === undefined) break;
    after = batch.lastMaskedValue;
    done += batch.entries;
    options.emit('rotate:batch', { pass: 'vault', items: batch.entries, changed: batch.entries, doneSoFar: done });
    if (options.pauseMs > 0) await sleep(options.pauseMs, options.signal);
  }
  return done;
}

// A deadlock or serialization failure rolls the batch back whole; trying it again is safe. Other
// failures end the command (a rerun resumes where the data says).
const CONFLICTS = new Set(['40P01', '40001', '55P03']);
const CONFLICT_ATTEMPTS = 5;

async function retryingConflicts<T>(batch: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await batch();
    } catch (error) {
      if (attempt >= CONFLICT_ATTEMPTS || !CONFLICTS.has(classifyFailure(error).code)) throw error;
      await sleep(backoffDelayMs(attempt));
    }
  }
}
