// Topic names as Kafka allows them (org.apache.kafka.common.internals.Topic).

/** Topic.MAX_NAME_LENGTH */
export const topicNameLengthMax = 249;

const legalName = /^[a-zA-Z0-9._-]+$/;

/**
 * null when `name` is a legal topic name, else Kafka 4.4's InvalidTopicException message
 * (Topic.validate): not empty, not "." or "..", at most 249 characters, only ASCII alphanumerics,
 * '.', '_' and '-'.
 */
export function validateTopicName(name: string): string | null {
  if (name.length === 0) return "Topic name is invalid: the empty string is not allowed";
  if (name === "." || name === "..") return `Topic name is invalid: '${name}' is not allowed`;
  if (name.length > topicNameLengthMax) {
    return `Topic name is invalid: the length of '${name}' is longer than the max allowed length ${topicNameLengthMax}`;
  }
  if (!legalName.test(name)) {
    return `Topic name is invalid: '${name}' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'`;
  }
  return null;
}

/** Topic.hasCollisionChars: '.' or '_', which metric names do not tell apart. */
export function topicNameHasCollisionChars(name: string): boolean {
  return name.includes(".") || name.includes("_");
}

/** Topic.unifyCollisionChars: '.' as '_'. */
export function unifyCollisionChars(name: string): string {
  return name.replaceAll(".", "_");
}

/** Topic.hasCollision: the names differ only in '.' versus '_' (or are equal). */
export function topicNameCollides(a: string, b: string): boolean {
  return unifyCollisionChars(a) === unifyCollisionChars(b);
}

/** The INVALID_TOPIC_EXCEPTION message Kafka's controller gives CreateTopics for a colliding name. */
export function topicCollisionMessage(name: string, existing: string): string {
  return `Topic '${name}' collides with existing topic: ${existing}`;
}

/** The warning Kafka's tools print when a new topic name holds '.' or '_'. */
export const topicCollisionWarning =
  "Due to limitations in metric names, topics with a period ('.') or underscore ('_') could collide. To avoid issues it is best to use either, but not both.";

/** Topic.isInternal: __consumer_offsets, __transaction_state, __share_group_state. */
export function isInternalTopic(name: string): boolean {
  return name === "__consumer_offsets" || name === "__transaction_state" || name === "__share_group_state";
}
