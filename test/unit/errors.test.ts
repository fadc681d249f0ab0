import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ErrorCode, errorByCode, errorByName, KAFKA_ERRORS, KafkaError, toKafkaError } from "../../src/protocol/errors.js";

const kafkaTablePath = fileURLToPath(new URL("../vectors/out/errors.json", import.meta.url));

interface KafkaTableEntry {
  code: number;
  name: string;
  message: string | null;
  retriable: boolean;
}

describe("error table", () => {
  it("has unique codes and unique names", () => {
    const codes = KAFKA_ERRORS.map((error) => error.code);
    const names = KAFKA_ERRORS.map((error) => error.name);
    expect(new Set(codes).size).toBe(codes.length);
    expect(new Set(names).size).toBe(names.length);
  });

  it("covers every code from -1 to 136 (Kafka 4.4.0's highest) without gaps", () => {
    const codes = KAFKA_ERRORS.map((error) => error.code);
    expect(codes).toEqual(Array.from({ length: 138 }, (_, index) => index - 1));
  });

  it.each([
    ["UNKNOWN_SERVER_ERROR", -1, false],
    ["NONE", 0, false],
    ["CORRUPT_MESSAGE", 2, true],
    ["UNKNOWN_TOPIC_OR_PARTITION", 3, true],
    ["NOT_LEADER_OR_FOLLOWER", 6, true],
    ["MESSAGE_TOO_LARGE", 10, false],
    ["NOT_ENOUGH_REPLICAS", 19, true],
    ["REBALANCE_IN_PROGRESS", 27, false],
    ["UNSUPPORTED_VERSION", 35, false],
    ["KAFKA_STORAGE_ERROR", 56, true],
    ["SHARE_SESSION_LIMIT_REACHED", 133, true],
    ["CONTROLLER_ID_NOT_REGISTERED", 136, false],
  ] as const)("%s is code %i, retriable %s", (name, code, retriable) => {
    expect(ErrorCode[name]).toBe(code);
    expect(errorByName(name)).toMatchObject({ code, name, retriable });
    expect(errorByCode(code)?.name).toBe(name);
  });

  it("answers undefined for codes and names it does not know", () => {
    expect(errorByCode(137)).toBeUndefined();
    expect(errorByCode(-2)).toBeUndefined();
    expect(errorByName("NOT_AN_ERROR")).toBeUndefined();
  });

  it("ErrorCode has one entry per error and cannot be changed", () => {
    expect(Object.keys(ErrorCode)).toHaveLength(KAFKA_ERRORS.length);
    expect(Object.isFrozen(ErrorCode)).toBe(true);
  });

  it("equals Kafka's own table (test/vectors/out/errors.json)", () => {
    if (!existsSync(kafkaTablePath)) {
      expect.fail(`${kafkaTablePath} is missing: run \`node scripts/vectors.mjs\` to write Kafka's error table from kafka-clients`);
    }
    const kafka = JSON.parse(readFileSync(kafkaTablePath, "utf8")) as KafkaTableEntry[];
    const ours = KAFKA_ERRORS.map(({ code, name, message, retriable }) => ({
      code,
      name,
      message,
      retriable,
    }));
    // Errors.message() is the name for NONE (it has no exception); a writer
    // may print that as null instead. Every other message must match.
    const theirs = kafka
      .map(({ code, name, message, retriable }) => ({
        code,
        name,
        message: message === null && name === "NONE" ? "NONE" : message,
        retriable,
      }))
      .sort((a, b) => a.code - b.code);
    expect(ours).toEqual(theirs);
  });
});

describe("KafkaError", () => {
  it("carries the code, name and retriable flag, with Kafka's message by default", () => {
    const error = new KafkaError("UNKNOWN_TOPIC_OR_PARTITION");
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe(3);
    expect(error.errorName).toBe("UNKNOWN_TOPIC_OR_PARTITION");
    expect(error.retriable).toBe(true);
    expect(error.message).toBe("This server does not host this topic-partition.");
  });

  it("can be made from a code and keeps a given message", () => {
    const error = new KafkaError(ErrorCode.MESSAGE_TOO_LARGE, "batch of 2000000 bytes");
    expect(error.errorName).toBe("MESSAGE_TOO_LARGE");
    expect(error.retriable).toBe(false);
    expect(error.message).toBe("batch of 2000000 bytes");
  });

  it("refuses a name or code outside the table, even through a cast", () => {
    expect(() => new KafkaError("NOPE" as "NONE")).toThrow(TypeError);
    expect(() => new KafkaError(999 as 0)).toThrow(TypeError);
  });
});

describe("toKafkaError", () => {
  const defaultMessage = "The server experienced an unexpected error when processing the request.";

  it("passes a KafkaError through unchanged", () => {
    const error = new KafkaError("NOT_CONTROLLER", "controller is broker 2");
    expect(toKafkaError(error)).toBe(error);
  });

  it.each([
    ["an Error", new Error("ENOENT: /var/lib/sluice/secret")],
    ["a string", "internal state dump"],
    ["undefined", undefined],
    ["an UNKNOWN_SERVER_ERROR with a custom message", new KafkaError("UNKNOWN_SERVER_ERROR", "lock held by thread 7")],
  ])("turns %s into UNKNOWN_SERVER_ERROR with Kafka's message only", (_, thrown) => {
    const error = toKafkaError(thrown);
    expect(error.code).toBe(ErrorCode.UNKNOWN_SERVER_ERROR);
    expect(error.message).toBe(defaultMessage);
    expect(error.cause).toBe(thrown);
  });
});
