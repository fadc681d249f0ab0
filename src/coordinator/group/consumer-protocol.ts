// The consumer's embedded protocol (Kafka's ConsumerProtocol): what a classic group's members put
// in JoinGroup metadata. The coordinator reads only the subscribed topic names, as Kafka's
// ClassicGroup.computeSubscribedTopics does (offset expiry, OffsetDelete).
//
// ConsumerProtocolSubscription v0-3: version int16, topics [string], userData bytes, … (not flexible).

import { Reader } from "../../protocol/reader.js";
import { type ClassicGroup, CONSUMER_PROTOCOL_TYPE } from "./classic-group.js";

/** The topics of a ConsumerProtocolSubscription, or null when it does not parse. */
export function subscribedTopics(metadata: Buffer): string[] | null {
  try {
    const r = new Reader(metadata);
    r.int16();
    const count = r.int32();
    if (count < 0 || count > r.remaining() / 2) return null;
    const topics: string[] = [];
    for (let index = 0; index < count; index++) {
      topics.push(r.string());
    }
    return topics;
  } catch {
    return null;
  }
}

/**
 * The topics a classic group's members subscribe to; null when unknown (not the consumer protocol,
 * no protocol selected yet, or a subscription that does not parse).
 */
export function classicGroupSubscribedTopics(group: ClassicGroup): Set<string> | null {
  if (group.members.size === 0) return new Set();
  if (group.protocolType !== CONSUMER_PROTOCOL_TYPE || group.protocolName === null) return null;
  const topics = new Set<string>();
  for (const member of group.members.values()) {
    const metadata = member.metadata(group.protocolName);
    const parsed = metadata === undefined ? null : subscribedTopics(metadata);
    if (parsed === null) return null;
    for (const topic of parsed) topics.add(topic);
  }
  return topics;
}
