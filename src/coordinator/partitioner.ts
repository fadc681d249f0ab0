// The partition of a coordinator's internal topic that owns a key (a group id, a transactional id,
// a share-group key): Kafka's `Utils.abs(key.hashCode()) % partitions`, with Java's String.hashCode
// (31 * h + each UTF-16 code unit, int32 overflow) and Kafka's Utils.abs (Integer.MIN_VALUE → 0,
// not Math.abs's MIN_VALUE). Test: test/protocol/coordinator-records.test.ts, against Java.

/** Java's String.hashCode: over UTF-16 code units (a JS string's own units), wrapping at 32 bits. */
export function javaStringHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/** Kafka's Utils.abs: Integer.MIN_VALUE maps to 0 (`n & 0x7fffffff`). */
export function kafkaAbs(n: number): number {
  return n === -2147483648 ? 0 : Math.abs(n);
}

/** The coordinator partition of `key` among `partitions` (e.g. offsets.topic.num.partitions, 50 by default). */
export function coordinatorPartition(key: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions <= 0) throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  return kafkaAbs(javaStringHashCode(key)) % partitions;
}
