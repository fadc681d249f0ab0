// The task assignors of streams groups (KIP-1071, KIP-1357): `group.streams.assignors` lists them,
// the first is the default, and a group picks one by name with its `streams.assignor.name` group
// config (an unknown name falls back to the default, as in Kafka 4.4). "sticky" is Kafka's
// built-in StickyTaskAssignor (streams-sticky.ts). A Kafka broker loads custom assignors as Java
// classes; Sluice loads them as JavaScript modules: an entry that is a file path or a file: URL is
// imported at start, and its default export is the assignor — an object (or a class to
// instantiate) with the same shape as Kafka's org.apache.kafka.coordinator.group.api.assignor.TaskAssignor:
//
//   export default {
//     name: "round-robin",
//     assign(groupSpec, topology) {
//       // groupSpec.members: Map<memberId, { processId, instanceId, rackId, clientTags: Map,
//       //   activeTasks: Map<subtopologyId, Set<partition>>, standbyTasks, warmupTasks,
//       //   taskOffsets: Map<subtopologyId, Map<partition, bigint>> }>
//       // groupSpec.assignmentConfigs: Map<string, string> (num.standby.replicas, …)
//       // topology.subtopologies: string[] (sorted); topology.numTasks(id); topology.isStateful(id)
//       return new Map([[memberId, { activeTasks: new Map(...), standbyTasks: new Map(...) }], …]);
//     },
//   };
//
// assign() runs on the event loop and must not block it for long (Kafka offloads it to a
// coordinator thread; a Sluice assignor should be as cheap as the built-in one). What it throws
// fails the heartbeat with UNKNOWN_SERVER_ERROR, "Failed to compute a new target assignment for
// epoch N: <message>" going to the broker's log, as Kafka answers a TaskAssignorException.

import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { stickyTaskAssign } from "./streams-sticky.js";

export interface StreamsAssignorMember {
  readonly processId: string;
  readonly instanceId: string | null;
  readonly rackId: string | null;
  readonly clientTags: ReadonlyMap<string, string>;
  readonly activeTasks: ReadonlyMap<string, ReadonlySet<number>>;
  readonly standbyTasks: ReadonlyMap<string, ReadonlySet<number>>;
  readonly warmupTasks: ReadonlyMap<string, ReadonlySet<number>>;
  readonly taskOffsets: ReadonlyMap<string, ReadonlyMap<number, bigint>>;
}

export interface StreamsGroupSpec {
  readonly members: ReadonlyMap<string, StreamsAssignorMember>;
  readonly assignmentConfigs: ReadonlyMap<string, string>;
}

export interface StreamsTopologyDescriber {
  readonly subtopologies: readonly string[];
  numTasks(subtopologyId: string): number;
  isStateful(subtopologyId: string): boolean;
}

export interface StreamsMemberAssignment {
  readonly activeTasks: ReadonlyMap<string, Iterable<number>>;
  readonly standbyTasks?: ReadonlyMap<string, Iterable<number>>;
}

export interface StreamsTaskAssignor {
  readonly name: string;
  assign(groupSpec: StreamsGroupSpec, topology: StreamsTopologyDescriber): ReadonlyMap<string, StreamsMemberAssignment>;
}

/** Kafka's StickyTaskAssignor. */
export const stickyAssignor: StreamsTaskAssignor = {
  name: "sticky",
  assign(groupSpec, topology) {
    const assigned = stickyTaskAssign(
      [...groupSpec.members].map(([memberId, m]) => ({
        memberId,
        processId: m.processId,
        activeTasks: m.activeTasks,
        standbyTasks: m.standbyTasks,
        taskOffsets: m.taskOffsets,
      })),
      { subtopologies: topology.subtopologies, numberOfTasks: (id) => topology.numTasks(id), isStateful: (id) => topology.isStateful(id) },
      Number(groupSpec.assignmentConfigs.get("num.standby.replicas") ?? 0),
    );
    return new Map([...assigned].map(([memberId, a]) => [memberId, { activeTasks: a.active, standbyTasks: a.standby }]));
  },
};

const BUILT_IN: ReadonlyMap<string, StreamsTaskAssignor> = new Map([[stickyAssignor.name, stickyAssignor]]);

function isModuleReference(entry: string): boolean {
  return entry.startsWith("file:") || entry.includes("/") || /\.(m|c)?js$/.test(entry);
}

function asAssignor(exported: unknown, entry: string): StreamsTaskAssignor {
  let candidate = exported;
  if (typeof candidate === "function" && typeof (candidate as { prototype?: { assign?: unknown } }).prototype?.assign === "function") {
    candidate = new (candidate as new () => unknown)();
  }
  const assignor = candidate as Partial<StreamsTaskAssignor> | null;
  if (assignor === null || typeof assignor !== "object" || typeof assignor.name !== "string" || assignor.name === "" || typeof assignor.assign !== "function") {
    throw new RangeError(
      `group.streams.assignors: ${entry} does not export (default) a task assignor: an object with a name and an assign(groupSpec, topology) method`,
    );
  }
  return assignor as StreamsTaskAssignor;
}

/** The assignors `group.streams.assignors` names, in its order (modules imported); throws what a bad entry is. */
export async function loadStreamsAssignors(entries: readonly string[]): Promise<StreamsTaskAssignor[]> {
  if (entries.length === 0) throw new RangeError("group.streams.assignors must contain at least one assignor");
  const out: StreamsTaskAssignor[] = [];
  for (const entry of entries) {
    let assignor = BUILT_IN.get(entry);
    if (assignor === undefined) {
      if (!isModuleReference(entry)) {
        throw new RangeError(
          `group.streams.assignors: unknown task assignor ${JSON.stringify(entry)}. Built in: ${[...BUILT_IN.keys()].join(", ")}; a custom assignor is a JavaScript module given by its path (Sluice cannot load Java classes)`,
        );
      }
      const url = entry.startsWith("file:") ? entry : pathToFileURL(isAbsolute(entry) ? entry : resolve(entry)).href;
      let module: { default?: unknown };
      try {
        module = (await import(url)) as { default?: unknown };
      } catch (error) {
        throw new RangeError(`group.streams.assignors: cannot load ${entry}: ${(error as Error).message}`);
      }
      assignor = asAssignor(module.default ?? module, entry);
    }
    if (out.some((a) => a.name === assignor.name)) throw new RangeError(`group.streams.assignors: two assignors are named ${JSON.stringify(assignor.name)}`);
    out.push(assignor);
  }
  return out;
}
