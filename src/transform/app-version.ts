// app_version text ("2.3.0", "0.96", "7") to the integer column: major*1_000_000 + minor*1_000 + patch,
// which sorts and compares like the version itself.

const VERSION = /^(\d{1,3})(?:\.(\d{1,3}))?(?:\.(\d{1,3}))?$/;

/** Returns the integer, or null when the text is not 1 to 3 dot-separated numbers of 0-999. */
export function appVersionToInt(text: string): number | null {
  const match = VERSION.exec(text);
  if (!match) return null;
  return Number(match[1]) * 1_000_000 + Number(match[2] ?? 0) * 1_000 + Number(match[3] ?? 0);
}
