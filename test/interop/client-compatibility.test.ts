// Kafka's own client compatibility check, org.apache.kafka.tools.ClientCompatibilityTest from
// kafka-tools 4.4.0 (what Kafka's ducktape client_compatibility_features_test runs against each
// broker version), against Sluice with every feature flag as it is for a Kafka 4.4 broker:
// describeCluster sees one node, describeConfigs of the broker has entries, createTopics works and
// the topic is listed (not internal), describeAcls answers (SECURITY_DISABLED counts), the
// idempotent producer writes an 8-byte and a 4 KiB record, the consumer finds the cluster id,
// offsetsForTimes, beginning and end offsets, and reads the 4 KiB record with
// max.partition.fetch.bytes=512 (KIP-74: no RecordTooLargeException). Run once without an
// authorizer and once with StandardAuthorizer (the tool connects in plaintext, as User:ANONYMOUS,
// a super user there), and once against Kafka 4.4.0 itself, to show the flags are Kafka's.

import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestClient } from "../helpers/client.js";
import { type KafkaBroker, runJavaTool, startKafka } from "../helpers/kafka.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";

const FLAGS = {
  "--offsets-for-times-supported": "true",
  "--cluster-id-supported": "true",
  "--expect-record-too-large-exception": "false",
  "--num-cluster-nodes": "1",
  "--create-topics-supported": "true",
  "--describe-acls-supported": "true",
  "--describe-configs-supported": "true",
  "--idempotent-producer-supported": "true",
};

async function clientCompatibilityTest(
  bootstrap: string,
  topic: string,
  flags: Record<string, string> = FLAGS,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const args = ["--topic", topic, "--bootstrap-server", bootstrap, ...Object.entries(flags).flat()];
  return runJavaTool("org.apache.kafka.tools.ClientCompatibilityTest", args, { quickStart: true, heap: "256m", logLevel: "ERROR", timeoutMs: 90_000 });
}

let plain: SluiceBroker | undefined;
let secured: SluiceBroker | undefined;
let kafka: KafkaBroker | undefined;

beforeAll(async () => {
  [plain, secured, kafka] = await Promise.all([
    startSluice({ overrides: { "num.partitions": 1 } }),
    startSluice({
      overrides: {
        "num.partitions": 1,
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:ANONYMOUS",
      },
    }),
    startKafka(),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([plain?.stop(), secured?.stop(), kafka?.kill()]);
  for (const workDir of [plain?.workDir, secured?.workDir, kafka?.workDir]) if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe("Kafka's ClientCompatibilityTest (kafka-tools 4.4.0)", () => {
  it("passes against Kafka 4.4.0 and against Sluice, with and without an authorizer, with Kafka 4.4's feature flags", async () => {
    // One JVM at a time: the machine is small.
    const results: Record<string, Awaited<ReturnType<typeof clientCompatibilityTest>>> = {};
    for (const [name, broker] of [
      ["kafka", kafka],
      ["sluice", plain],
      ["sluice with StandardAuthorizer", secured],
    ] as const) {
      results[name] = await clientCompatibilityTest(broker?.bootstrap ?? "", "compatibility-topic");
    }
    for (const [name, result] of Object.entries(results)) {
      expect({ name, code: result.code, stdout: result.stdout }, result.stderr).toEqual({ name, code: 0, stdout: expect.stringContaining("SUCCESS.") });
    }
    // The flags are checked, not just passed: pre-KIP-74 behaviour is not what Sluice does. (The
    // tool creates "newtopic" each run: removed first.)
    const client = await TestClient.connect(plain?.port ?? 0);
    const deleted = await client.request<{ responses: { errorCode: number }[] }>(20, 6, {
      topics: [{ name: "newtopic", topicId: "AAAAAAAAAAAAAAAAAAAAAA" }],
      timeoutMs: 10_000,
    });
    client.close();
    expect(deleted.responses[0]?.errorCode).toBe(0);
    const tooLarge = await clientCompatibilityTest(plain?.bootstrap ?? "", "compatibility-too-large", {
      ...FLAGS,
      "--expect-record-too-large-exception": "true",
    });
    expect(tooLarge.code).toBe(1);
    expect(tooLarge.stdout).toContain("Expected to get a RecordTooLargeException");
  }, 240_000);
});
