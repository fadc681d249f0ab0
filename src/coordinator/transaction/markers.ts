// Transaction markers written into this broker's partitions: the coordinator's completion of a
// transaction (coordinator.ts) and WriteTxnMarkers (kafka-transactions.sh abort, other
// coordinators) both come here, as Kafka's ReplicaManager.appendRecords with a control batch from
// the coordinator does. A marker into __consumer_offsets also settles the transaction's offsets in
// the group coordinator (Kafka's GroupCoordinator.onTransactionCompleted / replay of the marker).

import { errorCodeOf } from "../../handlers/common.js";
import type { PartitionManager } from "../../log/partition-manager.js";
import { LogError } from "../../native.js";
import { ErrorCode } from "../../protocol/errors.js";
import type { GroupCoordinator } from "../group/coordinator.js";
import type { MarkerWriter } from "./coordinator.js";

const GROUP_METADATA_TOPIC = "__consumer_offsets";

export class LocalMarkerWriter implements MarkerWriter {
  constructor(
    private readonly partitions: PartitionManager,
    private readonly groups: GroupCoordinator,
  ) {}

  writeMarker(
    topic: string,
    partitionIndex: number,
    producerId: bigint,
    producerEpoch: number,
    coordinatorEpoch: number,
    commit: boolean,
    transactionVersion: number,
  ): number {
    const partition = this.partitions.lookup(topic, partitionIndex);
    if (typeof partition === "number") return partition;
    try {
      partition.appendTxnMarker(producerId, producerEpoch, coordinatorEpoch, commit, Date.now(), transactionVersion);
    } catch (error) {
      if (error instanceof LogError) return errorCodeOf(error);
      throw error;
    }
    if (topic === GROUP_METADATA_TOPIC) this.groups.onTransactionCompleted(partitionIndex, producerId, commit);
    return ErrorCode.NONE;
  }
}
