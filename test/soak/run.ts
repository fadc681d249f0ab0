// `npm run soak`: the soak test (test/soak/soak.ts) by hand, for SOAK_SECONDS (300 by default),
// printing progress every 10 s, then the summary and each check. Exits 1 if a check failed.
// SOAK_PARTS narrows it down to some of its parts (see SoakOptions.parts); SOAK_KEEP_DATA=1 keeps
// the broker's directory.
// Needs `npm run build:ts` first (the broker runs dist/ through bin/sluice).
import { rm } from "node:fs/promises";
import { staleBuildWarning } from "../helpers/sluice.js";
import { formatSummary, runSoak, soakChecks } from "./soak.js";

const seconds = Number(process.env.SOAK_SECONDS ?? 300);
if (!Number.isFinite(seconds) || seconds <= 0) {
  console.error(`SOAK_SECONDS must be a positive number of seconds, not ${process.env.SOAK_SECONDS}`);
  process.exit(2);
}
const stale = staleBuildWarning();
if (stale) console.warn(`warning: ${stale}`);

const summary = await runSoak({ durationMs: seconds * 1000, log: (line) => console.log(line), parts: process.env.SOAK_PARTS });
const code = await summary.broker.stop();
console.log(formatSummary(summary));
const checks = soakChecks(summary);
for (const { check, ok, detail } of checks) console.log(`${ok ? "ok  " : "FAIL"} ${check}${ok ? "" : ` (${detail})`}`);
if (code !== 0) console.log(`FAIL the broker exited with ${code} on SIGTERM`);
if (process.env.SOAK_KEEP_DATA) console.log(`broker data kept in ${summary.broker.workDir}`);
else await rm(summary.broker.workDir, { recursive: true, force: true });
process.exit(checks.every((c) => c.ok) && code === 0 ? 0 : 1);
