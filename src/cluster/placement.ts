// Replica placement for new topics and partitions: Kafka's rack-aware round robin
// (AdminUtils.assignReplicasToBrokers, still what KRaft's StripedReplicaPlacer approximates).
// Brokers are listed alternating racks (rack A's first broker, rack B's first, ..., rack A's
// second, ...); partition p's first replica is the broker at (p + start) in that list, and the
// following replicas step through the list from a shift that changes every time the partitions
// wrap around the brokers, skipping a broker whose rack already holds a replica of the partition
// until every rack holds one. Leaders (first replicas) spread evenly; so do followers.

export interface PlacementBroker {
  readonly nodeId: number;
  readonly rack: string | null;
}

/** Kafka's InvalidReplicationFactorException message for too few brokers. */
export function replicationFactorError(replicationFactor: number, brokers: number): string {
  return `Unable to replicate the partition ${replicationFactor} time(s): The target replication factor of ${replicationFactor} cannot be reached because only ${brokers} broker(s) are registered.`;
}

/**
 * Replica lists for `partitions` new partitions numbered from `firstPartition` with
 * `replicationFactor` replicas each, over `brokers`. `random` picks the start (tests pass a fixed one).
 * The caller checked replicationFactor <= brokers.length.
 */
export function assignReplicas(
  brokers: readonly PlacementBroker[],
  partitions: number,
  replicationFactor: number,
  firstPartition = 0,
  random: (bound: number) => number = (bound) => Math.floor(Math.random() * bound),
): number[][] {
  const ordered = rackAlternated(brokers);
  const n = ordered.length;
  const racks = new Set(ordered.map((b) => b.rack ?? ""));
  const rackAware = brokers.every((b) => b.rack !== null) && racks.size > 1;
  const start = random(n);
  let shift = random(n);
  const assignment: number[][] = [];
  for (let i = 0; i < partitions; i++) {
    const p = firstPartition + i;
    if (p > 0 && p % n === 0) shift++;
    const first = (p + start) % n;
    const replicas = [ordered[first].nodeId];
    const usedRacks = new Set([ordered[first].rack ?? ""]);
    let k = 0;
    while (replicas.length < replicationFactor) {
      const candidate = ordered[n === 1 ? 0 : (first + 1 + ((shift + k) % (n - 1))) % n];
      k++;
      if (replicas.includes(candidate.nodeId)) {
        if (k > 4 * n) throw new Error("replica placement did not converge");
        continue;
      }
      const rack = candidate.rack ?? "";
      // Rack-aware: a rack gets a second replica only once every rack has one.
      if (rackAware && usedRacks.has(rack) && usedRacks.size < racks.size && k <= 2 * n) continue;
      replicas.push(candidate.nodeId);
      usedRacks.add(rack);
    }
    assignment.push(replicas);
  }
  return assignment;
}

/** Brokers sorted by id, interleaved by rack (Kafka's getRackAlternatedBrokerList). */
function rackAlternated(brokers: readonly PlacementBroker[]): PlacementBroker[] {
  const byRack = new Map<string, PlacementBroker[]>();
  for (const broker of [...brokers].sort((a, b) => a.nodeId - b.nodeId)) {
    const rack = broker.rack ?? "";
    const list = byRack.get(rack) ?? [];
    list.push(broker);
    byRack.set(rack, list);
  }
  const racks = [...byRack.keys()].sort();
  const result: PlacementBroker[] = [];
  for (let round = 0; result.length < brokers.length; round++) {
    for (const rack of racks) {
      const broker = byRack.get(rack)?.[round];
      if (broker !== undefined) result.push(broker);
    }
  }
  return result;
}
