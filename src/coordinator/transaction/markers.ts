// Transaction markers written into this broker's partitions: the coordinator's completion of a
// transaction (coordinator.ts) and WriteTxnMarkers (kafka-transactions.sh abort, other
// coordinators) both come here, as Kafka's ReplicaManager.appendRecords with a control batch from
// the coordinator does. A marker into __consumer_offsets also settles the transaction's offsets in
// the group coordinator (Kafka's GroupCoordinator.onTransactionCompleted / replay of the marker).

import type { MetadataCache } from "../../cluster/metadata-cache.js";
import { errorCodeOf } from "../../handlers/common.js";
import type { PartitionManager } from "../../log/partition-manager.js";
import { LogError } from "../../native.js";
import { ErrorCode } from "../../protocol/errors.js";
import type { WriteTxnMarkersResponse } from "../../protocol/generated/write-txn-markers.js";
import type { InterBrokerClients } from "../../replication/inter-broker.js";
import type { GroupCoordinator } from "../group/coordinator.js";
import type { MarkerWriter } from "./coordinator.js";

const GROUP_METADATA_TOPIC = "__consumer_offsets";
const WRITE_TXN_MARKERS = 27;

export class LocalMarkerWriter implements MarkerWriter {
  constructor(
    private readonly partitions: PartitionManager,
    private readonly groups: GroupCoordinator,
    /** How long a marker waits to be replicated (request.timeout.ms). */
    private readonly commitTimeoutMs = 30_000,
  ) {}

  writeMarker(
    topic: string,
    partitionIndex: number,
    producerId: bigint,
    producerEpoch: number,
    coordinatorEpoch: number,
    commit: boolean,
    transactionVersion: number,
  ): number | Promise<number> {
    const partition = this.partitions.lookup(topic, partitionIndex);
    if (typeof partition === "number") return partition;
    try {
      partition.appendTxnMarker(producerId, producerEpoch, coordinatorEpoch, commit, Date.now(), transactionVersion);
    } catch (error) {
      if (error instanceof LogError) return errorCodeOf(error);
      throw error;
    }
    if (topic === GROUP_METADATA_TOPIC) this.groups.onTransactionCompleted(partitionIndex, producerId, commit);
    // Written only once replicated to the ISR (Kafka appends markers with acks=all): a marker lost
    // with a failed leader is written again on the new one, never taken for done.
    const committed = partition.whenCommitted(this.commitTimeoutMs);
    if (typeof committed === "number") return committed;
    return committed.then((error) => (error === ErrorCode.NONE ? error : ErrorCode.NOT_LEADER_OR_FOLLOWER));
  }
}

/**
 * A cluster's marker writer: a partition this broker leads gets its marker directly (the local
 * writer), a partition led elsewhere by WriteTxnMarkers v2 to its leader (Kafka's
 * TransactionMarkerChannelManager), one request per marker. NOT_LEADER_OR_FOLLOWER when the
 * partition has no leader or the request fails, so the coordinator retries.
 */
export class ClusterMarkerWriter implements MarkerWriter {
  constructor(
    private readonly local: MarkerWriter,
    private readonly metadata: MetadataCache,
    private readonly clients: InterBrokerClients,
  ) {}

  writeMarker(
    topic: string,
    partitionIndex: number,
    producerId: bigint,
    producerEpoch: number,
    coordinatorEpoch: number,
    commit: boolean,
    transactionVersion: number,
  ): number | Promise<number> {
    const partition = this.metadata.partition(topic, partitionIndex);
    if (partition === undefined) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    if (partition.leaderId === this.metadata.nodeId) {
      return this.local.writeMarker(topic, partitionIndex, producerId, producerEpoch, coordinatorEpoch, commit, transactionVersion);
    }
    if (partition.leaderId < 0) return ErrorCode.NOT_LEADER_OR_FOLLOWER;
    return this.clients
      .request<WriteTxnMarkersResponse>(partition.leaderId, WRITE_TXN_MARKERS, {
        markers: [
          {
            producerId,
            producerEpoch,
            transactionResult: commit,
            topics: [{ name: topic, partitionIndexes: [partitionIndex] }],
            coordinatorEpoch,
            transactionVersion,
          },
        ],
      })
      .then(
        (response) => response.markers[0]?.topics[0]?.partitions[0]?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR,
        () => ErrorCode.NOT_LEADER_OR_FOLLOWER,
      );
  }
}
