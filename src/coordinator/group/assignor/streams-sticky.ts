// Kafka 4.4's StickyTaskAssignor (group.streams.assignors=sticky), the broker-side task assignor of
// streams groups (KIP-1071): active tasks stay with the member that had them while it is under
// its quota (ceil(tasks / members)), then go to a member that held them as a standby, then to the
// least loaded process (tasks per member of the process) and its least loaded member; standby
// replicas of stateful tasks prefer the previous active owner, then previous standbys (those that
// report the most changelog progress first), never on a process that already holds the task, then
// the least loaded process. Ties between processes and members are broken as Kafka's
// java.util.PriorityQueue breaks them (the same binary heap), over members in Java HashMap order.

import { javaHashMapOrder } from "./java-collections.js";

/** One member as the assignor sees it (MemberMetadataAndState). */
export interface StickyMemberSpec {
  readonly memberId: string;
  readonly processId: string;
  readonly activeTasks: ReadonlyMap<string, ReadonlySet<number>>;
  readonly standbyTasks: ReadonlyMap<string, ReadonlySet<number>>;
  /** Reported changelog offset sums: subtopology → partition → offset. */
  readonly taskOffsets: ReadonlyMap<string, ReadonlyMap<number, bigint>>;
}

/** TopologyDescriber: the subtopologies (sorted), their task counts and whether they have state. */
export interface TopologyDescriber {
  readonly subtopologies: readonly string[];
  numberOfTasks(subtopologyId: string): number;
  isStateful(subtopologyId: string): boolean;
}

export interface StickyAssignment {
  readonly active: Map<string, Set<number>>;
  readonly standby: Map<string, Set<number>>;
}

interface TaskId {
  readonly subtopologyId: string;
  readonly partition: number;
}

const key = (task: TaskId) => `${task.subtopologyId}\0${task.partition}`;

/** java.util.PriorityQueue: a binary min-heap; equal elements come out in the order the heap leaves them. */
class JavaPriorityQueue<T> {
  readonly #heap: T[] = [];
  constructor(private readonly compare: (a: T, b: T) => number) {}
  get size(): number {
    return this.#heap.length;
  }
  add(item: T): void {
    const heap = this.#heap;
    let k = heap.length;
    heap.push(item);
    while (k > 0) {
      const parent = (k - 1) >>> 1;
      const e = heap[parent] as T;
      if (this.compare(item, e) >= 0) break;
      heap[k] = e;
      k = parent;
    }
    heap[k] = item;
  }
  poll(): T | undefined {
    const heap = this.#heap;
    if (heap.length === 0) return undefined;
    const result = heap[0] as T;
    const last = heap.pop() as T;
    const n = heap.length;
    if (n > 0) {
      let k = 0;
      const half = n >>> 1;
      while (k < half) {
        let child = 2 * k + 1;
        let c = heap[child] as T;
        const right = child + 1;
        if (right < n && this.compare(c, heap[right] as T) > 0) {
          child = right;
          c = heap[child] as T;
        }
        if (this.compare(last, c) <= 0) break;
        heap[k] = c;
        k = child;
      }
      heap[k] = last;
    }
    return result;
  }
}

/** ProcessState: a Streams process (one or more members, one per stream thread) and its load. */
class ProcessState {
  capacity = 0;
  load = Number.MAX_VALUE;
  taskCount = 0;
  readonly memberToTaskCounts = new Map<string, number>();
  readonly assignedActive = new Map<string, Set<string>>();
  readonly assignedStandby = new Map<string, Set<string>>();
  readonly assignedTasks = new Set<string>();
  #membersByLoad: JavaPriorityQueue<{ memberId: string; count: number }> | null = null;

  constructor(readonly processId: string) {}

  addMember(memberId: string): void {
    this.memberToTaskCounts.set(memberId, 0);
    this.capacity++;
    this.#computeLoad();
  }

  #computeLoad(): void {
    this.load = this.capacity <= 0 ? -1 : this.taskCount / this.capacity;
  }

  hasTask(task: TaskId): boolean {
    return this.assignedTasks.has(key(task));
  }

  addTask(memberId: string, task: TaskId, isActive: boolean): number {
    const count = this.#addTaskInternal(memberId, task, isActive);
    this.#membersByLoad = null;
    return count;
  }

  #addTaskInternal(memberId: string, task: TaskId, isActive: boolean): number {
    this.taskCount++;
    this.assignedTasks.add(key(task));
    const map = isActive ? this.assignedActive : this.assignedStandby;
    let set = map.get(memberId);
    if (set === undefined) {
      set = new Set();
      map.set(memberId, set);
    }
    set.add(key(task));
    const count = (this.memberToTaskCounts.get(memberId) ?? 0) + 1;
    this.memberToTaskCounts.set(memberId, count);
    this.#computeLoad();
    return count;
  }

  addTaskToLeastLoadedMember(task: TaskId, isActive: boolean): number {
    if (this.memberToTaskCounts.size === 0) return -1;
    if (this.memberToTaskCounts.size === 1) return this.#addTaskInternal(this.memberToTaskCounts.keys().next().value as string, task, isActive);
    if (this.#membersByLoad === null) {
      this.#membersByLoad = new JavaPriorityQueue((a, b) => a.count - b.count);
      for (const memberId of javaHashMapOrder(this.memberToTaskCounts.keys())) {
        this.#membersByLoad.add({ memberId, count: this.memberToTaskCounts.get(memberId) as number });
      }
    }
    const member = this.#membersByLoad.poll();
    if (member === undefined) throw new Error(`No members available to assign task ${task.subtopologyId}_${task.partition}`);
    const count = this.#addTaskInternal(member.memberId, task, isActive);
    member.count = count;
    this.#membersByLoad.add(member);
    return count;
  }
}

interface LocalState {
  readonly memberCount: number;
  numStandbyReplicas: number;
  totalActiveTasks: number;
  totalTasks: number;
  totalMembersWithActiveTaskCapacity: number;
  totalMembersWithTaskCapacity: number;
  activeTasksPerMember: number;
  totalTasksPerMember: number;
  readonly processes: Map<string, ProcessState>;
  readonly activeTaskToPrevMember: Map<string, { processId: string; memberId: string }>;
  readonly standbyTaskToPrevMembers: Map<string, { processId: string; memberId: string }[]>;
}

const tasksPerMember = (tasks: number, members: number) => (members === 0 ? 0 : Math.ceil(tasks / members));

function taskIds(topology: TopologyDescriber, active: boolean): TaskId[] {
  const out: TaskId[] = [];
  for (const subtopologyId of topology.subtopologies) {
    if (!active && !topology.isStateful(subtopologyId)) continue;
    for (let partition = 0; partition < topology.numberOfTasks(subtopologyId); partition++) out.push({ subtopologyId, partition });
  }
  return out;
}

const compareIds = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** StickyTaskAssignor.assign: member id → active and standby tasks. */
export function stickyTaskAssign(members: readonly StickyMemberSpec[], topology: TopologyDescriber, numStandbyReplicas: number): Map<string, StickyAssignment> {
  const memberOrder = javaHashMapOrder(members.map((m) => m.memberId));
  const byId = new Map(members.map((m) => [m.memberId, m]));
  const state: LocalState = {
    memberCount: members.length,
    numStandbyReplicas,
    totalActiveTasks: 0,
    totalTasks: 0,
    totalMembersWithActiveTaskCapacity: members.length,
    totalMembersWithTaskCapacity: members.length,
    activeTasksPerMember: 0,
    totalTasksPerMember: 0,
    processes: new Map(),
    activeTaskToPrevMember: new Map(),
    standbyTaskToPrevMembers: new Map(),
  };
  for (const subtopologyId of topology.subtopologies) {
    const n = topology.numberOfTasks(subtopologyId);
    state.totalTasks += n;
    state.totalActiveTasks += n;
    if (topology.isStateful(subtopologyId)) state.totalTasks += n * numStandbyReplicas;
  }
  state.activeTasksPerMember = tasksPerMember(state.totalActiveTasks, state.totalMembersWithActiveTaskCapacity);
  state.totalTasksPerMember = tasksPerMember(state.totalTasks, state.totalMembersWithTaskCapacity);
  const candidates = new Map<string, { member: { processId: string; memberId: string }; isPrevStandby: boolean; offsetSum: bigint }[]>();
  for (const memberId of memberOrder) {
    const spec = byId.get(memberId) as StickyMemberSpec;
    const member = { processId: spec.processId, memberId };
    let process = state.processes.get(spec.processId);
    if (process === undefined) {
      process = new ProcessState(spec.processId);
      state.processes.set(spec.processId, process);
    }
    process.addMember(memberId);
    for (const [subtopologyId, partitions] of spec.activeTasks)
      for (const partition of partitions) state.activeTaskToPrevMember.set(key({ subtopologyId, partition }), member);
    const addCandidate = (task: string, isPrevStandby: boolean, offsetSum: bigint) => {
      let list = candidates.get(task);
      if (list === undefined) {
        list = [];
        candidates.set(task, list);
      }
      list.push({ member, isPrevStandby, offsetSum });
    };
    for (const [subtopologyId, partitions] of spec.standbyTasks) {
      for (const partition of partitions) addCandidate(key({ subtopologyId, partition }), true, spec.taskOffsets.get(subtopologyId)?.get(partition) ?? 0n);
    }
    for (const [subtopologyId, offsets] of spec.taskOffsets) {
      for (const [partition, offset] of offsets) {
        if (spec.standbyTasks.get(subtopologyId)?.has(partition)) continue;
        addCandidate(key({ subtopologyId, partition }), false, offset);
      }
    }
  }
  for (const [task, list] of candidates) {
    list.sort((a, b) =>
      a.isPrevStandby === b.isPrevStandby ? (a.offsetSum > b.offsetSum ? -1 : a.offsetSum < b.offsetSum ? 1 : 0) : a.isPrevStandby ? -1 : 1,
    );
    state.standbyTaskToPrevMembers.set(
      task,
      list.map((c) => c.member),
    );
  }

  assignActive(state, taskIds(topology, true));
  if (numStandbyReplicas > 0) assignStandby(state, taskIds(topology, false));

  const result = new Map<string, StickyAssignment>();
  for (const memberId of memberOrder) result.set(memberId, { active: new Map(), standby: new Map() });
  const put = (map: Map<string, Set<number>>, task: string) => {
    const [subtopologyId, partition] = task.split("\0") as [string, string];
    let set = map.get(subtopologyId);
    if (set === undefined) {
      set = new Set();
      map.set(subtopologyId, set);
    }
    set.add(Number(partition));
  };
  for (const process of state.processes.values()) {
    for (const [memberId, tasks] of process.assignedActive) for (const task of tasks) put((result.get(memberId) as StickyAssignment).active, task);
    for (const [memberId, tasks] of process.assignedStandby) for (const task of tasks) put((result.get(memberId) as StickyAssignment).standby, task);
  }
  return result;
}

function processQueue(state: LocalState): JavaPriorityQueue<ProcessState> {
  const queue = new JavaPriorityQueue<ProcessState>((a, b) => (a.load < b.load ? -1 : a.load > b.load ? 1 : 0));
  // processIdToState is a `new HashMap<>(members)`.
  for (const processId of javaHashMapOrder(state.processes.keys(), state.memberCount)) queue.add(state.processes.get(processId) as ProcessState);
  return queue;
}

function updateActiveQuota(state: LocalState, count: number): void {
  if (count === state.activeTasksPerMember) {
    state.totalMembersWithActiveTaskCapacity--;
    state.totalActiveTasks -= count;
    state.activeTasksPerMember = tasksPerMember(state.totalActiveTasks, state.totalMembersWithActiveTaskCapacity);
  }
}

function updateTotalQuota(state: LocalState, count: number): void {
  if (count === state.totalTasksPerMember) {
    state.totalMembersWithTaskCapacity--;
    state.totalTasks -= count;
    state.totalTasksPerMember = tasksPerMember(state.totalTasks, state.totalMembersWithTaskCapacity);
  }
}

const memberCount = (state: LocalState, member: { processId: string; memberId: string }) =>
  (state.processes.get(member.processId) as ProcessState).memberToTaskCounts.get(member.memberId) ?? 0;

function prevMemberWithLeastLoad(state: LocalState, members: readonly { processId: string; memberId: string }[] | undefined, standbyTask?: TaskId) {
  if (members === undefined || members.length === 0) return undefined;
  let candidate: { processId: string; memberId: string } | undefined;
  let candidateProcessLoad = Number.MAX_VALUE;
  let candidateMemberLoad = Number.MAX_VALUE;
  for (const member of members) {
    const process = state.processes.get(member.processId) as ProcessState;
    if (standbyTask !== undefined && process.hasTask(standbyTask)) continue;
    const processLoad = process.load;
    const memberLoad = memberCount(state, member);
    if (candidate !== undefined && (!(processLoad < candidateProcessLoad) || !(memberLoad < candidateMemberLoad))) continue;
    candidateProcessLoad = processLoad;
    candidateMemberLoad = memberLoad;
    candidate = member;
  }
  return candidate;
}

function assignActive(state: LocalState, tasks: TaskId[]): void {
  tasks.sort((a, b) => a.partition - b.partition || compareIds(a.subtopologyId, b.subtopologyId));
  // Previous owners under their quota keep their tasks.
  let left: TaskId[] = [];
  for (const task of tasks) {
    const prev = state.activeTaskToPrevMember.get(key(task));
    if (prev !== undefined && memberCount(state, prev) < state.activeTasksPerMember) {
      const count = (state.processes.get(prev.processId) as ProcessState).addTask(prev.memberId, task, true);
      updateActiveQuota(state, count);
      updateTotalQuota(state, count);
      continue;
    }
    left.push(task);
  }
  // Then members that held the task as a standby.
  const rest: TaskId[] = [];
  for (const task of left) {
    const prev = prevMemberWithLeastLoad(state, state.standbyTaskToPrevMembers.get(key(task)));
    if (prev !== undefined && memberCount(state, prev) < state.activeTasksPerMember) {
      const count = (state.processes.get(prev.processId) as ProcessState).addTask(prev.memberId, task, true);
      updateActiveQuota(state, count);
      updateTotalQuota(state, count);
      continue;
    }
    rest.push(task);
  }
  left = rest.sort((a, b) => compareIds(a.subtopologyId, b.subtopologyId) || a.partition - b.partition);
  const queue = processQueue(state);
  for (const task of left) {
    const process = queue.poll();
    if (process === undefined) throw new Error(`No process available to assign active task ${task.subtopologyId}_${task.partition}.`);
    const count = process.addTaskToLeastLoadedMember(task, true);
    if (count === -1) throw new Error(`No member available to assign active task ${task.subtopologyId}_${task.partition}.`);
    updateActiveQuota(state, count);
    updateTotalQuota(state, count);
    queue.add(process);
  }
}

function assignStandbyToLeastLoaded(state: LocalState, queue: JavaPriorityQueue<ProcessState>, task: TaskId): boolean {
  const process = queue.poll();
  if (process === undefined) return false;
  let found = false;
  if (!process.hasTask(task)) {
    const count = process.addTaskToLeastLoadedMember(task, false);
    if (count !== -1) {
      found = true;
      updateTotalQuota(state, count);
    }
  } else if (queue.size > 0) {
    found = assignStandbyToLeastLoaded(state, queue, task);
  }
  queue.add(process);
  return found;
}

function assignStandby(state: LocalState, tasks: TaskId[]): void {
  const toLeastLoaded: { task: TaskId; remaining: number }[] = [];
  // Comparator.comparing(partition).thenComparing(subtopologyId).reversed()
  tasks.sort((a, b) => b.partition - a.partition || compareIds(b.subtopologyId, a.subtopologyId));
  for (const task of tasks) {
    for (let i = 0; i < state.numStandbyReplicas; i++) {
      const prevActive = state.activeTaskToPrevMember.get(key(task));
      if (prevActive !== undefined) {
        const process = state.processes.get(prevActive.processId) as ProcessState;
        if (!process.hasTask(task) && memberCount(state, prevActive) < state.totalTasksPerMember) {
          updateTotalQuota(state, process.addTask(prevActive.memberId, task, false));
          continue;
        }
      }
      const prevStandby = prevMemberWithLeastLoad(state, state.standbyTaskToPrevMembers.get(key(task)), task);
      if (prevStandby !== undefined && memberCount(state, prevStandby) < state.totalTasksPerMember) {
        updateTotalQuota(state, (state.processes.get(prevStandby.processId) as ProcessState).addTask(prevStandby.memberId, task, false));
        continue;
      }
      toLeastLoaded.push({ task, remaining: state.numStandbyReplicas - i });
      break;
    }
  }
  toLeastLoaded.sort((a, b) => compareIds(b.task.subtopologyId, a.task.subtopologyId) || b.task.partition - a.task.partition);
  const queue = processQueue(state);
  for (const { task, remaining } of toLeastLoaded) {
    for (let i = 0; i < remaining; i++) if (!assignStandbyToLeastLoaded(state, queue, task)) break;
  }
}
