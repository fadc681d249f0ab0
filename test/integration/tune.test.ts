// `sluice tune` on this machine, for real. check reads the host as it is; the apply → check →
// revert round trip changes real settings inside a throwaway network and mount namespace
// (`unshare --net --mount --uts`): the namespace's own net sysctls, noatime on a tmpfs and on an
// ext4 file system on a loop device mounted only there, and that loop device's I/O queue
// (scheduler, nomerges, read-ahead: the device exists only for this test). The host's values
// are compared before and after: the test leaves the machine as it found it.

import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { settingIds } from "../../src/ops/tune/settings.js";

const repository = fileURLToPath(new URL("../../", import.meta.url));
const bundle = join(repository, "dist/cli/sluice.mjs");

interface JsonRow {
  id: string;
  target: string | null;
  current: string;
  recommended: string;
  status: "ok" | "off" | "n/a";
  reason: string | null;
  why: string;
  commands: string[];
  manual: string | null;
}

function sluice(...args: string[]) {
  return spawnSync(process.execPath, ["bin/sluice", "tune", ...args], { cwd: repository, encoding: "utf8" });
}

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

const temporary: string[] = [];

beforeAll(() => {
  // bin/sluice runs the bundle `npm run build:ts` makes; rebuild it when src/ is newer.
  if (!existsSync(bundle) || statSync(bundle).mtimeMs < newestSource(join(repository, "src"))) {
    execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"], { cwd: repository });
    execFileSync(process.execPath, ["scripts/bundle.mjs"], { cwd: repository });
  }
});

afterAll(() => {
  for (const dir of temporary.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temporary.push(dir);
  return dir;
}

describe("sluice tune check on this host", () => {
  it("lists every setting with ok, off or n/a, and exits 1 exactly when one is off", () => {
    const logDir = tempDir("sluice-tune-check-");
    const run = sluice("check", "--json", "--log-dir", logDir);
    expect(run.stderr).toBe("");
    const rows = JSON.parse(run.stdout) as JsonRow[];
    expect([...new Set(rows.map((row) => row.id))].sort()).toEqual([...settingIds].sort());
    for (const row of rows) {
      expect(["ok", "off", "n/a"], `${row.id} status`).toContain(row.status);
      expect(row.why.length, `${row.id} why`).toBeGreaterThan(0);
      if (row.status === "n/a") expect(row.reason, `${row.id} says why it is n/a`).toBeTruthy();
      // An off row says how it gets fixed: commands, advice, or why apply cannot here.
      if (row.status === "off") expect(row.commands.length > 0 || row.manual !== null || row.reason !== null, `${row.id} fix`).toBe(true);
      if (row.status !== "off") expect(row.commands, `${row.id} needs no change`).toEqual([]);
    }
    // The log dir's file system: a mount row names it.
    expect(rows.find((row) => row.id === "mount.noatime")?.target).toContain(logDir);
    expect(run.status).toBe(rows.some((row) => row.status === "off") ? 1 : 0);
  });

  it("prints the same rows as an aligned table with a summary", () => {
    const logDir = tempDir("sluice-tune-table-");
    const rows = JSON.parse(sluice("check", "--json", "--log-dir", logDir).stdout) as JsonRow[];
    const run = sluice("check", "--log-dir", logDir);
    const lines = run.stdout.split("\n");
    expect(lines[0]).toMatch(/^SETTING +CURRENT +RECOMMENDED +STATUS +WHY$/);
    const table = lines.slice(1, 1 + rows.length);
    const statusColumn = lines[0].indexOf("STATUS");
    for (const [index, row] of rows.entries()) {
      expect(table[index].startsWith(row.target ? `${row.id} ${row.target}` : row.id)).toBe(true);
      expect(table[index].slice(statusColumn).startsWith(row.status)).toBe(true);
    }
    const count = (status: string) => rows.filter((row) => row.status === status).length;
    expect(lines).toContain(`${count("ok")} ok, ${count("off")} off, ${count("n/a")} n/a`);
  });

  it("scripts/tune runs the same code", () => {
    const logDir = tempDir("sluice-tune-script-");
    const fromScript = spawnSync(join(repository, "scripts/tune"), ["check", "--json", "--log-dir", logDir], { encoding: "utf8" });
    const fromSluice = sluice("check", "--json", "--log-dir", logDir);
    const summary = (stdout: string) => (JSON.parse(stdout) as JsonRow[]).map(({ id, target, status }) => ({ id, target, status }));
    expect(summary(fromScript.stdout)).toEqual(summary(fromSluice.stdout));
    expect(fromScript.status).toBe(fromSluice.status);
  });

  it("apply --dry-run prints exactly the commands of the off rows and changes nothing", () => {
    const logDir = tempDir("sluice-tune-dry-");
    const backupFile = join(logDir, "backup.json");
    const rows = JSON.parse(sluice("check", "--json", "--log-dir", logDir).stdout) as JsonRow[];
    const run = sluice("apply", "--dry-run", "--json", "--log-dir", logDir, "--backup-file", backupFile);
    expect(run.status).toBe(0);
    const planned = JSON.parse(run.stdout) as { changes: { id: string; command: string }[] };
    expect(planned.changes.map((change) => change.command)).toEqual(rows.flatMap((row) => row.commands));
    expect(existsSync(backupFile)).toBe(false);
    const after = JSON.parse(sluice("check", "--json", "--log-dir", logDir).stdout) as JsonRow[];
    expect(after.map(({ id, current }) => ({ id, current }))).toEqual(rows.map(({ id, current }) => ({ id, current })));
  });

  it("takes log.dirs from a server.properties", () => {
    const dir = tempDir("sluice-tune-config-");
    const config = join(dir, "server.properties");
    writeFileSync(config, `log.dirs=${join(dir, "a")},${join(dir, "b")}\n`);
    const rows = JSON.parse(sluice("check", "--json", "--config", config, "--only", "mount").stdout) as JsonRow[];
    expect(rows).toHaveLength(1);
    expect(rows[0].target).toContain(`${join(dir, "a")}, ${join(dir, "b")}`);
  });

  it("exits 2 with a message for an unknown action, setting or missing backup", () => {
    expect(sluice("tweak")).toMatchObject({ status: 2, stderr: 'sluice tune: unknown action "tweak": use check, apply, revert\n' });
    expect(sluice("check", "--only", "vm.swapiness")).toMatchObject({ status: 2 });
    const revert = sluice("revert", "--dry-run", "--backup-file", join(tempDir("sluice-tune-none-"), "none.json"));
    expect(revert.status).toBe(2);
    expect(revert.stderr).toMatch(/^sluice tune: no backup file .*none\.json/);
  });
});

// ---------------------------------------------------------------------------------------------
// The real round trip

/** Why the round trip cannot run here, or null. */
function roundTripBlocker(): string | null {
  if (process.platform !== "linux") return "needs Linux namespaces";
  if (process.getuid?.() !== 0) return "needs root (unshare, mount, sysctls)";
  if (spawnSync("unshare", ["--net", "--mount", "true"]).status !== 0) return "`unshare --net --mount` does not work here";
  return null;
}

/**
 * A loop device with an ext4 file system, with its queue settings from before the test (the
 * device outlives its detaching, so they are put back), or why there is none (a container
 * without /dev/loop-control).
 */
function makeLoopDevice(dir: string): { device: string; queue: string; original: Record<string, string> } | string {
  const image = join(dir, "disk.img");
  writeFileSync(image, "");
  const steps: [string, string[]][] = [
    ["truncate", ["-s", "32M", image]],
    ["mkfs.ext4", ["-q", "-F", image]],
  ];
  for (const [command, args] of steps) {
    const run = spawnSync(command, args, { encoding: "utf8" });
    if (run.status !== 0) return `${command} failed: ${run.stderr || run.error?.message}`;
  }
  const free = spawnSync("losetup", ["--find"], { encoding: "utf8" });
  if (free.status !== 0) return `losetup --find failed: ${free.stderr || free.error?.message}`;
  const device = free.stdout.trim();
  const queue = `/sys/block/${basename(device)}/queue`;
  if (!existsSync(queue)) return `${queue} does not exist`;
  const original = readQueue(queue);
  // The free device by name, so the settings read are that device's (another process taking it first makes this fail).
  const attach = spawnSync("losetup", [device, image], { encoding: "utf8" });
  if (attach.status !== 0) return `losetup ${device} failed: ${attach.stderr || attach.error?.message}`;
  return { device, queue, original };
}

const queueFiles = ["scheduler", "nomerges", "read_ahead_kb"] as const;

function readQueue(queue: string): Record<string, string> {
  return Object.fromEntries(queueFiles.map((file) => [file, readFileSync(join(queue, file), "utf8").trim()]));
}

function selectedScheduler(text: string): string {
  return /\[(.*)\]/.exec(text)?.[1] ?? text;
}

/** Host values the round trip must not touch: this namespace's net sysctls and mounts. */
function hostState(workDir: string): { sysctls: Record<string, string>; mounts: string[] } {
  const sysctls: Record<string, string> = {};
  for (const id of settingIds.filter((each) => each.startsWith("net."))) {
    const path = `/proc/sys/${id.replaceAll(".", "/")}`;
    if (existsSync(path)) sysctls[id] = readFileSync(path, "utf8");
  }
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((line) => line.includes(workDir));
  return { sysctls, mounts };
}

/** Runs `script` with sh in a new network, mount and UTS namespace; the namespace ends with it. */
function inNamespace(script: string, scriptFile: string): void {
  writeFileSync(scriptFile, script);
  const run = spawnSync("unshare", ["--net", "--mount", "--uts", "--propagation", "private", "sh", "-eu", scriptFile], { cwd: repository, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`the namespace script failed (${run.status}): ${run.stderr}`);
}

const blocker = roundTripBlocker();
// CI runs as root: there the round trip must run, never skip quietly.
const skipRoundTrip = blocker !== null && process.env.CI !== "true";

describe("apply → check → revert on real settings in a throwaway namespace", () => {
  it.skipIf(skipRoundTrip)(
    `changes only what is off, check finds it ok, revert brings every value back${skipRoundTrip ? ` (skipped: ${blocker})` : ""}`,
    () => {
      if (blocker !== null) throw new Error(`the round trip cannot run: ${blocker}`);
      const work = tempDir("sluice-tune-round-trip-");
      const tmpfsDir = join(work, "tmpfs");
      const loopMount = join(work, "loop");
      const out = join(work, "out");
      for (const dir of [tmpfsDir, loopMount, out]) mkdirSync(dir);
      const hostBefore = hostState(work);
      const loop = makeLoopDevice(work);
      if (typeof loop === "string") console.warn(`tune round trip without a loop device (no disk settings): ${loop}`);

      const backupFile = join(work, "backup.json");
      const logDirs = typeof loop === "string" ? [tmpfsDir] : [tmpfsDir, join(loopMount, "data")];
      const tune = (action: string, output: string, extra = "") =>
        `set +e; node bin/sluice tune ${action} --only net,mount,disk ${logDirs.map((dir) => `--log-dir ${dir}`).join(" ")} --backup-file ${backupFile} ${extra} > ${out}/${output} 2> ${out}/${output}.err; echo $? > ${out}/${output}.rc; set -e\n`;
      const mounts = [
        `mount -t tmpfs -o size=4m,nosuid sluice-tune ${tmpfsDir}\n`,
        typeof loop === "string" ? "" : `mount ${loop.device} ${loopMount}\nmkdir -p ${loopMount}/data/orders-0\n`,
      ].join("");
      try {
        let offValues: Record<string, string> = {};
        if (typeof loop !== "string") {
          // Phase 1: what the loop device's queue should be; then set each of its settings to another value, so there is something to apply.
          inNamespace(`${mounts}${tune("check", "disk.json", "--json")}`, join(work, "phase1.sh"));
          const disk = JSON.parse(readFileSync(join(out, "disk.json"), "utf8")) as JsonRow[];
          const loopRow = (id: string) => disk.find((row) => row.id === id && row.target?.startsWith(basename(loop.device)));
          const available = readFileSync(join(loop.queue, "scheduler"), "utf8").replace(/[[\]]/g, "").trim().split(/\s+/);
          const otherScheduler = available.find((name) => name !== loopRow("disk.scheduler")?.recommended);
          offValues = { scheduler: otherScheduler ?? "", nomerges: loopRow("disk.nomerges")?.recommended === "2" ? "0" : "2", read_ahead_kb: "64" };
          for (const file of queueFiles) writeFileSync(join(loop.queue, file), offValues[file]);
        }

        // Phase 2: the round trip. The namespace's somaxconn and SYN backlog start low, so the net settings have something to apply too.
        const steps = [
          mounts,
          "echo 1024 > /proc/sys/net/core/somaxconn\n",
          "echo 1024 > /proc/sys/net/ipv4/tcp_max_syn_backlog\n",
          tune("check", "before.json", "--json"),
          tune("apply", "apply.json", "--json"),
          `cp ${backupFile} ${out}/backup-after-apply.json\n`,
          tune("check", "applied.json", "--json"),
          tune("apply", "again.json", "--json"),
          `cp ${backupFile} ${out}/backup-after-again.json\n`,
          tune("revert", "revert.txt"),
          tune("check", "after.json", "--json"),
        ];
        inNamespace(steps.join(""), join(work, "phase2.sh"));

        const read = (name: string) => readFileSync(join(out, name), "utf8");
        const rows = (name: string) => JSON.parse(read(name)) as JsonRow[];
        const status = (name: string) => Number(read(`${name}.rc`));
        const before = rows("before.json");
        const fixable = before.filter((row) => row.commands.length > 0);
        const fixableIds = fixable.map((row) => row.id);
        expect(fixableIds).toEqual(expect.arrayContaining(["net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog", "mount.noatime"]));
        expect(fixableIds.filter((id) => id === "mount.noatime")).toHaveLength(logDirs.length);
        if (typeof loop !== "string") expect(fixableIds).toEqual(expect.arrayContaining(["disk.scheduler", "disk.nomerges", "disk.read_ahead_kb"]));
        expect(status("before.json")).toBe(1);

        // apply runs exactly the off rows' commands, and check then finds those rows ok.
        expect(status("apply.json")).toBe(0);
        const applied = JSON.parse(read("apply.json")) as { changes: { id: string; command: string }[] };
        expect(applied.changes.map((change) => change.command)).toEqual(fixable.flatMap((row) => row.commands));
        const afterApply = rows("applied.json");
        for (const row of fixable) {
          const now = afterApply.find((each) => each.id === row.id && each.target === row.target);
          expect(now?.status, `${row.id} ${row.target ?? ""} after apply`).toBe("ok");
        }

        // Applying again changes nothing, and the backup stays as the first apply wrote it.
        expect(status("again.json")).toBe(0);
        expect((JSON.parse(read("again.json")) as { changes: unknown[] }).changes).toEqual([]);
        expect(read("backup-after-again.json")).toBe(read("backup-after-apply.json"));

        // revert restores every value check saw before apply, and removes the backup.
        expect(status("revert.txt"), read("revert.txt.err")).toBe(0);
        expect(read("revert.txt")).toContain(`restored ${applied.changes.length}; removed ${backupFile}`);
        const view = (list: JsonRow[]) => list.map(({ id, target, current, status }) => ({ id, target, current, status }));
        expect(view(rows("after.json"))).toEqual(view(before));
        expect(existsSync(backupFile)).toBe(false);
        if (typeof loop !== "string") {
          const queue = readQueue(loop.queue);
          expect({ ...queue, scheduler: selectedScheduler(queue.scheduler) }).toEqual(offValues);
        }
      } finally {
        if (typeof loop !== "string") {
          // Detach first: detaching resets the read-ahead by itself (Linux 6.x sets it from the queue limits).
          spawnSync("losetup", ["-d", loop.device]);
          for (const file of queueFiles)
            writeFileSync(join(loop.queue, file), file === "scheduler" ? selectedScheduler(loop.original[file]) : loop.original[file]);
        }
      }
      // The host's own net sysctls and mounts never changed: everything happened in the namespace.
      expect(hostState(work)).toEqual(hostBefore);
      if (typeof loop !== "string") expect(readQueue(loop.queue), `${loop.device} as before the test`).toEqual(loop.original);
    },
  );

  it.skipIf(skipRoundTrip)("a read-only /proc/sys, as containers mount it, shows the setting off with the reason, and apply leaves it", () => {
    if (blocker !== null) throw new Error(`cannot run: ${blocker}`);
    const work = tempDir("sluice-tune-read-only-");
    const hostBefore = hostState("/proc/sys");
    const tune = (action: string, output: string) =>
      `set +e; node bin/sluice tune ${action} --json --only net.core.somaxconn --log-dir ${work} --backup-file ${work}/backup.json > ${work}/${output}; set -e\n`;
    const script = [
      "echo 1024 > /proc/sys/net/core/somaxconn\n",
      "mount --bind /proc/sys /proc/sys\n",
      "mount -o remount,bind,ro /proc/sys\n",
      tune("check", "check.json"),
      tune("apply", "apply.json"),
      `cat /proc/sys/net/core/somaxconn > ${work}/somaxconn\n`,
    ];
    inNamespace(script.join(""), join(work, "read-only.sh"));
    const [row] = JSON.parse(readFileSync(join(work, "check.json"), "utf8")) as JsonRow[];
    expect(row).toMatchObject({ id: "net.core.somaxconn", current: "1024", status: "off", reason: "/proc/sys is mounted read-only here", commands: [] });
    const applied = JSON.parse(readFileSync(join(work, "apply.json"), "utf8")) as { changes: unknown[]; skipped: { id: string; reason: string }[] };
    expect(applied.changes).toEqual([]);
    expect(applied.skipped).toEqual([{ id: "net.core.somaxconn", target: null, reason: "/proc/sys is mounted read-only here" }]);
    expect(readFileSync(join(work, "somaxconn"), "utf8").trim()).toBe("1024");
    expect(existsSync(join(work, "backup.json"))).toBe(false);
    expect(hostState("/proc/sys")).toEqual(hostBefore);
  });
});
