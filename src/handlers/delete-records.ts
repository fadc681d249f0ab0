// DeleteRecords (key 21), versions 0-2: move a partition's log start offset forward (Kafka's
// kafka-delete-records). -1 means the high watermark; an offset above the high watermark
// or otherwise negative is OFFSET_OUT_OF_RANGE. The answer is the new low watermark (log
// start offset); whole segments below it are deleted in the background.

import { ErrorCode } from "../protocol/errors.js";
import type { DeleteRecordsRequest, DeleteRecordsResponse, DeleteRecordsResponseDeleteRecordsPartitionResult } from "../protocol/generated/delete-records.js";
import { AclOperation, ResourceType as AclResource } from "../security/acl.js";
import { defineHandler } from "../server/registry.js";
import { errorCodeOf, reportUnexpected } from "./common.js";

const answer = (partitionIndex: number, errorCode: number, lowWatermark = -1n): DeleteRecordsResponseDeleteRecordsPartitionResult => ({
  partitionIndex,
  lowWatermark,
  errorCode,
});

export const deleteRecords = defineHandler<DeleteRecordsRequest, DeleteRecordsResponse>(
  21,
  { min: 0, max: 2 },
  async (context, request) => {
    const topics = [];
    for (const wantedTopic of request.topics) {
      const partitions = [];
      // Authorization: DELETE on the topic.
      const deletable = context.authorized(AclOperation.DELETE, AclResource.TOPIC, wantedTopic.name);
      for (const wanted of wantedTopic.partitions) {
        if (!deletable) {
          partitions.push(answer(wanted.partitionIndex, ErrorCode.TOPIC_AUTHORIZATION_FAILED));
          continue;
        }
        const partition = context.partitions.lookup(wantedTopic.name, wanted.partitionIndex);
        if (typeof partition === "number") {
          partitions.push(answer(wanted.partitionIndex, partition));
          continue;
        }
        const highWatermark = partition.highWatermark;
        const offset = wanted.offset === -1n ? highWatermark : wanted.offset;
        if (offset < 0n || offset > highWatermark) {
          partitions.push(answer(wanted.partitionIndex, ErrorCode.OFFSET_OUT_OF_RANGE));
          continue;
        }
        try {
          if (offset > partition.logStartOffset) await partition.log.incrementLogStartOffset(offset, highWatermark);
          partitions.push(answer(wanted.partitionIndex, ErrorCode.NONE, partition.logStartOffset));
        } catch (error) {
          reportUnexpected(context, error, `delete records of ${partition}`);
          partitions.push(answer(wanted.partitionIndex, errorCodeOf(error)));
        }
      }
      topics.push({ name: wantedTopic.name, partitions });
    }
    return { throttleTimeMs: 0, topics };
  },
  (_context, request, errorCode) => ({
    throttleTimeMs: 0,
    topics: request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => answer(p.partitionIndex, errorCode)) })),
  }),
);
