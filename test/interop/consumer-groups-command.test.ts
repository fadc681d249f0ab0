// Kafka 4.4.0's kafka-consumer-groups.sh (org.apache.kafka.tools.consumer.group.ConsumerGroupCommand)
// and kafka-groups.sh (org.apache.kafka.tools.GroupsCommand), their output compared line for line
// between Apache Kafka 4.4.0 and the broker under test. One scenario runs against each: topics with
// known records (some with fixed old timestamps), a classic group with a live member and lag, a
// KIP-848 group with a live member, a classic group whose member has left, a "simple" group made by
// --reset-offsets alone; then --list (with --state, --type), --describe (offsets, --members, --state,
// --verbose, --all-groups, an unknown group), --reset-offsets (--to-earliest, --to-latest,
// --to-offset, --shift-by, --to-datetime, --by-duration, --to-current, --export; --dry-run and
// --execute; an active group refused), --delete-offsets and --delete (successes and refusals), and
// GroupsCommand --list with its filters. The expected output is what Kafka prints in the same run
// (a Kafka broker is started here, whichever broker is under test): the broker under test
// ($GROUP_TESTS_BROKER, test/helpers/brokers.ts: Sluice by default) must make the tools print the
// same, after normalising what may legitimately differ:
// - member ids (the broker makes classic ones, the client KIP-848 ones) and client hosts;
// - the bootstrap port (in COORDINATOR (ID));
// - the runs of spaces that pad table columns (widths follow the member ids);
// - the order of rows within a table and of tables and messages (they follow the order of groups and
//   partitions in the broker's answers, which Kafka does not specify).
// Exit codes, stdout and stderr (without Java stack frames) are compared for every command. A broker
// under test that does not offer KIP-848 yet (no ConsumerGroupHeartbeat/ConsumerGroupDescribe in
// ApiVersions) is compared on the scenario without the KIP-848 group, and one test fails to say so.
//
// The tools run in one JVM per broker, one after the other, through test/kafka's sluice.kafka.ToolRunner
// (their main(), with Kafka's Exit calls caught), so seventy commands do not start seventy JVMs.
//
//   GROUP_TESTS_BROKER=kafka npx vitest run test/interop/consumer-groups-command.test.ts   (Kafka against Kafka)
//   npx vitest run test/interop/consumer-groups-command.test.ts                           (Sluice against Kafka)
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupTestsBroker, startBroker, type TestBroker } from "../helpers/brokers.js";
import { type GroupDescription, GroupTestClient, MemberProcess, range, waitFor, waitForAssignment, waitForRecords } from "../helpers/groups.js";
import { kafkaClasspath, spawnJavaTool } from "../helpers/kafka.js";
import { probeApiVersions } from "../helpers/sluice.js";
import { type ToolResult, ToolSession } from "../helpers/tool-session.js";

const consumerGroupCommand = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand";
const groupsCommand = "org.apache.kafka.tools.GroupsCommand";

/** 2021-01-01T00:00:00Z: the first five records of each partition of "orders" are this old, a second apart. */
const oldTime = Date.UTC(2021, 0, 1);

/** One step's output, normalised for the comparison, with the raw output for messages. */
interface Step {
  name: string;
  code: number;
  stdout: string[];
  stderr: string[];
  raw: ToolResult;
}

/**
 * Normalises one output: ids and the port replaced, stack frames dropped, column padding collapsed
 * to one space, then blocks (separated by blank lines) with their rows sorted after a header line,
 * and the blocks sorted. Returns the lines of the blocks, a blank line between blocks.
 */
function normalise(text: string, replacements: [string, string][]): string[] {
  let out = text;
  for (const [from, to] of replacements) out = out.split(from).join(to);
  out = out.replace(/\/127\.0\.0\.1\b/g, "<host>");
  const lines = out
    .split("\n")
    .filter((line) => !/^\s+at |^\s*\.\.\. \d+ more$|^Caused by: /.test(line))
    .map((line) => line.replace(/\s+/g, " ").trim());
  const blocks: string[][] = [];
  let block: string[] = [];
  for (const line of lines) {
    if (line === "") {
      if (block.length > 0) blocks.push(block);
      block = [];
    } else block.push(line);
  }
  if (block.length > 0) blocks.push(block);
  const sortedBlocks = blocks.map((b) => (/^(GROUP|TOPIC) /.test(b[0]) ? [b[0], ...b.slice(1).sort()] : [...b].sort()));
  sortedBlocks.sort((a, b) => (a.join("\n") < b.join("\n") ? -1 : a.join("\n") > b.join("\n") ? 1 : 0));
  return sortedBlocks.flatMap((b, i) => (i === 0 ? b : ["", ...b]));
}

/**
 * The scenario, against one broker: every tool command's normalised output, in order. Without
 * `kip848` the KIP-848 group and the commands about it are left out (both runs must agree).
 */
async function runScenario(broker: TestBroker, kip848: boolean): Promise<Step[]> {
  const client = await GroupTestClient.connect(broker.bootstrap);
  const tools = await ToolSession.start();
  const members: MemberProcess[] = [];
  const steps: Step[] = [];
  try {
    const startMember = async (name: string, group: string, topics: string[], commit: "sync" | "manual", properties: Record<string, string | number>) => {
      const args = ["--bootstrap", broker.bootstrap, "--group", group, "--topics", topics.join(","), "--commit", commit, "--property", `client.id=${name}`];
      for (const [key, value] of Object.entries(properties)) args.push("--property", `${key}=${value}`);
      const member = new MemberProcess(name, await spawnJavaTool("sluice.kafka.GroupConsume", args, { quickStart: true, heap: "128m" }));
      members.push(member);
      return member;
    };
    const describeGroup = async (group: string) => {
      const result = await tools.run("sluice.kafka.GroupDescribe", ["--bootstrap", broker.bootstrap, "--groups", group]);
      return JSON.parse(result.stdout)[group] as GroupDescription;
    };
    const classic = { "group.protocol": "classic", "session.timeout.ms": 6_000, "heartbeat.interval.ms": 500 };

    // Topics: orders (3 partitions, 10 records each: five from 2021, five from now), events (2 x 4).
    await client.createTopic("orders", 3);
    await client.createTopic("events", 2);
    const now = Date.now();
    await client.producer.send({
      topic: "orders",
      acks: -1,
      messages: range(3).flatMap((p) =>
        range(10).map((i) => ({ partition: p, key: `o-${p}-${i}`, value: `order ${p}/${i}`, timestamp: String(i < 5 ? oldTime + i * 1_000 : now) })),
      ),
    });
    await client.produceNumbered("events", "event", 8, 2);

    // "idle": a classic group whose member read both topics, committed and left (Empty, with offsets).
    const idle = await startMember("idle-member", "idle", ["orders", "events"], "sync", classic);
    await waitForAssignment(describeGroup, "idle", "orders", 3, [idle]);
    await client.waitForCommitsAtEnd("idle", "orders");
    await client.waitForCommitsAtEnd("idle", "events");
    await idle.stop();

    // "live-classic": a classic group with a member that committed the first ten records of each
    // partition and then read two more it did not commit (LAG 2).
    const liveClassic = await startMember("live-classic-member", "live-classic", ["orders"], "manual", classic);
    await waitForAssignment(describeGroup, "live-classic", "orders", 3, [liveClassic]);
    await waitFor("live-classic-member to read orders", () => liveClassic.records("orders").length === 30);
    liveClassic.send({ cmd: "commit" });
    await client.waitForCommitsAtEnd("live-classic", "orders");
    const more = await client.produce(
      "orders",
      range(6).map((i) => ({ partition: i % 3, value: `late order ${i}` })),
    );
    await waitForRecords(more, "orders", [liveClassic]);

    // "live-848": a KIP-848 group with a member that read and committed everything of events.
    const live848 = kip848 ? await startMember("live-848-member", "live-848", ["events"], "sync", { "group.protocol": "consumer" }) : undefined;
    if (live848) {
      await waitForAssignment(describeGroup, "live-848", "events", 2, [live848]);
      await client.waitForCommitsAtEnd("live-848", "events");
    }

    const replacements: [string, string][] = [
      [broker.bootstrap, "<bootstrap>"],
      ...members.flatMap((m) => {
        const ids = new Set(m.rebalanceEvents().flatMap((e) => (e.memberId ? [e.memberId] : [])));
        return [...ids].map((id): [string, string] => [id, `<member-id of ${m.name}>`]);
      }),
    ];
    const bootstrap = ["--bootstrap-server", broker.bootstrap];
    const step = async (name: string, main: string, args: string[]) => {
      const raw = await tools.run(main, [...bootstrap, ...args]);
      steps.push({ name, code: raw.code, stdout: normalise(raw.stdout, replacements), stderr: normalise(raw.stderr, replacements), raw });
    };
    const cg = (name: string, ...args: string[]) => step(`kafka-consumer-groups.sh ${name}`, consumerGroupCommand, args);
    const groups = (name: string, ...args: string[]) => step(`kafka-groups.sh ${name}`, groupsCommand, args);

    // A group with only commits, no member ever: --reset-offsets on a group that does not exist yet.
    await cg("--reset-offsets (creates the simple group)", "--reset-offsets", "--group", "simple", "--topic", "events", "--to-offset", "1", "--execute");

    await cg("--list", "--list");
    await cg("--list --state", "--list", "--state");
    await cg("--list --state stable", "--list", "--state", "stable");
    await cg("--list --type", "--list", "--type");
    await cg("--list --type consumer", "--list", "--type", "consumer");
    await cg("--list --state --type", "--list", "--state", "--type");
    await groups("--list", "--list");
    await groups("--list --consumer", "--list", "--consumer");
    await groups("--list --group-type consumer", "--list", "--group-type", "consumer");
    await groups("--list --group-type classic", "--list", "--group-type", "classic");
    await groups("--list --protocol consumer", "--list", "--protocol", "consumer");

    for (const group of ["live-classic", ...(kip848 ? ["live-848"] : []), "idle", "simple"]) {
      await cg(`--describe ${group}`, "--describe", "--group", group);
      await cg(`--describe ${group} --offsets --verbose`, "--describe", "--group", group, "--offsets", "--verbose");
      await cg(`--describe ${group} --members`, "--describe", "--group", group, "--members");
      await cg(`--describe ${group} --members --verbose`, "--describe", "--group", group, "--members", "--verbose");
      await cg(`--describe ${group} --state`, "--describe", "--group", group, "--state");
      await cg(`--describe ${group} --state --verbose`, "--describe", "--group", group, "--state", "--verbose");
    }
    await cg("--describe --all-groups --state", "--describe", "--all-groups", "--state");
    await cg("--describe --all-groups (offsets)", "--describe", "--all-groups");
    await cg("--describe an unknown group", "--describe", "--group", "no-such-group");

    // --reset-offsets: refused for a group with members; step by step on the idle one.
    await cg("--reset-offsets an active group", "--reset-offsets", "--group", "live-classic", "--all-topics", "--to-earliest", "--execute");
    const reset = (name: string, ...args: string[]) => cg(`--reset-offsets ${name}`, "--reset-offsets", "--group", "idle", ...args);
    await reset("--to-earliest --dry-run", "--topic", "orders", "--to-earliest", "--dry-run");
    await reset("--to-earliest --all-topics --execute", "--all-topics", "--to-earliest", "--execute");
    await cg("--describe idle after --to-earliest", "--describe", "--group", "idle", "--offsets");
    await reset("--shift-by 3 --execute", "--topic", "orders", "--shift-by", "3", "--execute");
    await reset("--shift-by -5 --execute (below the start)", "--topic", "orders", "--shift-by", "-5", "--execute");
    await reset("--to-offset 7 on partitions 0,2 --execute", "--topic", "orders:0,2", "--to-offset", "7", "--execute");
    await reset("--to-offset 100 --dry-run (past the end)", "--topic", "events", "--to-offset", "100", "--dry-run");
    await reset("--to-datetime --dry-run", "--topic", "orders", "--to-datetime", "2021-01-01T00:00:02.500Z", "--dry-run");
    await reset("--to-datetime --execute", "--topic", "orders", "--to-datetime", "2021-01-01T00:00:02.500Z", "--execute");
    await reset("--to-datetime in the future --dry-run", "--topic", "orders", "--to-datetime", "2099-01-01T00:00:00.000Z", "--dry-run");
    await reset("--by-duration P1D --dry-run", "--topic", "orders", "--by-duration", "P1D", "--dry-run");
    await reset("--to-current --dry-run", "--all-topics", "--to-current", "--dry-run");
    await reset("--to-offset 4 --export --dry-run", "--topic", "orders", "--to-offset", "4", "--export", "--dry-run");
    await reset("--to-latest --topic orders:1 --execute", "--topic", "orders:1", "--to-latest", "--execute");
    await reset("without --dry-run or --execute", "--topic", "events", "--to-earliest");
    await cg("--describe idle after the resets", "--describe", "--group", "idle", "--offsets");

    // --delete-offsets: of a topic the group does not subscribe to any more; refused for the live groups' topics.
    await cg("--delete-offsets idle events", "--delete-offsets", "--group", "idle", "--topic", "events");
    await cg("--delete-offsets live-classic orders (subscribed)", "--delete-offsets", "--group", "live-classic", "--topic", "orders");
    if (kip848) await cg("--delete-offsets live-848 events (subscribed)", "--delete-offsets", "--group", "live-848", "--topic", "events");
    await cg("--delete-offsets an unknown group", "--delete-offsets", "--group", "no-such-group", "--topic", "events");
    await cg("--describe idle after --delete-offsets", "--describe", "--group", "idle", "--offsets");

    // --delete: refused for groups with members and unknown groups; done for empty ones.
    await cg("--delete live-classic (has a member)", "--delete", "--group", "live-classic");
    if (kip848) await cg("--delete live-848 (has a member)", "--delete", "--group", "live-848");
    await cg("--delete an unknown group", "--delete", "--group", "no-such-group");
    await cg("--delete idle and simple", "--delete", "--group", "idle", "--group", "simple");
    await cg("--list --state after --delete", "--list", "--state");
    await groups("--list after --delete", "--list");

    // When the members leave, the live groups are Empty and can go too.
    await liveClassic.stop();
    await live848?.stop();
    const liveGroups = ["live-classic", ...(kip848 ? ["live-848"] : [])];
    await waitFor("the live groups to be Empty", async () => {
      for (const group of liveGroups) if ((await describeGroup(group)).state !== "EMPTY") return false;
      return true;
    });
    await cg("--list --state with the members gone", "--list", "--state");
    await cg("--describe live-classic with its member gone", "--describe", "--group", "live-classic");
    await cg("--delete the live groups", "--delete", ...liveGroups.flatMap((group) => ["--group", group]));
    await cg("--list at the end", "--list");
    return steps;
  } finally {
    for (const member of members) await member.kill();
    tools.close();
    await client.close();
  }
}

describe(`kafka-consumer-groups.sh and kafka-groups.sh: ${groupTestsBroker} prints what Kafka 4.4.0 prints`, () => {
  let expected: Step[] = [];
  let actual: Step[] = [];
  let subject: TestBroker | undefined;
  /** Whether the broker under test offers KIP-848 (ConsumerGroupHeartbeat and ConsumerGroupDescribe). */
  let kip848 = true;

  beforeAll(async () => {
    await kafkaClasspath();
    subject = await startBroker();
    const { apis } = await probeApiVersions("127.0.0.1", subject.port);
    kip848 = [68, 69].every((key) => apis.some((api) => api.apiKey === key));
    const reference = await startBroker({ kind: "kafka" });
    try {
      expected = await runScenario(reference, kip848);
    } finally {
      await reference.close();
    }
  }, 240_000);

  /** GROUP_TESTS_DUMP=<dir>: a run's outputs as text files, raw and normalised, for a diff. */
  async function dump(label: string, steps: Step[]): Promise<void> {
    const dir = process.env.GROUP_TESTS_DUMP;
    if (!dir) return;
    await mkdir(dir, { recursive: true });
    const text = (raw: boolean) =>
      steps
        .map((s) =>
          raw
            ? `### ${s.name}\n(exit ${s.code})\n--- stdout\n${s.raw.stdout}\n--- stderr\n${s.raw.stderr}\n`
            : `### ${s.name}\n(exit ${s.code})\n--- stdout\n${s.stdout.join("\n")}\n--- stderr\n${s.stderr.join("\n")}\n`,
        )
        .join("\n");
    await writeFile(join(dir, `${label}.txt`), text(false));
    await writeFile(join(dir, `${label}.raw.txt`), text(true));
  }

  afterAll(async () => {
    await subject?.close();
  });

  it("Kafka's own output is what the scenario means (the reference is not a list of errors)", () => {
    const byName = new Map(expected.map((s) => [s.name, s]));
    const get = (name: string) => {
      const found = byName.get(`kafka-consumer-groups.sh ${name}`) ?? byName.get(`kafka-groups.sh ${name}`);
      if (!found) throw new Error(`no step ${name}`);
      return found;
    };
    expect(get("--list").stdout).toEqual(["idle", ...(kip848 ? ["live-848"] : []), "live-classic", "simple"]);
    expect(get("--list --state").stdout).toEqual(["GROUP STATE", "idle Empty", ...(kip848 ? ["live-848 Stable"] : []), "live-classic Stable", "simple Empty"]);
    expect(get("--describe live-classic").stdout).toEqual([
      "GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID",
      "live-classic orders 0 10 12 2 <member-id of live-classic-member> <host> live-classic-member",
      "live-classic orders 1 10 12 2 <member-id of live-classic-member> <host> live-classic-member",
      "live-classic orders 2 10 12 2 <member-id of live-classic-member> <host> live-classic-member",
    ]);
    expect(get("--reset-offsets --to-datetime --dry-run").stdout).toEqual(["GROUP TOPIC PARTITION NEW-OFFSET", ...range(3).map((p) => `idle orders ${p} 3`)]);
    expect(get("--reset-offsets --by-duration P1D --dry-run").stdout).toEqual([
      "GROUP TOPIC PARTITION NEW-OFFSET",
      ...range(3).map((p) => `idle orders ${p} 5`),
    ]);
    expect(get("--reset-offsets an active group").stdout.join("\n")).toMatch(/inactive/);
    expect(get("--delete idle and simple").stdout.join("\n")).toMatch(/successful/);
    expect(get("--list at the end").stdout).toEqual([]);
    // Every step ran to an answer; none died with an exception escaping the tool.
    for (const step of expected) expect(step.raw.stderr, step.name).not.toMatch(/ToolRunner\$ExitCalled|NoSuchMethodException|ClassNotFoundException/);
  });

  it("the broker under test offers KIP-848 (ConsumerGroupHeartbeat, ConsumerGroupDescribe), so the scenario includes a consumer-protocol group", () => {
    // Without them the comparison below still runs, without the KIP-848 group; this test says so.
    expect(kip848).toBe(true);
  });

  it("the broker under test makes every command print the same (normalised), with the same exit code", async () => {
    await dump("kafka", expected);
    if (!subject) throw new Error("no broker under test");
    actual = await runScenario(subject, kip848);
    await dump(`${groupTestsBroker}-under-test`, actual);
    expect(actual.map((s) => s.name)).toEqual(expected.map((s) => s.name));
    for (const [i, step] of actual.entries()) {
      const want = expected[i];
      expect(
        { step: step.name, code: step.code, stdout: step.stdout, stderr: step.stderr },
        `${step.name}\nraw stdout:\n${step.raw.stdout}\nraw stderr:\n${step.raw.stderr}`,
      ).toEqual({
        step: want.name,
        code: want.code,
        stdout: want.stdout,
        stderr: want.stderr,
      });
    }
  }, 240_000);
});
