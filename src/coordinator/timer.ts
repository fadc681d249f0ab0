// Keyed timers for the coordinators: a member's session, a group's rebalance or sync timeout, a
// pending member's join deadline. Scheduling a key again replaces its timer (Kafka's
// CoordinatorTimer.schedule with the same key), so there is at most one timer per key and the
// count is bounded by the members and groups the coordinator holds. Node's timers are grouped
// per duration in libuv's heap; the timers are unref'd and never keep the process alive.

export class KeyedTimers {
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #closed = false;

  /** Runs `task` after `delayMs` unless cancelled or rescheduled first. */
  schedule(key: string, delayMs: number, task: () => void): void {
    if (this.#closed) return;
    this.cancel(key);
    const timer = setTimeout(
      () => {
        this.#timers.delete(key);
        task();
      },
      Math.max(0, delayMs),
    );
    timer.unref();
    this.#timers.set(key, timer);
  }

  cancel(key: string): void {
    const timer = this.#timers.get(key);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#timers.delete(key);
  }

  isScheduled(key: string): boolean {
    return this.#timers.has(key);
  }

  get size(): number {
    return this.#timers.size;
  }

  /** Cancels every timer; later schedules are ignored (shutdown). */
  close(): void {
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}
