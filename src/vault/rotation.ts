// Key rotation, online: batches small enough that workers keep loading between them (each batch
// is one short transaction, optionally followed by a pause), each pass resumable from the data
// itself. A vault key rotation re-seals everything sealed to the vault to the key pair of the
// private key given: entries (legacy v1 entries included), quarantined bodies, and tombstones' user
// ids. A mask key rotation re-masks every pipeline's rows from the vault's originals, then gives
// tombstones a twin and re-keys
// quarantine records under the new mask key, from their sealed ids and bodies. (The quarantine's
// own passes are in quarantine/rekey.ts, on this loop.)
import { backoffDelayMs, sleep } from '../backoff.js';
import type { Emit, EventMap } from '../observability/events.js';
import { classifyFailure } from '../db/sqlstate.js';
import { subjectScopeOfField } from '../model/pipeline.js';
import type { Masker } from '../transform/mask.js';
import type { VaultEntry } from './entry.js';
import type { VaultKeyring } from './keyring.js';
import type { Remask, RemaskBatch, RotationStore } from './rotation-store.js';
import type { RemaskTarget } from './rotation-targets.js';
import { entryContext, type VaultSealer } from './sealed-box.js';
import { resealTombstones, rotateTombstones, type TombstoneRekeying } from './tombstones.js';

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

export type Pass = EventMap['rotate:batch']['pass'];

/**
 * Runs `batch` from an empty cursor until it finds nothing (or the signal stops it), each batch
 * retried whole on a deadlock or serialization failure; `changed` counts what the batches changed.
 */
export async function inBatches(
  pass: Pass,
  options: RotationOptions,
  batch: (after: string) => Promise<{ last: string | undefined; items: number; changed: number }>,
  pipeline?: string,
): Promise<number> {
  let after = '';
  let done = 0;
  while (!options.signal.aborted) {
    const result = await retryingConflicts(() => batch(after));
    if (result.last === undefined) break;
    after = result.last;
    done += result.changed;
    options.emit('rotate:batch', { pass, items: result.items, changed: result.changed, doneSoFar: done, ...(pipeline === undefined ? {} : { pipeline }) });
    if (options.pauseMs > 0) await sleep(options.pauseMs, options.signal);
  }
  return done;
}

/**
 * What a vault entry's mask becomes under `masker`: a column's value is masked under its label; a
 * keyed subject's value (field `subject:<scope>`) gets its subject key, as the worker computes it.
 */
export function remaskedValue(masker: Masker, field: string, value: string): string {
  const scope = subjectScopeOfField(field);
  return scope === undefined ? masker.mask(field, value) : masker.subjectKey(scope, value);
}

/** Per old mask, the entry of its new mask under `masker`, sealed to `sealer`'s key pair. */
function remaskerOf(masker: Masker, keyring: VaultKeyring, sealer: VaultSealer): Remask {
  return (entries) => {
    const next = new Map<string, VaultEntry>();
    const batch = sealer.batch();
    for (const entry of entries) {
      const value = keyring.openEntry(entry);
      const mask = remaskedValue(masker, entry.field, value);
      next.set(entry.maskedValue, { maskedValue: mask, field: entry.field, ...batch.seal(entryContext(entry.field, mask), value) });
    }
    return next;
  };
}

/** Re-masks every row of `target` whose masks (or subject key) are not under `masker.keyId`, from the vault's originals. */
export async function remaskRows(
  store: RotationStore,
  target: RemaskTarget,
  masker: Masker,
  keyring: VaultKeyring,
  sealer: VaultSealer,
  options: RotationOptions,
): Promise<RemaskResult> {
  const totals: RemaskResult = { rowsScanned: 0, rowsRemasked: 0, valuesUnvaulted: 0, entriesAdded: 0 };
  const remask = remaskerOf(masker, keyring, sealer);
  await inBatches(
    'mask',
    options,
    async (after) => {
      const batch: RemaskBatch = await store.remaskBatch(target, after, masker.keyId, options.batchRows, remask);
      totals.rowsScanned += batch.rows;
      totals.rowsRemasked += batch.remasked;
      totals.valuesUnvaulted += batch.unvaulted;
      totals.entriesAdded += batch.vaulted;
      return { last: batch.lastMessageId, items: batch.rows, changed: batch.remasked };
    },
    target.pipeline,
  );
  return totals;
}

/** Re-seals every vault entry not sealed to `sealer`'s key (legacy v1 entries included). */
export async function reencryptVault(store: RotationStore, keyring: VaultKeyring, sealer: VaultSealer, options: RotationOptions): Promise<number> {
  const reseal = (entries: readonly VaultEntry[]): VaultEntry[] => {
    const batch = sealer.batch();
    return entries.map((entry) => ({ maskedValue: entry.maskedValue, field: entry.field, ...batch.seal(entryContext(entry.field, entry.maskedValue), keyring.openEntry(entry)) }));
  };
  return inBatches('vault', options, async (after) => {
    const batch = await store.reencryptBatch(after, sealer.keyId, options.batchRows, reseal);
    return { last: batch.lastMaskedValue, items: batch.entries, changed: batch.entries };
  });
}

/** Re-seals every tombstone's user id not sealed to `sealer`'s key. */
export async function resealTombstoneIds(store: RotationStore, keyring: VaultKeyring, sealer: VaultSealer, options: RotationOptions): Promise<number> {
  return inBatches('vault tombstones', options, (after) =>
    store.inTransaction(async (client) => {
      const batch = await resealTombstones(client, after, options.batchRows, keyring, sealer);
      return { last: batch.last, items: batch.changed, changed: batch.changed };
    }),
  );
}

/** Gives every tombstone under another mask key id a twin under `masker`'s (`since`: only those made since then). */
export async function twinTombstones(
  store: RotationStore,
  masker: Masker,
  keyring: VaultKeyring,
  sealer: VaultSealer,
  options: RotationOptions,
  since?: Date,
): Promise<Omit<TombstoneRekeying, 'last'>> {
  const totals = { rekeyed: 0, unsealed: 0 };
  await inBatches('mask tombstones', options, (after) =>
    store.inTransaction(async (client) => {
      const batch = await rotateTombstones(client, masker, keyring, sealer, { after, limit: options.batchRows, since });
      totals.rekeyed += batch.rekeyed;
      totals.unsealed += batch.unsealed;
      return { last: batch.last, items: batch.rekeyed + batch.unsealed, changed: batch.rekeyed };
    }),
  );
  return totals;
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
