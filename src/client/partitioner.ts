// Which partition a keyed record goes to: Kafka's default (BuiltInPartitioner.partitionForKey),
// `toPositive(murmur2(keyBytes)) % partitions`, so records produced here land where the Java
// producer (and kafka-console-producer.sh) would put the same keys. Records without a key are
// spread by the caller (sticky per batch, as Kafka's producer does since KIP-480).

/** Kafka's Utils.murmur2: MurmurHash2, seed 0x9747b28c, little-endian words, int32 arithmetic. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  const m = 0x5bd1e995;
  let h = 0x9747b28c ^ length;
  const words = length >>> 2;
  for (let i = 0; i < words; i++) {
    const at = i * 4;
    let k = (data[at] as number) | ((data[at + 1] as number) << 8) | ((data[at + 2] as number) << 16) | ((data[at + 3] as number) << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const tail = length & ~3;
  // The tail bytes, as the fall-through switch of Kafka's Java.
  const rest = length & 3;
  if (rest === 3) h ^= (data[tail + 2] as number) << 16;
  if (rest >= 2) h ^= (data[tail + 1] as number) << 8;
  if (rest >= 1) {
    h ^= data[tail] as number;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition Kafka's default partitioner picks for a non-null key. */
export function partitionForKey(key: Uint8Array, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}
