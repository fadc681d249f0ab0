// What `sluice tune` reads from and writes to the host: /proc and /sys files, the mount table,
// block devices, resource limits, and the log directories' partitions.
//
// Every /proc, /sys and /dev path goes through `Host.path`, which puts them under `root` ("/" on
// a real host), so unit tests run against a fake tree. Log directories are real paths, never under
// `root`: a fake /proc/self/mountinfo names the test's own directories as mount points.

import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";

export interface CommandResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command (argv[0] found on PATH); apply and revert use it only for `mount -o remount`. */
export type CommandRunner = (argv: readonly string[]) => CommandResult;

export const runCommand: CommandRunner = (argv) => {
  const run = spawnSync(argv[0], argv.slice(1), { encoding: "utf8" });
  if (run.error) return { status: null, stdout: "", stderr: run.error.message };
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
};

export class Host {
  constructor(
    readonly root: string = "/",
    readonly run: CommandRunner = runCommand,
  ) {}

  /** Where a host path (/proc/..., /sys/..., /dev/...) is under `root`. */
  path(hostPath: string): string {
    return this.root === "/" ? hostPath : join(this.root, hostPath);
  }

  /** The file's contents without the trailing newline, or undefined when it cannot be read. */
  read(hostPath: string): string | undefined {
    try {
      return readFileSync(this.path(hostPath), "utf8").replace(/\n$/, "");
    } catch {
      return undefined;
    }
  }

  exists(hostPath: string): boolean {
    try {
      statSync(this.path(hostPath));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Why root could not write the file here, whoever runs check; undefined when it could. In a
   * network namespace other than the host's, the kernel shows the sysctls that are not per
   * namespace (net.core.rmem_max, ...) as mode 0444; containers often mount /proc/sys and /sys
   * read-only. (access(2) would answer for this user instead: to anyone but root every file
   * would look read-only.)
   */
  readOnlyReason(hostPath: string): string | undefined {
    let mode: number;
    try {
      mode = statSync(this.path(hostPath)).mode;
    } catch {
      return `no ${hostPath} here`;
    }
    if ((mode & 0o222) === 0) return hostPath.startsWith("/proc/sys/net/") ? "read-only in this network namespace" : `${hostPath} is read-only here`;
    if (this.root !== "/") return undefined;
    const mount = findMount(parseMountInfo(this.read("/proc/self/mountinfo") ?? ""), hostPath);
    return mount?.options.includes("ro") ? `${mount.mountPoint} is mounted read-only here` : undefined;
  }

  /** Names in a directory, sorted; [] when it does not exist. */
  list(hostPath: string): string[] {
    try {
      return readdirSync(this.path(hostPath)).sort();
    } catch {
      return [];
    }
  }

  /** Writes as `echo value > file` does (procfs and sysfs take the trailing newline). */
  write(hostPath: string, value: string): void {
    writeFileSync(this.path(hostPath), `${value}\n`);
  }

  /** The host path a symbolic link under /sys resolves to, or undefined. */
  resolveLink(hostPath: string): string | undefined {
    try {
      const real = realpathSync(this.path(hostPath));
      if (this.root === "/") return real;
      const root = realpathSync(this.root);
      return real.startsWith(root + sep) ? real.slice(root.length) : undefined;
    } catch {
      return undefined;
    }
  }

  /** The target of a symbolic link such as /proc/self/ns/net ("net:[4026531840]"), or undefined. */
  readLink(hostPath: string): string | undefined {
    try {
      return readlinkSync(this.path(hostPath));
    } catch {
      return undefined;
    }
  }

  /** major:minor of a device node such as /dev/sda1, or undefined. */
  deviceNumber(hostPath: string): string | undefined {
    try {
      const rdev = statSync(this.path(hostPath)).rdev;
      // glibc's major()/minor() for the 64-bit dev_t (12 bits of major and 20 of minor, split).
      const major = (Math.floor(rdev / 256) % 4096) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
      const minor = (rdev % 256) | (Math.floor(rdev / 4096) & ~0xff);
      return rdev === 0 ? undefined : `${major}:${minor}`;
    } catch {
      return undefined;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// sysctl

/** /proc/sys/vm/swappiness for vm.swappiness. */
export function sysctlPath(name: string): string {
  return `/proc/sys/${name.replaceAll(".", "/")}`;
}

/** Whitespace-separated integers, as in net.ipv4.tcp_rmem ("4096\t131072\t6291456"). */
export function parseIntegers(text: string): number[] {
  return text
    .trim()
    .split(/\s+/)
    .map((field) => Number(field));
}

// ---------------------------------------------------------------------------------------------
// Mounts

/** One line of /proc/self/mountinfo (proc(5)). */
export interface MountEntry {
  readonly majorMinor: string;
  readonly mountPoint: string;
  /** Per-mount options: rw, nosuid, noatime, relatime, ... */
  readonly options: readonly string[];
  readonly fsType: string;
  readonly source: string;
}

/** mountinfo escapes space, tab, newline and backslash in paths as \040, \011, \012, \134. */
function unescapeMountPath(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const fields = line.split(" ");
    // 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
    const separator = fields.indexOf("-", 6);
    if (fields.length < 10 || separator < 0) continue;
    entries.push({
      majorMinor: fields[2],
      mountPoint: unescapeMountPath(fields[4]),
      options: fields[5].split(","),
      fsType: fields[separator + 1],
      source: unescapeMountPath(fields[separator + 2] ?? ""),
    });
  }
  return entries;
}

/**
 * The mount holding `path` (an absolute, resolved path): the longest mount point that contains it,
 * and of several mounts on the same point the last one, which hides the others.
 */
export function findMount(entries: readonly MountEntry[], path: string): MountEntry | undefined {
  let found: MountEntry | undefined;
  for (const entry of entries) {
    const point = entry.mountPoint;
    const contains = path === point || point === "/" || path.startsWith(`${point}/`);
    if (contains && (found === undefined || point.length >= found.mountPoint.length)) found = entry;
  }
  return found;
}

/** The path with symbolic links resolved, through its nearest existing ancestor (a log dir may not exist yet). */
export function resolveExisting(path: string): string {
  let existing = resolve(path);
  const missing: string[] = [];
  for (;;) {
    try {
      return join(realpathSync(existing), ...missing.reverse());
    } catch {
      const parent = dirname(existing);
      if (parent === existing) return resolve(path);
      missing.push(basename(existing));
      existing = parent;
    }
  }
}

/** How a mount treats access times: the atime options it shows, e.g. ["relatime"], ["noatime"], [] (strictatime). */
export function atimeOptions(options: readonly string[]): string[] {
  return options.filter((option) => option === "noatime" || option === "relatime" || option === "nodiratime");
}

// ---------------------------------------------------------------------------------------------
// Block devices

export interface BlockDevice {
  /** The whole disk's name (vda for a file system on vda1): the I/O queue belongs to it. */
  readonly name: string;
  /** Host path of the queue directory, /sys/devices/.../block/<name>/queue. */
  readonly queue: string;
  readonly rotational: boolean | undefined;
}

/** The disk whose queue serves a mount, or why there is none (tmpfs, overlay, a container without /sys/dev/block). */
export function blockDeviceOf(host: Host, mount: MountEntry): BlockDevice | { readonly reason: string } {
  if (!host.exists("/sys/dev/block")) return { reason: "no /sys/dev/block here (a container?)" };
  let majorMinor = mount.majorMinor;
  // Anonymous device numbers (major 0) belong to tmpfs, overlay, btrfs subvolumes, ...: btrfs and
  // the like still name their device as the source.
  if (majorMinor.startsWith("0:") && mount.source.startsWith("/dev/")) majorMinor = host.deviceNumber(mount.source) ?? majorMinor;
  if (majorMinor.startsWith("0:")) return { reason: `${mount.fsType} has no block device` };
  let device = host.resolveLink(`/sys/dev/block/${majorMinor}`);
  if (device === undefined) return { reason: `no /sys/dev/block/${majorMinor}` };
  // A partition (vda1) has no queue of its own: its disk (vda) is the directory above.
  if (host.exists(`${device}/partition`)) device = dirname(device);
  const queue = `${device}/queue`;
  if (!host.exists(queue)) return { reason: `${basename(device)} has no I/O queue in /sys` };
  const rotational = host.read(`${queue}/rotational`);
  return { name: basename(device), queue, rotational: rotational === undefined ? undefined : rotational.trim() === "1" };
}

/** A choice file of /sys such as queue/scheduler or transparent_hugepage/enabled: "none [mq-deadline] kyber". */
export function parseChoice(text: string): { current: string | undefined; available: string[] } {
  const available: string[] = [];
  let current: string | undefined;
  for (const word of text.trim().split(/\s+/)) {
    const selected = /^\[(.*)\]$/.exec(word);
    if (selected) current = selected[1];
    available.push(selected ? selected[1] : word);
  }
  return { current, available: available.filter((word) => word.length > 0) };
}

// ---------------------------------------------------------------------------------------------
// Limits

/** "Max open files" of /proc/<pid>/limits: soft and hard, Infinity for "unlimited". */
export function parseOpenFilesLimit(text: string): { soft: number; hard: number } | undefined {
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!match) return undefined;
  const value = (field: string) => (field === "unlimited" ? Number.POSITIVE_INFINITY : Number(field));
  return { soft: value(match[1]), hard: value(match[2]) };
}

// ---------------------------------------------------------------------------------------------
// Log directories

export interface LogDirSurvey {
  /** Partition directories (<topic>-<partition>) in all log dirs. */
  readonly partitions: number;
  /** Segments (.log files) in them, at least one per partition: the active one. */
  readonly segments: number;
}

/** Kafka's partition directory name, <topic>-<n>; deleted (…-delete), future and stray directories do not count. */
const partitionDirectory = /^[a-zA-Z0-9._-]+-\d+$/;

export function surveyLogDirs(logDirs: readonly string[]): LogDirSurvey {
  let partitions = 0;
  let segments = 0;
  for (const logDir of logDirs) {
    let names: string[];
    try {
      names = readdirSync(logDir, { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && partitionDirectory.test(entry.name))
        .map((entry) => entry.name);
    } catch {
      continue; // not created yet: a fresh broker has no partitions
    }
    for (const name of names) {
      partitions++;
      let logs = 0;
      try {
        logs = readdirSync(join(logDir, name)).filter((file) => file.endsWith(".log")).length;
      } catch {
        // unreadable: count the active segment only
      }
      segments += Math.max(1, logs);
    }
  }
  return { partitions, segments };
}
