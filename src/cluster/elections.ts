// Leader elections on request (ElectLeaders, kafka-leader-election.sh): the cluster's controller
// logic (controller.ts) in a cluster; on a single node every partition is led by its only, and so
// preferred, replica, so no election is ever needed.

import type { MetadataCache } from "./metadata-cache.js";

/** What an election did for one partition (ElectLeaders' per-partition answer). */
export type ElectionOutcome = "elected" | "not-needed" | "unavailable" | "unknown";

export interface LeaderElections {
  /**
   * Preferred (`unclean` false) or unclean elections for `partitions` (null: all, reporting only
   * the partitions that needed one); outcomes by "topic-partition".
   */
  electLeaders(unclean: boolean, partitions: readonly { topic: string; index: number }[] | null): Promise<Map<string, ElectionOutcome>>;
}

/** A single node: every partition already has its preferred leader. */
export class SingleNodeElections implements LeaderElections {
  readonly #metadata: MetadataCache;

  constructor(metadata: MetadataCache) {
    this.#metadata = metadata;
  }

  async electLeaders(_unclean: boolean, partitions: readonly { topic: string; index: number }[] | null): Promise<Map<string, ElectionOutcome>> {
    const outcome = new Map<string, ElectionOutcome>();
    for (const { topic, index } of partitions ?? []) {
      outcome.set(`${topic}-${index}`, this.#metadata.partition(topic, index) === undefined ? "unknown" : "not-needed");
    }
    return outcome;
  }
}
