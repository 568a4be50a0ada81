// The vault rows of one batch: one per distinct mask, however many messages share it, sorted by
// mask so that concurrent batches insert shared masks in the same order and cannot deadlock.
import type { MaskedOriginal } from '../transform/types.js';
import type { VaultCipher, VaultEntry } from './cipher.js';

export function sealBatch(originals: Iterable<MaskedOriginal>, cipher: VaultCipher): VaultEntry[] {
  const distinct = new Map<string, MaskedOriginal>();
  for (const original of originals) if (!distinct.has(original.mask)) distinct.set(original.mask, original);
  const sorted = [...distinct.values()].sort((a, b) => (a.mask < b.mask ? -1 : a.mask > b.mask ? 1 : 0));
  return cipher.sealMany(sorted.map((original) => ({ maskedValue: original.mask, field: original.field, value: original.value })));
}
