// WriteTxnMarkers (key 27), versions 1-2: COMMIT/ABORT markers for partitions this broker leads —
// what `kafka-transactions.sh abort` sends to end a hanging transaction, and what a coordinator on
// another broker would send. Each partition's marker is appended as the coordinator's own write
// (producer epoch and coordinator epoch checked by the log); one into __consumer_offsets settles the
// group's pending transactional offsets. v2 carries the transaction version (KIP-890: a TV2 marker
// must bump the epoch). Errors per partition as Kafka's ReplicaManager answers them; a marker is
// answered once replicated to the partition's ISR (Kafka appends markers with acks=all), else
// NOT_LEADER_OR_FOLLOWER so the coordinator writes it again on the new leader.

import type { WriteTxnMarkersRequest, WriteTxnMarkersResponse } from "../../protocol/generated/write-txn-markers.js";
import { defineHandler } from "../../server/registry.js";

export const writeTxnMarkers = defineHandler<WriteTxnMarkersRequest, WriteTxnMarkersResponse>(
  27,
  { min: 1, max: 2 },
  async (context, request) => ({
    // Every marker is appended before the first wait; each answer waits for its replication.
    markers: await Promise.all(
      request.markers.map(async (marker) => ({
        producerId: marker.producerId,
        topics: await Promise.all(
          marker.topics.map(async (topic) => ({
            name: topic.name,
            partitions: await Promise.all(
              topic.partitionIndexes.map(async (partitionIndex) => ({
                partitionIndex,
                errorCode: await context.transactions.writeMarker(
                  topic.name,
                  partitionIndex,
                  marker.producerId,
                  marker.producerEpoch,
                  marker.coordinatorEpoch,
                  marker.transactionResult,
                  context.apiVersion >= 2 ? marker.transactionVersion : 0,
                ),
              })),
            ),
          })),
        ),
      })),
    ),
  }),
  (_context, request, errorCode) => ({
    markers: request.markers.map((marker) => ({
      producerId: marker.producerId,
      topics: marker.topics.map((topic) => ({ name: topic.name, partitions: topic.partitionIndexes.map((partitionIndex) => ({ partitionIndex, errorCode })) })),
    })),
  }),
);
