// DescribeLogDirs (key 35), versions 1-5: each log directory with the size of every
// partition in it (all partitions for a null topic list), (v4+) the file system's total
// and usable bytes, and (v5+) whether the directory is cordoned (KIP-1066) — never: Sluice
// has no cordoned log directories, so new partitions may always be placed in it.

import { statfs } from "node:fs/promises";
import { ErrorCode } from "../protocol/errors.js";
import type { DescribeLogDirsRequest, DescribeLogDirsResponse, DescribeLogDirsResponseDescribeLogDirsTopic } from "../protocol/generated/describe-log-dirs.js";
import { AclOperation, CLUSTER_NAME, ResourceType } from "../security/acl.js";
import { defineHandler } from "../server/registry.js";

export const describeLogDirs = defineHandler<DescribeLogDirsRequest, DescribeLogDirsResponse>(35, { min: 1, max: 5 }, async (context, request) => {
  const { metadata, partitions: hosted } = context;
  // Authorization: DESCRIBE on the cluster (Kafka answers v3+ with the error and no directories).
  if (!context.authorized(AclOperation.DESCRIBE, ResourceType.CLUSTER, CLUSTER_NAME))
    return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, results: [] };
  const logDir = hosted.logDirectory;
  const topics: DescribeLogDirsResponseDescribeLogDirsTopic[] = [];
  const wanted = request.topics === null ? null : new Map(request.topics.map((t) => [t.topic, new Set(t.partitions)]));
  for (const topic of metadata.topics()) {
    const partitions = wanted === null ? null : wanted.get(topic.name);
    if (wanted !== null && partitions === undefined) continue;
    const described = topic.partitions
      .filter((partition) => partitions == null || partitions.has(partition.index))
      .flatMap((partition) => hosted.get(topic.name, partition.index) ?? [])
      .map((partition) => ({ partitionIndex: partition.index, partitionSize: BigInt(partition.log.sizeBytes), offsetLag: 0n, isFutureKey: false }));
    if (described.length > 0) topics.push({ name: topic.name, partitions: described });
  }
  let totalBytes = -1n;
  let usableBytes = -1n;
  try {
    const fs = await statfs(logDir, { bigint: true });
    totalBytes = fs.blocks * fs.bsize;
    usableBytes = fs.bavail * fs.bsize;
  } catch (error) {
    context.logger.warn({ err: error, logDir }, "statfs failed");
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, results: [{ errorCode: ErrorCode.NONE, logDir, topics, totalBytes, usableBytes, isCordoned: false }] };
});
