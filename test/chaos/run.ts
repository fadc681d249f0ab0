// `npm run test:chaos:full`: the chaos test (chaos.ts) for CHAOS_DURATION_S seconds of faults
// (600 by default) with CHAOS_SEED (random by default; printed, so a run can be replayed), printing
// the timeline as it goes and the report at the end. Exits 1 if a check failed. Needs root, etcd,
// iproute2 and iptables (docs/chaos.md) and `npm run build:ts` first.
// CHAOS_BROKERS (3), CHAOS_PARTITIONS (6), CHAOS_FAULTS (e.g. "kill,isolate"), CHAOS_NETNS=0 (kill
// only, no namespaces), CHAOS_ETCD=0 (single-node brokers) and CHAOS_KEEP=1 (keep the work dir)
// narrow it down; CHAOS_KIND=kafka runs Apache Kafka 4.4.0 brokers instead, to check the harness
// against a reference.
import { staleBuildWarning } from "../helpers/sluice.js";
import { chaosSkipReason, type FaultKind, formatChaosResult, runChaos } from "./chaos.js";

function numberFromEnv(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) {
    console.error(`${name} must be a non-negative number, not ${text}`);
    process.exit(2);
  }
  return value;
}

const durationS = numberFromEnv("CHAOS_DURATION_S", 600);
const seed = numberFromEnv("CHAOS_SEED", Math.floor(Math.random() * 2 ** 31));
const netns = process.env.CHAOS_NETNS !== "0";
const kind = process.env.CHAOS_KIND === "kafka" ? "kafka" : "sluice";
const etcd = kind === "sluice" && process.env.CHAOS_ETCD !== "0";
const faults = process.env.CHAOS_FAULTS ? (process.env.CHAOS_FAULTS.split(",") as FaultKind[]) : undefined;

const stale = staleBuildWarning();
if (stale) console.warn(`warning: ${stale}`);
const unavailable = await chaosSkipReason({ netns, etcd });
if (unavailable) {
  console.error(`the chaos test cannot run here: ${unavailable}`);
  process.exit(2);
}
console.log(`chaos: ${durationS} s of faults, seed ${seed} (CHAOS_SEED=${seed} replays the schedule)`);
const result = await runChaos({
  durationS,
  seed,
  netns,
  etcd,
  kind,
  faults,
  brokers: numberFromEnv("CHAOS_BROKERS", 3),
  partitions: numberFromEnv("CHAOS_PARTITIONS", 6),
  keepWorkDir: process.env.CHAOS_KEEP === "1",
  log: (line) => console.log(line),
});
console.log(formatChaosResult(result));
process.exit(result.ok ? 0 : 1);
