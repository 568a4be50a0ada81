// Is 32 bytes a public key the vault can seal to? Every X25519 public key made from a private key
// (sqs2pg keygen --vault, libsodium, OpenSSL) is the canonical encoding of a point of Curve25519's
// prime-order subgroup. Anything else is a broken or hostile key: a low-order point makes the shared
// secret of every ephemeral key zero (nothing can be sealed; were it not refused, anyone could open
// it), and the other malformed points or encodings are no key a generator makes. Checked once, when a
// command loads its settings, so a bad key is one clear refusal and never a batch that fails.
// Plain BigInt arithmetic modulo p = 2^255 - 19 (RFC 7748); a few milliseconds, at start-up only.

const P = (1n << 255n) - 19n;
/** the order of the prime-order subgroup (RFC 7748, section 4.1) */
const L = (1n << 252n) + 27742317777372353535851937790883648493n;
/** (A - 2) / 4 for A = 486662, as the ladder of RFC 7748 uses it */
const A24 = 121665n;
const A = 486662n;

const mod = (value: bigint): bigint => {
  const r = value % P;
  return r < 0n ? r + P : r;
};

function pow(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = mod(result * b);
    b = mod(b * b);
  }
  return result;
}

/** The little-endian integer of 32 bytes, all 256 bits. */
function littleEndian(bytes: Buffer): bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
  return value;
}

/** Z of [k]P, P given by its u-coordinate (RFC 7748's ladder, projective): 0 exactly when [k]P is the identity. */
function ladderZ(u: bigint, k: bigint): bigint {
  let [x2, z2, x3, z3] = [1n, 0n, u, 1n];
  let swap = 0n;
  for (let t = 254n; t >= 0n; t--) {
    const bit = (k >> t) & 1n;
    if ((swap ^ bit) === 1n) [x2, x3, z2, z3] = [x3, x2, z3, z2];
    swap = bit;
    const a = mod(x2 + z2);
    const aa = mod(a * a);
    const b = mod(x2 - z2);
    const bb = mod(b * b);
    const e = mod(aa - bb);
    const c = mod(x3 + z3);
    const d = mod(x3 - z3);
    const da = mod(d * a);
    const cb = mod(c * b);
    x3 = mod((da + cb) * (da + cb));
    z3 = mod(u * mod((da - cb) * (da - cb)));
    x2 = mod(aa * bb);
    z2 = mod(e * (aa + A24 * e));
  }
  if (swap === 1n) z2 = z3;
  return z2;
}

/** Whether [8]P is the identity: three doublings, which also hold where the ladder's addition would not (u = 0). */
function hasSmallOrder(u: bigint): boolean {
  let [x, z] = [u, 1n];
  for (let i = 0; i < 3; i++) {
    const aa = mod((x + z) * (x + z));
    const bb = mod((x - z) * (x - z));
    const e = mod(aa - bb);
    [x, z] = [mod(aa * bb), mod(e * (aa + A24 * e))];
  }
  return z === 0n;
}

/**
 * Why `raw` is not a public key the vault may seal to, or undefined when it is one. The reason
 * describes the key, never shows it.
 */
export function publicKeyProblem(raw: Buffer): string | undefined {
  if (raw.length !== 32) return `is ${raw.length} bytes, not the 32 of an X25519 public key`;
  const value = littleEndian(raw);
  const u = value & ((1n << 255n) - 1n);
  // X25519 ignores bit 255 and reduces modulo p, so these name the same points another way: a key
  // generator never writes them, and a low-order point hidden behind one must be named as such.
  if (hasSmallOrder(mod(u))) return 'is a low-order X25519 point (anything sealed to it could be opened without any private key)';
  if (value !== u || u >= P) return 'is not in canonical form (bit 255 set, or not reduced modulo 2^255-19): no X25519 key generator writes one';
  const curve = mod(u * u * u + A * u * u + u);
  if (pow(curve, (P - 1n) / 2n) !== 1n) return 'is not a point of Curve25519 (it lies on the twist): no X25519 key generator makes one';
  if (ladderZ(u, L) !== 0n) return "is not in Curve25519's prime-order subgroup (a low-order point added to a key): no X25519 key generator makes one";
  return undefined;
}
