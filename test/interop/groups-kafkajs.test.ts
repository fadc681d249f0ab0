// kafkajs consumers in consumer groups (the classic protocol: FindCoordinator, JoinGroup, SyncGroup,
// Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups), against the broker
// $GROUP_TESTS_BROKER picks (test/helpers/brokers.ts; Sluice by default, `kafka` for Apache Kafka
// 4.4.0, which these tests are checked against):
//
// - three members join a group on a 6-partition topic, then one leaves and another joins: after
//   each change the group is Stable with every partition assigned to exactly one live member (as
//   DescribeGroups and each member's own JoinGroup/SyncGroup result say), and every record produced
//   in a phase is consumed exactly once, by the member that owned its partition in that phase;
// - commit and resume: a member that stops after its commits are in is replaced by a new one, which
//   reads only what was produced after (none of the records already committed); manual commits at
//   chosen offsets are where a new member resumes, and a partition without a commit follows
//   auto.offset.reset (latest).
//
//   GROUP_TESTS_BROKER=kafka npx vitest run test/interop/groups-kafkajs.test.ts
import { type Admin, AssignerProtocol, type Consumer, type Kafka } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupTestsBroker, startBroker, type TestBroker } from "../helpers/brokers.js";
import { byPosition, GroupTestClient, type ProducedRecord, range, showBrokerOutputOnFailure, waitFor } from "../helpers/groups.js";

interface Received {
  partition: number;
  offset: number;
  value: string;
}

interface Member {
  name: string;
  consumer: Consumer;
  received: Received[];
  /** From the member's last GROUP_JOIN event (its JoinGroup + SyncGroup): partitions of the topic. */
  assignment: number[];
  memberId: string | null;
  joins: number;
}

const sessionTimeout = 6_000; // group.min.session.timeout.ms, Kafka's and Sluice's default
const rebalanceTimeout = 15_000;
const heartbeatInterval = 500;

describe(`kafkajs consumer groups against ${groupTestsBroker}`, () => {
  let broker: TestBroker;
  let client: GroupTestClient;
  let kafka: Kafka;
  let admin: Admin;
  const members: Member[] = [];

  beforeAll(async () => {
    broker = await startBroker();
    client = await GroupTestClient.connect(broker.bootstrap);
    kafka = client.kafka;
    admin = client.admin;
  });

  showBrokerOutputOnFailure(() => broker);

  afterAll(async () => {
    for (const member of members) await member.consumer.disconnect().catch(() => {});
    await client?.close();
    await broker?.close();
  });

  const produce = (topic: string, records: { partition: number; value: string }[]) => client.produce(topic, records);
  const waitForCommitsAtEnd = (groupId: string, topic: string) => client.waitForCommitsAtEnd(groupId, topic);

  async function startMember(name: string, groupId: string, topic: string, options: { autoCommit?: boolean; fromBeginning?: boolean } = {}): Promise<Member> {
    const consumer = kafka.consumer({ groupId, sessionTimeout, rebalanceTimeout, heartbeatInterval, maxWaitTimeInMs: 100, allowAutoTopicCreation: false });
    const member: Member = { name, consumer, received: [], assignment: [], memberId: null, joins: 0 };
    members.push(member);
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      member.assignment = [...(event.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b);
      member.memberId = event.payload.memberId;
      member.joins++;
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: options.fromBeginning ?? true });
    await consumer.run({
      autoCommit: options.autoCommit ?? true,
      autoCommitThreshold: 1,
      eachMessage: async ({ partition, message }) => {
        member.received.push({ partition, offset: Number(message.offset), value: message.value?.toString() ?? "" });
      },
    });
    return member;
  }

  async function stopMember(member: Member): Promise<void> {
    await member.consumer.disconnect();
    members.splice(members.indexOf(member), 1);
  }

  /** The group's description once it is Stable with exactly these members, each holding what the broker says it holds. */
  async function waitForStableGroup(groupId: string, topic: string, live: Member[]) {
    return waitFor(`group ${groupId} Stable with ${live.map((m) => m.name).join(", ")}`, async () => {
      const { groups } = await admin.describeGroups([groupId]);
      const group = groups[0];
      if (group.state !== "Stable" || group.members.length !== live.length) return false;
      const assigned = new Map(
        group.members.map((m) => {
          const assignment = AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
          return [m.memberId, [...(assignment?.assignment[topic] ?? [])].sort((a, b) => a - b)];
        }),
      );
      for (const member of live) {
        const fromBroker = member.memberId === null ? undefined : assigned.get(member.memberId);
        if (!fromBroker || fromBroker.join() !== member.assignment.join()) return false;
      }
      return group;
    });
  }

  it("three members share the partitions; as one leaves and another joins, every record is consumed exactly once, by its partition's owner", async () => {
    const topic = "kjs-rebalance";
    const groupId = "kjs-rebalance-group";
    const partitions = 6;
    await client.createTopic(topic, partitions);

    /** Which member received what, per phase, with the owners of that phase. */
    const phases: { produced: ProducedRecord[]; owners: Map<number, Member>; live: Member[] }[] = [];
    let sequence = 0;
    const phase = async (live: Member[]) => {
      const group = await waitForStableGroup(groupId, topic, live);
      expect(group.protocolType).toBe("consumer");
      expect(group.protocol).toBe("RoundRobinAssigner");
      // Every partition is owned by exactly one live member, and the shares are balanced.
      const owners = new Map<number, Member>();
      for (const member of live) {
        for (const partition of member.assignment) {
          expect(owners.has(partition), `partition ${partition} assigned twice`).toBe(false);
          owners.set(partition, member);
        }
      }
      expect([...owners.keys()].sort((a, b) => a - b)).toEqual(range(partitions));
      const shares = live.map((m) => m.assignment.length);
      expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
      const produced = await produce(
        topic,
        range(30).map((i) => ({ partition: i % partitions, value: `seq-${sequence++}` })),
      );
      phases.push({ produced, owners, live: [...live] });
      await waitFor(`the ${produced.length} records of phase ${phases.length}`, () =>
        produced.every((record) => owners.get(record.partition)!.received.some((r) => r.partition === record.partition && r.offset === record.offset)),
      );
      await waitForCommitsAtEnd(groupId, topic);
    };

    const a = await startMember("a", groupId, topic);
    const b = await startMember("b", groupId, topic);
    const c = await startMember("c", groupId, topic);
    await phase([a, b, c]);
    expect(a.assignment.length).toBe(2);

    await stopMember(b); // LeaveGroup: a and c rebalance at once, not after the session timeout
    await phase([a, c]);
    expect(a.assignment.length).toBe(3);

    const d = await startMember("d", groupId, topic);
    await phase([a, c, d]);

    // Exactly once across members: each produced record was received once, by the owner of its
    // partition in the phase it was produced in, and nothing else was received.
    const all = [a, b, c, d].flatMap((member) => member.received.map((r) => ({ ...r, member: member.name })));
    const expected = phases.flatMap(({ produced, owners }) => produced.map((r) => ({ ...r, member: owners.get(r.partition)!.name })));
    expect(all.sort(byPosition)).toEqual(expected.sort(byPosition));
    expect(new Set(all.map((r) => r.value)).size).toBe(90);

    // The committed offsets are the end offsets: 15 records in each partition.
    expect(await client.committed(groupId, topic)).toEqual(range(partitions).map((p) => [p, 15]));

    // b, which left through disconnect(), is gone from the group; the others remain.
    const { groups } = await admin.describeGroups([groupId]);
    expect(groups[0].members.map((m) => m.memberId).sort()).toEqual([a.memberId, c.memberId, d.memberId].sort());
    for (const member of [a, c, d]) await stopMember(member);
    const empty = await waitFor("the group to be Empty", async () => {
      const group = (await admin.describeGroups([groupId])).groups[0];
      return group.state === "Empty" ? group : false;
    });
    expect(empty).toMatchObject({ groupId, state: "Empty", protocolType: "consumer", members: [] });
    // An Empty group keeps its offsets.
    expect(await client.committed(groupId, topic)).toEqual(range(partitions).map((p) => [p, 15]));
    const listed = await admin.listGroups();
    expect(listed.groups).toContainEqual({ groupId, protocolType: "consumer" });
  });

  it("a restarted group member resumes from the committed offsets: nothing already committed is read again", async () => {
    const topic = "kjs-resume";
    const groupId = "kjs-resume-group";
    await client.createTopic(topic, 3);
    const first = await produce(
      topic,
      range(30).map((i) => ({ partition: i % 3, value: `first-${i}` })),
    );

    // No commits yet: OffsetFetch answers -1 for every partition.
    expect(await client.committed(groupId, topic)).toEqual([
      [0, -1],
      [1, -1],
      [2, -1],
    ]);

    const one = await startMember("one", groupId, topic);
    await waitFor("the first 30 records", () => one.received.length >= first.length);
    await waitForCommitsAtEnd(groupId, topic);
    await stopMember(one);
    expect([...one.received].sort(byPosition)).toEqual([...first].sort(byPosition));

    const second = await produce(
      topic,
      range(30).map((i) => ({ partition: i % 3, value: `second-${i}` })),
    );
    // fromBeginning would start at offset 0 if there were no commits: the commits win.
    const two = await startMember("two", groupId, topic, { fromBeginning: true });
    await waitFor("the second 30 records", () => second.every((r) => two.received.some((got) => got.partition === r.partition && got.offset === r.offset)));
    await waitForCommitsAtEnd(groupId, topic);
    await stopMember(two);
    // Each partition is read in order, so a re-read of a committed record would have come first.
    expect([...two.received].sort(byPosition)).toEqual([...second].sort(byPosition));
    expect(await client.committed(groupId, topic)).toEqual([
      [0, 20],
      [1, 20],
      [2, 20],
    ]);
  });

  it("manual commits at chosen offsets are where the next member starts; an uncommitted partition follows auto.offset.reset=latest", async () => {
    const topic = "kjs-manual";
    const groupId = "kjs-manual-group";
    await client.createTopic(topic, 3);
    const produced = await produce(
      topic,
      range(30).map((i) => ({ partition: i % 3, value: `manual-${i}` })),
    );

    const reader = await startMember("reader", groupId, topic, { autoCommit: false });
    await waitFor("all 30 records", () => reader.received.length >= produced.length);
    // Commit: partition 0 fully read (10), partition 1 up to offset 4; partition 2 not at all.
    await reader.consumer.commitOffsets([
      { topic, partition: 0, offset: "10" },
      { topic, partition: 1, offset: "4" },
    ]);
    await stopMember(reader); // no auto-commit on the way out
    expect(await client.committed(groupId, topic)).toEqual([
      [0, 10],
      [1, 4],
      [2, -1],
    ]);

    const resumer = await startMember("resumer", groupId, topic, { fromBeginning: false });
    await waitForStableGroup(groupId, topic, [resumer]);
    expect(resumer.assignment).toEqual([0, 1, 2]);
    // Partition 1 resumes at offset 4: its 6 remaining records. Partition 2 starts at its end
    // (latest), so it sees only what is produced after the member's first fetch (which placed every
    // assigned partition); partition 0 has nothing new.
    const resumed = produced.filter((r) => r.partition === 1 && r.offset >= 4);
    await waitFor("partition 1 from offset 4", () => resumed.every((r) => resumer.received.some((got) => got.partition === 1 && got.offset === r.offset)));
    const later = await produce(topic, [
      { partition: 0, value: "later-0" },
      { partition: 2, value: "later-2a" },
      { partition: 2, value: "later-2b" },
    ]);
    const expected = [...resumed, ...later].sort(byPosition);
    await waitFor("the resumed records", () => expected.every((r) => resumer.received.some((got) => got.partition === r.partition && got.offset === r.offset)));
    await waitForCommitsAtEnd(groupId, topic);
    await stopMember(resumer);
    expect([...resumer.received].sort(byPosition)).toEqual(expected);
    expect(await client.committed(groupId, topic)).toEqual([
      [0, 11],
      [1, 10],
      [2, 12],
    ]);
  });
});
