// One JSON value read as a declared column's type: the text PostgreSQL is handed (every value goes
// as a text parameter) and its canonical text (what a mask is made of, so one value always gets one
// mask), or the reason it cannot be. The rules, type by type, are in docs/pipelines.md.
import type { ColumnType } from '../model/pipeline.js';
import { appVersionToInt } from './app-version.js';
import { canonicalIp } from './ip.js';
import { isCleanText, isLongerThan } from './login-event.js';
import type { RejectReason } from '../model/message.js';

export type ColumnValue =
  | {
      ok: true;
      /** what PostgreSQL is handed, as text */
      value: string;
      /** the canonical text: what a mask is made of and the vault keeps */
      canonical: string;
      /** a version column's text as it came (`<name>_raw`); otherwise undefined */
      raw?: string;
    }
  | { ok: false; reason: RejectReason };

/** Longest text an `ip` and a `version` accept, as the login event always has: longer is too_long. */
export const IP_MAX_CHARS = 64;
export const VERSION_MAX_CHARS = 32;
/** Nesting a jsonb value may have; deeper is bad_value (and never walked further). */
export const JSONB_MAX_DEPTH = 64;
/** PostgreSQL's numeric keeps at most this many digits after the point. */
const NUMERIC_MAX_SCALE = 16_383;

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const fail = {
  bad_type: { ok: false, reason: 'bad_type' },
  bad_value: { ok: false, reason: 'bad_value' },
  too_long: { ok: false, reason: 'too_long' },
  bad_ip: { ok: false, reason: 'bad_ip' },
  bad_app_version: { ok: false, reason: 'bad_app_version' },
} as const satisfies Record<string, ColumnValue>;

const same = (text: string): ColumnValue => ({ ok: true, value: text, canonical: text });

/**
 * Whether a present value holds a character no column takes: in a string, a C0 control character,
 * DEL or a lone surrogate (as the login event's fields); in a jsonb value, NUL or a lone surrogate
 * in any string or key (JSON escapes the other controls, PostgreSQL's jsonb refuses \u0000).
 * A jsonb value nested deeper than JSONB_MAX_DEPTH is not walked past it (it is bad_value anyway).
 */
export function hasBadChar(type: ColumnType, value: unknown): boolean {
  if (type.kind === 'jsonb') return jsonHasBadChar(value, 0);
  return typeof value === 'string' && !isCleanText(value);
}

/** A value refused, as a compiled reader answers it (shared: a refusal allocates nothing). */
export interface Refusal {
  reason: RejectReason;
}

/**
 * The reader of one type, compiled once: the text for PostgreSQL, which is also the canonical text
 * (for every type they are one string: a version's integer, an ip's canonical form, sorted jsonb),
 * or a refusal. The event reader's hot path; readColumnValue is the same rules, spelt out.
 */
export function columnReaderOf(type: ColumnType): (value: unknown) => string | Refusal {
  switch (type.kind) {
    case 'text':
      return (value) => (typeof value === 'string' ? value : fail.bad_type);
    case 'varchar': {
      const length = type.length;
      return (value) => (typeof value !== 'string' ? fail.bad_type : isLongerThan(value, length) ? fail.too_long : value);
    }
    case 'ip':
      return (value) => {
        if (typeof value !== 'string') return fail.bad_type;
        if (isLongerThan(value, IP_MAX_CHARS)) return fail.too_long;
        return canonicalIp(value) ?? fail.bad_ip;
      };
    case 'version':
      return (value) => {
        if (typeof value !== 'string') return fail.bad_type;
        if (isLongerThan(value, VERSION_MAX_CHARS)) return fail.too_long;
        const version = appVersionToInt(value);
        return version === null ? fail.bad_app_version : String(version);
      };
    default:
      return (value) => {
        const read = readColumnValue(type, value);
        return read.ok ? read.value : read;
      };
  }
}

/** Reads a present, non-null JSON value as `type`; assumes hasBadChar said no. */
export function readColumnValue(type: ColumnType, value: unknown): ColumnValue {
  switch (type.kind) {
    case 'text':
      return typeof value === 'string' ? same(value) : fail.bad_type;
    case 'varchar':
      if (typeof value !== 'string') return fail.bad_type;
      return isLongerThan(value, type.length) ? fail.too_long : same(value);
    case 'ip': {
      if (typeof value !== 'string') return fail.bad_type;
      if (isLongerThan(value, IP_MAX_CHARS)) return fail.too_long;
      const ip = canonicalIp(value);
      return ip === null ? fail.bad_ip : same(ip);
    }
    case 'version': {
      if (typeof value !== 'string') return fail.bad_type;
      if (isLongerThan(value, VERSION_MAX_CHARS)) return fail.too_long;
      const version = appVersionToInt(value);
      if (version === null) return fail.bad_app_version;
      const text = String(version);
      return { ok: true, value: text, canonical: text, raw: value };
    }
    case 'integer':
      if (typeof value !== 'number') return fail.bad_type;
      return Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX ? same(String(value)) : fail.bad_value;
    case 'bigint':
      return readBigint(value);
    case 'numeric':
      return readNumeric(value);
    case 'boolean':
      return typeof value === 'boolean' ? same(value ? 'true' : 'false') : fail.bad_type;
    case 'date':
      if (typeof value !== 'string') return fail.bad_type;
      return isCalendarDate(value) ? same(value) : fail.bad_value;
    case 'timestamptz': {
      if (typeof value !== 'string') return fail.bad_type;
      const utc = utcTimestamp(value);
      return utc === null ? fail.bad_value : same(utc);
    }
    case 'jsonb': {
      const text = canonicalJson(value, 0);
      return text === undefined ? fail.bad_value : same(text);
    }
  }
}

/** A JSON integer within 2^53 (beyond it JSON.parse has already lost digits), or a decimal string in int64's range, as protobuf's JSON mapping writes int64. */
function readBigint(value: unknown): ColumnValue {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? same(String(value)) : fail.bad_value;
  if (typeof value !== 'string') return fail.bad_type;
  if (!/^-?\d{1,19}$/.test(value)) return fail.bad_value;
  const n = BigInt(value);
  return n < INT64_MIN || n > INT64_MAX ? fail.bad_value : same(n.toString());
}

/** A finite JSON number, or a plain decimal string (exact digits, e.g. money); canonical: plain decimal, no needless zeros. */
function readNumeric(value: unknown): ColumnValue {
  let text: string;
  if (typeof value === 'number') {
    // JSON.parse gives Infinity for 1e400: no column can hold it.
    if (!Number.isFinite(value)) return fail.bad_value;
    text = String(value);
  } else if (typeof value === 'string') {
    if (!/^-?\d+(\.\d+)?$/.test(value)) return fail.bad_value;
    text = value;
  } else {
    return fail.bad_type;
  }
  const plain = plainDecimal(text);
  return plain === null ? fail.bad_value : same(plain);
}

/** "-001.500" -> "-1.5", "1e+21" -> "1000000000000000000000", "-0" -> "0"; null past numeric's scale. */
export function plainDecimal(text: string): string | null {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/i.exec(text);
  if (!match) return null;
  const [, sign = '', whole = '', fraction = '', exponentText] = match;
  const exponent = exponentText === undefined ? 0 : Number(exponentText);
  // The digits and where the point goes, shifted by the exponent.
  const digits = whole + fraction;
  const point = whole.length + exponent;
  let intPart: string;
  let fracPart: string;
  if (point <= 0) {
    intPart = '0';
    fracPart = '0'.repeat(-point) + digits;
  } else if (point >= digits.length) {
    intPart = digits + '0'.repeat(point - digits.length);
    fracPart = '';
  } else {
    intPart = digits.slice(0, point);
    fracPart = digits.slice(point);
  }
  intPart = intPart.replace(/^0+(?=\d)/, '');
  fracPart = fracPart.replace(/0+$/, '');
  if (fracPart.length > NUMERIC_MAX_SCALE) return null;
  const body = fracPart ? `${intPart}.${fracPart}` : intPart;
  return sign && body !== '0' ? `-${body}` : body;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function isDay(year: number, month: number, day: number): boolean {
  return year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= daysIn(year, month);
}

/** YYYY-MM-DD naming a real day of years 1 to 9999. */
function isCalendarDate(text: string): boolean {
  const match = DATE.exec(text);
  return match !== null && isDay(Number(match[1]), Number(match[2]), Number(match[3]));
}

// RFC 3339: a date, T (or t, or a space), a time with seconds, an optional fraction, and Z or an offset.
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

/**
 * The instant in UTC, `YYYY-MM-DDTHH:MM:SS[.ffffff]Z` (fraction without trailing zeros, cut at
 * microseconds, which is all PostgreSQL keeps), or null: no such day or time, an offset beyond
 * PostgreSQL's ±15:59, a leap second, or an instant outside years 1 to 9999 once in UTC.
 */
export function utcTimestamp(text: string): string | null {
  const m = TIMESTAMP.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  if (!isDay(year, month, day) || hour > 23 || minute > 59 || second > 59) return null;
  let offsetMinutes = 0;
  if (m[8] !== undefined) {
    const offsetHours = Number(m[9]);
    const offsetMins = Number(m[10]);
    if (offsetHours > 15 || offsetMins > 59) return null;
    offsetMinutes = (m[8] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const fraction = (m[7] ?? '').slice(0, 6).replace(/0+$/, '');
  const fractionText = fraction ? `.${fraction}` : '';
  // Already UTC (what toISOString and most producers write): no arithmetic, the text is the instant.
  if (offsetMinutes === 0) return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${fractionText}Z`;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute - offsetMinutes, second, 0);
  const utcYear = date.getUTCFullYear();
  if (utcYear < 1 || utcYear > 9999) return null;
  return `${date.toISOString().slice(0, 19)}${fractionText}Z`;
}

/** NUL or a lone surrogate anywhere in a JSON value's strings and keys, down to JSONB_MAX_DEPTH. */
function jsonHasBadChar(value: unknown, depth: number): boolean {
  if (typeof value === 'string') return !value.isWellFormed() || value.includes('\u0000');
  if (typeof value !== 'object' || value === null || depth >= JSONB_MAX_DEPTH) return false;
  if (Array.isArray(value)) return value.some((item) => jsonHasBadChar(item, depth + 1));
  for (const key of Object.keys(value)) {
    if (jsonHasBadChar(key, depth) || jsonHasBadChar((value as Record<string, unknown>)[key], depth + 1)) return true;
  }
  return false;
}

/**
 * JSON text with every object's keys sorted, so one value always has one text (and one mask);
 * undefined when nested deeper than JSONB_MAX_DEPTH, or when a number is not finite.
 */
export function canonicalJson(value: unknown, depth: number): string | undefined {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : undefined;
  if (typeof value !== 'object' || depth >= JSONB_MAX_DEPTH) return undefined;
  const parts: string[] = [];
  if (Array.isArray(value)) {
    for (const item of value as unknown[]) {
      const text = canonicalJson(item, depth + 1);
      if (text === undefined) return undefined;
      parts.push(text);
    }
    return `[${parts.join(',')}]`;
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record).sort()) {
    const text = canonicalJson(record[key], depth + 1);
    if (text === undefined) return undefined;
    parts.push(`${JSON.stringify(key)}:${text}`);
  }
  return `{${parts.join(',')}}`;
}
