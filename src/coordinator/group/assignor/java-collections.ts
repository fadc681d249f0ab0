// The iteration order of the Java collections Kafka's server-side assignors walk, reproduced so the
// TypeScript ports pick the same members and partitions Kafka does.
//
// Kafka's assignors iterate java.util.HashMap / HashSet (member ids, a member's topic → partitions
// map, partition sets, topic-id sets). A HashMap iterates its table bucket by bucket (bucket =
// spread(hashCode) & (capacity - 1)) and, inside a bucket, in insertion order (resizes split a bucket
// without reordering it; a removal just unlinks). So its order is fixed by: each key's hashCode, the
// capacity (which depends on the constructor's initial capacity, the load factor 0.75, and the
// "treeify" resize when a bucket reaches 9 keys in a table smaller than 64) and the insertion order.
// JavaHashTable tracks exactly that, holding the keys in a JS Map (whose own order is the insertion
// order) and sorting them by bucket only when the order is read.
//
// Not reproduced: a bucket that Java turns into a red-black tree (9+ keys in one bucket of a table of
// 64 or more) iterates in the tree's own order; JavaHashTable keeps insertion order there and counts
// the event in javaCollectionStats.treeBins. It needs 9 keys hashing to one bucket of a well-sized
// table: ids are random and partition sets hold mostly consecutive numbers, so assignors meet it
// only with adversarial input.
//
// hashCodes: Integer (the value), String (javaStringHashCode), org.apache.kafka.common.Uuid (the xor
// of its four 32-bit words, uuidHashCode). JDK differences: only `new HashSet<>(collection)` sizes
// its table differently (JDK 17: max((int)(n / .75f) + 1, 16); JDK 19+: HashMap.newHashMap(max(n, 12))),
// see JavaRuntime.

import { javaStringHashCode } from "../../partitioner.js";

export { javaStringHashCode };

/**
 * The Java runtime whose collections to reproduce: 17 (Kafka 4.x's minimum for brokers) or 21 (any
 * JDK from 19 on, where `new HashSet<>(collection)` uses HashMap.newHashMap).
 */
export type JavaRuntime = 17 | 21;

/** Events the emulation cannot reproduce exactly (see the file comment). */
export const javaCollectionStats = { treeBins: 0 };

const MAXIMUM_CAPACITY = 1 << 30;
const TREEIFY_THRESHOLD = 8;
const MIN_TREEIFY_CAPACITY = 64;

/** HashMap.tableSizeFor: the power of two at or above `cap` (1 for 0 and 1). */
export function tableSizeFor(cap: number): number {
  if (cap <= 1) return 1;
  if (cap >= MAXIMUM_CAPACITY) return MAXIMUM_CAPACITY;
  return 2 ** (32 - Math.clz32(cap - 1));
}

/** HashMap.hash: the hashCode with its high half xor-ed into the low half. */
export function spread(h: number): number {
  return h ^ (h >>> 16);
}

/** `(int) ((float) n / 0.75f + 1.0f)`: the initial capacity Kafka's assignors pass for n entries. */
export function kafkaCapacityFor(n: number): number {
  return Math.trunc(Math.fround(Math.fround(Math.fround(n) / 0.75) + 1));
}

/** The initial capacity `new HashSet<>(collection)` gives its HashMap for a collection of n elements. */
export function hashSetCopyCapacity(n: number, jdk: JavaRuntime): number {
  if (jdk === 17) return Math.max(Math.trunc(Math.fround(Math.fround(n) / 0.75)) + 1, 16);
  // HashMap.newHashMap(max(n, 12)) = new HashMap<>((int) Math.ceil(max(n, 12) / 0.75)).
  return Math.ceil(Math.max(n, 12) / 0.75);
}

const uuidPattern = /^[A-Za-z0-9_-]{22}(?:==)?$/;

/** The four big-endian int32 words of a Kafka Uuid given in its base64url form (Uuid.toString()). */
export function uuidWords(topicId: string): Int32Array {
  if (!uuidPattern.test(topicId)) throw new RangeError(`not a Kafka Uuid (22 base64url characters): ${JSON.stringify(topicId)}`);
  const bytes = Buffer.from(topicId, "base64url");
  return Int32Array.of(bytes.readInt32BE(0), bytes.readInt32BE(4), bytes.readInt32BE(8), bytes.readInt32BE(12));
}

/** org.apache.kafka.common.Uuid.hashCode(): (int) (xor >> 32) ^ (int) xor, xor = msb ^ lsb. */
export function uuidHashCode(topicId: string): number {
  const w = uuidWords(topicId);
  return w[0] ^ w[1] ^ w[2] ^ w[3];
}

/** org.apache.kafka.common.Uuid.compareTo: the most significant long, then the least, both signed. */
export function uuidCompare(a: Int32Array, b: Int32Array): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] >>> 0 < b[1] >>> 0 ? -1 : 1;
  if (a[2] !== b[2]) return a[2] < b[2] ? -1 : 1;
  if (a[3] !== b[3]) return a[3] >>> 0 < b[3] >>> 0 ? -1 : 1;
  return 0;
}

/** Uuid hashCodes of topic ids, computed once per id for the life of one assignor run. */
export class UuidHashes {
  private readonly hashes = new Map<string, number>();

  get(topicId: string): number {
    let h = this.hashes.get(topicId);
    if (h === undefined) {
      h = uuidHashCode(topicId);
      this.hashes.set(topicId, h);
    }
    return h;
  }
}

/**
 * The table of a java.util.HashMap (or the HashMap inside a HashSet): its keys, their spread hashes
 * and its capacity, enough to list the keys in the order Java iterates them.
 *
 * Two ways in, as in Java: add (HashMap.put / putIfAbsent / HashSet.add: appended to its bucket,
 * resize after) and computeIfAbsent (HashMap.computeIfAbsent: prepended to its bucket, resize before
 * when the table is over its threshold, even if the key is there). A resize keeps each bucket's
 * relative order, so a key's place in its bucket is a global rank: appends count up from 0,
 * prepends count down.
 */
export class JavaHashTable<K> {
  /** key → spread hash; the JS Map's order is the insertion order. */
  private readonly entries = new Map<K, number>();
  /** key → rank in its bucket, once some key was prepended (before that, the insertion order). */
  private ranks: Map<K, number> | null = null;
  private counter = 0;
  /** The table length once allocated, 0 before the first insertion (Java allocates lazily). */
  private capacity = 0;
  private threshold = 0;
  private readonly initialCapacity: number;
  /** Keys per bucket, kept once a bucket may reach a treeify threshold. */
  private counts: Int32Array | null = null;

  /** `new HashMap<>()` without an argument, `new HashMap<>(initialCapacity)` with one. */
  constructor(initialCapacity?: number) {
    this.initialCapacity = initialCapacity === undefined ? 16 : tableSizeFor(initialCapacity);
  }

  get size(): number {
    return this.entries.size;
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  /** HashMap.put of a key (value ignored): false if the key is already there (nothing moves). */
  add(key: K, hashCode: number): boolean {
    if (this.entries.has(key)) return false;
    if (this.capacity === 0) this.resize(this.initialCapacity);
    // putVal appends behind the bucket's keys; from 8 of them on it calls treeifyBin.
    this.insert(key, spread(hashCode), false, TREEIFY_THRESHOLD);
    if (this.entries.size > this.threshold) this.resize(this.capacity * 2);
    return true;
  }

  /** HashMap.computeIfAbsent (with a non-null value): true if the key was added. */
  computeIfAbsent(key: K, hashCode: number): boolean {
    if (this.capacity === 0 || this.entries.size > this.threshold) this.resize(this.capacity === 0 ? this.initialCapacity : this.capacity * 2);
    if (this.entries.has(key)) return false;
    // computeIfAbsent puts the new key first in its bucket; from 7 keys there on it calls treeifyBin.
    this.insert(key, spread(hashCode), true, TREEIFY_THRESHOLD - 1);
    return true;
  }

  /** HashMap.remove: the others keep their order; the table never shrinks. */
  delete(key: K): boolean {
    const h = this.entries.get(key);
    if (h === undefined) return false;
    this.entries.delete(key);
    this.ranks?.delete(key);
    if (this.counts !== null) this.counts[h & (this.capacity - 1)]--;
    return true;
  }

  /** The keys in Java's iteration order: by bucket, then place in the bucket. */
  keys(): K[] {
    const n = this.entries.size;
    const mask = this.capacity - 1;
    if (this.ranks !== null && n > 1) {
      const ranks = this.ranks;
      const entries = this.entries;
      return [...entries.keys()].sort((a, b) => (entries.get(a)! & mask) - (entries.get(b)! & mask) || ranks.get(a)! - ranks.get(b)!);
    }
    const out = new Array<K>(n);
    if (n === 0) return out;
    if (n === 1) {
      for (const k of this.entries.keys()) out[0] = k;
      return out;
    }
    // Counting sort by bucket (stable): O(n + capacity).
    const starts = new Int32Array(this.capacity + 1);
    for (const h of this.entries.values()) starts[(h & mask) + 1]++;
    for (let b = 0; b < this.capacity; b++) starts[b + 1] += starts[b];
    for (const [k, h] of this.entries) out[starts[h & mask]++] = k;
    return out;
  }

  private insert(key: K, h: number, first: boolean, treeifyAt: number): void {
    if (first && this.ranks === null) {
      this.ranks = new Map();
      for (const k of this.entries.keys()) this.ranks.set(k, ++this.counter);
    }
    if (this.counts === null && this.entries.size >= TREEIFY_THRESHOLD - 1) this.countBuckets();
    this.entries.set(key, h);
    this.ranks?.set(key, first ? -++this.counter : ++this.counter);
    if (this.counts !== null) {
      const before = this.counts[h & (this.capacity - 1)]++;
      if (before >= treeifyAt) {
        // treeifyBin doubles a table smaller than 64 instead of building a tree.
        if (this.capacity < MIN_TREEIFY_CAPACITY) this.resize(this.capacity * 2);
        else javaCollectionStats.treeBins++;
      }
    }
  }

  private resize(newCapacity: number): void {
    this.capacity = Math.min(newCapacity, MAXIMUM_CAPACITY);
    this.threshold = Math.trunc(this.capacity * 0.75);
    if (this.counts !== null) this.countBuckets();
  }

  private countBuckets(): void {
    const counts = new Int32Array(this.capacity);
    const mask = this.capacity - 1;
    for (const h of this.entries.values()) counts[h & mask]++;
    this.counts = counts;
  }
}

/** A java.util.HashSet<Integer> of partitions. */
export class JavaIntSet {
  readonly table: JavaHashTable<number>;

  constructor(initialCapacity?: number) {
    this.table = new JavaHashTable<number>(initialCapacity);
  }

  /** `new HashSet<>(source)`: sized for the source, filled in the source's order. */
  static copyOf(source: Iterable<number>, size: number, jdk: JavaRuntime): JavaIntSet {
    const set = new JavaIntSet(hashSetCopyCapacity(size, jdk));
    for (const p of source) set.add(p);
    return set;
  }

  get size(): number {
    return this.table.size;
  }

  has(partition: number): boolean {
    return this.table.has(partition);
  }

  add(partition: number): boolean {
    return this.table.add(partition, partition);
  }

  delete(partition: number): boolean {
    return this.table.delete(partition);
  }

  /** A JS Set holding the partitions in Java's iteration order. */
  toSet(): Set<number> {
    return new Set(this.table.keys());
  }
}

/** A java.util.HashMap<Uuid, Set<Integer>>: a member's assignment as the assignors build it. */
export class JavaAssignment {
  readonly topics: JavaHashTable<string>;
  readonly partitions = new Map<string, JavaIntSet>();

  constructor(
    private readonly hashes: UuidHashes,
    initialCapacity?: number,
  ) {
    this.topics = new JavaHashTable<string>(initialCapacity);
  }

  /**
   * AssignorHelpers.deepCopyAssignment: `new HashMap<>(map.size())`, each set copied with
   * `new HashSet<>(set)`, both filled in the source's iteration order.
   */
  static deepCopy(source: ReadonlyMap<string, ReadonlySet<number>>, hashes: UuidHashes, jdk: JavaRuntime): JavaAssignment {
    const copy = new JavaAssignment(hashes, source.size);
    for (const [topicId, partitions] of source) {
      copy.topics.add(topicId, hashes.get(topicId));
      copy.partitions.set(topicId, JavaIntSet.copyOf(partitions, partitions.size, jdk));
    }
    return copy;
  }

  get(topicId: string): JavaIntSet | undefined {
    return this.partitions.get(topicId);
  }

  /** `computeIfAbsent(topicId, __ -> new HashSet<>(initialCapacity?))` (which may resize the map even when the topic is there). */
  computeIfAbsent(topicId: string, initialCapacity?: number): JavaIntSet {
    if (this.topics.computeIfAbsent(topicId, this.hashes.get(topicId))) {
      const set = new JavaIntSet(initialCapacity);
      this.partitions.set(topicId, set);
      return set;
    }
    return this.partitions.get(topicId)!;
  }

  delete(topicId: string): void {
    if (this.partitions.delete(topicId)) this.topics.delete(topicId);
  }

  /** A JS Map (and Sets) in Java's iteration order. */
  toMap(): Map<string, Set<number>> {
    const out = new Map<string, Set<number>>();
    for (const topicId of this.topics.keys()) out.set(topicId, this.partitions.get(topicId)!.toSet());
    return out;
  }
}

/**
 * The order `new HashMap<>()` iterates String keys put in `insertionOrder` (duplicates keep their
 * first place): e.g. the member ids of the GroupSpec Kafka's TargetAssignmentBuilder builds.
 */
export function javaHashMapOrder(insertionOrder: Iterable<string>, initialCapacity?: number): string[] {
  const table = new JavaHashTable<string>(initialCapacity);
  for (const key of insertionOrder) table.add(key, javaStringHashCode(key));
  return table.keys();
}

/**
 * A target assignment as Kafka's coordinator holds it after replaying a
 * ConsumerGroupTargetAssignmentMemberValue record (Assignment.fromRecord): a HashMap built by
 * Collectors.toMap in the record's topic order, each topic's partitions in `new HashSet<>(list)`.
 * The result's iteration order is Java's, so it can be handed back to an assignor as the
 * member's current assignment.
 */
export function assignmentFromRecord(
  topicPartitions: Iterable<readonly [topicId: string, partitions: readonly number[]]>,
  jdk: JavaRuntime = 17,
): Map<string, Set<number>> {
  const hashes = new UuidHashes();
  const topics = new JavaHashTable<string>();
  const sets = new Map<string, JavaIntSet>();
  for (const [topicId, partitions] of topicPartitions) {
    // Collectors.toMap throws on a duplicate key.
    if (!topics.add(topicId, hashes.get(topicId))) throw new Error(`Duplicate key ${topicId}`);
    sets.set(topicId, JavaIntSet.copyOf(partitions, partitions.length, jdk));
  }
  const out = new Map<string, Set<number>>();
  for (const topicId of topics.keys()) out.set(topicId, sets.get(topicId)!.toSet());
  return out;
}
