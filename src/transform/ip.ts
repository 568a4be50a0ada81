// The canonical text of an IP address, so that one address always gets one mask: IPv4 in
// dotted decimal, IPv6 lower-case and compressed (RFC 5952), an IPv4-mapped IPv6 address as its IPv4.
import { isIPv4, isIPv6 } from 'node:net';

/** Returns the canonical form, or null when the text is not an IPv4 or IPv6 address. */
export function canonicalIp(text: string): string | null {
  if (isIPv4(text)) return text;
  // Zone ids (fe80::1%eth0) name an interface of the sender's host, not an address: refuse them.
  if (!isIPv6(text) || text.includes('%')) return null;
  // WHATWG URL serialises IPv6 hosts exactly as RFC 5952 asks: lower-case, zeros compressed.
  const url = URL.canParse(`http://[${text}]/`) ? new URL(`http://[${text}]/`) : null;
  if (!url) return null;
  const host = url.hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (mapped) {
    const high = parseInt(mapped[1] ?? '0', 16);
    const low = parseInt(mapped[2] ?? '0', 16);
    return [high >> 8, high & 255, low >> 8, low & 255].join('.');
  }
  return host;
}
