// The body of a quarantined message with personal data masked, so the quarantine can be read
// by anyone who may read user_logins. JSON bodies are masked by key; any text is also scrubbed of
// address-like and device-id-like tokens, because a malformed body can hold them anywhere.
import { isIP } from 'node:net';
import { canonicalIp } from './ip.js';
import type { Masker } from './mask.js';

const PII_KEYS = new Set(['ip', 'device_id']);

// Candidate tokens; each is confirmed (isIP) before it is masked so ordinary numbers survive.
const IPV4_LIKE = /(?<!\d|\d\.)\d{1,3}(?:\.\d{1,3}){3}(?!\d|\.\d)/g;
const IPV6_LIKE = /(?<![0-9A-Fa-f:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){1,8}(?::\d{1,3}(?:\.\d{1,3}){3})?(?![0-9A-Fa-f:]|\.\d)/g;
const DEVICE_ID_LIKE = /(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)/g;
// In text that is not JSON (a truncated body, say), whatever follows an "ip" or "device_id" key is
// masked whatever its shape: quoted up to its closing quote or the end of the text, or a bare token.
const KEYED_VALUE = /("(?:ip|device_id)"\s*:\s*)("(?:[^"\\]|\\.)*(?:"|$)|[^\s,}\]]+)/gi;

export function redactBody(body: string, masker: Masker): string {
  let value: unknown;
  try {
    value = JSON.parse(body.charCodeAt(0) === 0xfeff ? body.slice(1) : body);
  } catch {
    return scrubText(maskKeyedValues(body, masker), masker);
  }
  return JSON.stringify(redactValue(value, masker, 0));
}

function redactValue(value: unknown, masker: Masker, depth: number): unknown {
  if (typeof value === 'string') return scrubText(value, masker);
  if (typeof value !== 'object' || value === null) return value;
  // JSON.parse already bounded the depth; this guard only keeps a hostile body from costing a stack.
  if (depth > 64) return '[too deep]';
  if (Array.isArray(value)) return value.map((item) => redactValue(item, masker, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [
      // Keys are text a sender chose, so they are scrubbed too.
      scrubText(key, masker),
      PII_KEYS.has(key.toLowerCase()) && item !== null ? maskAny(key.toLowerCase(), item, masker) : redactValue(item, masker, depth + 1),
    ]),
  );
}

function maskAny(key: string, value: unknown, masker: Masker): string {
  const text = typeof value === 'string' ? value : serialise(value);
  return key === 'ip' ? masker.mask('ip', canonicalIp(text) ?? text) : masker.mask('device_id', text);
}

/** JSON text of any parsed value; one nested deeper than the stack allows gets a placeholder. */
function serialise(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return '[unserialisable]';
  }
}

function maskKeyedValues(text: string, masker: Masker): string {
  return text.replace(KEYED_VALUE, (_match, prefix: string, raw: string) => {
    const key = prefix.toLowerCase().includes('device_id') ? 'device_id' : 'ip';
    const value = raw.startsWith('"') ? raw.slice(1, raw.endsWith('"') && raw.length > 1 ? -1 : undefined) : raw;
    return `${prefix}"${maskAny(key, value, masker)}"`;
  });
}

function scrubText(text: string, masker: Masker): string {
  return text
    .replace(IPV6_LIKE, (token) => (isIP(token) === 6 ? masker.mask('ip', canonicalIp(token) ?? token) : token))
    .replace(IPV4_LIKE, (token) => (isIP(token) === 4 ? masker.mask('ip', token) : token))
    .replace(DEVICE_ID_LIKE, (token) => masker.mask('device_id', token))
    .toWellFormed()
    .replaceAll('\u0000', '\uFFFD');
}
