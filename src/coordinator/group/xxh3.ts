// XXH3-64 (seed 0, the default secret) over a byte stream written as Kafka writes it with hash4j's
// HashStream64 (Hashing.xxh3_64().hashStream()): putByte, putInt and putLong little-endian, putString
// as its UTF-16 code units (2 bytes each, little-endian) followed by putInt(length). A stream's hash
// is the hash of the concatenated bytes, so the bytes are collected and hashed once. Used for the
// metadata hash of KIP-1101 (topic-image.ts); the inputs are small and hashed once per topic change,
// so a BigInt implementation is enough. Checked against hash4j by test/unit/consumer-group.test.ts.

const MASK = (1n << 64n) - 1n;
const PRIME32_1 = 0x9e3779b1n;
const PRIME32_2 = 0x85ebca77n;
const PRIME32_3 = 0xc2b2ae3dn;
const PRIME64_1 = 0x9e3779b185ebca87n;
const PRIME64_2 = 0xc2b2ae3d27d4eb4fn;
const PRIME64_3 = 0x165667b19e3779f9n;
const PRIME64_4 = 0x85ebca77c2b2ae63n;
const PRIME64_5 = 0x27d4eb2f165667c5n;
const PRIME_MX1 = 0x165667919e3779f9n;
const PRIME_MX2 = 0x9fb21c651e98df25n;

const SECRET = Buffer.from(
  "b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671fcb79e64eccc0e578825ad07dccff7221b8084674f743248ee03590e6813a264c" +
    "3c2852bb91c300cb88d0658b1b532ea371644897a20df94e3819ef46a9deacd8a8fa763fe39c343ff9dcbbc7c70b4f1d8a51e04bcdb45931c89f7ec9d9787364" +
    "eac5ac8334d3ebc3c581a0fffa1363eb170ddd51b7f0da49d316552629d4689e2b16be587d47a1fc8ff8b8d17ad031ce45cb3a8f95160428afd7fbcabb4b407e",
  "hex",
);
const SECRET_SIZE = SECRET.length;
const STRIPE_LEN = 64;

const r64 = (buf: Buffer, at: number) => buf.readBigUInt64LE(at);
const r32 = (buf: Buffer, at: number) => BigInt(buf.readUInt32LE(at));
const mul = (a: bigint, b: bigint) => (a * b) & MASK;
const rotl = (x: bigint, r: bigint) => ((x << r) | (x >> (64n - r))) & MASK;

function swap64(x: bigint): bigint {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(x);
  return b.readBigUInt64BE(0);
}

function mul128Fold64(a: bigint, b: bigint): bigint {
  const product = a * b;
  return (product & MASK) ^ (product >> 64n);
}

function xxh64Avalanche(h: bigint): bigint {
  h ^= h >> 33n;
  h = mul(h, PRIME64_2);
  h ^= h >> 29n;
  h = mul(h, PRIME64_3);
  return h ^ (h >> 32n);
}

function avalanche(h: bigint): bigint {
  h ^= h >> 37n;
  h = mul(h, PRIME_MX1);
  return h ^ (h >> 32n);
}

function rrmxmx(h: bigint, len: number): bigint {
  h ^= rotl(h, 49n) ^ rotl(h, 24n);
  h = mul(h, PRIME_MX2);
  h ^= (h >> 35n) + BigInt(len);
  h = mul(h, PRIME_MX2);
  return h ^ (h >> 28n);
}

function mix16B(input: Buffer, at: number, secretAt: number): bigint {
  return mul128Fold64(r64(input, at) ^ r64(SECRET, secretAt), r64(input, at + 8) ^ r64(SECRET, secretAt + 8));
}

function accumulate512(acc: bigint[], input: Buffer, at: number, secretAt: number): void {
  for (let i = 0; i < 8; i++) {
    const value = r64(input, at + 8 * i);
    const key = value ^ r64(SECRET, secretAt + 8 * i);
    acc[i ^ 1] = ((acc[i ^ 1] as bigint) + value) & MASK;
    acc[i] = ((acc[i] as bigint) + (key & 0xffffffffn) * (key >> 32n)) & MASK;
  }
}

function scramble(acc: bigint[], secretAt: number): void {
  for (let i = 0; i < 8; i++) {
    let value = acc[i] as bigint;
    value ^= value >> 47n;
    value ^= r64(SECRET, secretAt + 8 * i);
    acc[i] = mul(value, PRIME32_1);
  }
}

function hashLong(input: Buffer): bigint {
  const len = input.length;
  const acc = [PRIME32_3, PRIME64_1, PRIME64_2, PRIME64_3, PRIME64_4, PRIME32_2, PRIME64_5, PRIME32_1];
  const stripesPerBlock = (SECRET_SIZE - STRIPE_LEN) / 8;
  const blockLen = STRIPE_LEN * stripesPerBlock;
  const blocks = Math.floor((len - 1) / blockLen);
  for (let n = 0; n < blocks; n++) {
    for (let s = 0; s < stripesPerBlock; s++) accumulate512(acc, input, n * blockLen + s * STRIPE_LEN, s * 8);
    scramble(acc, SECRET_SIZE - STRIPE_LEN);
  }
  const stripes = Math.floor((len - 1 - blockLen * blocks) / STRIPE_LEN);
  for (let s = 0; s < stripes; s++) accumulate512(acc, input, blocks * blockLen + s * STRIPE_LEN, s * 8);
  accumulate512(acc, input, len - STRIPE_LEN, SECRET_SIZE - STRIPE_LEN - 7);
  let result = mul(BigInt(len), PRIME64_1);
  for (let i = 0; i < 4; i++) {
    result = (result + mul128Fold64((acc[2 * i] as bigint) ^ r64(SECRET, 11 + 16 * i), (acc[2 * i + 1] as bigint) ^ r64(SECRET, 11 + 16 * i + 8))) & MASK;
  }
  return avalanche(result);
}

/** XXH3_64bits(input) with seed 0, as an unsigned 64-bit value. */
export function xxh3(input: Buffer): bigint {
  const len = input.length;
  if (len === 0) return xxh64Avalanche(r64(SECRET, 56) ^ r64(SECRET, 64));
  if (len <= 3) {
    const combined = (BigInt(input[0] as number) << 16n) | (BigInt(input[len >> 1] as number) << 24n) | BigInt(input[len - 1] as number) | (BigInt(len) << 8n);
    return xxh64Avalanche(combined ^ (r32(SECRET, 0) ^ r32(SECRET, 4)));
  }
  if (len <= 8) {
    const input64 = (r32(input, len - 4) + (r32(input, 0) << 32n)) & MASK;
    return rrmxmx(input64 ^ (r64(SECRET, 8) ^ r64(SECRET, 16)), len);
  }
  if (len <= 16) {
    const lo = r64(input, 0) ^ (r64(SECRET, 24) ^ r64(SECRET, 32));
    const hi = r64(input, len - 8) ^ (r64(SECRET, 40) ^ r64(SECRET, 48));
    return avalanche((BigInt(len) + swap64(lo) + hi + mul128Fold64(lo, hi)) & MASK);
  }
  if (len <= 128) {
    let acc = mul(BigInt(len), PRIME64_1);
    if (len > 32) {
      if (len > 64) {
        if (len > 96) acc += mix16B(input, 48, 96) + mix16B(input, len - 64, 112);
        acc += mix16B(input, 32, 64) + mix16B(input, len - 48, 80);
      }
      acc += mix16B(input, 16, 32) + mix16B(input, len - 32, 48);
    }
    acc += mix16B(input, 0, 0) + mix16B(input, len - 16, 16);
    return avalanche(acc & MASK);
  }
  if (len <= 240) {
    let acc = mul(BigInt(len), PRIME64_1);
    for (let i = 0; i < 8; i++) acc += mix16B(input, 16 * i, 16 * i);
    acc = avalanche(acc & MASK);
    const rounds = Math.floor(len / 16);
    for (let i = 8; i < rounds; i++) acc += mix16B(input, 16 * i, 16 * (i - 8) + 3);
    acc += mix16B(input, len - 16, 136 - 17);
    return avalanche(acc & MASK);
  }
  return hashLong(input);
}

/** A hash4j-style stream whose getAsLong is Java's signed long. */
export interface Xxh3Hasher {
  putByte(value: number): Xxh3Hasher;
  putInt(value: number): Xxh3Hasher;
  putLong(value: bigint): Xxh3Hasher;
  putString(value: string): Xxh3Hasher;
  getAsLong(): bigint;
}

export function xxh3Hasher(): Xxh3Hasher {
  const parts: Buffer[] = [];
  const hasher: Xxh3Hasher = {
    putByte(value) {
      parts.push(Buffer.of(value & 0xff));
      return hasher;
    },
    putInt(value) {
      const b = Buffer.alloc(4);
      b.writeInt32LE(value | 0);
      parts.push(b);
      return hasher;
    },
    putLong(value) {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt.asUintN(64, value));
      parts.push(b);
      return hasher;
    },
    putString(value) {
      parts.push(Buffer.from(value, "utf16le"));
      return hasher.putInt(value.length);
    },
    getAsLong() {
      return BigInt.asIntN(64, xxh3(Buffer.concat(parts)));
    },
  };
  return hasher;
}
