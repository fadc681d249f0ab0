// The configured topology of a streams group (KIP-1071), as Kafka 4.4's InternalTopicManager,
// RepartitionTopics, CopartitionedTopicsEnforcer and ChangelogTopics work it out from the topology
// a member sent and the topics that exist: every source topic must exist (MISSING_SOURCE_TOPICS);
// a repartition topic gets the partition count its sink subtopology's sources have (resolved
// transitively, loops are STREAMS_INVALID_TOPOLOGY); copartitioned topics must agree
// (INCORRECTLY_PARTITIONED_TOPICS); a changelog topic gets as many partitions as its subtopology has
// tasks (the most partitions among its sources). Internal topics that do not exist yet are listed
// for creation (MISSING_INTERNAL_TOPICS); existing ones must have the expected partition count.
// The topology is "ready" — tasks can be assigned — only when none of these problems is left.

import { KafkaError } from "../../protocol/errors.js";
import type { StreamsGroupTopologyValueSubtopology } from "../generated/group/streams-group-topology.js";
import { javaHashMapOrder } from "./assignor/java-collections.js";
import {
  type ConfiguredInternalTopic,
  type ConfiguredSubtopology,
  type ConfiguredTopology,
  requiredTopics,
  StreamsStatus,
  type StreamsTopology,
} from "./streams-group.js";

/** TopicConfigurationException: a problem reported as a heartbeat status, not an error. */
class TopicConfigurationProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const invalidTopology = (message: string) => new KafkaError("STREAMS_INVALID_TOPOLOGY", message);

/** Partition counts of existing topics. */
export type PartitionCounts = (topic: string) => number | undefined;

/** InternalTopicManager.summarizeTopics. */
function summarizeTopics(topics: Iterable<string>): string {
  const list = [...topics];
  if (list.length === 0) return "<none>";
  return list.slice(0, 3).join(", ") + (list.length > 3 ? ` and ${list.length - 3} additional topics` : "");
}

/** InternalTopicManager.configureTopics. */
export function configureTopics(topology: StreamsTopology, metadataHash: bigint, partitionCount: PartitionCounts): ConfiguredTopology {
  const subtopologies = [...topology.subtopologies.values()];
  try {
    // throwOnMissingSourceTopics
    const missing = new Set<string>();
    for (const s of subtopologies) for (const t of s.sourceTopics) if (partitionCount(t) === undefined) missing.add(t);
    if (missing.size > 0) {
      throw new TopicConfigurationProblem(StreamsStatus.MISSING_SOURCE_TOPICS, `Source topics ${summarizeTopics([...missing].sort())} are missing.`);
    }
    const decided = decidePartitionCounts(subtopologies, partitionCount);
    const countOf = (topic: string) => partitionCount(topic) ?? decided.get(topic);
    const configured = new Map<string, ConfiguredSubtopology>();
    for (const s of [...subtopologies].sort((a, b) => (a.subtopologyId < b.subtopologyId ? -1 : a.subtopologyId > b.subtopologyId ? 1 : 0))) {
      let numberOfTasks = -1;
      for (const topic of [...s.sourceTopics, ...s.repartitionSourceTopics.map((t) => t.name)]) {
        const count = countOf(topic);
        if (count === undefined) throw new Error(`Number of partitions must be set for topic ${topic}`);
        numberOfTasks = Math.max(numberOfTasks, count);
      }
      if (numberOfTasks <= 0) throw new Error("Subtopology does not contain any source topics");
      const internal = (info: StreamsGroupTopologyValueSubtopology["repartitionSourceTopics"][number]): ConfiguredInternalTopic => {
        const partitions = info.partitions === 0 ? decided.get(info.name) : info.partitions;
        if (partitions === undefined) throw new Error(`Number of partitions must be set for topic ${info.name}`);
        return {
          name: info.name,
          partitions,
          replicationFactor: info.replicationFactor === 0 ? null : info.replicationFactor,
          configs: new Map(info.topicConfigs.map((c) => [c.key, c.value])),
        };
      };
      configured.set(s.subtopologyId, {
        numberOfTasks,
        sourceTopics: new Set(s.sourceTopics),
        repartitionSourceTopics: new Map(s.repartitionSourceTopics.map((t) => [t.name, internal(t)])),
        repartitionSinkTopics: new Set(s.repartitionSinkTopics),
        stateChangelogTopics: new Map(s.stateChangelogTopics.map((t) => [t.name, internal(t)])),
      });
    }
    // missingInternalTopics
    const toCreate = new Map<string, ConfiguredInternalTopic>();
    for (const s of configured.values()) {
      for (const t of s.repartitionSourceTopics.values()) toCreate.set(t.name, t);
      for (const t of s.stateChangelogTopics.values()) toCreate.set(t.name, t);
    }
    for (const topic of requiredTopics(topology)) {
      const existing = partitionCount(topic);
      if (existing === undefined) continue;
      const expected = toCreate.get(topic);
      toCreate.delete(topic);
      if (expected !== undefined && existing !== expected.partitions) {
        throw new TopicConfigurationProblem(
          StreamsStatus.INCORRECTLY_PARTITIONED_TOPICS,
          `Existing topic ${topic} has different number of partitions: expected ${expected.partitions}, found ${existing}`,
        );
      }
    }
    const problem =
      toCreate.size > 0
        ? { status: StreamsStatus.MISSING_INTERNAL_TOPICS, message: `Internal topics are missing: ${summarizeTopics(javaHashMapOrder(toCreate.keys()))}` }
        : null;
    return { topologyEpoch: topology.epoch, metadataHash, subtopologies: configured, internalTopicsToCreate: toCreate, problem };
  } catch (error) {
    if (!(error instanceof TopicConfigurationProblem)) throw error;
    return {
      topologyEpoch: topology.epoch,
      metadataHash,
      subtopologies: null,
      internalTopicsToCreate: new Map(),
      problem: { status: error.status, message: error.message },
    };
  }
}

/** InternalTopicManager.decidePartitionCounts: repartition topics, then copartitioning, then changelogs. */
function decidePartitionCounts(subtopologies: readonly StreamsGroupTopologyValueSubtopology[], partitionCount: PartitionCounts): Map<string, number> {
  const decided = new Map<string, number>();
  const countOf = (topic: string) => partitionCount(topic) ?? decided.get(topic);
  for (const [topic, count] of repartitionTopicCounts(subtopologies, countOf)) decided.set(topic, count);
  // enforceCopartitioning
  const fixed = new Set<string>();
  const flexible = new Set<string>();
  for (const s of subtopologies) for (const t of s.repartitionSourceTopics) (t.partitions !== 0 ? fixed : flexible).add(t.name);
  for (const s of subtopologies) {
    for (const group of s.copartitionGroups) {
      const topics = new Set<string>([
        ...group.sourceTopics.map((i) => s.sourceTopics[i] as string),
        ...group.repartitionSourceTopics.map((i) => (s.repartitionSourceTopics[i] as { name: string }).name),
      ]);
      for (const [topic, count] of enforceCopartitioning(topics, fixed, flexible, countOf)) decided.set(topic, count);
    }
  }
  // ChangelogTopics.setup
  for (const s of subtopologies) {
    let max: number | undefined;
    for (const topic of [...s.sourceTopics, ...s.repartitionSourceTopics.map((t) => t.name)]) {
      const count = countOf(topic);
      if (count === undefined) throw new Error(`No partition count for source topic ${topic}`);
      max = Math.max(max ?? count, count);
    }
    if (max === undefined) throw invalidTopology(`No source topics found for subtopology ${s.subtopologyId}`);
    for (const t of s.stateChangelogTopics) decided.set(t.name, max);
  }
  return decided;
}

/** RepartitionTopics.setup. */
function repartitionTopicCounts(
  subtopologies: readonly StreamsGroupTopologyValueSubtopology[],
  countOf: (topic: string) => number | undefined,
): Map<string, number> {
  const missing: string[] = [];
  for (const s of subtopologies) {
    const repartitionSources = new Set(s.repartitionSourceTopics.map((t) => t.name));
    for (const t of s.sourceTopics) if (!repartitionSources.has(t) && countOf(t) === undefined) missing.push(t);
  }
  if (missing.length > 0) throw new Error(`Missing source topics: ${missing.join(", ")}`);
  const counts = new Map<string, number>();
  for (const s of subtopologies) for (const t of s.repartitionSourceTopics) if (t.partitions !== 0) counts.set(t.name, t.partitions);
  const computePartitionCount = (s: StreamsGroupTopologyValueSubtopology): number | undefined => {
    let count: number | undefined;
    for (const t of s.repartitionSourceTopics) {
      const candidate = counts.get(t.name);
      if (candidate !== undefined && (count === undefined || candidate > count)) count = candidate;
    }
    for (const t of s.sourceTopics) {
      const actual = countOf(t);
      if (actual !== undefined && (count === undefined || actual > count)) count = actual;
    }
    return count;
  };
  let needed: boolean;
  do {
    needed = false;
    let progress = false;
    for (const s of subtopologies) {
      for (const sink of s.repartitionSinkTopics) {
        if (counts.has(sink)) continue;
        const count = computePartitionCount(s);
        if (count === undefined) {
          needed = true;
          continue;
        }
        counts.set(sink, count);
        progress = true;
      }
    }
    if (!progress && needed)
      throw invalidTopology("Failed to compute number of partitions for all repartition topics. There may be loops in the topology that cannot be resolved.");
  } while (needed);
  for (const s of subtopologies) {
    if (s.repartitionSourceTopics.some((t) => !counts.has(t.name))) {
      throw invalidTopology(
        "Failed to compute number of partitions for all repartition topics, because a repartition source topic is never used as a sink topic.",
      );
    }
  }
  return counts;
}

/** CopartitionedTopicsEnforcer.enforce. */
function enforceCopartitioning(
  topics: ReadonlySet<string>,
  fixed: ReadonlySet<string>,
  flexible: ReadonlySet<string>,
  countOf: (topic: string) => number | undefined,
): Map<string, number> {
  const out = new Map<string, number>();
  if (topics.size === 0) return out;
  const count = (topic: string) => {
    const c = countOf(topic);
    if (c === undefined) throw new Error(`Number of partitions is not set for topic: ${topic}`);
    return c;
  };
  const sortedText = (map: Map<string, number>) =>
    `{${[...map]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join(", ")}}`;
  const repartition = new Map<string, number>();
  const others = new Map<string, number>();
  for (const topic of topics) (fixed.has(topic) || flexible.has(topic) ? repartition : others).set(topic, count(topic));
  let partitions: number;
  if (repartition.size === topics.size) {
    if (fixed.size > 0) {
      const first = count(fixed.values().next().value as string);
      for (const topic of fixed) {
        if (count(topic) !== first) {
          throw new TopicConfigurationProblem(
            StreamsStatus.INCORRECTLY_PARTITIONED_TOPICS,
            `Following topics do not have the same number of partitions: [${sortedText(repartition)}]`,
          );
        }
      }
      partitions = first;
    } else {
      partitions = Math.max(0, ...repartition.values());
      if (partitions === 0)
        throw invalidTopology(`All topics in the copartition group had undefined partition number: [${[...repartition.keys()].join(", ")}]`);
    }
  } else {
    partitions = others.values().next().value as number;
    for (const value of others.values()) {
      if (value !== partitions) {
        throw new TopicConfigurationProblem(
          StreamsStatus.INCORRECTLY_PARTITIONED_TOPICS,
          `Following topics do not have the same number of partitions: [${sortedText(others)}]`,
        );
      }
    }
  }
  for (const [topic, value] of repartition) {
    out.set(topic, partitions);
    if (fixed.has(topic) && value !== partitions) {
      throw new TopicConfigurationProblem(
        StreamsStatus.INCORRECTLY_PARTITIONED_TOPICS,
        `Number of partitions [${value}] of repartition topic [${topic}] doesn't match number of partitions [${partitions}] of the source topic.`,
      );
    }
  }
  return out;
}
