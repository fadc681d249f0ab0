// What the migration interop tests (test/interop/migrate-*.test.ts) share: Kafka's tool classes,
// the authorizer both brokers run, the `sluice` CLI, and parsers of the tools' output.
import { run } from "./cli.js";
import { sluiceBin } from "./sluice.js";

export const topicCommand = "org.apache.kafka.tools.TopicCommand";
export const configCommand = "org.apache.kafka.tools.ConfigCommand";
export const aclCommand = "org.apache.kafka.tools.AclCommand";
export const groupCommand = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand";
export const consoleConsumer = "org.apache.kafka.tools.consumer.ConsoleConsumer";
export const scramModule = "org.apache.kafka.common.security.scram.ScramLoginModule";
/** Kafka's StandardAuthorizer with ANONYMOUS (PLAINTEXT) a super user: on Kafka and on Sluice alike. */
export const authorizer = { "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer", "super.users": "User:ANONYMOUS" };

/** Runs `bin/sluice` with `args`. */
export const sluiceCli = (args: string[]) => run(process.execPath, [sluiceBin, ...args]);

/** kafka-consumer-groups --describe rows, columns 1 to `through` (exclusive) of each partition row, sorted. */
function groupRows(text: string, through: number): string[] {
  return text
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols.length >= 6 && /^\d+$/.test(cols[2] ?? "") && cols[0] !== "GROUP")
    .map((cols) => cols.slice(1, through).join(" "))
    .sort();
}

/** kafka-consumer-groups --describe rows as "topic partition current-offset log-end-offset lag", sorted. */
export const offsetRows = (text: string) => groupRows(text, 6);

/** kafka-consumer-groups --describe rows as "topic partition current-offset", sorted. */
export const committedRows = (text: string) => groupRows(text, 4);

/** kafka-topics --describe's partition lines: partition → { leader (-1 for none), replicas, isr }. */
export function describedPartitions(stdout: string): Map<number, { leader: number; replicas: number[]; isr: number[] }> {
  const found = new Map<number, { leader: number; replicas: number[]; isr: number[] }>();
  for (const line of stdout.split("\n")) {
    const match = /Partition: (\d+)\s+Leader: (-?\d+|none)\s+Replicas: ([\d,]*)\s+Isr: ([\d,]*)/.exec(line);
    if (match === null) continue;
    const ids = (text: string) => (text === "" ? [] : text.split(",").map(Number));
    found.set(Number(match[1]), { leader: match[2] === "none" ? -1 : Number(match[2]), replicas: ids(match[3]), isr: ids(match[4]) });
  }
  return found;
}
