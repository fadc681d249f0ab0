//! A process-wide limit on memory maps, shared by every partition log.
//!
//! Linux refuses new maps past `vm.max_map_count` (65530 by default), and a broker that
//! kept three maps per partition (the active `.log` and its two indexes, as Kafka keeps its
//! indexes) could not hold 100,000 partitions. Every segment's maps therefore live in a
//! [`MapSlot`] registered here; when mapping a slot would exceed the budget, the least
//! recently used slots are unmapped. An unmapped slot maps itself again on its next use
//! (a few microseconds), so idle partitions cost no maps at all.
//!
//! Locking: a slot's owner locks its slot, then may take the budget lock. The budget
//! never waits for a slot lock while holding its own: it only `try_lock`s victims and
//! skips busy ones, so the two orders cannot deadlock.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// Something that holds maps and can drop them when not in use.
pub(crate) trait Evict: Send + Sync {
    /// Unmaps if the slot is not in use right now; returns whether it did.
    fn try_unmap(&self) -> bool;
}

struct Tracked {
    stamp: u64,
    cost: usize,
    slot: Weak<dyn Evict>,
}

#[derive(Default)]
struct BudgetState {
    used: usize,
    slots: HashMap<u64, Tracked>,
    by_age: BTreeMap<u64, u64>,
}

/// The shared map budget. `max_maps` counts individual `mmap` regions.
pub struct MapBudget {
    max_maps: usize,
    clock: AtomicU64,
    next_slot_id: AtomicU64,
    state: Mutex<BudgetState>,
}

/// Half of Linux's default `vm.max_map_count`: the rest of the process (Node, V8, thread
/// stacks, shared libraries) needs maps too.
pub const DEFAULT_MAX_MAPS: usize = 32_768;

impl MapBudget {
    pub fn new(max_maps: usize) -> Arc<Self> {
        Arc::new(Self {
            max_maps: max_maps.max(3),
            clock: AtomicU64::new(1),
            next_slot_id: AtomicU64::new(1),
            state: Mutex::new(BudgetState::default()),
        })
    }

    pub fn max_maps(&self) -> usize {
        self.max_maps
    }

    /// Maps currently held by all slots.
    pub fn mapped_count(&self) -> usize {
        self.state.lock().unwrap().used
    }

    pub(crate) fn new_slot_id(&self) -> u64 {
        self.next_slot_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Records that slot `id` now holds `cost` maps, unmapping the least recently used
    /// slots first if that would exceed the budget. Called with `id`'s own slot locked.
    pub(crate) fn admit(&self, id: u64, cost: usize, slot: Weak<dyn Evict>, stamp: &AtomicU64) {
        let mut unmapped: Vec<Arc<dyn Evict>> = Vec::new();
        {
            let mut state = self.state.lock().unwrap();
            remove_tracked(&mut state, id);
            let mut busy = Vec::new();
            while state.used + cost > self.max_maps {
                let Some((&age, &victim_id)) = state.by_age.iter().next() else {
                    break;
                };
                state.by_age.remove(&age);
                let tracked = state.slots.remove(&victim_id).expect("tracked slot");
                match tracked.slot.upgrade() {
                    None => state.used -= tracked.cost,
                    Some(victim) => {
                        if victim.try_unmap() {
                            state.used -= tracked.cost;
                        } else {
                            busy.push((victim_id, tracked));
                        }
                        // Dropped after the budget lock is released: the last reference
                        // to a slot forgets itself, which takes this lock.
                        unmapped.push(victim);
                    }
                }
            }
            for (busy_id, tracked) in busy {
                state.by_age.insert(tracked.stamp, busy_id);
                state.slots.insert(busy_id, tracked);
            }
            let now = self.clock.fetch_add(1, Ordering::Relaxed);
            stamp.store(now, Ordering::Relaxed);
            state.by_age.insert(now, id);
            state.slots.insert(
                id,
                Tracked {
                    stamp: now,
                    cost,
                    slot,
                },
            );
            state.used += cost;
        }
        drop(unmapped);
    }

    /// Marks slot `id` as recently used. Cheap when it already is: only a slot that has
    /// fallen into the older part of the order takes the lock.
    pub(crate) fn touch(&self, id: u64, stamp: &AtomicU64) {
        let now = self.clock.load(Ordering::Relaxed);
        let last = stamp.load(Ordering::Relaxed);
        if now.saturating_sub(last) < (self.max_maps as u64 / 8).max(1) {
            return;
        }
        let mut state = self.state.lock().unwrap();
        let Some(tracked) = state.slots.get_mut(&id) else {
            return;
        };
        let old = tracked.stamp;
        let fresh = self.clock.fetch_add(1, Ordering::Relaxed);
        tracked.stamp = fresh;
        stamp.store(fresh, Ordering::Relaxed);
        state.by_age.remove(&old);
        state.by_age.insert(fresh, id);
    }

    /// Slot `id` dropped its maps on its own (or is going away).
    pub(crate) fn forget(&self, id: u64) {
        let mut state = self.state.lock().unwrap();
        remove_tracked(&mut state, id);
    }
}

fn remove_tracked(state: &mut BudgetState, id: u64) {
    if let Some(tracked) = state.slots.remove(&id) {
        state.by_age.remove(&tracked.stamp);
        state.used -= tracked.cost;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    struct FakeSlot {
        mapped: AtomicBool,
        busy: AtomicBool,
    }

    impl Evict for FakeSlot {
        fn try_unmap(&self) -> bool {
            if self.busy.load(Ordering::Relaxed) {
                return false;
            }
            self.mapped.store(false, Ordering::Relaxed);
            true
        }
    }

    fn slot() -> Arc<FakeSlot> {
        Arc::new(FakeSlot {
            mapped: AtomicBool::new(true),
            busy: AtomicBool::new(false),
        })
    }

    fn weak(slot: &Arc<FakeSlot>) -> Weak<dyn Evict> {
        let weak: Weak<FakeSlot> = Arc::downgrade(slot);
        weak
    }

    #[test]
    fn the_least_recently_used_slots_are_unmapped_past_the_budget() {
        let budget = MapBudget::new(6);
        let slots: Vec<_> = (0..4).map(|_| slot()).collect();
        let stamps: Vec<_> = (0..4).map(|_| AtomicU64::new(0)).collect();
        for (id, slot) in slots.iter().enumerate() {
            budget.admit(id as u64, 2, weak(slot), &stamps[id]);
        }
        assert_eq!(budget.mapped_count(), 6);
        assert!(!slots[0].mapped.load(Ordering::Relaxed));
        assert!(slots[1].mapped.load(Ordering::Relaxed));
        assert!(slots[3].mapped.load(Ordering::Relaxed));
    }

    #[test]
    fn busy_slots_are_skipped_and_the_budget_may_overshoot() {
        let budget = MapBudget::new(4);
        let (first, second) = (slot(), slot());
        let stamps = [AtomicU64::new(0), AtomicU64::new(0)];
        budget.admit(1, 3, weak(&first), &stamps[0]);
        first.busy.store(true, Ordering::Relaxed);
        budget.admit(2, 3, weak(&second), &stamps[1]);
        assert!(first.mapped.load(Ordering::Relaxed));
        assert_eq!(budget.mapped_count(), 6);
        budget.forget(1);
        budget.forget(2);
        assert_eq!(budget.mapped_count(), 0);
    }
}
