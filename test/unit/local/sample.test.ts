import { isIP } from 'node:net';
import { describe, it, expect } from 'vitest';
import { generateSample } from '../../../src/local/sample.js';

const KEYS = ['user_id', 'app_version', 'device_type', 'ip', 'locale', 'device_id'];
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const DEVICE_ID = /^\d{3}-\d{2}-\d{4}$/;
const APP_VERSION = /^(?:\d|[1-9]\d)\.(?:\d|[1-9]\d)(?:\.(?:\d|[1-9]\d))?$/;
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const TAKE_HOME_MALFORMED = '{"foo": "oops_wrong_msg_type", "bar": "123"}';

interface Event {
  user_id: string;
  app_version: string;
  device_type: string;
  ip: string;
  locale: string | null;
  device_id: string;
}

/** Strict check of the well-formed shape; returns the event, or undefined for anything malformed. */
function asEvent(body: string): Event | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  if (JSON.stringify(Object.keys(parsed)) !== JSON.stringify(KEYS)) return undefined;
  const e = parsed as Record<string, unknown>;
  const ok =
    typeof e.user_id === 'string' && UUID_V4.test(e.user_id) &&
    typeof e.app_version === 'string' && APP_VERSION.test(e.app_version) &&
    (e.device_type === 'android' || e.device_type === 'ios') &&
    typeof e.ip === 'string' && isIP(e.ip) !== 0 && (isIP(e.ip) === 6 || IPV4.test(e.ip)) &&
    (e.locale === null || (typeof e.locale === 'string' && /^[A-Z]{2}$/.test(e.locale))) &&
    typeof e.device_id === 'string' && DEVICE_ID.test(e.device_id);
  return ok ? (parsed as Event) : undefined;
}

function events(bodies: string[]): Event[] {
  return bodies.map(asEvent).filter((e): e is Event => e !== undefined);
}

function countBy<T>(items: T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

/** Keys seen with more than one distinct user_id. */
function sharedAcrossUsers(list: Event[], key: (e: Event) => string): number {
  const users = new Map<string, Set<string>>();
  for (const e of list) {
    const set = users.get(key(e)) ?? new Set<string>();
    set.add(e.user_id);
    users.set(key(e), set);
  }
  return [...users.values()].filter((s) => s.size > 1).length;
}

describe('generateSample', () => {
  it('is deterministic for a seed and differs for another seed', () => {
    const a = generateSample({ count: 500, seed: 7 });
    const b = generateSample({ count: 500, seed: 7 });
    const c = generateSample({ count: 500, seed: 8 });
    expect(b.bodies).toEqual(a.bodies);
    expect(c.bodies).not.toEqual(a.bodies);
    expect(generateSample({ count: 50 }).bodies).toEqual(generateSample({ count: 50, seed: 42 }).bodies);
  });

  it('counts add up and the default malformed share follows the rule', () => {
    for (const [count, expected] of [[0, 0], [10, 0], [99, 0], [100, 3], [1000, 5], [10_000, 50]] as const) {
      const s = generateSample({ count });
      expect(s.valid).toBe(count);
      expect(s.malformed).toBe(expected);
      expect(s.bodies).toHaveLength(count + expected);
      expect(events(s.bodies)).toHaveLength(count);
    }
    const explicit = generateSample({ count: 20, malformed: 9 });
    expect(explicit.malformed).toBe(9);
    expect(explicit.bodies).toHaveLength(29);
    expect(events(explicit.bodies)).toHaveLength(20);
    const onlyBad = generateSample({ count: 0, malformed: 4 });
    expect(onlyBad.bodies).toHaveLength(4);
    expect(events(onlyBad.bodies)).toHaveLength(0);
  });

  it('rejects negative or fractional counts', () => {
    expect(() => generateSample({ count: -1 })).toThrow(RangeError);
    expect(() => generateSample({ count: 1.5 })).toThrow(RangeError);
    expect(() => generateSample({ count: 10, malformed: -2 })).toThrow(RangeError);
  });

  it('leaves the well-formed events unchanged when only the malformed count changes', () => {
    const a = generateSample({ count: 300, malformed: 0 });
    const b = generateSample({ count: 300, malformed: 12 });
    expect(events(b.bodies).map((e) => JSON.stringify(e))).toEqual(a.bodies);
  });

  it('produces only well-formed bodies with the six keys in order when malformed is 0', () => {
    const s = generateSample({ count: 2000, malformed: 0, seed: 3 });
    for (const body of s.bodies) {
      expect(asEvent(body), body).toBeDefined();
      expect(Object.keys(JSON.parse(body) as object)).toEqual(KEYS);
    }
  });

  it('has roughly the documented mix of values', () => {
    const list = events(generateSample({ count: 10_000, seed: 11 }).bodies);
    const share = (pred: (e: Event) => boolean): number => list.filter(pred).length / list.length;
    expect(share((e) => e.locale === null)).toBeGreaterThan(0.26);
    expect(share((e) => e.locale === null)).toBeLessThan(0.34);
    expect(share((e) => e.device_type === 'android')).toBeGreaterThan(0.45);
    expect(share((e) => e.device_type === 'android')).toBeLessThan(0.55);
    expect(share((e) => e.app_version.split('.').length === 2)).toBeGreaterThan(0.28);
    expect(share((e) => e.app_version.split('.').length === 2)).toBeLessThan(0.39);
    const v6 = share((e) => isIP(e.ip) === 6);
    expect(v6).toBeGreaterThan(0.02);
    expect(v6).toBeLessThan(0.09);
    expect(new Set(list.map((e) => e.locale).filter((l) => l !== null)).size).toBeGreaterThanOrEqual(15);
  });

  it('includes compressed, upper-case uncompressed and IPv4-mapped IPv6 spellings', () => {
    const ips = events(generateSample({ count: 20_000, seed: 5 }).bodies).map((e) => e.ip);
    expect(ips.some((ip) => ip.includes('::') && !ip.startsWith('::ffff:') && ip === ip.toLowerCase())).toBe(true);
    expect(ips.some((ip) => /^[0-9A-F]{4}(?::[0-9A-F]{4}){7}$/.test(ip) && /[A-F]/.test(ip))).toBe(true);
    expect(ips.some((ip) => /^::ffff:\d+\.\d+\.\d+\.\d+$/.test(ip))).toBe(true);
  });

  it('repeats device ids and ips across different user_ids', () => {
    const list = events(generateSample({ count: 1000 }).bodies);
    expect(new Set(list.map((e) => e.user_id)).size).toBe(list.length);
    expect(sharedAcrossUsers(list, (e) => e.device_id)).toBeGreaterThan(50);
    expect(sharedAcrossUsers(list, (e) => e.ip)).toBeGreaterThan(50);
  });

  it('has one device id occurring at least 8 times in a 1000 sample, for several seeds', () => {
    for (const seed of [1, 2, 42, 1234, 99_999]) {
      const counts = countBy(events(generateSample({ count: 1000, seed }).bodies), (e) => e.device_id);
      expect(Math.max(...counts.values())).toBeGreaterThanOrEqual(8);
    }
  });

  it('includes the take-home malformed body and the other malformed kinds', () => {
    const s = generateSample({ count: 1000, malformed: 8 });
    const bad = s.bodies.filter((b) => asEvent(b) === undefined);
    expect(bad).toHaveLength(8);
    expect(bad).toContain(TAKE_HOME_MALFORMED);
    expect(bad).toContain('not json at all');
    expect(bad.some((b) => b.startsWith('['))).toBe(true);
    expect(bad.some((b) => b.includes('"ip":"999.1.2.3"'))).toBe(true);
    expect(bad.some((b) => b.includes('"app_version":"v1-beta"'))).toBe(true);
    expect(bad.some((b) => b.startsWith('{"app_version"'))).toBe(true);
    expect(bad.some((b) => /"device_type":\d/.test(b))).toBe(true);
    expect(bad.some((b) => /"user_id":"[0-9a-f]{200}"/.test(b))).toBe(true);
    expect(generateSample({ count: 1000 }).bodies).toContain(TAKE_HOME_MALFORMED);
  });

  it('spreads malformed bodies through the list instead of appending them', () => {
    for (const seed of [1, 42, 777]) {
      const s = generateSample({ count: 1000, seed });
      const positions = s.bodies.flatMap((b, i) => (asEvent(b) === undefined ? [i] : []));
      expect(positions).toHaveLength(s.malformed);
      const first = positions[0] ?? Infinity;
      const last = positions[positions.length - 1] ?? -Infinity;
      expect(first).toBeLessThan(s.bodies.length / 2);
      expect(last).toBeGreaterThanOrEqual(s.bodies.length / 2);
      expect(positions).not.toEqual(positions.map((_, k) => s.bodies.length - s.malformed + k));
    }
  });
});
