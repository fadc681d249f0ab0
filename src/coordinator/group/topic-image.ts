// The coordinator's view of the cluster's topics for KIP-848 groups (Kafka's CoordinatorMetadataImage):
// topic ids, names, partition counts and replica racks, read from the metadata cache, plus the
// metadata hash of KIP-1101 (ModernGroup.computeMetadataHash, Utils.computeTopicHash and
// computeGroupHash): a group's epoch is bumped when the hash of its subscribed topics changes, so a
// topic created, deleted or grown rebalances the groups subscribed to it.
//
// `version` counts topic changes (Kafka: the metadata image's offset); regular expressions are
// resolved again when a topic was created since their last resolution.

import type { MetadataCache, TopicMetadata } from "../../cluster/metadata-cache.js";
import type { SubscriptionCount } from "./consumer-group.js";
import { xxh3Hasher } from "./xxh3.js";

export interface ImageTopic {
  readonly id: string;
  readonly name: string;
  readonly partitionCount: number;
}

export class TopicImage {
  /** Bumped on every topic change. */
  version = 0n;
  /** The version at which a topic was last created (-1: never). */
  lastVersionWithNewTopics = -1n;
  /** Topic hashes by name (Kafka's topicHashCache), dropped when the topic changes. */
  readonly #topicHashes = new Map<string, bigint>();

  constructor(private readonly metadata: MetadataCache) {}

  topic(name: string): ImageTopic | undefined {
    return this.#view(this.metadata.topic(name));
  }

  topicById(id: string): ImageTopic | undefined {
    return this.#view(this.metadata.topicById(id));
  }

  topicName(id: string): string | undefined {
    return this.metadata.topicById(id)?.name;
  }

  topicNames(): string[] {
    return [...this.metadata.topics()].map((topic) => topic.name);
  }

  /** The racks of a partition's replicas (unsorted), empty when unknown. */
  partitionRacks(name: string, partition: number): string[] {
    const metadata = this.metadata.topic(name);
    const replicas = metadata?.partitions[partition]?.replicas ?? [];
    const racks: string[] = [];
    for (const nodeId of replicas) {
      const rack = this.metadata.broker(nodeId)?.rack;
      if (rack != null) racks.push(rack);
    }
    return racks;
  }

  /** A topic changed (created, deleted, partitions added). */
  onTopicChanged(name: string, created: boolean): void {
    this.version++;
    if (created) this.lastVersionWithNewTopics = this.version;
    this.#topicHashes.delete(name);
  }

  /** Utils.computeTopicHash: XXH3-64 of magic byte 0, id, name, partition count and each partition's sorted racks. */
  topicHash(name: string): bigint {
    const cached = this.#topicHashes.get(name);
    if (cached !== undefined) return cached;
    const topic = this.metadata.topic(name);
    if (topic === undefined) return 0n;
    const hasher = xxh3Hasher();
    hasher.putByte(0);
    const id = Buffer.from(topic.id, "base64url");
    hasher.putLong(id.readBigInt64BE(0));
    hasher.putLong(id.readBigInt64BE(8));
    hasher.putString(topic.name);
    hasher.putInt(topic.partitions.length);
    for (let partition = 0; partition < topic.partitions.length; partition++) {
      hasher.putInt(partition);
      for (const rack of this.partitionRacks(name, partition).sort()) {
        hasher.putInt(rack.length);
        hasher.putString(rack);
      }
    }
    const hash = hasher.getAsLong();
    this.#topicHashes.set(name, hash);
    return hash;
  }

  /** ModernGroup.computeMetadataHash: the group hash of the subscribed topics that exist. */
  computeMetadataHash(subscribedTopicNames: ReadonlyMap<string, SubscriptionCount>): bigint {
    const hashes: [string, bigint][] = [];
    for (const name of subscribedTopicNames.keys()) {
      if (this.metadata.topic(name) === undefined) continue;
      hashes.push([name, this.topicHash(name)]);
    }
    if (hashes.length === 0) return 0n;
    hashes.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const hasher = xxh3Hasher();
    for (const [, hash] of hashes) hasher.putLong(hash);
    return hasher.getAsLong();
  }

  #view(topic: TopicMetadata | undefined): ImageTopic | undefined {
    return topic === undefined ? undefined : { id: topic.id, name: topic.name, partitionCount: topic.partitions.length };
  }
}
