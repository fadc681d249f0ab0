// The server-side consumer-group assignors (KIP-848) by name, as Kafka 4.4's group coordinator
// holds them: the names group.consumer.assignors lists (default "uniform,range", the first being
// the default assignor) map to org.apache.kafka.coordinator.group.assignor.UniformAssignor and
// RangeAssignor. Members pick one by name in ConsumerGroupHeartbeat (ServerAssignor); a group whose
// members pick none uses the default.

import { RangeAssignor } from "./range.js";
import type { ConsumerGroupPartitionAssignor } from "./types.js";
import { UniformAssignor } from "./uniform.js";

export { assignmentFromRecord, type JavaRuntime, javaCollectionStats, javaHashMapOrder } from "./java-collections.js";
export { RangeAssignor, RangeSet } from "./range.js";
export * from "./types.js";
export { UniformAssignor, UniformHeterogeneousAssignmentBuilder, UniformHomogeneousAssignmentBuilder } from "./uniform.js";

/** group.consumer.assignors' default: the class names Kafka lists, by their assignor names. */
export const DEFAULT_CONSUMER_GROUP_ASSIGNORS: readonly string[] = Object.freeze([UniformAssignor.NAME, RangeAssignor.NAME]);

/** The name of the assignor used when members name none: the first of group.consumer.assignors. */
export const DEFAULT_ASSIGNOR_NAME = DEFAULT_CONSUMER_GROUP_ASSIGNORS[0];

const factories: ReadonlyMap<string, () => ConsumerGroupPartitionAssignor> = new Map<string, () => ConsumerGroupPartitionAssignor>([
  [UniformAssignor.NAME, () => new UniformAssignor()],
  [RangeAssignor.NAME, () => new RangeAssignor()],
]);

/** The built-in assignor names. */
export function assignorNames(): string[] {
  return [...factories.keys()];
}

/** A new built-in assignor by name, undefined for an unknown name. */
export function createAssignor(name: string): ConsumerGroupPartitionAssignor | undefined {
  return factories.get(name)?.();
}

/**
 * The assignors of a coordinator configured with `names` (group.consumer.assignors), by name, in
 * configuration order; the first is the default. Throws for an unknown or repeated name, or an
 * empty list, as Kafka's configuration validation does.
 */
export function consumerGroupAssignors(names: readonly string[] = DEFAULT_CONSUMER_GROUP_ASSIGNORS): ReadonlyMap<string, ConsumerGroupPartitionAssignor> {
  if (names.length === 0) throw new RangeError("group.consumer.assignors must contain at least one assignor");
  const out = new Map<string, ConsumerGroupPartitionAssignor>();
  for (const name of names) {
    const assignor = createAssignor(name);
    if (assignor === undefined) throw new RangeError(`unknown consumer group assignor ${JSON.stringify(name)} (known: ${assignorNames().join(", ")})`);
    if (out.has(name)) throw new RangeError(`consumer group assignor ${JSON.stringify(name)} is listed twice`);
    out.set(name, assignor);
  }
  return out;
}
