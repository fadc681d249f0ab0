// The native error contract: every code the binding throws is a LogError code, reaches JS in the
// error's `code` property (no message parsing), and maps to a deliberate Kafka error.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { logErrorToKafka } from "../../src/handlers/common.js";
import { PartitionLog } from "../../src/log/partition-log.js";
import { asLogError, LogError, LogResources, logErrorCodes, nativeErrorCodes } from "../../src/native.js";
import { ErrorCode, errorByCode } from "../../src/protocol/errors.js";

describe("native log errors", () => {
  it("the binding throws exactly the codes the TypeScript knows", () => {
    expect([...nativeErrorCodes()].sort()).toEqual([...logErrorCodes].sort());
  });

  it("every code maps to a Kafka error, and only broker bugs to UNKNOWN_SERVER_ERROR", () => {
    for (const code of logErrorCodes) {
      const kafka = logErrorToKafka[code];
      expect(errorByCode(kafka), code).toBeDefined();
    }
    const unknown = logErrorCodes.filter((code) => logErrorToKafka[code] === ErrorCode.UNKNOWN_SERVER_ERROR);
    expect(unknown.sort()).toEqual(["INVALID_ARGUMENT", "UNEXPECTED_APPEND_OFFSET"]);
  });

  it("errors from synchronous calls and from promises carry their code, not a message prefix", async () => {
    const directory = await mkdtemp(join(tmpdir(), "sluice-log-errors-"));
    try {
      const log = await PartitionLog.open(join(directory, "t-0"), { topic: "t", partition: 0, resources: new LogResources() });
      let thrown: unknown;
      try {
        log.read(5n, 100);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(LogError);
      expect(thrown).toMatchObject({ code: "OFFSET_OUT_OF_RANGE", message: "offset 5 is out of range [0, 0]" });
      // The raw napi error already has the code: asLogError only reads it.
      expect((thrown as LogError).cause).toMatchObject({ code: "OFFSET_OUT_OF_RANGE" });
      await expect(log.incrementLogStartOffset(3n, 0n)).rejects.toMatchObject({ code: "LOG_START_OFFSET_ABOVE_HIGH_WATERMARK" });
      await log.close();
      await expect(log.flush()).rejects.toMatchObject({ code: "LOG_CLOSED" });
      expect(() => log.append(Buffer.alloc(0), { nowMs: Date.now() })).toThrow(expect.objectContaining({ code: "LOG_CLOSED" }));
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it("an error whose message merely starts with a code is not taken for a LogError", () => {
    const impostor = new Error("OFFSET_OUT_OF_RANGE: but thrown by something else");
    expect(asLogError(impostor)).toBe(impostor);
  });
});
