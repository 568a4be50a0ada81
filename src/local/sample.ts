// Generates a deterministic sample of login-event SQS message bodies shaped like the Fetch take-home's data,
// with a few malformed bodies mixed in, for the zero-setup demo, the tests and the benchmark.

export interface SampleOptions {
  /** number of well-formed events */
  count: number;
  /** number of malformed bodies mixed in (default: about 0.5% of count, at least 3 when count >= 100, 0 when count < 100) */
  malformed?: number;
  /** PRNG seed (default 42) */
  seed?: number;
}

export interface Sample {
  bodies: string[];
  valid: number;
  malformed: number;
}

interface LoginEvent {
  user_id: string;
  app_version: string;
  device_type: string;
  ip: string;
  locale: string | null;
  device_id: string;
}

export type Rng = () => number;

// mulberry32: tiny, fast and good enough for test data; Math.random cannot be seeded and
// crypto would make runs unrepeatable.
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform integer in [min, max]. */
export function intBetween(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  const item = items[Math.floor(rng() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

const LOCALES = [
  'RU', 'PH', 'ID', 'FR', 'PT', 'US', 'BR', 'CN', 'DE', 'GB',
  'IN', 'JP', 'MX', 'NG', 'PL', 'ES', 'IT', 'CA', 'KR', 'SE',
] as const;

const TAKE_HOME_MALFORMED = '{"foo": "oops_wrong_msg_type", "bar": "123"}';

function hex(rng: Rng, digits: number): string {
  let out = '';
  for (let i = 0; i < digits; i++) out += Math.floor(rng() * 16).toString(16);
  return out;
}

function uuidV4(rng: Rng): string {
  const variant = (8 + Math.floor(rng() * 4)).toString(16);
  return `${hex(rng, 8)}-${hex(rng, 4)}-4${hex(rng, 3)}-${variant}${hex(rng, 3)}-${hex(rng, 12)}`;
}

function deviceId(rng: Rng): string {
  let digits = '';
  for (let i = 0; i < 9; i++) digits += String(Math.floor(rng() * 10));
  return `${digits.slice(0, 3)}-${digits.slice(3, 5)}-${digits.slice(5)}`;
}

function ipv4(rng: Rng): string {
  // First octet kept in unicast range so the addresses look like real client IPs.
  return [intBetween(rng, 1, 223), intBetween(rng, 0, 255), intBetween(rng, 0, 255), intBetween(rng, 0, 255)].join('.');
}

function hexGroup(rng: Rng): string {
  return intBetween(rng, 0, 0xffff).toString(16);
}

// Three spellings on purpose: the masking code must treat equivalent IPv6 texts consistently,
// so the sample exercises compressed, uncompressed upper-case and IPv4-mapped forms.
function ipv6(rng: Rng): string {
  const form = rng();
  if (form < 0.1) return `::ffff:${ipv4(rng)}`;
  if (form < 0.4) {
    const groups: string[] = [];
    for (let i = 0; i < 8; i++) groups.push(hexGroup(rng).padStart(4, '0').toUpperCase());
    return groups.join(':');
  }
  const head = intBetween(rng, 1, 3);
  const tail = intBetween(rng, 1, 3);
  const headGroups: string[] = [];
  const tailGroups: string[] = [];
  for (let i = 0; i < head; i++) headGroups.push(hexGroup(rng));
  for (let i = 0; i < tail; i++) tailGroups.push(hexGroup(rng));
  return `${headGroups.join(':')}::${tailGroups.join(':')}`;
}

function ip(rng: Rng): string {
  return rng() < 0.05 ? ipv6(rng) : ipv4(rng);
}

function appVersion(rng: Rng): string {
  const major = intBetween(rng, 0, 9);
  const minor = intBetween(rng, 0, 99);
  if (rng() < 1 / 3) return `${major}.${minor}`;
  return `${major}.${minor}.${intBetween(rng, 0, 9)}`;
}

function makeEvent(rng: Rng, device: string, address: string): LoginEvent {
  // Property order matters: JSON.stringify keeps insertion order and the bodies should read like the take-home's.
  return {
    user_id: uuidV4(rng),
    app_version: appVersion(rng),
    device_type: rng() < 0.5 ? 'android' : 'ios',
    ip: address,
    locale: rng() < 0.3 ? null : pick(rng, LOCALES),
    device_id: device,
  };
}

/** k distinct integers from [0, n), O(k) (Floyd's algorithm) so large benchmark samples stay cheap. */
function sampleIndices(rng: Rng, n: number, k: number): Set<number> {
  const chosen = new Set<number>();
  for (let j = n - k; j < n; j++) {
    const t = intBetween(rng, 0, j);
    chosen.add(chosen.has(t) ? j : t);
  }
  return chosen;
}

type MalformedKind = (rng: Rng, base: LoginEvent) => string;

// Order matters: the take-home's body comes first so any sample with at least one malformed body contains it.
const MALFORMED_KINDS: readonly MalformedKind[] = [
  () => TAKE_HOME_MALFORMED,
  () => 'not json at all',
  (_rng, base) => JSON.stringify([base]),
  (_rng, base) => JSON.stringify({ ...base, ip: '999.1.2.3' }),
  (_rng, base) => JSON.stringify({ ...base, app_version: 'v1-beta' }),
  (_rng, base) => {
    const { user_id: _dropped, ...rest } = base;
    return JSON.stringify(rest);
  },
  (rng, base) => JSON.stringify({ ...base, device_type: intBetween(rng, 0, 9) }),
  (rng, base) => JSON.stringify({ ...base, user_id: hex(rng, 200) }),
];

function checkCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
}

export function defaultMalformed(count: number): number {
  if (count < 100) return 0;
  return Math.max(3, Math.round(count * 0.005));
}

export function generateSample(options: SampleOptions): Sample {
  const { count } = options;
  const malformed = options.malformed ?? defaultMalformed(count);
  const seed = options.seed ?? 42;
  checkCount('count', count);
  checkCount('malformed', malformed);

  // Separate streams so changing the number of malformed bodies leaves the well-formed events unchanged.
  const eventRng = mulberry32(seed);
  const malformedRng = mulberry32(seed ^ 0x9e3779b9);

  // Pools smaller than count make devices and IPs recur across users, which the masking must preserve.
  const devicePool: string[] = [];
  const ipPool: string[] = [];
  if (count > 0) {
    const devices = Math.max(1, Math.round(count / 4));
    const ips = Math.max(1, Math.round(count / 3));
    for (let i = 0; i < devices; i++) devicePool.push(deviceId(eventRng));
    for (let i = 0; i < ips; i++) ipPool.push(ip(eventRng));
  }

  // One device takes ~2% of events on top of its uniform share, so the demo has a clear "most repeated" device.
  const hotDevice = devicePool[0];
  const hotIndices = sampleIndices(eventRng, count, Math.ceil(count / 50));

  const events: string[] = [];
  for (let i = 0; i < count; i++) {
    const device = hotDevice !== undefined && hotIndices.has(i) ? hotDevice : pick(eventRng, devicePool);
    events.push(JSON.stringify(makeEvent(eventRng, device, pick(eventRng, ipPool))));
  }

  const bad: string[] = [];
  for (let k = 0; k < malformed; k++) {
    const device = devicePool.length > 0 ? pick(malformedRng, devicePool) : deviceId(malformedRng);
    const address = ipPool.length > 0 ? pick(malformedRng, ipPool) : ip(malformedRng);
    const base = makeEvent(malformedRng, device, address);
    const kind = MALFORMED_KINDS[k % MALFORMED_KINDS.length];
    if (kind === undefined) throw new Error('unreachable: malformed kind index out of range');
    bad.push(kind(malformedRng, base));
  }

  // One malformed body per equal-width stratum of the output guarantees they are spread through the list.
  const total = count + malformed;
  const badAt = new Set<number>();
  for (let k = 0; k < malformed; k++) {
    const start = Math.floor((k * total) / malformed);
    const end = Math.floor(((k + 1) * total) / malformed);
    badAt.add(intBetween(malformedRng, start, end - 1));
  }

  const bodies: string[] = [];
  let nextEvent = 0;
  let nextBad = 0;
  for (let i = 0; i < total; i++) {
    const body = badAt.has(i) ? bad[nextBad++] : events[nextEvent++];
    if (body === undefined) throw new Error('unreachable: ran out of bodies while interleaving');
    bodies.push(body);
  }

  return { bodies, valid: count, malformed };
}
