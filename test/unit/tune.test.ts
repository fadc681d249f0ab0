// `sluice tune` on a fake host: /proc and /sys as files under a temporary root, `mount` as a
// function that edits the fake mountinfo. Parsing, recommended values, the plan apply makes, and
// the backup revert replays. test/integration/tune.test.ts runs the real thing.

import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readBackup, TuneError } from "../../src/ops/tune/backup.js";
import { type CommandRunner, findMount, Host, parseChoice, parseMountInfo, parseOpenFilesLimit, surveyLogDirs } from "../../src/ops/tune/host.js";
import { apply, check, commandFor, formatTable, type Row, restoringAtimeOptions, revert, rowsAsJson, selectSettings } from "../../src/ops/tune/index.js";
import { recommendedMaxMapCount, recommendedOpenFiles, settingIds } from "../../src/ops/tune/settings.js";

const temporary: string[] = [];
afterEach(() => {
  for (const dir of temporary.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temporary.push(dir);
  return dir;
}

/** A bare-metal host with an NVMe disk holding `dataMount`, a tmpfs at `tmpfsMount`, two CPUs with cpufreq. */
function hostFiles(dataMount: string, tmpfsMount: string): Record<string, string> {
  const nvme = "/sys/devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1";
  return {
    "/proc/sys/vm/swappiness": "60",
    "/proc/sys/vm/dirty_background_ratio": "10",
    "/proc/sys/vm/dirty_background_bytes": "0",
    "/proc/sys/vm/dirty_ratio": "20",
    "/proc/sys/vm/dirty_bytes": "0",
    "/proc/sys/vm/max_map_count": "65530",
    "/proc/sys/fs/file-max": "9223372036854775807",
    "/proc/sys/fs/nr_open": "1048576",
    "/proc/self/limits": [
      "Limit                     Soft Limit           Hard Limit           Units     ",
      "Max open files            1024                 524288               files     ",
    ].join("\n"),
    "/proc/self/mountinfo": [
      "22 1 259:2 / / rw,relatime - ext4 /dev/nvme1n1 rw",
      `30 22 259:1 / ${dataMount} rw,nosuid,relatime shared:1 - xfs /dev/nvme0n1p1 rw,attr2`,
      `31 22 0:40 / ${tmpfsMount} rw,nosuid,nodev,relatime - tmpfs tmpfs rw,size=1024k`,
    ].join("\n"),
    [`${nvme}/nvme0n1p1/partition`]: "1",
    [`${nvme}/queue/scheduler`]: "[mq-deadline] kyber none",
    [`${nvme}/queue/rotational`]: "0",
    [`${nvme}/queue/nomerges`]: "0",
    [`${nvme}/queue/read_ahead_kb`]: "128",
    "/sys/kernel/mm/transparent_hugepage/enabled": "[always] madvise never",
    "/sys/kernel/mm/transparent_hugepage/defrag": "[always] defer defer+madvise madvise never",
    "/proc/sys/net/core/somaxconn": "4096",
    "/proc/sys/net/ipv4/tcp_max_syn_backlog": "512",
    "/proc/sys/net/core/rmem_max": "212992",
    "/proc/sys/net/core/wmem_max": "212992",
    "/proc/sys/net/ipv4/tcp_rmem": "4096\t131072\t6291456",
    "/proc/sys/net/ipv4/tcp_wmem": "4096\t16384\t4194304",
    "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor": "powersave",
    "/sys/devices/system/cpu/cpu0/cpufreq/scaling_available_governors": "performance powersave",
    "/sys/devices/system/cpu/cpu1/cpufreq/scaling_governor": "performance",
    "/sys/devices/system/cpu/cpu1/cpufreq/scaling_available_governors": "performance powersave",
    "/sys/devices/system/clocksource/clocksource0/current_clocksource": "hpet",
    "/sys/devices/system/clocksource/clocksource0/available_clocksource": "tsc hpet acpi_pm ",
  };
}

const nvmePartition = "/sys/devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1/nvme0n1p1";

/** `mount -o remount,bind,<options> <point>` on the fake mountinfo: sets the access-time options as the kernel would. */
function fakeMount(root: string, calls: string[][], fail = false): CommandRunner {
  return (argv) => {
    calls.push([...argv]);
    if (fail) return { status: 32, stdout: "", stderr: "mount: permission denied" };
    const [, , optionText, point] = argv;
    const options = optionText.replace(/^remount,bind,/, "").split(",");
    const atime = options.includes("noatime")
      ? ["noatime"]
      : [...(options.includes("nodiratime") ? ["nodiratime"] : []), ...(options.includes("relatime") ? ["relatime"] : [])];
    const file = join(root, "proc/self/mountinfo");
    const lines = readFileSync(file, "utf8")
      .split("\n")
      .map((line) => {
        const fields = line.split(" ");
        if (fields[4] !== point) return line;
        fields[5] = [...fields[5].split(",").filter((option) => !["noatime", "relatime", "nodiratime"].includes(option)), ...atime].join(",");
        return fields.join(" ");
      });
    writeFileSync(file, lines.join("\n"));
    return { status: 0, stdout: "", stderr: "" };
  };
}

/** Writes to choice files as sysfs takes them: "none" into "[mq-deadline] none" selects it, the choices stay. */
class FakeSysfsHost extends Host {
  override write(path: string, value: string): void {
    const choice = parseChoice(this.read(path) ?? "");
    const selectable = choice.current !== undefined && choice.available.includes(value);
    super.write(path, selectable ? choice.available.map((word) => (word === value ? `[${word}]` : word)).join(" ") : value);
  }
}

interface Fake {
  readonly root: string;
  readonly host: Host;
  readonly logDir: string;
  readonly tmpfsDir: string;
  readonly mounts: string[][];
  read(path: string): string;
  write(path: string, value: string): void;
}

function fakeHost(change: (files: Record<string, string>) => void = () => {}, options: { failMount?: boolean } = {}): Fake {
  const base = tempDir("sluice-tune-");
  const root = join(base, "root");
  const dataMount = join(base, "data-disk");
  const tmpfsDir = join(base, "tmpfs");
  const logDir = join(dataMount, "kafka-logs");
  mkdirSync(logDir, { recursive: true });
  mkdirSync(tmpfsDir, { recursive: true });
  const files = hostFiles(dataMount, tmpfsDir);
  change(files);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), `${text}\n`);
  }
  mkdirSync(join(root, "sys/dev/block"), { recursive: true });
  symlinkSync(`../..${nvmePartition.slice("/sys".length)}`, join(root, "sys/dev/block/259:1"));
  mkdirSync(join(root, "proc/self/ns"), { recursive: true });
  symlinkSync("net:[4026531840]", join(root, "proc/self/ns/net"));
  symlinkSync("mnt:[4026531841]", join(root, "proc/self/ns/mnt"));
  const mounts: string[][] = [];
  const host = new FakeSysfsHost(root, fakeMount(root, mounts, options.failMount));
  return {
    root,
    host,
    logDir,
    tmpfsDir,
    mounts,
    read: (path) => readFileSync(join(root, path), "utf8").trim(),
    write: (path, value) => writeFileSync(join(root, path), `${value}\n`),
  };
}

function row(rows: readonly Row[], id: string, target?: string): Row {
  const found = rows.filter((candidate) => candidate.id === id && (target === undefined || candidate.target?.startsWith(target)));
  expect(found, `one ${id} row${target ? ` for ${target}` : ""}`).toHaveLength(1);
  return found[0];
}

/** Every file of the fake /proc and /sys, whitespace normalised: the kernel reads "4096\t1" and "4096 1" alike. */
function snapshot(fake: Fake): Record<string, string> {
  const result: Record<string, string> = {};
  for (const path of Object.keys(hostFiles(dirname(fake.logDir), fake.tmpfsDir))) result[path] = fake.read(path).replace(/\s+/g, " ");
  return result;
}

describe("reading the host", () => {
  it("parses mountinfo with optional fields and escaped paths", () => {
    const entries = parseMountInfo(
      [
        "36 35 98:0 /mnt1 /mnt\\040two rw,noatime master:1 - ext3 /dev/root rw,errors=continue",
        "37 35 0:41 / /srv rw,relatime - tmpfs none rw",
        "garbage",
      ].join("\n"),
    );
    expect(entries).toEqual([
      { majorMinor: "98:0", mountPoint: "/mnt two", options: ["rw", "noatime"], fsType: "ext3", source: "/dev/root" },
      { majorMinor: "0:41", mountPoint: "/srv", options: ["rw", "relatime"], fsType: "tmpfs", source: "none" },
    ]);
  });

  it("finds the mount of a path: the longest mount point, and the last of mounts stacked on one point", () => {
    const entries = parseMountInfo(
      [
        "1 0 8:1 / / rw - ext4 /dev/sda1 rw",
        "2 1 8:2 / /var rw - ext4 /dev/sda2 rw",
        "3 2 8:3 / /var/lib rw - ext4 /dev/sda3 rw",
        "4 2 0:50 / /var/lib rw - tmpfs none rw",
        "5 1 8:4 / /variable rw - ext4 /dev/sda4 rw",
      ].join("\n"),
    );
    expect(findMount(entries, "/var/lib/sluice")?.majorMinor).toBe("0:50");
    expect(findMount(entries, "/var/log")?.majorMinor).toBe("8:2");
    expect(findMount(entries, "/variable-not/x")?.majorMinor).toBe("8:1");
    expect(findMount(entries, "/var")?.majorMinor).toBe("8:2");
  });

  it("reads choice files and the open-files limit", () => {
    expect(parseChoice("none [mq-deadline] kyber\n")).toEqual({ current: "mq-deadline", available: ["none", "mq-deadline", "kyber"] });
    expect(parseChoice("[none]")).toEqual({ current: "none", available: ["none"] });
    expect(
      parseOpenFilesLimit(
        "Max cpu time              unlimited            unlimited            seconds\nMax open files            1024                 524288               files",
      ),
    ).toEqual({
      soft: 1024,
      hard: 524288,
    });
    expect(parseOpenFilesLimit("Max open files            unlimited            unlimited            files")?.hard).toBe(Number.POSITIVE_INFINITY);
  });

  it("counts partition directories and their segments, not deleted or future ones", () => {
    const logDir = tempDir("sluice-tune-logs-");
    const partition = (name: string, segments: number) => {
      mkdirSync(join(logDir, name));
      for (let segment = 0; segment < segments; segment++) writeFileSync(join(logDir, name, `${String(segment * 100).padStart(20, "0")}.log`), "");
    };
    partition("orders-0", 3);
    partition("orders-1", 0); // a new partition: its active segment is about to be created
    partition("__consumer_offsets-7", 1);
    partition("orders-2.4b1c2f1e6a7b4d2e9f3a1b2c3d4e5f60-delete", 4);
    partition("orders-0-future", 2);
    writeFileSync(join(logDir, "meta.properties"), "");
    expect(surveyLogDirs([logDir, join(logDir, "missing")])).toEqual({ partitions: 3, segments: 5 });
  });
});

describe("recommended values", () => {
  it("sizes vm.max_map_count at 2 maps per segment, doubled, with a floor of 262144", () => {
    expect(recommendedMaxMapCount({ partitions: 0, segments: 0 })).toBe(262_144);
    expect(recommendedMaxMapCount({ partitions: 20_000, segments: 65_536 })).toBe(262_144);
    expect(recommendedMaxMapCount({ partitions: 30_000, segments: 100_000 })).toBe(400_000);
  });

  it("sizes the open-file limit at a descriptor per segment and 2 per partition, doubled, with Kafka's floor of 100000", () => {
    expect(recommendedOpenFiles({ partitions: 10, segments: 30 })).toBe(100_000);
    expect(recommendedOpenFiles({ partitions: 40_000, segments: 100_000 })).toBe(360_000);
  });

  it("raises the socket buffer maxima to the broker's own socket.*.buffer.bytes when those are larger", () => {
    const fake = fakeHost();
    const rows = check({ host: fake.host, logDirs: [fake.logDir], socketBufferBytes: 64 * 1024 * 1024, only: ["net.core"] });
    expect(row(rows, "net.core.rmem_max").recommended).toBe(`≥ ${64 * 1024 * 1024}`);
  });
});

describe("check", () => {
  it("lists every setting once for host-wide ones and once per disk or mount of the log dirs", () => {
    const fake = fakeHost();
    const rows = check({ host: fake.host, logDirs: [fake.logDir, fake.tmpfsDir] });
    expect([...new Set(rows.map((each) => each.id))]).toEqual(settingIds);
    expect(rows.filter((each) => each.id === "mount.noatime")).toHaveLength(2);
    expect(rows.filter((each) => each.id === "disk.scheduler")).toHaveLength(2);
  });

  it("reports each setting's current value, recommendation and status", () => {
    const fake = fakeHost();
    const rows = check({ host: fake.host, logDirs: [fake.logDir, fake.tmpfsDir] });
    const summary = (id: string, target?: string) => {
      const { current, recommended, status, reason } = row(rows, id, target);
      return { current, recommended, status, reason };
    };
    expect(summary("vm.swappiness")).toEqual({ current: "60", recommended: "1", status: "off", reason: undefined });
    expect(summary("vm.dirty_background_ratio")).toMatchObject({ current: "10", recommended: "≤ 5", status: "off" });
    expect(summary("vm.max_map_count")).toMatchObject({ current: "65530", recommended: "≥ 262144", status: "off" });
    expect(summary("fs.file-max")).toMatchObject({ status: "ok" });
    expect(summary("limits.nofile")).toMatchObject({ current: "1024 (hard 524288)", recommended: "≥ 100000", status: "off" });
    // The partition nvme0n1p1 has no queue: its disk nvme0n1 does. Not rotating: none, nomerges 2.
    expect(summary("disk.scheduler", "nvme0n1")).toEqual({ current: "mq-deadline", recommended: "none", status: "off", reason: undefined });
    expect(summary("disk.nomerges", "nvme0n1")).toMatchObject({ current: "0", recommended: "2", status: "off" });
    expect(summary("disk.read_ahead_kb", "nvme0n1")).toMatchObject({ current: "128", status: "ok" });
    expect(summary("disk.scheduler", fake.tmpfsDir)).toMatchObject({ status: "n/a", reason: "tmpfs has no block device" });
    expect(summary("mount.noatime", dirname(fake.logDir))).toMatchObject({ current: "relatime", recommended: "noatime", status: "off" });
    expect(summary("thp.enabled")).toMatchObject({ current: "always", recommended: "madvise", status: "off" });
    expect(summary("thp.defrag")).toMatchObject({ current: "always", status: "off" });
    expect(summary("net.core.somaxconn")).toMatchObject({ status: "ok" });
    expect(summary("net.ipv4.tcp_rmem")).toMatchObject({ current: "4096 131072 6291456", recommended: "max ≥ 16777216", status: "off" });
    expect(summary("cpu.governor")).toMatchObject({ current: "powersave ×1, performance ×1", recommended: "performance", status: "off" });
    expect(summary("clocksource")).toMatchObject({ current: "hpet", recommended: "tsc", status: "off" });
  });

  it("gives each off row the commands apply would run", () => {
    const fake = fakeHost();
    const rows = check({ host: fake.host, logDirs: [fake.logDir] });
    const commands = (id: string) => row(rows, id).changes.map(commandFor);
    expect(commands("vm.swappiness")).toEqual(["sysctl -w vm.swappiness=1"]);
    expect(commands("net.ipv4.tcp_rmem")).toEqual(["sysctl -w net.ipv4.tcp_rmem='4096 131072 16777216'"]);
    expect(commands("disk.scheduler")).toEqual(["echo none > /sys/devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1/queue/scheduler"]);
    expect(commands("mount.noatime")).toEqual([`mount -o remount,bind,noatime ${dirname(fake.logDir)}`]);
    expect(commands("cpu.governor")).toEqual(["echo performance > /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"]);
    expect(commands("limits.nofile")).toEqual([]);
    expect(row(rows, "limits.nofile").manual).toContain("LimitNOFILE=100000");
  });

  it("wants mq-deadline and merges on a rotating disk", () => {
    const fake = fakeHost((files) => {
      const queue = `${dirname(nvmePartition)}/queue`;
      files[`${queue}/rotational`] = "1";
      files[`${queue}/scheduler`] = "mq-deadline kyber [none]";
      files[`${queue}/nomerges`] = "2";
    });
    const rows = check({ host: fake.host, logDirs: [fake.logDir], only: ["disk"] });
    expect(row(rows, "disk.scheduler")).toMatchObject({ current: "none", recommended: "mq-deadline", status: "off" });
    expect(row(rows, "disk.nomerges")).toMatchObject({ current: "2", recommended: "0", status: "off" });
  });

  it("says n/a with the reason where the host does not expose a setting (a container)", () => {
    const fake = fakeHost((files) => {
      for (const path of Object.keys(files)) if (path.startsWith("/sys/") || path.includes("dirty_ratio")) delete files[path];
      files["/proc/sys/vm/dirty_bytes"] = "268435456";
    });
    rmSync(join(fake.root, "sys"), { recursive: true });
    const rows = check({ host: fake.host, logDirs: [fake.logDir] });
    expect(row(rows, "disk.scheduler")).toMatchObject({ status: "n/a", reason: "no /sys/dev/block here (a container?)" });
    expect(row(rows, "thp.enabled")).toMatchObject({ status: "n/a", reason: "no transparent huge pages in this kernel" });
    expect(row(rows, "cpu.governor")).toMatchObject({ status: "n/a" });
    expect(row(rows, "clocksource")).toMatchObject({ status: "n/a" });
    expect(row(rows, "vm.dirty_ratio")).toMatchObject({ status: "n/a", reason: "set as vm.dirty_bytes" });
  });

  it("says n/a for tsc when the kernel does not offer it", () => {
    const fake = fakeHost((files) => {
      files["/sys/devices/system/clocksource/clocksource0/available_clocksource"] = "kvm-clock acpi_pm";
      files["/sys/devices/system/clocksource/clocksource0/current_clocksource"] = "kvm-clock";
    });
    expect(row(check({ host: fake.host, logDirs: [fake.logDir], only: ["clocksource"] }), "clocksource")).toMatchObject({
      current: "kvm-clock",
      status: "n/a",
    });
  });

  it("marks an off setting it cannot write here (a host sysctl seen from a network namespace, mode 0444) off, with no change", () => {
    const fake = fakeHost();
    chmodSync(join(fake.root, "proc/sys/net/core/rmem_max"), 0o444);
    chmodSync(join(fake.root, "proc/sys/vm/swappiness"), 0o444);
    const rows = check({ host: fake.host, logDirs: [fake.logDir], only: ["net.core.rmem_max", "vm.swappiness"] });
    expect(row(rows, "net.core.rmem_max")).toMatchObject({ status: "off", reason: "read-only in this network namespace", changes: [] });
    expect(row(rows, "vm.swappiness")).toMatchObject({ status: "off", reason: "/proc/sys/vm/swappiness is read-only here", changes: [] });
  });

  it("selects settings by id or group for --only, and names the known ones for an unknown name", () => {
    expect(selectSettings(["vm"]).map((setting) => setting.id)).toEqual(["vm.swappiness", "vm.dirty_background_ratio", "vm.dirty_ratio", "vm.max_map_count"]);
    expect(selectSettings(["net.core.somaxconn", "clocksource"]).map((setting) => setting.id)).toEqual(["net.core.somaxconn", "clocksource"]);
    expect(() => selectSettings(["net.core"])).not.toThrow();
    expect(() => selectSettings(["vm.swapiness"])).toThrow(/unknown setting "vm.swapiness": known are vm.swappiness/);
  });

  it("prints an aligned table and JSON rows", () => {
    const fake = fakeHost();
    const rows = check({ host: fake.host, logDirs: [fake.logDir] });
    const lines = formatTable(rows).split("\n");
    expect(lines).toHaveLength(rows.length + 1);
    for (const column of ["CURRENT", "RECOMMENDED", "STATUS", "WHY"]) {
      const start = lines[0].indexOf(column);
      // Each cell starts where its header does, after at least two spaces.
      for (const line of lines.slice(1)) expect(line.slice(start - 2, start)).toBe("  ");
    }
    const json = rowsAsJson(rows) as { id: string; status: string; commands: string[] }[];
    expect(json.find((each) => each.id === "vm.swappiness")).toMatchObject({ status: "off", commands: ["sysctl -w vm.swappiness=1"] });
  });
});

describe("apply and revert", () => {
  it("apply changes what is off, check then finds it ok, revert restores every value, and the backup is gone", () => {
    const fake = fakeHost();
    const backupFile = join(fake.root, "..", "backup", "tune-backup.json");
    const options = { host: fake.host, logDirs: [fake.logDir, fake.tmpfsDir], backupFile };
    const before = snapshot(fake);
    const rowsBefore = check(options);

    const applied = apply(options);
    expect(applied.changes.map((done) => done.id)).toEqual(
      rowsBefore.filter((each) => each.changes.length > 0).flatMap((each) => each.changes.map(() => each.id)),
    );
    expect(fake.read("/proc/sys/vm/swappiness")).toBe("1");
    expect(fake.read(`${dirname(nvmePartition)}/queue/scheduler`)).toBe("mq-deadline kyber [none]");
    expect(fake.read("/proc/sys/net/ipv4/tcp_rmem")).toBe("4096 131072 16777216");
    expect(fake.mounts).toEqual([
      ["mount", "-o", "remount,bind,noatime", dirname(fake.logDir)],
      ["mount", "-o", "remount,bind,noatime", fake.tmpfsDir],
    ]);
    const backup = readBackup(backupFile);
    expect(backup?.changes.find((change) => change.id === "vm.swappiness")).toEqual({
      id: "vm.swappiness",
      kind: "write",
      path: "/proc/sys/vm/swappiness",
      value: "1",
      previous: "60",
    });
    expect(backup?.namespaces).toEqual({ net: "net:[4026531840]", mnt: "mnt:[4026531841]" });

    const rowsAfter = check(options);
    expect(rowsAfter.filter((each) => each.status === "off").map((each) => each.id)).toEqual(["limits.nofile"]);

    const restored = revert({ host: fake.host, backupFile });
    expect(restored.failed).toBe(0);
    expect(restored.restored.map((done) => done.id)).toEqual([...applied.changes.map((done) => done.id)].reverse());
    expect(snapshot(fake)).toEqual(before);
    expect(fake.mounts.slice(2)).toEqual([
      ["mount", "-o", "remount,bind,atime,diratime,relatime", fake.tmpfsDir],
      ["mount", "-o", "remount,bind,atime,diratime,relatime", dirname(fake.logDir)],
    ]);
    expect(check(options).map(({ id, current, status }) => ({ id, current, status }))).toEqual(
      rowsBefore.map(({ id, current, status }) => ({ id, current, status })),
    );
    expect(readBackup(backupFile)).toBeUndefined();
  });

  it("a second apply changes nothing and leaves the backup as it was", () => {
    const fake = fakeHost();
    const backupFile = join(fake.root, "tune-backup.json");
    const options = { host: fake.host, logDirs: [fake.logDir], backupFile };
    apply(options);
    const backup = readFileSync(backupFile, "utf8");
    const again = apply(options);
    expect(again.changes).toEqual([]);
    expect(readFileSync(backupFile, "utf8")).toBe(backup);
  });

  it("keeps the value from before the first apply when a setting drifts and is applied again", () => {
    const fake = fakeHost();
    const backupFile = join(fake.root, "tune-backup.json");
    const options = { host: fake.host, logDirs: [fake.logDir], backupFile, only: ["vm.swappiness"] };
    apply(options);
    fake.write("/proc/sys/vm/swappiness", "30");
    expect(apply(options).changes.map((done) => done.command)).toEqual(["sysctl -w vm.swappiness=1"]);
    expect(readBackup(backupFile)?.changes).toHaveLength(1);
    fake.write("/proc/sys/vm/swappiness", "10");
    const restored = revert({ host: fake.host, backupFile });
    expect(restored.restored[0].note).toBe("it held 10, not what apply set: restored anyway");
    expect(fake.read("/proc/sys/vm/swappiness")).toBe("60");
  });

  it("restores strictatime and nodiratime as they were", () => {
    expect(restoringAtimeOptions([])).toEqual(["atime", "diratime", "strictatime"]);
    expect(restoringAtimeOptions(["relatime", "nodiratime"])).toEqual(["atime", "nodiratime", "relatime"]);
  });

  it("--dry-run lists the commands and changes nothing", () => {
    const fake = fakeHost();
    const backupFile = join(fake.root, "tune-backup.json");
    const before = snapshot(fake);
    const planned = apply({ host: fake.host, logDirs: [fake.logDir], backupFile, dryRun: true });
    expect(planned.changes.map((done) => done.command)).toContain("sysctl -w vm.swappiness=1");
    expect(snapshot(fake)).toEqual(before);
    expect(fake.mounts).toEqual([]);
    expect(readBackup(backupFile)).toBeUndefined();
  });

  it("records a change in the backup before making it, so a failure midway still reverts", () => {
    const fake = fakeHost(undefined, { failMount: true });
    const backupFile = join(fake.root, "tune-backup.json");
    expect(() => apply({ host: fake.host, logDirs: [fake.logDir], backupFile })).toThrow(/mount -o remount,bind,noatime .* failed: mount: permission denied/);
    // The sysctls before the mount were changed and are in the backup; so is the mount it tried.
    expect(fake.read("/proc/sys/vm/swappiness")).toBe("1");
    expect(readBackup(backupFile)?.changes.map((change) => change.id)).toEqual([
      "vm.swappiness",
      "vm.dirty_background_ratio",
      "vm.dirty_ratio",
      "vm.max_map_count",
      "mount.noatime",
    ]);
    // Revert restores the sysctls; the remount fails again and stays in the backup for another try.
    const restored = revert({ host: fake.host, backupFile });
    expect(restored.failed).toBe(1);
    expect(fake.read("/proc/sys/vm/swappiness")).toBe("60");
    expect(readBackup(backupFile)?.changes.map((change) => change.id)).toEqual(["mount.noatime"]);
  });

  it("refuses to revert in another network namespace than apply ran in", () => {
    const fake = fakeHost();
    const backupFile = join(fake.root, "tune-backup.json");
    apply({ host: fake.host, logDirs: [fake.logDir], backupFile, only: ["net"] });
    rmSync(join(fake.root, "proc/self/ns/net"));
    symlinkSync("net:[4026532176]", join(fake.root, "proc/self/ns/net"));
    expect(() => revert({ host: fake.host, backupFile })).toThrow(
      /from another namespace \(network namespace net:\[4026531840\], this is net:\[4026532176\]\)/,
    );
    expect(fake.read("/proc/sys/net/core/rmem_max")).toBe("16777216");
  });

  it("refuses a missing, damaged or foreign backup", () => {
    const fake = fakeHost();
    const backupFile = join(fake.root, "tune-backup.json");
    expect(() => revert({ host: fake.host, backupFile })).toThrow(TuneError);
    writeFileSync(backupFile, "{");
    expect(() => revert({ host: fake.host, backupFile })).toThrow(/is not JSON/);
    const foreign = {
      format: "sluice-tune-backup",
      version: 1,
      createdAt: "2026-12-05T00:00:00.000Z",
      namespaces: {},
      changes: [{ id: "x", kind: "write", path: "/etc/passwd", value: "a", previous: "b" }],
    };
    writeFileSync(backupFile, JSON.stringify(foreign));
    expect(() => revert({ host: fake.host, backupFile })).toThrow(/changes\[0\]\.path is not under \/proc or \/sys/);
  });
});
