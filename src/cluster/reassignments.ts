// Partition reassignment (KIP-455: AlterPartitionReassignments, ListPartitionReassignments,
// kafka-reassign-partitions.sh), as KRaft's ReplicationControlManager does it:
//   start    replicas = target + the current ones not in it; adding = target − current; removing =
//            current − target; the leader and ISR stay. The new replicas start fetching (their
//            brokers host the partition as followers) and join the ISR once caught up.
//   complete once every adding replica is in the ISR (the controller checks after each change):
//            replicas = target, ISR = ISR ∩ target, and a leader outside the target hands over to
//            the first in-sync target replica (leader epoch + 1). The removed replicas' brokers
//            stop hosting the partition and delete its log.
//   cancel   replicas = the current ones minus the adding ones, ISR and leader likewise.
// A reassignment that adds nothing (a reorder, or only removals) completes at once.

import type { PartitionState } from "../log/partition.js";
import { ErrorCode } from "../protocol/errors.js";
import type { MetadataCache } from "./metadata-cache.js";

/** An ongoing reassignment (ListPartitionReassignments). */
export interface PartitionReassignment {
  readonly topic: string;
  readonly index: number;
  readonly replicas: readonly number[];
  readonly addingReplicas: readonly number[];
  readonly removingReplicas: readonly number[];
}

/** An AlterPartitionReassignments answer for one partition. */
export interface ReassignmentResult {
  readonly errorCode: number;
  readonly message: string | null;
}

export interface Reassignments {
  /** Starts (target) or cancels (null) the reassignment of one partition. */
  alter(topic: string, index: number, target: readonly number[] | null, allowReplicationFactorChange: boolean): Promise<ReassignmentResult>;
  /** The ongoing reassignments, of `wanted` partitions only when given. */
  ongoing(wanted: readonly { topic: string; index: number }[] | null): PartitionReassignment[];
}

/** The partition state once a reassignment to `target` starts (completed at once when it adds nothing). */
export function startReassignment(state: PartitionState, target: readonly number[]): PartitionState {
  const current = originalReplicas(state);
  const adding = target.filter((id) => !current.includes(id));
  const removing = current.filter((id) => !target.includes(id));
  const next: PartitionState = {
    ...state,
    replicas: [...target, ...current.filter((id) => !target.includes(id))],
    addingReplicas: adding,
    removingReplicas: removing,
    partitionEpoch: state.partitionEpoch + 1,
  };
  return adding.length === 0 ? (completeReassignment(next) ?? next) : next;
}

/** The state once the reassignment completes, or null while an adding replica is not in sync yet. */
export function completeReassignment(state: PartitionState): PartitionState | null {
  const adding = state.addingReplicas ?? [];
  const removing = state.removingReplicas ?? [];
  if (adding.length === 0 && removing.length === 0) return null;
  if (!adding.every((id) => state.isr.includes(id))) return null;
  const target = state.replicas.filter((id) => !removing.includes(id));
  return settle(state, target);
}

/** The state once the reassignment is cancelled: back to the replicas it started from. */
export function cancelReassignment(state: PartitionState): PartitionState {
  return settle(state, originalReplicas(state));
}

/** The replicas before the ongoing reassignment (all of them when there is none). */
function originalReplicas(state: PartitionState): readonly number[] {
  const adding = state.addingReplicas ?? [];
  return state.replicas.filter((id) => !adding.includes(id));
}

function settle(state: PartitionState, replicas: readonly number[]): PartitionState {
  const isr = state.isr.filter((id) => replicas.includes(id));
  const leaderStays = replicas.includes(state.leaderId) && isr.includes(state.leaderId);
  const leaderId = leaderStays ? state.leaderId : (replicas.find((id) => isr.includes(id)) ?? -1);
  return {
    leaderId,
    leaderEpoch: leaderStays ? state.leaderEpoch : state.leaderEpoch + 1,
    partitionEpoch: state.partitionEpoch + 1,
    replicas: [...replicas],
    isr: isr.length > 0 ? isr : state.isr.slice(0, 1),
    addingReplicas: [],
    removingReplicas: [],
  };
}

/** Why `target` cannot be a partition's replica set, or null (Kafka's checks and messages). */
export function checkTarget(
  target: readonly number[],
  current: readonly number[],
  isRegistered: (id: number) => boolean,
  allowReplicationFactorChange: boolean,
): string | null {
  if (target.length === 0) return "The manual partition assignment includes an empty replica list.";
  const seen = new Set<number>();
  for (const id of target) {
    if (seen.has(id)) return `The manual partition assignment includes the broker ${id} more than once.`;
    seen.add(id);
    if (id < 0) return `The manual partition assignment includes an invalid broker ID ${id}.`;
    if (!isRegistered(id)) return `The manual partition assignment includes broker ${id}, but no such broker is registered.`;
  }
  if (!allowReplicationFactorChange && target.length !== current.length) {
    return `The replication factor is changed from ${current.length} to ${target.length} but the allowReplicationFactorChange flag is false.`;
  }
  return null;
}

/** A single node: its one broker holds every partition; nothing is ever being reassigned. */
export class SingleNodeReassignments implements Reassignments {
  readonly #metadata: MetadataCache;

  constructor(metadata: MetadataCache) {
    this.#metadata = metadata;
  }

  async alter(topic: string, index: number, target: readonly number[] | null, allowReplicationFactorChange: boolean): Promise<ReassignmentResult> {
    const partition = this.#metadata.partition(topic, index);
    if (partition === undefined) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: null };
    if (target === null) return { errorCode: ErrorCode.NO_REASSIGNMENT_IN_PROGRESS, message: null };
    const problem = checkTarget(target, partition.replicas, (id) => this.#metadata.broker(id) !== undefined, allowReplicationFactorChange);
    return problem === null ? { errorCode: ErrorCode.NONE, message: null } : { errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, message: problem };
  }

  ongoing(): PartitionReassignment[] {
    return [];
  }
}
