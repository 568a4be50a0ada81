// Whether a large body may be handed to JSON.parse. JSON.parse is linear in the text for flat
// JSON, but a 1 MiB body of nested brackets holds the event loop for a second and builds ~80 MB of
// arrays before it fails or returns; a million tiny objects cost ~25 MB. One scan of the text,
// allocating nothing, tells such a body apart from an event with a large field.

/** Deepest nesting a large body may have: a login event is flat, an extra blob a few levels. */
export const MAX_LARGE_BODY_DEPTH = 64;
/** Most objects and arrays a large body may hold (each costs V8 far more than its two characters). */
export const MAX_LARGE_BODY_CONTAINERS = 10_000;

/**
 * Undefined when `text` may be parsed; else what makes it costly ("nested deeper than 64"). String
 * contents (escapes included) are skipped; brackets are counted, not matched: JSON.parse still
 * decides whether the text is JSON.
 */
export function largeBodyRefusal(text: string): string | undefined {
  let depth = 0;
  let containers = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x22) {
      // A string: skip to its closing quote, past escaped characters.
      for (i++; i < text.length; i++) {
        const inner = text.charCodeAt(i);
        if (inner === 0x5c) i++;
        else if (inner === 0x22) break;
      }
    } else if (code === 0x5b || code === 0x7b) {
      if (++depth > MAX_LARGE_BODY_DEPTH) return `nested deeper than ${MAX_LARGE_BODY_DEPTH}`;
      if (++containers > MAX_LARGE_BODY_CONTAINERS) return `more than ${MAX_LARGE_BODY_CONTAINERS} objects and arrays`;
    } else if (code === 0x5d || code === 0x7d) {
      depth--;
    }
  }
  return undefined;
}
