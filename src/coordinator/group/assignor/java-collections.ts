// The iteration order of the Java collections Kafka's server-side assignors walk, reproduced so the
// TypeScript ports pick the same members and partitions Kafka does.
//
// Kafka's assignors iterate java.util.HashMap / HashSet (member ids, a member's topic → partitions
// map, partition sets, topic-id sets). A HashMap iterates its table bucket by bucket (bucket =
// spread(hashCode) & (capacity - 1)) and, inside a bucket, along its linked list: put appends to it,
// computeIfAbsent prepends, a removal unlinks, a resize splits it without reordering. So its order
// is fixed by each key's hashCode, the capacity (the constructor's initial capacity, the load factor
// 0.75, and the "treeify" resize of a table smaller than 64 when a bucket fills up) and the
// sequence of insertions. JavaHashTable tracks exactly that, holding the keys in a JS Map and
// sorting them by bucket (then place in the bucket) only when the order is read.
//
// A bucket that Java turns into a red-black tree (8 or 9 keys in one bucket of a table of 64 or
// more: it happens to partition sets of heterogeneous groups, whose round-robin hand-out gives a
// member every n-th partition) iterates in the order the tree code links its nodes. For such a
// table JavaHashTable switches to ExactHashMap, a node-for-node port of java.util.HashMap and its
// TreeNode (JDK 17 to 25 share that code); javaCollectionStats.treeBins counts the switches.
//
// hashCodes: Integer (the value), String (javaStringHashCode), org.apache.kafka.common.Uuid (the xor
// of its four 32-bit words, uuidHashCode). JDK differences: only `new HashSet<>(collection)` sizes
// its table differently (JDK 17: max((int)(n / .75f) + 1, 16); JDK 19+: HashMap.newHashMap(max(n, 12))),
// see JavaRuntime. Checked against Java 17 and 25 by test/unit/assignors.test.ts.

import { javaStringHashCode } from "../../partitioner.js";

export { javaStringHashCode };

/**
 * The Java runtime whose collections to reproduce: 17 (Kafka 4.x's minimum for brokers) or 21 (any
 * JDK from 19 on, where `new HashSet<>(collection)` uses HashMap.newHashMap).
 */
export type JavaRuntime = 17 | 21;

/** How many tables met a tree bin and switched to the node-for-node emulation (see the file comment). */
export const javaCollectionStats = { treeBins: 0 };

/** Comparable.compareTo of Integer and String (by UTF-16 code unit, as JS compares strings). */
export function naturalOrder<K>(a: K, b: K): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Uuid.compareTo for topic ids in string form. */
export function uuidKeyOrder(a: string, b: string): number {
  return uuidCompare(uuidWords(a), uuidWords(b));
}

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
  /** The node-for-node table, once a bucket became a tree. */
  private exact: ExactHashMap<K> | null = null;

  /**
   * `new HashMap<>()` without an initial capacity, `new HashMap<>(initialCapacity)` with one.
   * `compare`: the keys' compareTo (tree bins order by it after the hash).
   */
  constructor(
    initialCapacity?: number,
    private readonly compare: (a: K, b: K) => number = naturalOrder,
  ) {
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
    if (this.exact !== null) {
      const h = spread(hashCode);
      this.entries.set(key, h);
      this.exact.put(key, h);
      return true;
    }
    if (this.capacity === 0) this.resize(this.initialCapacity);
    // putVal appends behind the bucket's keys; from 8 of them on it calls treeifyBin.
    this.insert(key, spread(hashCode), false, TREEIFY_THRESHOLD);
    // insert may have switched to the node-for-node table
    const exact = this.exact as ExactHashMap<K> | null;
    if (exact !== null) exact.resizeIfOver();
    else if (this.entries.size > this.threshold) this.resize(this.capacity * 2);
    return true;
  }

  /** HashMap.computeIfAbsent (with a non-null value): true if the key was added. */
  computeIfAbsent(key: K, hashCode: number): boolean {
    if (this.exact !== null) {
      const present = this.entries.has(key);
      const h = spread(hashCode);
      if (!present) this.entries.set(key, h);
      this.exact.computeIfAbsent(key, h, present);
      return !present;
    }
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
    if (this.exact !== null) {
      this.exact.remove(key, h);
      return true;
    }
    this.ranks?.delete(key);
    if (this.counts !== null) this.counts[h & (this.capacity - 1)]--;
    return true;
  }

  /** The keys in Java's iteration order: by bucket, then place in the bucket. */
  keys(): K[] {
    if (this.exact !== null) return this.exact.keys();
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
        else {
          // From here on, node for node: the table as it stands (buckets in their order), then treeifyBin.
          javaCollectionStats.treeBins++;
          const exact = new ExactHashMap<K>(this.capacity, this.threshold, this.keys(), this.entries, this.compare);
          this.exact = exact;
          this.ranks = null;
          this.counts = null;
          exact.treeifyBin(h);
        }
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

/** A java.util.HashMap node; `tree` marks a HashMap.TreeNode (whose links are parent..red). */
class JNode<K> {
  tree = false;
  parent: JNode<K> | null = null;
  left: JNode<K> | null = null;
  right: JNode<K> | null = null;
  prev: JNode<K> | null = null;
  red = false;

  constructor(
    readonly hash: number,
    readonly key: K,
    public next: JNode<K> | null,
  ) {}
}

const UNTREEIFY_THRESHOLD = 6;

/**
 * java.util.HashMap's table (putVal, computeIfAbsent, removeNode, resize, treeifyBin) and
 * HashMap.TreeNode (treeify, untreeify, putTreeVal, removeTreeNode, split, the red-black
 * balancing), ported node for node for keys only. Keys are Integers, Strings or Uuids: Comparable
 * and distinct under compareTo, so tieBreakOrder (identity hash codes) is never reached.
 * Presence is checked by the caller.
 */
class ExactHashMap<K> {
  private table: (JNode<K> | null)[];
  private size: number;

  constructor(
    capacity: number,
    private threshold: number,
    orderedKeys: readonly K[],
    hashes: ReadonlyMap<K, number>,
    private readonly compare: (a: K, b: K) => number,
  ) {
    this.table = new Array<JNode<K> | null>(capacity).fill(null);
    const tails = new Array<JNode<K> | null>(capacity).fill(null);
    for (const key of orderedKeys) {
      const h = hashes.get(key)!;
      const i = h & (capacity - 1);
      const node = new JNode(h, key, null);
      const tail = tails[i];
      if (tail === null) this.table[i] = node;
      else tail.next = node;
      tails[i] = node;
    }
    this.size = orderedKeys.length;
  }

  keys(): K[] {
    const out: K[] = [];
    for (const head of this.table) for (let e = head; e !== null; e = e.next) out.push(e.key);
    return out;
  }

  /** putVal for an absent key. */
  put(key: K, h: number): void {
    const tab = this.table;
    const i = (tab.length - 1) & h;
    let p = tab[i];
    if (p === null) tab[i] = new JNode(h, key, null);
    else if (p.tree) this.putTreeVal(p, h, key);
    else {
      for (let binCount = 0; ; ++binCount) {
        if (p.next === null) {
          p.next = new JNode(h, key, null);
          if (binCount >= TREEIFY_THRESHOLD - 1) this.treeifyBin(h);
          break;
        }
        p = p.next;
      }
    }
    this.afterPut();
  }

  /** putVal's tail: `if (++size > threshold) resize()`. */
  private afterPut(): void {
    if (++this.size > this.threshold) this.resize();
  }

  /** The same tail for the key a list table had just put when it switched to this one (already counted). */
  resizeIfOver(): void {
    if (this.size > this.threshold) this.resize();
  }

  /** computeIfAbsent: the resize check always, the insertion if the key is absent. */
  computeIfAbsent(key: K, h: number, present: boolean): void {
    if (this.size > this.threshold) this.resize();
    if (present) return;
    const tab = this.table;
    const i = (tab.length - 1) & h;
    const first = tab[i];
    if (first?.tree) this.putTreeVal(first, h, key);
    else {
      let binCount = 0;
      for (let e = first; e !== null; e = e.next) ++binCount;
      tab[i] = new JNode(h, key, first);
      if (binCount >= TREEIFY_THRESHOLD - 1) this.treeifyBin(h);
    }
    ++this.size;
  }

  /** removeNode (movable) for a present key. */
  remove(key: K, h: number): void {
    const tab = this.table;
    const index = (tab.length - 1) & h;
    let p = tab[index]!;
    let node: JNode<K> | null = null;
    if (p.key === key) node = p;
    else if (p.next !== null) {
      if (p.tree) node = this.find(p.parent !== null ? root(p) : p, h, key);
      else {
        for (let e: JNode<K> | null = p.next; e !== null; e = e.next) {
          if (e.key === key) {
            node = e;
            break;
          }
          p = e;
        }
      }
    }
    if (node === null) return;
    if (node.tree) this.removeTreeNode(node, true);
    else if (node === p) tab[index] = node.next;
    else p.next = node.next;
    --this.size;
  }

  private resize(): void {
    const oldTab = this.table;
    const oldCap = oldTab.length;
    if (oldCap >= MAXIMUM_CAPACITY) {
      this.threshold = 2147483647;
      return;
    }
    const newCap = oldCap << 1;
    this.threshold = oldCap >= 16 ? this.threshold << 1 : Math.trunc(newCap * 0.75);
    const newTab = new Array<JNode<K> | null>(newCap).fill(null);
    this.table = newTab;
    for (let j = 0; j < oldCap; ++j) {
      let e = oldTab[j];
      if (e === null) continue;
      oldTab[j] = null;
      if (e.next === null) newTab[e.hash & (newCap - 1)] = e;
      else if (e.tree) this.split(e, j, oldCap);
      else {
        let loHead: JNode<K> | null = null;
        let loTail: JNode<K> | null = null;
        let hiHead: JNode<K> | null = null;
        let hiTail: JNode<K> | null = null;
        let next: JNode<K> | null;
        do {
          next = e!.next;
          if ((e!.hash & oldCap) === 0) {
            if (loTail === null) loHead = e;
            else loTail.next = e;
            loTail = e;
          } else {
            if (hiTail === null) hiHead = e;
            else hiTail.next = e;
            hiTail = e;
          }
          e = next;
        } while (e !== null);
        if (loTail !== null) {
          loTail.next = null;
          newTab[j] = loHead;
        }
        if (hiTail !== null) {
          hiTail.next = null;
          newTab[j + oldCap] = hiHead;
        }
      }
    }
  }

  treeifyBin(h: number): void {
    const tab = this.table;
    if (tab.length < MIN_TREEIFY_CAPACITY) {
      this.resize();
      return;
    }
    const index = (tab.length - 1) & h;
    let e = tab[index];
    if (e === null) return;
    let hd: JNode<K> | null = null;
    let tl: JNode<K> | null = null;
    do {
      const p = treeNode(e!);
      if (tl === null) hd = p;
      else {
        p.prev = tl;
        tl.next = p;
      }
      tl = p;
      e = e!.next;
    } while (e !== null);
    tab[index] = hd;
    if (hd !== null) this.treeify(hd);
  }

  private moveRootToFront(r: JNode<K>): void {
    const tab = this.table;
    const index = (tab.length - 1) & r.hash;
    const first = tab[index];
    if (r !== first) {
      tab[index] = r;
      const rp = r.prev;
      const rn = r.next;
      if (rn !== null) rn.prev = rp;
      if (rp !== null) rp.next = rn;
      if (first !== null) first.prev = r;
      r.next = first;
      r.prev = null;
    }
  }

  /** The direction of key k (hash h) from node p: by hash, then compareTo. */
  private dir(p: JNode<K>, h: number, k: K): number {
    if (p.hash > h) return -1;
    if (p.hash < h) return 1;
    const d = this.compare(k, p.key);
    return d === 0 ? -1 : d; // tieBreakOrder: unreachable for distinct Comparable keys
  }

  private find(start: JNode<K>, h: number, k: K): JNode<K> | null {
    let p: JNode<K> | null = start;
    do {
      const pl: JNode<K> | null = p.left;
      const pr: JNode<K> | null = p.right;
      if (p.hash > h) p = pl;
      else if (p.hash < h) p = pr;
      else if (p.key === k) return p;
      else if (pl === null) p = pr;
      else if (pr === null) p = pl;
      else {
        const d = this.compare(k, p.key);
        if (d !== 0) p = d < 0 ? pl : pr;
        else {
          const q = this.find(pr, h, k);
          if (q !== null) return q;
          p = pl;
        }
      }
    } while (p !== null);
    return null;
  }

  private treeify(hd: JNode<K>): void {
    let r: JNode<K> | null = null;
    for (let x: JNode<K> | null = hd, next: JNode<K> | null; x !== null; x = next) {
      next = x.next;
      x.left = x.right = null;
      if (r === null) {
        x.parent = null;
        x.red = false;
        r = x;
      } else {
        for (let p: JNode<K> = r; ; ) {
          const d = this.dir(p, x.hash, x.key);
          const xp: JNode<K> = p;
          const child: JNode<K> | null = d <= 0 ? p.left : p.right;
          if (child === null) {
            x.parent = xp;
            if (d <= 0) xp.left = x;
            else xp.right = x;
            r = balanceInsertion(r, x);
            break;
          }
          p = child;
        }
      }
    }
    this.moveRootToFront(r!);
  }

  private putTreeVal(first: JNode<K>, h: number, k: K): void {
    const r = first.parent !== null ? root(first) : first;
    for (let p: JNode<K> = r; ; ) {
      const d = this.dir(p, h, k);
      const xp: JNode<K> = p;
      const child: JNode<K> | null = d <= 0 ? p.left : p.right;
      if (child === null) {
        const xpn = xp.next;
        const x = new JNode(h, k, xpn);
        x.tree = true;
        if (d <= 0) xp.left = x;
        else xp.right = x;
        xp.next = x;
        x.parent = x.prev = xp;
        if (xpn !== null) xpn.prev = x;
        this.moveRootToFront(balanceInsertion(r, x));
        return;
      }
      p = child;
    }
  }

  private removeTreeNode(p: JNode<K>, movable: boolean): void {
    const tab = this.table;
    const n = tab.length;
    if (n === 0) return;
    const index = (n - 1) & p.hash;
    let first = tab[index];
    let r = first;
    const succ = p.next;
    const pred = p.prev;
    if (pred === null) tab[index] = first = succ;
    else pred.next = succ;
    if (succ !== null) succ.prev = pred;
    if (first === null) return;
    if (r!.parent !== null) r = root(r!);
    if (r === null || (movable && (r.right === null || r.left === null || r.left.left === null))) {
      tab[index] = untreeify(first); // too small
      return;
    }
    const pl = p.left;
    const pr = p.right;
    let replacement: JNode<K>;
    if (pl !== null && pr !== null) {
      let s = pr;
      while (s.left !== null) s = s.left; // find successor
      const c = s.red;
      s.red = p.red;
      p.red = c; // swap colors
      const sr = s.right;
      const pp = p.parent;
      if (s === pr) {
        // p was s's direct parent
        p.parent = s;
        s.right = p;
      } else {
        const sp = s.parent;
        p.parent = sp;
        if (sp !== null) {
          if (s === sp.left) sp.left = p;
          else sp.right = p;
        }
        s.right = pr;
        pr.parent = s;
      }
      p.left = null;
      p.right = sr;
      if (sr !== null) sr.parent = p;
      s.left = pl;
      pl.parent = s;
      s.parent = pp;
      if (pp === null) r = s;
      else if (p === pp.left) pp.left = s;
      else pp.right = s;
      replacement = sr !== null ? sr : p;
    } else if (pl !== null) replacement = pl;
    else if (pr !== null) replacement = pr;
    else replacement = p;
    if (replacement !== p) {
      const pp = p.parent;
      replacement.parent = pp;
      if (pp === null) {
        r = replacement;
        r.red = false;
      } else if (p === pp.left) pp.left = replacement;
      else pp.right = replacement;
      p.left = p.right = p.parent = null;
    }
    const rr = p.red ? r : balanceDeletion(r, replacement);
    if (replacement === p) {
      // detach
      const pp = p.parent;
      p.parent = null;
      if (pp !== null) {
        if (p === pp.left) pp.left = null;
        else if (p === pp.right) pp.right = null;
      }
    }
    if (movable) this.moveRootToFront(rr);
  }

  private split(b: JNode<K>, index: number, bit: number): void {
    const tab = this.table;
    let loHead: JNode<K> | null = null;
    let loTail: JNode<K> | null = null;
    let hiHead: JNode<K> | null = null;
    let hiTail: JNode<K> | null = null;
    let lc = 0;
    let hc = 0;
    for (let e: JNode<K> | null = b, next: JNode<K> | null; e !== null; e = next) {
      next = e.next;
      e.next = null;
      if ((e.hash & bit) === 0) {
        e.prev = loTail;
        if (loTail === null) loHead = e;
        else loTail.next = e;
        loTail = e;
        ++lc;
      } else {
        e.prev = hiTail;
        if (hiTail === null) hiHead = e;
        else hiTail.next = e;
        hiTail = e;
        ++hc;
      }
    }
    if (loHead !== null) {
      if (lc <= UNTREEIFY_THRESHOLD) tab[index] = untreeify(loHead);
      else {
        tab[index] = loHead;
        if (hiHead !== null) this.treeify(loHead);
      }
    }
    if (hiHead !== null) {
      if (hc <= UNTREEIFY_THRESHOLD) tab[index + bit] = untreeify(hiHead);
      else {
        tab[index + bit] = hiHead;
        if (loHead !== null) this.treeify(hiHead);
      }
    }
  }
}

/** HashMap.replacementTreeNode. */
function treeNode<K>(e: JNode<K>): JNode<K> {
  const t = new JNode(e.hash, e.key, null);
  t.tree = true;
  return t;
}

/** TreeNode.untreeify: plain nodes in the same order. */
function untreeify<K>(hd: JNode<K>): JNode<K> {
  let head: JNode<K> | null = null;
  let tail: JNode<K> | null = null;
  for (let q: JNode<K> | null = hd; q !== null; q = q.next) {
    const p = new JNode(q.hash, q.key, null);
    if (tail === null) head = p;
    else tail.next = p;
    tail = p;
  }
  return head!;
}

function root<K>(x: JNode<K>): JNode<K> {
  let r = x;
  while (r.parent !== null) r = r.parent;
  return r;
}

function rotateLeft<K>(r: JNode<K>, p: JNode<K> | null): JNode<K> {
  const x = p === null ? null : p.right;
  if (p !== null && x !== null) {
    const rl = x.left;
    p.right = rl;
    if (rl !== null) rl.parent = p;
    const pp = p.parent;
    x.parent = pp;
    if (pp === null) {
      r = x;
      r.red = false;
    } else if (pp.left === p) pp.left = x;
    else pp.right = x;
    x.left = p;
    p.parent = x;
  }
  return r;
}

function rotateRight<K>(r: JNode<K>, p: JNode<K> | null): JNode<K> {
  const l = p === null ? null : p.left;
  if (p !== null && l !== null) {
    const lr = l.right;
    p.left = lr;
    if (lr !== null) lr.parent = p;
    const pp = p.parent;
    l.parent = pp;
    if (pp === null) {
      r = l;
      r.red = false;
    } else if (pp.right === p) pp.right = l;
    else pp.left = l;
    l.right = p;
    p.parent = l;
  }
  return r;
}

function balanceInsertion<K>(r: JNode<K>, x: JNode<K>): JNode<K> {
  x.red = true;
  for (;;) {
    let xp = x.parent;
    if (xp === null) {
      x.red = false;
      return x;
    }
    if (!xp.red) return r;
    let xpp: JNode<K> | null = xp.parent;
    if (xpp === null) return r;
    const xppl = xpp.left;
    if (xp === xppl) {
      const xppr = xpp.right;
      if (xppr?.red) {
        xppr.red = false;
        xp.red = false;
        xpp.red = true;
        x = xpp;
      } else {
        if (x === xp.right) {
          x = xp;
          r = rotateLeft(r, x);
          xp = x.parent;
          xpp = xp === null ? null : xp.parent;
        }
        if (xp !== null) {
          xp.red = false;
          if (xpp !== null) {
            xpp.red = true;
            r = rotateRight(r, xpp);
          }
        }
      }
    } else {
      if (xppl?.red) {
        xppl.red = false;
        xp.red = false;
        xpp.red = true;
        x = xpp;
      } else {
        if (x === xp.left) {
          x = xp;
          r = rotateRight(r, x);
          xp = x.parent;
          xpp = xp === null ? null : xp.parent;
        }
        if (xp !== null) {
          xp.red = false;
          if (xpp !== null) {
            xpp.red = true;
            r = rotateLeft(r, xpp);
          }
        }
      }
    }
  }
}

function balanceDeletion<K>(r: JNode<K>, x: JNode<K> | null): JNode<K> {
  for (;;) {
    if (x === null || x === r) return r;
    let xp = x.parent;
    if (xp === null) {
      x.red = false;
      return x;
    }
    if (x.red) {
      x.red = false;
      return r;
    }
    const xpl0 = xp.left;
    if (xpl0 === x) {
      let xpr = xp.right;
      if (xpr?.red) {
        xpr.red = false;
        xp.red = true;
        r = rotateLeft(r, xp);
        xp = x.parent;
        xpr = xp === null ? null : xp.right;
      }
      if (xpr === null) x = xp;
      else {
        const sl = xpr.left;
        let sr = xpr.right;
        if ((sr === null || !sr.red) && (sl === null || !sl.red)) {
          xpr.red = true;
          x = xp;
        } else {
          if (sr === null || !sr.red) {
            if (sl !== null) sl.red = false;
            xpr.red = true;
            r = rotateRight(r, xpr);
            xp = x.parent;
            xpr = xp === null ? null : xp.right;
          }
          if (xpr !== null) {
            xpr.red = xp === null ? false : xp.red;
            sr = xpr.right;
            if (sr !== null) sr.red = false;
          }
          if (xp !== null) {
            xp.red = false;
            r = rotateLeft(r, xp);
          }
          x = r;
        }
      }
    } else {
      // symmetric
      let xpl = xpl0;
      if (xpl?.red) {
        xpl.red = false;
        xp.red = true;
        r = rotateRight(r, xp);
        xp = x.parent;
        xpl = xp === null ? null : xp.left;
      }
      if (xpl === null) x = xp;
      else {
        let sl = xpl.left;
        const sr = xpl.right;
        if ((sl === null || !sl.red) && (sr === null || !sr.red)) {
          xpl.red = true;
          x = xp;
        } else {
          if (sl === null || !sl.red) {
            if (sr !== null) sr.red = false;
            xpl.red = true;
            r = rotateLeft(r, xpl);
            xp = x.parent;
            xpl = xp === null ? null : xp.left;
          }
          if (xpl !== null) {
            xpl.red = xp === null ? false : xp.red;
            sl = xpl.left;
            if (sl !== null) sl.red = false;
          }
          if (xp !== null) {
            xp.red = false;
            r = rotateRight(r, xp);
          }
          x = r;
        }
      }
    }
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
    this.topics = new JavaHashTable<string>(initialCapacity, uuidKeyOrder);
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
  const topics = new JavaHashTable<string>(undefined, uuidKeyOrder);
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
