// The client's partitioning and assignment, against Kafka's own numbers: murmur2 on the vectors of
// Kafka's UtilsTest (the hash behind the Java producer's default partitioner for keyed records),
// and the RangeAssignor's split of partitions among members sorted by member id.
import { describe, expect, it } from "vitest";
import { rangeAssign } from "../../src/client/group-member.js";
import { murmur2, partitionForKey } from "../../src/client/partitioner.js";

describe("murmur2 as Kafka's Utils.murmur2", () => {
  it("gives Kafka's UtilsTest values, tails of 0 to 3 bytes included", () => {
    const cases: [string, number][] = [
      ["21", -973932308],
      ["foobar", -790332482],
      ["a-little-bit-long-string", -985981536],
      ["a-little-bit-longer-string", -1486304829],
      ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
      ["abc", 479470107],
    ];
    for (const [text, hash] of cases) expect(murmur2(Buffer.from(text)), text).toBe(hash);
  });

  it("partitions by the positive hash modulo the partition count", () => {
    // toPositive(-973932308) = 1173551340
    expect(partitionForKey(Buffer.from("21"), 7)).toBe(1173551340 % 7);
    expect(partitionForKey(Buffer.from("abc"), 3)).toBe(479470107 % 3);
  });
});

describe("rangeAssign as Kafka's RangeAssignor", () => {
  it("gives the first members one more partition when the count does not divide", () => {
    const assigned = rangeAssign(
      new Map([
        ["c", ["t"]],
        ["a", ["t", "u"]],
        ["b", ["t"]],
      ]),
      new Map([
        ["t", 7],
        ["u", 2],
      ]),
    );
    const partitions = (member: string, topic: string) =>
      assigned
        .get(member)
        ?.filter((tp) => tp.topic === topic)
        .map((tp) => tp.partition);
    expect(partitions("a", "t")).toEqual([0, 1, 2]);
    expect(partitions("b", "t")).toEqual([3, 4]);
    expect(partitions("c", "t")).toEqual([5, 6]);
    expect(partitions("a", "u")).toEqual([0, 1]);
  });

  it("leaves members beyond the partition count without partitions", () => {
    const assigned = rangeAssign(new Map(["m1", "m2", "m3"].map((m) => [m, ["t"]])), new Map([["t", 2]]));
    expect([...assigned.values()].map((list) => list.length)).toEqual([1, 1, 0]);
  });
});
