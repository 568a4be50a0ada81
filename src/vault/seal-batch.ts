// The vault rows of one batch: one per distinct mask, however many messages share it, sorted by
// mask so that concurrent batches insert shared masks in the same order and cannot deadlock.
// One ephemeral key per batch: a single X25519 agreement, then one AES-GCM seal per entry.
import type { MaskedOriginal } from '../model/message.js';
import type { VaultEntry } from './entry.js';
import { entryContext, type VaultSealer } from './sealed-box.js';

export function sealBatch(originals: Iterable<MaskedOriginal>, sealer: VaultSealer): VaultEntry[] {
  const distinct = new Map<string, MaskedOriginal>();
  for (const original of originals) if (!distinct.has(original.mask)) distinct.set(original.mask, original);
  if (distinct.size === 0) return [];
  const sorted = [...distinct.values()].sort((a, b) => (a.mask < b.mask ? -1 : a.mask > b.mask ? 1 : 0));
  const batch = sealer.batch();
  return sorted.map((original) => {
    const item = batch.seal(entryContext(original.field, original.mask), original.value);
    return { maskedValue: original.mask, field: original.field, ...item };
  });
}
