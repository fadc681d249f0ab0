// The soak test's short form (test/soak/soak.ts), part of `npm test`: SOAK_SECONDS of load (40 by
// default) against bin/sluice with every kind of background work made frequent — retention checks
// every 100 ms, rolls by size and time, flushes, retention by size and time, DeleteRecords, config
// changes, topics created and deleted — with producers (acks=0, acks=1, acks=all, idempotent) and
// consumers at full speed. The long form is `npm run soak` (test/soak/run.ts).
import { rm } from "node:fs/promises";
import { afterAll, describe, expect, it } from "vitest";
import type { SluiceBroker } from "../helpers/sluice.js";
import { formatSummary, runSoak, soakChecks } from "./soak.js";

const seconds = Number(process.env.SOAK_SECONDS ?? 40);

describe(`soak: ${seconds} s of producers, consumers and background work against bin/sluice`, () => {
  let broker: SluiceBroker | undefined;

  afterAll(async () => {
    if (!broker) return;
    const code = await broker.stop();
    await rm(broker.workDir, { recursive: true, force: true });
    expect(code).toBe(0);
  });

  it(
    "clients see no error Kafka would not give, and every acknowledged record is read back once, in order, at its offset (unless retention or DeleteRecords removed it first)",
    async () => {
      const result = await runSoak({ durationMs: seconds * 1000, log: (line) => console.log(line) });
      broker = result.broker;
      console.log(formatSummary(result));
      const failed = soakChecks(result).filter((check) => !check.ok);
      expect(failed.map(({ check, detail }) => `${check}: ${detail}`)).toEqual([]);
    },
    (seconds + 180) * 1000,
  );
});
