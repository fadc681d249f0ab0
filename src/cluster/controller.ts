// The cluster's controller duties (Kafka's QuorumController / ReplicationControlManager parts
// that decide leadership). One broker holds the office at a time, elected through etcd
// (EtcdMetadataStore.campaign); each broker campaigns and the winner acts until it loses its
// election lease. It decides; etcd's compare-and-swap makes the decision stick only if nobody
// changed the partition since it was read, so a deposed controller acting late changes nothing.
//
// After every metadata change the active controller looks at each partition:
//   - leader gone (its registration expired) or none: the first live replica in the ISR (replica
//     order) leads, the leader epoch and the partition epoch go up, dead brokers leave the ISR;
//     with no live ISR member and unclean.leader.election.enable (the topic's, else the broker's)
//     the first live replica leads with an ISR of itself — records only the old ISR had are lost,
//     as in Kafka; without it the partition has no leader (-1) and keeps its last ISR member, so
//     the first broker of that ISR to come back leads again;
//   - leader alive but ISR members gone: they leave the ISR (partition epoch up), so acks=all
//     does not wait for a dead broker for replica.lag.time.max.ms.
// Every leader.imbalance.check.interval.seconds with auto.leader.rebalance.enable, partitions
// whose preferred replica (the first) is alive and in the ISR but does not lead get it back as
// leader (Kafka's preferred replica election); ElectLeaders asks for the same on demand.

import type { Logger } from "pino";
import type { BrokerConfig } from "../config/index.js";
import type { PartitionState } from "../log/partition.js";
import type { ClusterManager } from "./cluster-manager.js";
import type { ElectionOutcome, LeaderElections } from "./elections.js";
import type { StoredPartition } from "./etcd-store.js";
import { completeReassignment } from "./reassignments.js";

/** How many partition changes the controller has in flight at once. */
const CONCURRENT_CHANGES = 32;

/** The state after electing a leader for `state` given who is alive; null when nothing changes. */
export function electLeader(state: PartitionState, alive: (nodeId: number) => boolean, unclean: boolean): PartitionState | null {
  const liveIsr = state.isr.filter(alive);
  if (state.leaderId >= 0 && alive(state.leaderId)) {
    if (liveIsr.length === state.isr.length) return null;
    return { ...state, isr: liveIsr, partitionEpoch: state.partitionEpoch + 1 };
  }
  const candidate = state.replicas.find((id) => alive(id) && state.isr.includes(id));
  if (candidate !== undefined) {
    return { ...state, leaderId: candidate, leaderEpoch: state.leaderEpoch + 1, partitionEpoch: state.partitionEpoch + 1, isr: liveIsr };
  }
  if (unclean) {
    const any = state.replicas.find(alive);
    if (any !== undefined) return { ...state, leaderId: any, leaderEpoch: state.leaderEpoch + 1, partitionEpoch: state.partitionEpoch + 1, isr: [any] };
  }
  if (state.leaderId === -1) return null;
  // No leader: the ISR keeps the last leader (Kafka keeps the last ISR member for a clean election later).
  const last = state.isr.includes(state.leaderId) ? [state.leaderId] : state.isr.slice(0, 1);
  return { ...state, leaderId: -1, leaderEpoch: state.leaderEpoch + 1, partitionEpoch: state.partitionEpoch + 1, isr: last };
}

/** The preferred replica election of `state`: its first replica leads if alive and in the ISR; null when nothing changes. */
export function electPreferred(state: PartitionState, alive: (nodeId: number) => boolean): PartitionState | null {
  const preferred = state.replicas[0];
  if (preferred === undefined || state.leaderId === preferred || !alive(preferred) || !state.isr.includes(preferred)) return null;
  return { ...state, leaderId: preferred, leaderEpoch: state.leaderEpoch + 1, partitionEpoch: state.partitionEpoch + 1 };
}

export interface ControllerServices {
  readonly config: BrokerConfig;
  readonly cluster: ClusterManager;
  readonly logger: Logger;
  readonly nodeId: number;
}

export class Controller implements LeaderElections {
  readonly #services: ControllerServices;
  #active = false;
  #running: Promise<void> | null = null;
  #again = false;
  #rebalanceTimer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(services: ControllerServices) {
    this.#services = services;
    services.cluster.onImageChanged(() => this.#schedule());
  }

  get isActive(): boolean {
    return this.#active;
  }

  /** Campaigns for the office (etcd election with broker.session.timeout.ms as its lease). */
  start(): void {
    const { cluster, config, nodeId, logger } = this.#services;
    cluster.store.campaign(
      nodeId,
      Number(config.get("broker.session.timeout.ms") ?? 9000),
      () => {
        if (this.#closed) return;
        logger.info({ nodeId }, "this broker is the active controller");
        this.#active = true;
        this.#schedule();
        this.#startRebalanceTimer();
      },
      () => {
        if (this.#active) logger.warn({ nodeId }, "this broker is no longer the active controller");
        this.#active = false;
        this.#stopRebalanceTimer();
      },
    );
  }

  close(): void {
    this.#closed = true;
    this.#active = false;
    this.#stopRebalanceTimer();
  }

  #startRebalanceTimer(): void {
    const { config } = this.#services;
    if (config.get("auto.leader.rebalance.enable") === false) return;
    const seconds = Number(config.get("leader.imbalance.check.interval.seconds") ?? 300);
    this.#stopRebalanceTimer();
    this.#rebalanceTimer = setInterval(() => {
      this.electLeaders(false, null).catch((error) => this.#services.logger.warn({ err: error }, "preferred leader election failed"));
    }, seconds * 1000);
    this.#rebalanceTimer.unref();
  }

  #stopRebalanceTimer(): void {
    if (this.#rebalanceTimer !== null) clearInterval(this.#rebalanceTimer);
    this.#rebalanceTimer = null;
  }

  /** Runs a pass after the current one (passes never overlap; changes during one cause another). */
  #schedule(): void {
    if (!this.#active) return;
    if (this.#running !== null) {
      this.#again = true;
      return;
    }
    this.#running = this.#pass()
      .catch((error) => this.#services.logger.error({ err: error }, "controller pass failed"))
      .finally(() => {
        this.#running = null;
        if (this.#again) {
          this.#again = false;
          this.#schedule();
        }
      });
  }

  async #pass(): Promise<void> {
    const { cluster, config, logger } = this.#services;
    const alive = (id: number) => cluster.isAlive(id);
    const changes: { topic: string; index: number; state: StoredPartition; next: PartitionState }[] = [];
    for (const { topic, index, state } of cluster.storedPartitions()) {
      const unclean =
        topic.configs["unclean.leader.election.enable"] !== undefined
          ? topic.configs["unclean.leader.election.enable"] === "true"
          : config.get("unclean.leader.election.enable") === true;
      const elected = electLeader(state, alive, unclean);
      // A reassignment whose new replicas are all in sync completes (KIP-455).
      const next = completeReassignment(elected ?? state) ?? elected;
      if (next !== null) changes.push({ topic: topic.name, index, state, next });
    }
    await this.#write(changes, (change, ok) => {
      if (!ok) return;
      const { state, next } = change;
      if (next.leaderId !== state.leaderId) {
        logger.info(
          { partition: `${change.topic}-${change.index}`, from: state.leaderId, to: next.leaderId, leaderEpoch: next.leaderEpoch, isr: next.isr },
          next.leaderId === -1 ? "partition has no live in-sync replica: offline" : "elected a new leader",
        );
      } else if (next.replicas.length !== state.replicas.length) {
        logger.info({ partition: `${change.topic}-${change.index}`, replicas: next.replicas }, "reassignment completed");
      } else logger.info({ partition: `${change.topic}-${change.index}`, from: state.isr, to: next.isr }, "removed dead brokers from the ISR");
    });
  }

  /**
   * ElectLeaders (any broker answers it, by compare-and-swap like the controller): a preferred
   * election gives each partition its first replica as leader if that replica is alive and in
   * sync; an unclean one gives a partition without a leader its first live replica. `partitions`
   * null: every partition (only the ones that needed an election are reported, as in Kafka).
   */
  async electLeaders(unclean: boolean, partitions: readonly { topic: string; index: number }[] | null): Promise<Map<string, ElectionOutcome>> {
    const { cluster } = this.#services;
    const alive = (id: number) => cluster.isAlive(id);
    const outcome = new Map<string, ElectionOutcome>();
    const changes: { topic: string; index: number; state: StoredPartition; next: PartitionState }[] = [];
    const wanted = partitions ?? [...cluster.storedPartitions()].map(({ topic, index }) => ({ topic: topic.name, index }));
    for (const { topic, index } of wanted) {
      const state = cluster.storedPartition(topic, index);
      const key = `${topic}-${index}`;
      if (state === undefined) {
        outcome.set(key, "unknown");
        continue;
      }
      const notNeeded = unclean ? state.leaderId >= 0 && alive(state.leaderId) : state.leaderId === state.replicas[0];
      if (notNeeded) {
        if (partitions !== null) outcome.set(key, "not-needed");
        continue;
      }
      const next = unclean ? electLeader(state, alive, true) : electPreferred(state, alive);
      if (next === null || next.leaderId < 0) outcome.set(key, "unavailable");
      else changes.push({ topic, index, state, next });
    }
    await this.#write(changes, (change, ok) => {
      outcome.set(`${change.topic}-${change.index}`, ok ? "elected" : "unavailable");
      if (ok) this.#services.logger.info({ partition: `${change.topic}-${change.index}`, leader: change.next.leaderId, unclean }, "leader elected on request");
    });
    return outcome;
  }

  /** Writes each change by compare-and-swap, CONCURRENT_CHANGES at a time, then waits until this broker applied them. */
  async #write<T extends { topic: string; index: number; state: StoredPartition; next: PartitionState }>(
    changes: readonly T[],
    done: (change: T, ok: boolean) => void,
  ): Promise<void> {
    const { cluster } = this.#services;
    let last = 0n;
    for (let i = 0; i < changes.length; i += CONCURRENT_CHANGES) {
      await Promise.all(
        changes.slice(i, i + CONCURRENT_CHANGES).map(async (change) => {
          const revision = await cluster.store.updatePartition(change.topic, change.index, change.state, change.next).catch(() => null);
          if (revision !== null && revision > last) last = revision;
          done(change, revision !== null);
        }),
      );
    }
    if (last > 0n) await cluster.waitForRevision(last);
  }
}
