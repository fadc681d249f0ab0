// test/kafka's sluice.kafka.WordCount as the Streams suites see it: the events it prints (one JSON
// object a line), the state and tasks they tell, and the input lines and word counts to check its
// output against.

import { type MemberProcess, range } from "./groups.js";

/** What sluice.kafka.WordCount prints, a JSON object a line. */
export type StreamsEvent =
  | { event: "started"; topology: string; groupProtocol: string; processingGuarantee: string }
  | { event: "state"; from: string; to: string }
  | { event: "tasks"; active: string[]; standby: string[] }
  | { event: "error"; error: string }
  | { event: "closed"; clean: boolean };

export const streamsEvents = (instance: MemberProcess) => instance.events as unknown as StreamsEvent[];

/** The instance's last KafkaStreams state (RUNNING, REBALANCING, …). */
export const streamsState = (instance: MemberProcess) =>
  streamsEvents(instance)
    .flatMap((e) => (e.event === "state" ? [e.to] : []))
    .at(-1);

/** The active tasks ("0_1", …) the instance last reported. */
export const streamsTasks = (instance: MemberProcess) =>
  streamsEvents(instance)
    .flatMap((e) => (e.event === "tasks" ? [e.active] : []))
    .at(-1) ?? [];

export const streamsErrors = (instance: MemberProcess) => streamsEvents(instance).flatMap((e) => (e.event === "error" ? [e.error] : []));

/** Words of a line, as sluice.kafka.WordCount splits them. */
export const wordsOf = (line: string) => line.toLowerCase().split(/\W+/).filter(Boolean);

export function countWords(lines: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of lines) for (const word of wordsOf(line)) counts.set(word, (counts.get(word) ?? 0) + 1);
  return counts;
}

const vocabulary = ["alpha", "Beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda"];

/** `count` lines of 1-5 words of the vocabulary (deterministic), each starting with its own word so it is unique. */
export const makeLines = (prefix: string, count: number) =>
  range(count).map((i) => [`${prefix}${i}`, ...range(1 + (i % 5)).map((j) => vocabulary[(i * 7 + j * 3) % vocabulary.length])].join(" "));
