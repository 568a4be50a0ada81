// The message facts a declared column can name: SentTimestamp as a UTC date or an instant. A replay
// of a message gives the same values, which "now" would not. The login path's create_date too.

const DAY_MS = 86_400_000;
// The last day formatted: messages of one day all share it, and a Date per message is the cost saved.
let lastDay = { index: NaN, text: '' };

/** YYYY-MM-DD in UTC; a timestamp no Date can hold falls back to now rather than throwing. */
export function sentDate(epochMs: number): string {
  const index = Math.floor(epochMs / DAY_MS);
  if (index === lastDay.index) return lastDay.text;
  const date = new Date(epochMs);
  if (Number.isNaN(date.getTime())) return new Date().toISOString().slice(0, 10);
  lastDay = { index, text: date.toISOString().slice(0, 10) };
  return lastDay.text;
}

/** The instant in UTC, ISO 8601 with milliseconds; the same fallback. */
export function sentAt(epochMs: number): string {
  const date = new Date(epochMs);
  return (Number.isNaN(date.getTime()) ? new Date() : date).toISOString();
}
