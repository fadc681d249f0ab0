// The OS settings `sluice tune` checks, one table: what each reads, what it recommends and why,
// and the change apply makes. Sources: Kafka's operations guide ("Hardware and OS": file
// descriptors, max_map_count, noatime, the page cache flush sysctls, socket buffer sizes) and
// Redpanda's rpk tuners (`rpk redpanda tune`: swappiness, disk_scheduler, disk_nomerges, net,
// cpu, clocksource, transparent_hugepages). Where Sluice differs from both (its memory maps,
// Node's heap) the `why` says so. Settings the host does not expose come out as "n/a" with the
// reason, never as failures.
//
// Left out on purpose: rpk's aio_events (fs.aio-max-nr: Seastar uses Linux AIO, Sluice uses
// pwrite on native threads), disk/NIC IRQ affinity and ballast files (Seastar's thread-per-core
// model), and net.ipv4.tcp_mem (system-wide pressure thresholds the kernel sizes from RAM at boot).

import {
  atimeOptions,
  type BlockDevice,
  blockDeviceOf,
  findMount,
  type Host,
  type LogDirSurvey,
  type MountEntry,
  parseChoice,
  parseIntegers,
  parseOpenFilesLimit,
  resolveExisting,
  sysctlPath,
} from "./host.js";

export type Status = "ok" | "off" | "n/a";

/** One change apply makes, with what revert needs to undo it exactly. */
export type Change =
  | { readonly kind: "write"; readonly path: string; readonly value: string; readonly previous: string }
  | { readonly kind: "remount"; readonly mountPoint: string; readonly options: readonly string[]; readonly previous: readonly string[] };

/** One line of `sluice tune check`: a setting, for one device, mount or the whole host. */
export interface Row {
  readonly id: string;
  /** The device, mount point or CPUs the row is about; absent for host-wide settings. */
  readonly target?: string;
  readonly current: string;
  readonly recommended: string;
  readonly status: Status;
  /** Why a setting is n/a, or why apply cannot change an off setting here. */
  readonly reason?: string;
  readonly why: string;
  /** What apply does when the row is off; empty when it is ok, n/a, or beyond apply's reach. */
  readonly changes: readonly Change[];
  /** What the operator must do when apply cannot (another process's limits). */
  readonly manual?: string;
}

export interface TuneContext {
  /** Absolute log directories (log.dirs, or --log-dir). */
  readonly logDirs: readonly string[];
  readonly survey: LogDirSurvey;
  /** The larger of socket.send.buffer.bytes and socket.receive.buffer.bytes (-1: the OS default). */
  readonly socketBufferBytes: number;
  /** /proc/self/mountinfo, undefined when the host does not expose it. */
  readonly mounts: readonly MountEntry[] | undefined;
}

export interface Setting {
  readonly id: string;
  readonly why: string;
  rows(host: Host, context: TuneContext): Row[];
}

// ---------------------------------------------------------------------------------------------
// Sizing from the log directories

/** Kafka's operations guide: "at least 100000 allowed file descriptors for the broker processes as a starting point". */
export const openFilesFloor = 100_000;

/**
 * Sluice holds one descriptor per segment .log (as Kafka) and two per partition for the active
 * segment's indexes (docs/storage.md); doubled for client connections and segments being rolled.
 */
export function recommendedOpenFiles(survey: LogDirSurvey): number {
  return Math.max(openFilesFloor, 2 * (survey.segments + 2 * survey.partitions));
}

/** A common floor for mmap-heavy servers, four times Linux's default of 65530. */
export const maxMapCountFloor = 262_144;

/**
 * Kafka's operations guide counts one map area for each segment's .index and one for its
 * .timeindex: 2 per segment. Twice that leaves room for segments rolled while old ones await
 * deletion and for the process's other maps (V8's heap, thread stacks, jemalloc). Sluice itself
 * maps only the indexes of segments in use, within a 32,768-map budget (docs/storage.md), so the
 * count matters most for the same log dirs served by Kafka; the floor covers Sluice with room.
 */
export function recommendedMaxMapCount(survey: LogDirSurvey): number {
  return Math.max(maxMapCountFloor, 2 * 2 * survey.segments);
}

/**
 * 16 MiB: the bandwidth-delay product of 10 Gbit/s at 13 ms round trip, the usual ceiling for
 * links between data centres; never below the broker's own socket.*.buffer.bytes, which the
 * kernel would otherwise cap at net.core.[rw]mem_max without a word.
 */
export function recommendedSocketBufferMax(context: TuneContext): number {
  return Math.max(16 * 1024 * 1024, context.socketBufferBytes);
}

// ---------------------------------------------------------------------------------------------
// Rules: what is ok, and what apply writes

interface Rule {
  /** As shown in the table: "1", "≥ 4096", "none". */
  readonly recommended: string;
  satisfied(current: string): boolean;
  /** The value apply writes, given the current one (e.g. tcp_rmem keeps its first two fields). */
  target(current: string): string;
}

function exactly(value: string): Rule {
  return { recommended: value, satisfied: (current) => current === value, target: () => value };
}

function atLeast(value: number): Rule {
  return { recommended: `≥ ${value}`, satisfied: (current) => Number(current) >= value, target: () => String(value) };
}

function atMost(value: number): Rule {
  return { recommended: `≤ ${value}`, satisfied: (current) => Number(current) <= value, target: () => String(value) };
}

/** For "min default max" triples (tcp_rmem, tcp_wmem): the max at least `value`, the rest kept. */
function maxFieldAtLeast(value: number): Rule {
  return {
    recommended: `max ≥ ${value}`,
    satisfied: (current) => (parseIntegers(current)[2] ?? 0) >= value,
    target: (current) => {
      const [minimum, initial] = parseIntegers(current);
      return `${minimum} ${initial} ${value}`;
    },
  };
}

function oneOf(accepted: readonly string[], value: string): Rule {
  return { recommended: value, satisfied: (current) => accepted.includes(current), target: () => value };
}

/** A row for a setting this host does not expose (or not for this target). */
function notApplicable(id: string, why: string, reason: string, fields: { target?: string; current?: string; recommended?: string } = {}): Row {
  return { id, current: "-", recommended: "-", ...fields, status: "n/a", reason, why, changes: [] };
}

interface FileRowOptions {
  readonly id: string;
  readonly why: string;
  readonly path: string;
  readonly rule: Rule;
  readonly target?: string;
  /** Turns the file's contents into the value (the selected word of a choice file); identity by default. */
  readonly value?: (text: string) => string | undefined;
  /** The n/a reason when the file is missing. */
  readonly missing?: string;
}

/** A setting held in one /proc or /sys file. */
function fileRow(host: Host, options: FileRowOptions): Row {
  const { id, why, path, rule, target } = options;
  const text = host.read(path);
  const current = text === undefined ? undefined : (options.value ?? ((raw: string) => raw.trim()))(text);
  if (current === undefined) {
    return notApplicable(id, why, options.missing ?? `no ${path} here`, { target, recommended: rule.recommended });
  }
  // Whitespace normalised: "4096\t131072\t6291456" is written back as "4096 131072 6291456", the same to the kernel.
  const shown = current.replace(/\s+/g, " ");
  if (rule.satisfied(current)) return { id, target, current: shown, recommended: rule.recommended, status: "ok", why, changes: [] };
  const readOnly = host.readOnlyReason(path);
  if (readOnly !== undefined) return { id, target, current: shown, recommended: rule.recommended, status: "off", reason: readOnly, why, changes: [] };
  const change: Change = { kind: "write", path, value: rule.target(current), previous: shown };
  return { id, target, current: shown, recommended: rule.recommended, status: "off", why, changes: [change] };
}

function sysctl(id: string, why: string, rule: (context: TuneContext) => Rule): Setting {
  return { id, why, rows: (host, context) => [fileRow(host, { id, why, path: sysctlPath(id), rule: rule(context) })] };
}

/**
 * vm.dirty_ratio and vm.dirty_bytes are two views of one limit: writing either zeroes the
 * other. When the bytes form is in use, leave it alone (writing the ratio would replace it, and
 * restoring the ratio could not bring the bytes back).
 */
function dirtySysctl(id: string, bytesName: string, why: string, rule: Rule): Setting {
  return {
    id,
    why,
    rows: (host) => {
      const bytes = host.read(sysctlPath(bytesName))?.trim();
      if (bytes !== undefined && bytes !== "0") {
        return [notApplicable(id, why, `set as ${bytesName}`, { current: `${bytesName} = ${bytes}`, recommended: rule.recommended })];
      }
      return [fileRow(host, { id, why, path: sysctlPath(id), rule })];
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Log directories: their mounts and disks

function describeDirs(logDirs: readonly string[]): string {
  return logDirs.join(", ");
}

interface LogDirMount {
  readonly mount: MountEntry;
  readonly logDirs: string[];
}

/** Each mount holding a log dir, once, with the dirs it holds. */
function logDirMounts(context: TuneContext): LogDirMount[] | string {
  if (context.mounts === undefined) return "no /proc/self/mountinfo here";
  const byMount = new Map<string, LogDirMount>();
  for (const logDir of context.logDirs) {
    const mount = findMount(context.mounts, resolveExisting(logDir));
    if (mount === undefined) continue;
    const entry = byMount.get(mount.mountPoint) ?? { mount, logDirs: [] };
    entry.logDirs.push(logDir);
    byMount.set(mount.mountPoint, entry);
  }
  return [...byMount.values()];
}

interface LogDirDisk {
  readonly device: BlockDevice | { readonly reason: string };
  readonly label: string;
}

/** Each disk holding a log dir, once (two mounts on one disk share its queue). */
function logDirDisks(host: Host, context: TuneContext): LogDirDisk[] | string {
  const mounts = logDirMounts(context);
  if (typeof mounts === "string") return mounts;
  const disks = new Map<string, { device: BlockDevice | { reason: string }; logDirs: string[] }>();
  for (const { mount, logDirs } of mounts) {
    const device = blockDeviceOf(host, mount);
    const key = "name" in device ? device.name : `${mount.mountPoint}\0${device.reason}`;
    const entry = disks.get(key) ?? { device, logDirs: [] as string[] };
    entry.logDirs.push(...logDirs);
    disks.set(key, entry);
  }
  return [...disks.values()].map(({ device, logDirs }) => ({
    device,
    label: "name" in device ? `${device.name} (${describeDirs(logDirs)})` : describeDirs(logDirs),
  }));
}

/** A setting of the I/O queue of each disk holding a log dir. */
function diskSetting(
  id: string,
  file: string,
  why: string,
  rule: (device: BlockDevice, host: Host) => Rule | string,
  value?: (text: string) => string | undefined,
): Setting {
  return {
    id,
    why,
    rows: (host, context) => {
      const disks = logDirDisks(host, context);
      if (typeof disks === "string") return [notApplicable(id, why, disks)];
      return disks.map(({ device, label }) => {
        if (!("name" in device)) return notApplicable(id, why, device.reason, { target: label });
        const chosen = rule(device, host);
        if (typeof chosen === "string") return notApplicable(id, why, chosen, { target: label });
        return fileRow(host, { id, why, target: label, path: `${device.queue}/${file}`, rule: chosen, value });
      });
    },
  };
}

const selected = (text: string) => parseChoice(text).current;

/**
 * rpk's disk_scheduler tuner picks none (noop on old single-queue kernels) for SSD and NVMe, whose
 * controllers reorder requests themselves; a rotating disk needs a scheduler that sorts and merges
 * requests and bounds their latency, mq-deadline (deadline before blk-mq).
 */
function schedulerRule(device: BlockDevice, host: Host): Rule | string {
  const available = parseChoice(host.read(`${device.queue}/scheduler`) ?? "").available;
  if (available.length === 0) return `${device.name} has no I/O scheduler choice`;
  const preferred = device.rotational === true ? ["mq-deadline", "deadline"] : ["none", "noop"];
  const target = preferred.find((name) => available.includes(name));
  if (target === undefined) return `${device.name} offers neither ${preferred.join(" nor ")} (${available.join(", ")})`;
  return exactly(target);
}

// ---------------------------------------------------------------------------------------------
// The table

const why = {
  swappiness: "swap out the broker's heap only under real pressure, drop page cache first (Kafka ops; rpk swappiness: 1)",
  dirtyBackground: "start background writeback early so the page cache flushes steadily, not in bursts (Kafka ops: OS flush behaviour)",
  dirtyRatio: "writers block only when this share of memory is dirty: room for bursts (Kafka ops; Canonical's Kafka tuning: 80)",
  maxMapCount: "Kafka maps each segment's .index and .timeindex: 2 × 2 per segment found, at least 262144 (Sluice itself keeps ≤ 32768)",
  fileMax: "system-wide open files: room for the broker's limit",
  nrOpen: "ceiling of any process's open-file limit: LimitNOFILE cannot go above it",
  noFile: "a descriptor per segment .log + 2 per partition + connections (Kafka ops: at least 100000)",
  scheduler: "none for SSD/NVMe, which schedule themselves (rpk disk_scheduler); mq-deadline for rotating disks: sorted, merged, bounded",
  nomerges: "SSD/NVMe: skip merge attempts, CPU saved per I/O (rpk disk_nomerges: 2); rotating disks: merges save seeks (0)",
  readAhead: "consumers catching up read segments sequentially: below the kernel's 128 KB they make more, smaller reads",
  noatime: "fetches would write inode access times; Kafka never reads atime (Kafka ops: mount log dirs noatime)",
  thpEnabled: "madvise: V8 and jemalloc opt in where it pays; always adds compaction stalls and RSS bloat (rpk sets always for Seastar)",
  thpDefrag: "no direct compaction on page faults: it stalls the faulting thread for milliseconds",
  somaxconn: "listen backlog ceiling: a reconnect storm after a restart queues instead of being refused (rpk net: 4096)",
  synBacklog: "half-open connections kept during a connection storm (rpk net: 4096)",
  rmemMax: "ceiling of SO_RCVBUF (socket.receive.buffer.bytes): larger values are silently capped (Kafka ops: socket buffer size)",
  wmemMax: "ceiling of SO_SNDBUF (socket.send.buffer.bytes): larger values are silently capped (Kafka ops: socket buffer size)",
  tcpRmem: "autotuning ceiling of receive buffers (socket.receive.buffer.bytes=-1, clients, followers): fills long fast links",
  tcpWmem: "autotuning ceiling of send buffers (socket.send.buffer.bytes=-1, clients, followers): fills long fast links",
  governor: "performance: no frequency ramp-up delay on each burst of requests (rpk cpu tuner)",
  clocksource: "tsc is read in user space (vDSO); hpet and acpi_pm cost a kernel entry per timestamp (rpk clocksource tuner)",
};

export const settings: readonly Setting[] = [
  sysctl("vm.swappiness", why.swappiness, () => exactly("1")),
  dirtySysctl("vm.dirty_background_ratio", "vm.dirty_background_bytes", why.dirtyBackground, atMost(5)),
  dirtySysctl("vm.dirty_ratio", "vm.dirty_bytes", why.dirtyRatio, atLeast(80)),
  sysctl("vm.max_map_count", why.maxMapCount, (context) => atLeast(recommendedMaxMapCount(context.survey))),
  {
    id: "limits.nofile",
    why: why.noFile,
    rows: (host, context) => {
      const id = "limits.nofile";
      const recommended = recommendedOpenFiles(context.survey);
      const limit = parseOpenFilesLimit(host.read("/proc/self/limits") ?? "");
      if (limit === undefined) return [notApplicable(id, why.noFile, "no /proc/self/limits here", { recommended: `≥ ${recommended}` })];
      const current = `${limit.soft} (hard ${limit.hard})`;
      if (limit.soft >= recommended)
        return [{ id, target: "this shell", current, recommended: `≥ ${recommended}`, status: "ok", why: why.noFile, changes: [] }];
      // A process's limits belong to it and its parent: `sluice tune` cannot raise the broker's.
      const manual = `raise the broker's limit: LimitNOFILE=${recommended} in its systemd unit, or \`ulimit -n ${recommended}\` before \`sluice start\``;
      return [
        {
          id,
          target: "this shell",
          current,
          recommended: `≥ ${recommended}`,
          status: "off",
          reason: "apply cannot raise another process's limit",
          why: why.noFile,
          changes: [],
          manual,
        },
      ];
    },
  },
  sysctl("fs.file-max", why.fileMax, (context) => atLeast(recommendedOpenFiles(context.survey))),
  sysctl("fs.nr_open", why.nrOpen, (context) => atLeast(recommendedOpenFiles(context.survey))),
  {
    id: "mount.noatime",
    why: why.noatime,
    rows: (_host, context) => {
      const id = "mount.noatime";
      const mounts = logDirMounts(context);
      if (typeof mounts === "string") return [notApplicable(id, why.noatime, mounts, { recommended: "noatime" })];
      return mounts.map(({ mount, logDirs }): Row => {
        const previous = atimeOptions(mount.options);
        const current = previous.length === 0 ? "strictatime" : previous.join(",");
        const target = `${mount.mountPoint} (${mount.fsType}: ${describeDirs(logDirs)})`;
        if (previous.includes("noatime")) return { id, target, current, recommended: "noatime", status: "ok", why: why.noatime, changes: [] };
        const change: Change = { kind: "remount", mountPoint: mount.mountPoint, options: ["noatime"], previous };
        return { id, target, current, recommended: "noatime", status: "off", why: why.noatime, changes: [change] };
      });
    },
  },
  diskSetting("disk.scheduler", "scheduler", why.scheduler, schedulerRule, selected),
  diskSetting("disk.nomerges", "nomerges", why.nomerges, (device) =>
    device.rotational === undefined ? `${device.name} does not say whether it rotates` : exactly(device.rotational ? "0" : "2"),
  ),
  diskSetting("disk.read_ahead_kb", "read_ahead_kb", why.readAhead, () => atLeast(128)),
  {
    id: "thp.enabled",
    why: why.thpEnabled,
    rows: (host) => [
      fileRow(host, {
        id: "thp.enabled",
        why: why.thpEnabled,
        path: "/sys/kernel/mm/transparent_hugepage/enabled",
        rule: oneOf(["madvise", "never"], "madvise"),
        value: selected,
        missing: "no transparent huge pages in this kernel",
      }),
    ],
  },
  {
    id: "thp.defrag",
    why: why.thpDefrag,
    rows: (host) => [
      fileRow(host, {
        id: "thp.defrag",
        why: why.thpDefrag,
        path: "/sys/kernel/mm/transparent_hugepage/defrag",
        rule: oneOf(["defer", "defer+madvise", "madvise", "never"], "madvise"),
        value: selected,
        missing: "no transparent huge pages in this kernel",
      }),
    ],
  },
  sysctl("net.core.somaxconn", why.somaxconn, () => atLeast(4096)),
  sysctl("net.ipv4.tcp_max_syn_backlog", why.synBacklog, () => atLeast(4096)),
  sysctl("net.core.rmem_max", why.rmemMax, (context) => atLeast(recommendedSocketBufferMax(context))),
  sysctl("net.core.wmem_max", why.wmemMax, (context) => atLeast(recommendedSocketBufferMax(context))),
  sysctl("net.ipv4.tcp_rmem", why.tcpRmem, (context) => maxFieldAtLeast(recommendedSocketBufferMax(context))),
  sysctl("net.ipv4.tcp_wmem", why.tcpWmem, (context) => maxFieldAtLeast(recommendedSocketBufferMax(context))),
  { id: "cpu.governor", why: why.governor, rows: (host) => [governorRow(host)] },
  {
    id: "clocksource",
    why: why.clocksource,
    rows: (host) => {
      const directory = "/sys/devices/system/clocksource/clocksource0";
      const available = (host.read(`${directory}/available_clocksource`) ?? "").trim().split(/\s+/);
      const current = host.read(`${directory}/current_clocksource`)?.trim();
      if (current !== undefined && current !== "tsc" && !available.includes("tsc")) {
        const reason = `tsc not offered, only ${available.join(", ")}: not x86, or the kernel found it unstable`;
        return [notApplicable("clocksource", why.clocksource, reason, { current, recommended: "tsc" })];
      }
      return [
        fileRow(host, {
          id: "clocksource",
          why: why.clocksource,
          path: `${directory}/current_clocksource`,
          rule: exactly("tsc"),
          missing: "no clocksource in /sys here",
        }),
      ];
    },
  },
];

/** The governor of every CPU with cpufreq, as one row: one change per CPU that is not on performance. */
function governorRow(host: Host): Row {
  const id = "cpu.governor";
  const cpus = host
    .list("/sys/devices/system/cpu")
    .filter((name) => /^cpu\d+$/.test(name))
    .sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)))
    .map((name) => ({ name, path: `/sys/devices/system/cpu/${name}/cpufreq/scaling_governor` }))
    .map((cpu) => ({ ...cpu, governor: host.read(cpu.path)?.trim() }))
    .filter((cpu): cpu is { name: string; path: string; governor: string } => cpu.governor !== undefined);
  if (cpus.length === 0) {
    return notApplicable(id, why.governor, "no cpufreq here: a VM or container, the hypervisor sets the frequency", { recommended: "performance" });
  }
  const counts = new Map<string, number>();
  for (const cpu of cpus) counts.set(cpu.governor, (counts.get(cpu.governor) ?? 0) + 1);
  const current = [...counts].map(([governor, count]) => (counts.size === 1 ? governor : `${governor} ×${count}`)).join(", ");
  const target = `${cpus.length} CPU${cpus.length === 1 ? "" : "s"}`;
  const behind = cpus.filter((cpu) => cpu.governor !== "performance");
  if (behind.length === 0) return { id, target, current, recommended: "performance", status: "ok", why: why.governor, changes: [] };
  const offers = (cpu: { path: string }) => (host.read(cpu.path.replace(/scaling_governor$/, "scaling_available_governors")) ?? "").split(/\s+/);
  const offered = behind.filter((cpu) => offers(cpu).includes("performance"));
  if (offered.length === 0)
    return notApplicable(id, why.governor, "the cpufreq driver offers no performance governor", { target, current, recommended: "performance" });
  const writable = offered.filter((cpu) => host.readOnlyReason(cpu.path) === undefined);
  const changes: Change[] = writable.map((cpu) => ({ kind: "write", path: cpu.path, value: "performance", previous: cpu.governor }));
  return {
    id,
    target,
    current,
    recommended: "performance",
    status: "off",
    reason: writable.length === 0 ? "scaling_governor is read-only here" : undefined,
    why: why.governor,
    changes,
  };
}

/** Every setting id, for --only. */
export const settingIds: readonly string[] = settings.map((setting) => setting.id);
