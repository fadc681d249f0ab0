//! Which connections are open: their ids, their reactor, and how many each client address
//! holds (`max.connections.per.ip`). Shared by the acceptor (admits), the reactors (remove)
//! and the JS thread (looks up the reactor of a connection to send it a response).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::connection::WriteSide;

struct Entry {
    reactor: usize,
    ip: IpAddr,
    /// Set by the reactor when it adopts the connection (before JS hears of it).
    write: Option<Arc<WriteSide>>,
    /// Closed, but its Closed event may not be published yet: the id is not reused until
    /// [`Registry::remove`].
    retired: bool,
}

#[derive(Default)]
struct State {
    connections: HashMap<u32, Entry>,
    per_ip: HashMap<IpAddr, usize>,
    next_id: u32,
    retired: usize,
    /// The acceptor stopped at `max.connections` and waits for a removal to wake it.
    acceptor_waiting: bool,
}

/// Why a new connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The address already holds `max.connections.per.ip` connections.
    PerIpLimit,
}

#[derive(Default)]
pub(crate) struct Registry {
    state: Mutex<State>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("connection registry lock")
    }

    /// Gives a new connection from `ip` an id that no open connection has.
    pub(crate) fn admit(
        &self,
        ip: IpAddr,
        per_ip_max: usize,
        reactor: usize,
    ) -> Result<u32, Refusal> {
        let mut state = self.lock();
        let held = state.per_ip.get(&ip).copied().unwrap_or(0);
        if held >= per_ip_max {
            return Err(Refusal::PerIpLimit);
        }
        // Fewer than 2^32 connections are open, so a free id is always found.
        let mut id = state.next_id;
        while state.connections.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        state.next_id = id.wrapping_add(1);
        state.connections.insert(
            id,
            Entry {
                reactor,
                ip,
                write: None,
                retired: false,
            },
        );
        *state.per_ip.entry(ip).or_insert(0) += 1;
        Ok(id)
    }

    /// Marks a connection closed: commands for it are refused, and its place counts no more
    /// against `max.connections` and its address's limit. Returns true when the acceptor
    /// was waiting for room (the caller wakes it).
    pub(crate) fn retire(&self, id: u32) -> bool {
        let mut state = self.lock();
        let Some(entry) = state.connections.get_mut(&id) else {
            return false;
        };
        if entry.retired {
            return false;
        }
        entry.retired = true;
        entry.write = None;
        let ip = entry.ip;
        state.retired += 1;
        let held = state
            .per_ip
            .get_mut(&ip)
            .expect("every open connection counts for its address");
        *held -= 1;
        if *held == 0 {
            state.per_ip.remove(&ip);
        }
        std::mem::replace(&mut state.acceptor_waiting, false)
    }

    /// Frees the ids of retired connections once their Closed events are published.
    pub(crate) fn remove(&self, ids: &[u32]) {
        let mut state = self.lock();
        for id in ids {
            if let Some(entry) = state.connections.remove(id) {
                debug_assert!(
                    entry.retired,
                    "a connection is retired before it is removed"
                );
                state.retired -= 1;
            }
        }
    }

    /// Lets the JS thread reach the connection's responses (the reactor calls this when it
    /// adopts the connection).
    pub(crate) fn set_write_side(&self, id: u32, write: Arc<WriteSide>) {
        if let Some(entry) = self.lock().connections.get_mut(&id) {
            entry.write = Some(write);
        }
    }

    /// The reactor and the shared write side of an open connection.
    pub(crate) fn write_side_of(&self, id: u32) -> Option<(usize, Arc<WriteSide>)> {
        let state = self.lock();
        let entry = state.connections.get(&id)?;
        if entry.retired {
            return None;
        }
        Some((entry.reactor, entry.write.clone()?))
    }

    pub(crate) fn reactor_of(&self, id: u32) -> Option<usize> {
        let state = self.lock();
        let entry = state.connections.get(&id)?;
        (!entry.retired).then_some(entry.reactor)
    }

    /// Open connections (not counting closed ones whose ids are not freed yet).
    pub(crate) fn open_count(&self) -> usize {
        let state = self.lock();
        state.connections.len() - state.retired
    }

    /// True when there is room for another connection; otherwise records that the
    /// acceptor waits, so the next removal wakes it (checked and recorded under one lock,
    /// so a removal cannot slip between).
    pub(crate) fn has_room_or_wait(&self, connections_max: usize) -> bool {
        let mut state = self.lock();
        let room = state.connections.len() - state.retired < connections_max;
        state.acceptor_waiting = !room;
        room
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_among_open_connections_across_wrap_around() {
        let registry = Registry::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        registry.lock().next_id = u32::MAX;
        assert_eq!(registry.admit(ip, 10, 0), Ok(u32::MAX));
        assert_eq!(registry.admit(ip, 10, 1), Ok(0));
        registry.lock().next_id = u32::MAX;
        assert_eq!(registry.admit(ip, 10, 0), Ok(1), "skips the open ids");
        assert_eq!(registry.reactor_of(0), Some(1));
    }

    #[test]
    fn an_address_at_its_limit_is_refused_until_one_of_its_connections_closes() {
        let registry = Registry::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let first = registry.admit(ip, 2, 0).unwrap();
        registry.admit(ip, 2, 0).unwrap();
        assert_eq!(registry.admit(ip, 2, 0), Err(Refusal::PerIpLimit));
        assert!(registry.admit(other, 2, 0).is_ok());
        registry.retire(first);
        assert_eq!(registry.reactor_of(first), None);
        assert_eq!(registry.open_count(), 2);
        assert!(registry.admit(ip, 2, 0).is_ok());
        registry.remove(&[first]);
        assert_eq!(registry.open_count(), 3);
    }

    #[test]
    fn a_removal_reports_that_the_waiting_acceptor_needs_waking() {
        let registry = Registry::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let id = registry.admit(ip, 10, 0).unwrap();
        assert!(!registry.has_room_or_wait(1));
        assert!(registry.retire(id));
        assert!(registry.has_room_or_wait(1));
        assert!(!registry.retire(id));
        registry.remove(&[id]);
        assert_eq!(registry.admit(ip, 10, 0), Ok(id + 1));
    }
}
