// A partition appends as leader only while this broker leads it (Kafka's appendRecordsToLeader,
// leaderLogIfLocal): a produce that waited (a transactional batch verified by a remote
// coordinator) or a coordinator's write after leadership moved is refused with
// NOT_LEADER_OR_FOLLOWER and leaves the log as it was. Found by the chaos test: such a batch,
// appended after the broker became a follower, carried the new leader's epoch in the follower's log,
// so the fetch's divergence check (last fetched epoch = the new epoch) never found it and the
// replica kept a different batch at that offset below the high watermark. Real native logs.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { effectiveTopicConfig, toProduceSettings } from "../../src/config/topic.js";
import { Partition } from "../../src/log/partition.js";
import { PartitionLog } from "../../src/log/partition-log.js";
import { LogResources } from "../../src/native.js";
import { ErrorCode, KafkaError } from "../../src/protocol/errors.js";
import { buildRecordBatch } from "../../src/protocol/records.js";

const resources = new LogResources();
const directory = mkdtempSync(join(tmpdir(), "sluice-partition-leadership-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const settings = toProduceSettings(effectiveTopicConfig({}));
const batch = () => buildRecordBatch({ baseTimestamp: BigInt(Date.now()), records: [{ key: null, value: Buffer.from("v"), timestamp: BigInt(Date.now()) }] });

async function leaderOfThree(partition: number): Promise<Partition> {
  const log = await PartitionLog.open(join(directory, `events-${partition}`), { topic: "events", partition, resources, config: {} });
  return new Partition(
    "events",
    "AAAAAAAAAAAAAAAAAAAAAQ",
    partition,
    log,
    1,
    { leaderId: 1, leaderEpoch: 0, partitionEpoch: 0, replicas: [1, 2, 3], isr: [1, 2, 3] },
    0n,
  );
}

function refusal(append: () => unknown): number | null {
  try {
    append();
    return null;
  } catch (error) {
    return error instanceof KafkaError ? error.code : -1;
  }
}

describe("appends as leader after leadership moved", () => {
  it("a produce, a coordinator write and a transaction marker are refused with NOT_LEADER_OR_FOLLOWER, the log untouched", async () => {
    const partition = await leaderOfThree(0);
    const appended = partition.appendRecordsToLeader(batch(), settings, 11, Date.now());
    expect(appended.errorCode).toBe(ErrorCode.NONE);
    expect(partition.log.logEndOffset).toBe(1n);
    expect(partition.log.latestEpoch).toBe(0);

    // Broker 2 leads epoch 1 now (this broker learned it while a produce was waiting).
    expect(partition.applyState({ leaderId: 2, leaderEpoch: 1, partitionEpoch: 1, replicas: [1, 2, 3], isr: [2, 3] }, Date.now())).toBe("follower");
    expect(refusal(() => partition.appendRecordsToLeader(batch(), settings, 11, Date.now()))).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect(refusal(() => partition.appendAsCoordinator(batch(), Date.now()))).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect(refusal(() => partition.appendTxnMarker(7n, 0, 0, true, Date.now()))).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect(partition.log.logEndOffset).toBe(1n);
    // No batch of epoch 1 here: the follower's next fetch reports epoch 0, where the leader can tell a divergence.
    expect(partition.log.latestEpoch).toBe(0);

    // Leading again (epoch 2), it appends with its epoch.
    expect(partition.applyState({ leaderId: 1, leaderEpoch: 2, partitionEpoch: 2, replicas: [1, 2, 3], isr: [1, 2, 3] }, Date.now())).toBe("leader");
    expect(partition.appendRecordsToLeader(batch(), settings, 11, Date.now()).errorCode).toBe(ErrorCode.NONE);
    expect(partition.log.logEndOffset).toBe(2n);
    expect(partition.log.latestEpoch).toBe(2);
    await partition.log.close();
  });
});
