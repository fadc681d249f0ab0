// `sluice tune` (and scripts/tune): check the host's OS settings against what a broker wants,
// apply the ones that are off, and revert exactly what apply changed.
//
// check  — reads every setting of settings.ts for this host and these log dirs; nothing changes.
// apply  — makes the changes of the rows that are off, each recorded in the backup first (backup.ts);
//          rows already ok are left alone, so a second apply changes nothing.
// revert — replays the backup's previous values, last change first, then deletes the backup.

import { resolve } from "node:path";
import { type Backup, changeKey, type Namespaces, newBackup, type RecordedChange, readBackup, removeBackup, TuneError, writeBackup } from "./backup.js";
import { atimeOptions, Host, parseMountInfo, surveyLogDirs } from "./host.js";
import { type Change, type Row, type Setting, settingIds, settings, type TuneContext } from "./settings.js";

export { defaultBackupFile, TuneError } from "./backup.js";
export { Host } from "./host.js";
export type { Change, Row, Status } from "./settings.js";
export { settingIds } from "./settings.js";

export interface TuneOptions {
  readonly host?: Host;
  readonly logDirs: readonly string[];
  /** The larger of socket.send.buffer.bytes and socket.receive.buffer.bytes; -1 (the OS default) when absent. */
  readonly socketBufferBytes?: number;
  /** Setting ids or groups (the part before the first dot: vm, net, disk, ...); all when absent. */
  readonly only?: readonly string[];
}

export function buildContext(host: Host, options: TuneOptions): TuneContext {
  const logDirs = options.logDirs.map((logDir) => resolve(logDir));
  const mountinfo = host.read("/proc/self/mountinfo");
  return {
    logDirs,
    survey: surveyLogDirs(logDirs),
    socketBufferBytes: options.socketBufferBytes ?? -1,
    mounts: mountinfo === undefined ? undefined : parseMountInfo(mountinfo),
  };
}

/** The settings --only names: an id (vm.swappiness) or a group (vm matches vm.swappiness, vm.dirty_ratio, ...). */
export function selectSettings(only: readonly string[] | undefined): Setting[] {
  if (only === undefined || only.length === 0) return [...settings];
  const matches = (setting: Setting, name: string) => setting.id === name || setting.id.startsWith(`${name}.`);
  for (const name of only) {
    if (!settings.some((setting) => matches(setting, name))) {
      const groups = [...new Set(settingIds.map((id) => id.split(".")[0]))];
      throw new TuneError(`unknown setting ${JSON.stringify(name)}: known are ${settingIds.join(", ")} and the groups ${groups.join(", ")}`);
    }
  }
  return settings.filter((setting) => only.some((name) => matches(setting, name)));
}

export function check(options: TuneOptions): Row[] {
  const host = options.host ?? new Host();
  const context = buildContext(host, options);
  return selectSettings(options.only).flatMap((setting) => setting.rows(host, context));
}

// ---------------------------------------------------------------------------------------------
// Changes: as shell commands, made in process, undone

function shellQuote(text: string): string {
  return /^[\w./:=,+-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * The mount options that undo `noatime`: `atime` clears the noatime libmount would otherwise carry
 * over from the mount's current options, and the access-time mode and diratime are set again
 * explicitly (a remount that names none keeps whatever is there).
 */
export function restoringAtimeOptions(previous: readonly string[]): string[] {
  const mode = previous.includes("noatime") ? "noatime" : previous.includes("relatime") ? "relatime" : "strictatime";
  return ["atime", previous.includes("nodiratime") ? "nodiratime" : "diratime", mode];
}

/** The command that makes a change, as an operator would type it (what --dry-run prints). */
export function commandFor(change: Change): string {
  if (change.kind === "remount") {
    // remount,bind changes only this mount's flags (MS_REMOUNT|MS_BIND), never the file system's
    // superblock options; libmount keeps the mount's other flags (ro, nosuid, nodev) as they are.
    return `mount -o remount,bind,${change.options.join(",")} ${shellQuote(change.mountPoint)}`;
  }
  if (change.path.startsWith("/proc/sys/")) return `sysctl -w ${change.path.slice("/proc/sys/".length).replaceAll("/", ".")}=${shellQuote(change.value)}`;
  return `echo ${shellQuote(change.value)} > ${shellQuote(change.path)}`;
}

/** The change that undoes `change`. */
export function undoing(change: Change): Change {
  if (change.kind === "write") return { kind: "write", path: change.path, value: change.previous, previous: change.value };
  return { kind: "remount", mountPoint: change.mountPoint, options: restoringAtimeOptions(change.previous), previous: change.options };
}

function perform(host: Host, change: Change): void {
  if (change.kind === "write") {
    try {
      host.write(change.path, change.value);
    } catch (error) {
      throw new TuneError(`cannot write ${change.value} to ${change.path}: ${(error as Error).message}`);
    }
    return;
  }
  const argv = ["mount", "-o", `remount,bind,${change.options.join(",")}`, change.mountPoint];
  const run = host.run(argv);
  if (run.status !== 0) throw new TuneError(`\`${argv.join(" ")}\` failed: ${run.stderr.trim() || `exit status ${run.status}`}`);
}

/** What a change's target holds now, as the table shows it; undefined when it cannot be read. */
function currentValue(host: Host, change: Change): string | undefined {
  if (change.kind === "write") {
    const text = host.read(change.path)?.trim();
    // A choice file ("none [mq-deadline] kyber") holds the selected word.
    return text === undefined ? undefined : (/\[(.*)\]/.exec(text)?.[1] ?? text).replace(/\s+/g, " ");
  }
  const mount = parseMountInfo(host.read("/proc/self/mountinfo") ?? "")
    .filter((entry) => entry.mountPoint === change.mountPoint)
    .at(-1);
  return mount === undefined ? undefined : atimeOptions(mount.options).join(",") || "strictatime";
}

/** Whether the target still holds what apply set. */
function stillApplied(change: Change, current: string | undefined): boolean {
  if (current === undefined) return false;
  if (change.kind === "write") return current === change.value.replace(/\s+/g, " ");
  return change.options.every((option) => current.split(",").includes(option));
}

function currentNamespaces(host: Host): Namespaces {
  return { net: host.readLink("/proc/self/ns/net"), mnt: host.readLink("/proc/self/ns/mnt") };
}

/** Net sysctls and mounts belong to the namespace apply ran in: replaying them elsewhere would change another one. */
function namespaceMismatch(backup: Backup, here: Namespaces, changes: readonly Change[]): string | undefined {
  const touchesNet = changes.some((change) => change.kind === "write" && change.path.startsWith("/proc/sys/net/"));
  const touchesMounts = changes.some((change) => change.kind === "remount");
  if (touchesNet && backup.namespaces.net !== undefined && backup.namespaces.net !== here.net) {
    return `network namespace ${backup.namespaces.net}, this is ${here.net ?? "unknown"}`;
  }
  if (touchesMounts && backup.namespaces.mnt !== undefined && backup.namespaces.mnt !== here.mnt) {
    return `mount namespace ${backup.namespaces.mnt}, this is ${here.mnt ?? "unknown"}`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// apply and revert

export interface Done {
  readonly id: string;
  readonly change: Change;
  readonly command: string;
}

export interface ApplyResult {
  readonly rows: readonly Row[];
  /** Made (or, with dryRun, to be made), in order. */
  readonly changes: readonly Done[];
  /** Off, and apply cannot change them here (read-only in this namespace). */
  readonly skipped: readonly Row[];
  /** Off, and only the operator can change them. */
  readonly manual: readonly Row[];
  readonly backupFile: string;
}

export interface ApplyOptions extends TuneOptions {
  readonly backupFile: string;
  readonly dryRun?: boolean;
}

export function apply(options: ApplyOptions): ApplyResult {
  const host = options.host ?? new Host();
  const rows = check({ ...options, host });
  const off = rows.filter((row) => row.status === "off");
  const planned = off.flatMap((row) => row.changes.map((change) => ({ id: row.id, change, command: commandFor(change) })));
  const result = {
    rows,
    skipped: off.filter((row) => row.changes.length === 0 && row.manual === undefined),
    manual: off.filter((row) => row.manual !== undefined),
    backupFile: options.backupFile,
  };
  if (options.dryRun || planned.length === 0) return { ...result, changes: options.dryRun ? planned : [] };

  const here = currentNamespaces(host);
  let backup = readBackup(options.backupFile) ?? newBackup(here);
  const mismatch = namespaceMismatch(
    backup,
    here,
    planned.map((done) => done.change),
  );
  if (mismatch !== undefined) {
    throw new TuneError(`the backup file ${options.backupFile} is from another namespace (${mismatch}): revert it there, or pass another --backup-file`);
  }
  const recorded = new Set(backup.changes.map(changeKey));
  const made: Done[] = [];
  for (const done of planned) {
    // Write-ahead: the backup names the previous value before the value changes. A setting an
    // earlier apply already changed keeps the value it had before that one.
    if (!recorded.has(changeKey(done.change))) {
      backup = { ...backup, changes: [...backup.changes, { id: done.id, ...done.change } as RecordedChange] };
      writeBackup(options.backupFile, backup);
      recorded.add(changeKey(done.change));
    }
    perform(host, done.change);
    made.push(done);
  }
  return { ...result, changes: made };
}

export interface Restored extends Done {
  /** Set when the setting no longer held what apply wrote: someone changed it since. */
  readonly note?: string;
  readonly error?: string;
}

export interface RevertResult {
  readonly restored: readonly Restored[];
  readonly failed: number;
  readonly backupFile: string;
}

export function revert(options: { readonly host?: Host; readonly backupFile: string; readonly dryRun?: boolean }): RevertResult {
  const host = options.host ?? new Host();
  const backup = readBackup(options.backupFile);
  if (backup === undefined)
    throw new TuneError(`no backup file ${options.backupFile}: apply has changed nothing to revert (or --backup-file names another file)`);
  const mismatch = namespaceMismatch(backup, currentNamespaces(host), backup.changes);
  if (mismatch !== undefined) throw new TuneError(`the backup file ${options.backupFile} is from another namespace (${mismatch}): run revert there`);

  const restored: Restored[] = [];
  const failed: RecordedChange[] = [];
  for (const recorded of [...backup.changes].reverse()) {
    const { id, ...change } = recorded;
    const undo = undoing(change as Change);
    const current = currentValue(host, change as Change);
    const note = stillApplied(change as Change, current) ? undefined : `it held ${current ?? "nothing readable"}, not what apply set: restored anyway`;
    if (options.dryRun) {
      restored.push({ id, change: undo, command: commandFor(undo), note });
      continue;
    }
    try {
      perform(host, undo);
      restored.push({ id, change: undo, command: commandFor(undo), note });
    } catch (error) {
      failed.unshift(recorded);
      restored.push({ id, change: undo, command: commandFor(undo), note, error: (error as Error).message });
    }
  }
  if (!options.dryRun) {
    // What could not be restored stays in the backup for another try; the rest is done.
    if (failed.length === 0) removeBackup(options.backupFile);
    else writeBackup(options.backupFile, { ...backup, changes: failed });
  }
  return { restored, failed: failed.length, backupFile: options.backupFile };
}

// ---------------------------------------------------------------------------------------------
// Output

export function rowLabel(row: Row): string {
  return row.target === undefined ? row.id : `${row.id} ${row.target}`;
}

export function statusText(row: Row): string {
  return row.reason === undefined ? row.status : `${row.status} (${row.reason})`;
}

/** The rows as an aligned table: SETTING, CURRENT, RECOMMENDED, STATUS, WHY. */
export function formatTable(rows: readonly Row[]): string {
  const header = ["SETTING", "CURRENT", "RECOMMENDED", "STATUS", "WHY"];
  const lines = [header, ...rows.map((row) => [rowLabel(row), row.current, row.recommended, statusText(row), row.why])];
  const widths = header.map((_, column) => Math.max(...lines.map((line) => line[column].length)));
  return lines.map((line) => line.map((cell, column) => (column === line.length - 1 ? cell : cell.padEnd(widths[column]))).join("  ")).join("\n");
}

export function summary(rows: readonly Row[]): string {
  const count = (status: string) => rows.filter((row) => row.status === status).length;
  return `${count("ok")} ok, ${count("off")} off, ${count("n/a")} n/a`;
}

/** The rows as `check --json` prints them: plain data for machines. */
export function rowsAsJson(rows: readonly Row[]): object[] {
  return rows.map((row) => ({
    id: row.id,
    target: row.target ?? null,
    current: row.current,
    recommended: row.recommended,
    status: row.status,
    reason: row.reason ?? null,
    why: row.why,
    commands: row.changes.map(commandFor),
    manual: row.manual ?? null,
  }));
}

/**
 * Apply's changes last until the next boot. Kafka's operations guide keeps sysctls in
 * /etc/sysctl.conf (today /etc/sysctl.d/); mount options live in /etc/fstab; the /sys settings
 * have no file, so they are applied again at boot, as rpk's redpanda-tuner service does.
 */
export function persistenceNotes(changes: readonly Done[]): string[] {
  const notes: string[] = [];
  const sysctls = changes.filter((done) => done.change.kind === "write" && done.change.path.startsWith("/proc/sys/"));
  if (sysctls.length > 0) {
    notes.push("sysctl values last until reboot; to keep them, put these lines in /etc/sysctl.d/60-sluice.conf:");
    for (const done of sysctls) {
      const change = done.change as Extract<Change, { kind: "write" }>;
      notes.push(`  ${change.path.slice("/proc/sys/".length).replaceAll("/", ".")} = ${change.value}`);
    }
  }
  for (const done of changes) {
    if (done.change.kind === "remount") notes.push(`to keep noatime, add it to the options of ${done.change.mountPoint} in /etc/fstab`);
  }
  if (changes.some((done) => done.change.kind === "write" && done.change.path.startsWith("/sys/"))) {
    notes.push(
      "/sys settings (I/O queues, transparent huge pages, CPU governor, clock source) last until reboot: run `sluice tune apply` at boot, e.g. from a systemd oneshot unit",
    );
  }
  return notes;
}
