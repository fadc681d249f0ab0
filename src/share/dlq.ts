// The dead-letter queue of share groups (KIP-1191, Kafka 4.4's DefaultShareGroupDLQManager): a
// record a consumer REJECTs, or one archived because its delivery count reached
// share.delivery.count.limit, is written to the group's `errors.deadletterqueue.topic.name` — one DLQ
// record per offset, with Kafka's headers:
//
//   __dlq.errors.topic / .partition / .offset / .group   where it came from
//   __dlq.errors.delivery.count                          its delivery count
//   __dlq.errors.message                                 "Offset rejected by client." or
//                                                        "Offset delivery count exceeded the threshold."
//
// and the original key and value when `errors.deadletterqueue.copy.record.enable` (read from the
// source log), timestamped now. The DLQ partition is the source partition modulo the DLQ topic's
// partition count. As Kafka checks it, the topic name must not start with "__" and must start
// with `errors.deadletterqueue.topic.name.prefix` ("dlq." by default); an existing topic must have
// `errors.deadletterqueue.group.enable=true`; a missing one is created (with that config and
// CreateTime timestamps) only when `errors.deadletterqueue.auto.create.topics.enable`. A
// misconfigured DLQ is logged and the records are dropped, as Kafka drops them.
//
// Writing happens after the share partition's state is durable, off the fetch path; the DLQ
// partition is appended here when this broker leads it, else sent as a Produce to its leader.

import type { Logger } from "pino";
import type { MetadataCache } from "../cluster/metadata-cache.js";
import type { Topics } from "../cluster/topic-manager.js";
import { type GroupConfigStore, groupConfigValue } from "../config/group-config.js";
import type { BrokerConfig } from "../config/index.js";
import type { Partition } from "../log/partition.js";
import type { PartitionManager } from "../log/partition-manager.js";
import { recompressBatch } from "../native.js";
import { ErrorCode, KafkaError } from "../protocol/errors.js";
import { batches, buildRecordBatch, decodeRecords, RecordBatchView, type RecordInput } from "../protocol/records.js";
import type { InterBrokerClients } from "../replication/inter-broker.js";

export const DLQ_REJECTED = "Offset rejected by client.";
export const DLQ_DELIVERY_LIMIT = "Offset delivery count exceeded the threshold.";

/** Source bytes read for copies (Kafka's DLQ_MAX_FETCH_BYTES). */
const MAX_FETCH_BYTES = 1024 * 1024;

export interface DeadLetters {
  readonly groupId: string;
  readonly source: Partition;
  readonly firstOffset: bigint;
  readonly lastOffset: bigint;
  readonly deliveryCount: number;
  readonly message: string;
}

export class ShareDeadLetterQueue {
  readonly #logger: Logger;
  /** Writes one after another (bounded by what share partitions archive). */
  #queue: Promise<void> = Promise.resolve();
  #pending = 0;

  constructor(
    private readonly config: BrokerConfig,
    logger: Logger,
    private readonly metadata: MetadataCache,
    private readonly partitions: PartitionManager,
    private readonly topics: Topics,
    private readonly groupConfigs: GroupConfigStore,
    private readonly clients: InterBrokerClients | null,
  ) {
    this.#logger = logger.child({ component: "share-dlq" });
  }

  /** Whether the group has a DLQ topic configured (nothing to do otherwise). */
  configured(groupId: string): boolean {
    return groupConfigValue(this.groupConfigs.groupConfig(groupId), this.config, "errors.deadletterqueue.topic.name") !== "";
  }

  enqueue(letters: DeadLetters): void {
    if (!this.configured(letters.groupId)) return;
    // Bounded: a DLQ that cannot keep up drops (and logs) rather than holding memory without end.
    if (this.#pending >= 10_000) {
      this.#logger.warn({ group: letters.groupId }, "dead-letter queue backlog full; records dropped");
      return;
    }
    this.#pending++;
    this.#queue = this.#queue
      .then(() => this.#write(letters))
      .catch((error: unknown) => this.#logger.warn({ group: letters.groupId, err: error }, "could not write to the dead-letter queue"))
      .finally(() => {
        this.#pending--;
      });
  }

  async #write(letters: DeadLetters): Promise<void> {
    const overrides = this.groupConfigs.groupConfig(letters.groupId);
    const topicName = groupConfigValue(overrides, this.config, "errors.deadletterqueue.topic.name");
    const copy = groupConfigValue(overrides, this.config, "errors.deadletterqueue.copy.record.enable") === "true";
    const refused = this.#validate(letters.groupId, topicName);
    if (refused !== null) {
      this.#logger.warn({ group: letters.groupId, topic: topicName }, refused);
      return;
    }
    let topic = this.metadata.topic(topicName);
    if (topic === undefined) {
      try {
        topic = await this.topics.create(topicName, Number(this.config.get("num.partitions") ?? 1), {
          "errors.deadletterqueue.group.enable": "true",
          "message.timestamp.type": "CreateTime",
        });
      } catch (error) {
        if (!(error instanceof KafkaError && error.code === ErrorCode.TOPIC_ALREADY_EXISTS)) throw error;
        topic = this.metadata.topic(topicName);
      }
      if (topic === undefined) return;
    }
    const originals = copy
      ? this.#originals(letters.source, letters.firstOffset, letters.lastOffset)
      : new Map<bigint, { key: Buffer | null; value: Buffer | null }>();
    const now = BigInt(Date.now());
    const records: RecordInput[] = [];
    for (let offset = letters.firstOffset; offset <= letters.lastOffset; offset++) {
      const original = originals.get(offset);
      records.push({
        key: original?.key ?? null,
        value: original?.value ?? null,
        timestamp: now,
        headers: [
          { key: "__dlq.errors.topic", value: Buffer.from(letters.source.topic) },
          { key: "__dlq.errors.partition", value: Buffer.from(String(letters.source.index)) },
          { key: "__dlq.errors.offset", value: Buffer.from(String(offset)) },
          { key: "__dlq.errors.group", value: Buffer.from(letters.groupId) },
          { key: "__dlq.errors.delivery.count", value: Buffer.from(String(letters.deliveryCount)) },
          { key: "__dlq.errors.message", value: Buffer.from(letters.message) },
        ],
      });
    }
    const partition = letters.source.index % topic.partitions.length;
    const batch = buildRecordBatch({ baseTimestamp: now, records });
    const leader = topic.partitions[partition]?.leaderId ?? -1;
    const local = this.partitions.get(topicName, partition);
    if (local !== undefined && local.isLeader) {
      local.appendAsCoordinator(batch, Date.now());
      return;
    }
    if (this.clients === null || leader < 0) throw new Error(`no leader for ${topicName}-${partition}`);
    const response = await this.clients.request<{ responses: { partitionResponses: { errorCode: number }[] }[] }>(leader, 0, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 30_000,
      topicData: [{ name: topicName, topicId: topic.id, partitionData: [{ index: partition, records: batch }] }],
    });
    const code = response.responses[0]?.partitionResponses[0]?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR;
    if (code !== ErrorCode.NONE) throw new Error(`Produce to ${topicName}-${partition} failed with error ${code}`);
  }

  /** ShareGroupDLQStateManager.validateDlqTopic: why the DLQ cannot be used, or null. */
  #validate(groupId: string, topicName: string): string | null {
    if (topicName === "") return `Configured DLQ topic name in share group: ${groupId} is empty.`;
    if (topicName.startsWith("__")) return `Configured DLQ topic name in share group: ${groupId} cannot start with __, topic: ${topicName}.`;
    const topic = this.metadata.topic(topicName);
    if (topic !== undefined && topic.overrides["errors.deadletterqueue.group.enable"] !== "true") {
      return `DLQ is not enabled on configured DLQ topic for share group: ${groupId}, topic: ${topicName}.`;
    }
    if (topic === undefined && String(this.config.get("errors.deadletterqueue.auto.create.topics.enable")) !== "true") {
      return `DLQ topic does not exist and auto create is disabled on cluster for share group: ${groupId}, topic: ${topicName}.`;
    }
    const prefix = String(this.config.get("errors.deadletterqueue.topic.name.prefix") ?? "dlq.");
    if (prefix !== "" && !topicName.startsWith(prefix)) {
      return `Configured DLQ topic name does not comply with the DLQ topic prefix in share group: ${groupId}, topic: ${topicName}, prefix: ${prefix}.`;
    }
    return null;
  }

  /** The keys and values of the source records at [first, last] (uncompressed), by offset. */
  #originals(source: Partition, first: bigint, last: bigint): Map<bigint, { key: Buffer | null; value: Buffer | null }> {
    const out = new Map<bigint, { key: Buffer | null; value: Buffer | null }>();
    if (first < source.logStartOffset) return out;
    const read = source.log.readCopy(first, MAX_FETCH_BYTES, last + 1n);
    for (const batch of batches(read.bytes)) {
      if (batch.isControl) continue;
      const view = batch.compression === 0 ? batch : new RecordBatchView(recompressBatch(batch.buffer.subarray(batch.position, batch.end), "none"));
      for (const record of decodeRecords(view)) {
        if (record.offset >= first && record.offset <= last) out.set(record.offset, { key: record.key, value: record.value });
      }
    }
    return out;
  }
}
