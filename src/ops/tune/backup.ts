// The backup `sluice tune apply` writes before it changes anything, and `revert` replays.
//
// Format (JSON, one object, rewritten whole through a temporary file and rename):
//
//   {
//     "format": "sluice-tune-backup", "version": 1,
//     "createdAt": "2026-12-05T10:00:00.000Z",
//     "namespaces": { "net": "net:[4026531840]", "mnt": "mnt:[4026531841]" },
//     "changes": [
//       { "id": "vm.swappiness", "kind": "write", "path": "/proc/sys/vm/swappiness", "value": "1", "previous": "60" },
//       { "id": "mount.noatime", "kind": "remount", "mountPoint": "/data", "options": ["noatime"], "previous": ["relatime"] }
//     ]
//   }
//
// `changes` are in the order apply made them; revert undoes them last first. A change is
// recorded before it is made (write-ahead), so a crash in the middle leaves a backup that still
// covers everything changed; undoing a change that never happened rewrites the value already
// there. Each path or mount point appears once, with the value it had before the first apply:
// a second apply adds only what it changes itself. `namespaces` are the network and mount
// namespaces apply ran in: net sysctls and mounts belong to them, and revert refuses to replay
// them anywhere else.

import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Change } from "./settings.js";

/** What `sluice tune` reports with exit code 2: bad input, a damaged backup, a failed write. */
export class TuneError extends Error {
  override readonly name = "TuneError";
}

export type RecordedChange = Change & { readonly id: string };

export interface Namespaces {
  readonly net?: string;
  readonly mnt?: string;
}

export interface Backup {
  readonly format: "sluice-tune-backup";
  readonly version: 1;
  readonly createdAt: string;
  readonly namespaces: Namespaces;
  readonly changes: readonly RecordedChange[];
}

export const defaultBackupFile = "/var/lib/sluice/tune-backup.json";

/** What a change is to: two changes with one key touch the same setting. */
export function changeKey(change: Change): string {
  return change.kind === "write" ? `write ${change.path}` : `remount ${change.mountPoint}`;
}

/** The backup in `file`, or undefined when there is none. */
export function readBackup(file: string): Backup | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new TuneError(`cannot read the backup file ${file}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new TuneError(`the backup file ${file} is not JSON: ${(error as Error).message}`);
  }
  const problem = backupProblem(parsed);
  if (problem !== undefined) throw new TuneError(`the backup file ${file} is not a sluice tune backup: ${problem}`);
  return parsed as Backup;
}

function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

/** What is wrong with a parsed backup, or undefined: revert must never replay something it does not understand. */
function backupProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return "not an object";
  const backup = value as Record<string, unknown>;
  if (backup.format !== "sluice-tune-backup") return "format is not sluice-tune-backup";
  if (backup.version !== 1) return `version ${String(backup.version)} is not 1`;
  if (typeof backup.namespaces !== "object" || backup.namespaces === null) return "no namespaces";
  if (!Array.isArray(backup.changes)) return "no changes array";
  for (const [index, item] of backup.changes.entries()) {
    const change = item as Record<string, unknown>;
    const where = `changes[${index}]`;
    if (typeof change !== "object" || change === null || typeof change.id !== "string") return `${where} has no id`;
    if (change.kind === "write") {
      if (typeof change.path !== "string" || !/^\/(proc|sys)\//.test(change.path)) return `${where}.path is not under /proc or /sys`;
      if (typeof change.value !== "string" || typeof change.previous !== "string") return `${where} needs string value and previous`;
    } else if (change.kind === "remount") {
      if (typeof change.mountPoint !== "string" || !change.mountPoint.startsWith("/")) return `${where}.mountPoint is not absolute`;
      if (!isStrings(change.options) || !isStrings(change.previous)) return `${where} needs options and previous as string arrays`;
    } else {
      return `${where}.kind ${JSON.stringify(change.kind)} is neither write nor remount`;
    }
  }
  return undefined;
}

export function newBackup(namespaces: Namespaces, now: Date = new Date()): Backup {
  return { format: "sluice-tune-backup", version: 1, createdAt: now.toISOString(), namespaces, changes: [] };
}

/** Writes the backup whole: a reader never sees half a file, even if apply is killed. */
export function writeBackup(file: string, backup: Backup): void {
  try {
    mkdirSync(dirname(file), { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(backup, null, 2)}\n`, { mode: 0o600 });
    renameSync(temporary, file);
  } catch (error) {
    throw new TuneError(`cannot write the backup file ${file}: ${(error as Error).message}`);
  }
}

export function removeBackup(file: string): void {
  rmSync(file, { force: true });
}
