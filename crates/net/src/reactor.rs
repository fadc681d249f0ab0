//! A reactor thread: owns a share of the connections, reads and frames requests, writes
//! responses in order, and enforces the per-connection limits and idle timeout.
//!
//! Each turn of the loop: poll (edge-triggered), take the commands other threads sent,
//! write what became ready, read what is readable and allowed, sweep idle connections,
//! then publish the turn's events to JS in one batch. A connection stops being read (but
//! keeps being written) while it has too many requests in flight, too many response bytes
//! queued, or the whole broker has too many request bytes queued; it is read again as soon
//! as the bound clears, by whichever event clears it.
//!
//! Connections of SSL listeners are TLS ([`crate::tls`]): the reactor runs their handshake
//! (and closes those that have not completed it within `HANDSHAKE_TIMEOUT`), decrypts what it
//! reads, and encrypts and writes all their responses.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::connection::{Connection, Incoming, Origin, ReadError, ReadOutcome};
use crate::event::{
    encode_closed, encode_frame, encode_opened, encode_tls_handshake_failed, CloseReason, Security,
};
use crate::server::Shared;
use crate::tls::{TlsSession, HANDSHAKE_TIMEOUT};
use crate::transmit::WriteStop;

const WAKER: Token = Token(usize::MAX);

/// Bytes asked of one `read`. Shared by all connections of a reactor: the decoder copies
/// what it keeps, so an idle connection holds no read buffer. Also the chunk in which file
/// regions are read to be encrypted for TLS connections (at most `SENDABLE_BYTES_MAX`, so
/// rustls takes a chunk whole).
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// Reads of one connection per turn before the others get theirs (fairness). The
/// per-connection bounds are checked before each read, so they are exceeded by at most
/// the frames of one read.
const READS_PER_TURN_MAX: usize = 4;

/// Bytes written to one connection per turn before the others get theirs (fairness: a
/// large fetch response to a fast client must not stall the reactor's other clients).
const WRITE_BYTES_PER_TURN_MAX: u64 = 4 * 1024 * 1024;

/// How often idle connections are looked for, as a fraction of the idle timeout, within
/// bounds: a connection is closed between 1 and 1.25 idle timeouts after its last byte.
const IDLE_SWEEPS_PER_TIMEOUT: u32 = 4;
const IDLE_SWEEP_INTERVAL_MIN: Duration = Duration::from_millis(5);
const IDLE_SWEEP_INTERVAL_MAX: Duration = Duration::from_secs(1);

/// What other threads ask of a reactor.
pub(crate) enum Command {
    /// A connection the acceptor admitted.
    Adopt {
        id: u32,
        listener_index: u16,
        peer: SocketAddr,
        stream: TcpStream,
        /// The listener's TLS configuration, for a connection to an SSL listener.
        tls: Option<Arc<rustls::ServerConfig>>,
    },
    /// JS completed a response on this connection and left the reactor something to do:
    /// bytes to write (a file region, a remainder past its budget), reading to resume, or,
    /// during shutdown, a connection that may now be done.
    Written {
        connection: u32,
    },
    /// Writing a response on the JS thread failed: the connection is broken.
    WriteFailed {
        connection: u32,
    },
    Close {
        connection: u32,
    },
    /// Read nothing of this connection before `until` (a throttled client, KIP-219).
    Mute {
        connection: u32,
        until: Instant,
    },
    /// The broker-wide request bytes fell below their bound: read paused connections.
    Resume,
    /// Stop reading; close each connection once its responses are written, and every
    /// connection at `deadline`; then exit.
    Shutdown {
        deadline: Instant,
    },
}

/// The other threads' way to reach a reactor: a command queue and a waker. The waker
/// fires only when the queue goes from empty to non-empty; the reactor takes the whole
/// queue each turn.
pub(crate) struct ReactorHandle {
    commands: Mutex<Vec<Command>>,
    waker: Waker,
}

impl ReactorHandle {
    pub(crate) fn new(poll: &Poll) -> io::Result<Self> {
        Ok(Self {
            commands: Mutex::new(Vec::new()),
            waker: Waker::new(poll.registry(), WAKER)?,
        })
    }

    pub(crate) fn send(&self, command: Command) {
        let first = {
            let mut commands = self.commands.lock().expect("reactor command lock");
            commands.push(command);
            commands.len() == 1
        };
        if first {
            // Fails only when the reactor has exited; the command is moot then.
            let _ = self.waker.wake();
        }
    }

    fn take(&self, into: &mut Vec<Command>) {
        std::mem::swap(
            &mut *self.commands.lock().expect("reactor command lock"),
            into,
        );
    }
}

pub(crate) struct Reactor {
    index: usize,
    shared: Arc<Shared>,
    poll: Poll,
    connections: HashMap<u32, Connection>,
    /// Connections to read this turn (each at most once, see `Connection::read_scheduled`).
    read_list: VecDeque<u32>,
    /// Connections with something new to write (duplicates are harmless).
    flush_list: Vec<u32>,
    /// Connections that spent their write budget with the socket still writable: no
    /// event will come for them, so they are written again next turn.
    flush_next_turn: Vec<u32>,
    /// This turn's encoded events, published at the end of the turn.
    batch: Vec<u8>,
    /// Ids closed this turn: they leave the registry (and may be reused) only after their
    /// Closed event is published, so JS never sees an id reopen before it closed.
    closed: Vec<u32>,
    read_buffer: Box<[u8]>,
    shutdown_deadline: Option<Instant>,
    next_idle_sweep: Option<Instant>,
    /// TLS connections by the time their handshake must be done, earliest first (the timeout
    /// is one constant, so adoption order is deadline order). An entry whose connection
    /// completed its handshake or closed is dropped when its time comes.
    handshake_deadlines: VecDeque<(Instant, u32)>,
    /// Muted connections by the time they may be read again, earliest first. An entry whose
    /// connection closed, or was muted again for longer, is dropped when its time comes.
    mute_deadlines: BinaryHeap<Reverse<(Instant, u32)>>,
}

impl Reactor {
    pub(crate) fn new(index: usize, shared: Arc<Shared>, poll: Poll) -> Self {
        let next_idle_sweep = shared
            .config
            .connections_idle_max
            .map(|idle| Instant::now() + idle_sweep_interval(idle));
        Self {
            index,
            shared,
            poll,
            connections: HashMap::new(),
            read_list: VecDeque::new(),
            flush_list: Vec::new(),
            flush_next_turn: Vec::new(),
            batch: Vec::new(),
            closed: Vec::new(),
            read_buffer: vec![0; READ_BUFFER_BYTES].into_boxed_slice(),
            shutdown_deadline: None,
            next_idle_sweep,
            handshake_deadlines: VecDeque::new(),
            mute_deadlines: BinaryHeap::new(),
        }
    }

    /// Runs until shut down and every connection is closed.
    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        let mut commands = Vec::new();
        loop {
            let before_poll = Instant::now();
            let timeout = self.poll_timeout(before_poll);
            let polled = self.poll.poll(&mut events, timeout);
            let now = Instant::now();
            // Time blocked in epoll: Kafka's NetworkProcessorAvgIdlePercent is its share of the wall clock.
            self.shared.counters.reactor_idle_nanos.fetch_add(
                now.duration_since(before_poll).as_nanos() as u64,
                Ordering::Relaxed,
            );
            match polled {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => panic!("reactor poll failed: {error}"),
            }
            self.flush_list.append(&mut self.flush_next_turn);
            for event in &events {
                if event.token() == WAKER {
                    continue;
                }
                let id = event.token().0 as u32;
                if event.is_readable() || event.is_read_closed() || event.is_error() {
                    if let Some(connection) = self.connections.get_mut(&id) {
                        connection.readable = true;
                    }
                    self.schedule_read(id);
                }
                if event.is_writable() {
                    self.flush_list.push(id);
                }
            }
            self.shared.reactors[self.index].take(&mut commands);
            for command in commands.drain(..) {
                self.handle(command, now);
            }
            self.flush_pending(now);
            self.read_scheduled(now);
            self.sweep_idle(now);
            self.expire_handshakes(now);
            self.unmute_due(now);
            self.progress_shutdown(now);
            self.publish();
            if self.shutdown_deadline.is_some() && self.connections.is_empty() {
                return;
            }
        }
    }

    fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        if !self.read_list.is_empty() || !self.flush_next_turn.is_empty() {
            return Some(Duration::ZERO);
        }
        let handshake_deadline = self
            .handshake_deadlines
            .front()
            .map(|(deadline, _)| *deadline);
        let mute_deadline = self.mute_deadlines.peek().map(|Reverse((until, _))| *until);
        [
            self.next_idle_sweep,
            self.shutdown_deadline,
            handshake_deadline,
            mute_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|deadline| deadline.saturating_duration_since(now))
    }

    fn handle(&mut self, command: Command, now: Instant) {
        match command {
            Command::Adopt {
                id,
                listener_index,
                peer,
                stream,
                tls,
            } => self.adopt(
                id,
                Origin {
                    listener_index,
                    peer,
                },
                stream,
                tls,
                now,
            ),
            Command::Written { connection } => {
                self.flush_list.push(connection);
                self.schedule_read(connection);
            }
            Command::WriteFailed { connection } => self.close(connection, CloseReason::IoError),
            Command::Close { connection } => self.close(connection, CloseReason::ClosedByServer),
            Command::Mute { connection, until } => {
                if let Some(open) = self.connections.get_mut(&connection) {
                    if open.muted_until.is_none_or(|muted| muted < until) {
                        open.muted_until = Some(until);
                        self.mute_deadlines.push(Reverse((until, connection)));
                    }
                }
            }
            Command::Resume => {
                let ids: Vec<u32> = self.connections.keys().copied().collect();
                for id in ids {
                    self.schedule_read(id);
                }
            }
            Command::Shutdown { deadline } => self.shutdown_deadline = Some(deadline),
        }
    }

    fn adopt(
        &mut self,
        id: u32,
        origin: Origin,
        mut stream: TcpStream,
        tls: Option<Arc<rustls::ServerConfig>>,
        now: Instant,
    ) {
        let tls = match tls.map(TlsSession::new).transpose() {
            Ok(tls) => tls,
            Err(_) => {
                // rustls refused its own checked configuration: nothing to do but close.
                if self.shared.registry.retire(id) {
                    self.shared.acceptor.wake();
                }
                self.closed.push(id);
                self.shared.counters.closed[CloseReason::IoError.code() as usize]
                    .fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        if tls.is_some() {
            self.handshake_deadlines
                .push_back((now + HANDSHAKE_TIMEOUT, id));
        } else {
            encode_opened(
                &mut self.batch,
                id,
                origin.listener_index,
                origin.peer,
                Security::Plaintext,
            );
        }
        // Edge-triggered; registering a socket that already has bytes reports it readable.
        let registered = self.poll.registry().register(
            &mut stream,
            Token(id as usize),
            Interest::READABLE | Interest::WRITABLE,
        );
        let connection = Connection::new(
            id,
            stream,
            origin,
            tls,
            self.shared.config.request_bytes_max,
            now,
        );
        self.shared
            .registry
            .set_write_side(id, connection.write.clone());
        self.connections.insert(id, connection);
        if registered.is_err() {
            self.close(id, CloseReason::IoError);
        }
    }

    fn schedule_read(&mut self, id: u32) {
        if let Some(connection) = self.connections.get_mut(&id) {
            if connection.readable && !connection.read_scheduled {
                connection.read_scheduled = true;
                self.read_list.push_back(id);
            }
        }
    }

    fn flush_pending(&mut self, now: Instant) {
        let mut flush_list = std::mem::take(&mut self.flush_list);
        for id in flush_list.drain(..) {
            let Some(connection) = self.connections.get_mut(&id) else {
                continue;
            };
            let write = connection.write.clone();
            let mut state = write.lock();
            if !state.responses.has_outgoing() && !connection.has_session_bytes() {
                continue;
            }
            let queued_before = state.responses.queued_response_bytes();
            let result = connection.flush(
                &mut state,
                now,
                WRITE_BYTES_PER_TURN_MAX,
                &mut self.read_buffer,
            );
            let queued_after = state.responses.queued_response_bytes();
            drop(state);
            self.shared
                .adjust_queued_response_bytes(queued_before, queued_after);
            let progress = match result {
                Ok(progress) => progress,
                Err(_) => {
                    self.close(id, CloseReason::IoError);
                    continue;
                }
            };
            if progress.stop == WriteStop::BudgetSpent {
                self.flush_next_turn.push(id);
            }
            if progress.bytes_written > 0 {
                // Written bytes may have brought the connection under its bound.
                self.schedule_read(id);
            }
        }
        self.flush_list = flush_list;
    }

    fn read_scheduled(&mut self, now: Instant) {
        for _ in 0..self.read_list.len() {
            let Some(id) = self.read_list.pop_front() else {
                break;
            };
            if let Some(connection) = self.connections.get_mut(&id) {
                connection.read_scheduled = false;
                self.read_connection(id, now);
            }
        }
    }

    /// Reads a connection until it would block, its turn is over, or a bound stops it.
    fn read_connection(&mut self, id: u32, now: Instant) {
        let shutting_down = self.shutdown_deadline.is_some();
        let Some(connection) = self.connections.get_mut(&id) else {
            return;
        };
        if let Some(until) = connection.muted_until {
            if now < until {
                return; // Still readable; scheduled again when the mute ends.
            }
            connection.muted_until = None;
        }
        let mut close_reason = None;
        for _ in 0..READS_PER_TURN_MAX {
            if shutting_down || !self.shared.may_read(&connection.write.lock().responses) {
                return; // Still readable; scheduled again when the bound clears.
            }
            // Frames completed before a bad prefix or the end of the stream still count.
            let (listener_index, peer) = (connection.listener_index, connection.peer);
            let result =
                connection.read_once(&mut self.read_buffer, now, |incoming| match incoming {
                    Incoming::Frame { responses, frame } => {
                        let seq = responses.admit(frame.len());
                        self.shared
                            .queued_request_bytes
                            .fetch_add(frame.len(), Ordering::SeqCst);
                        encode_frame(&mut self.batch, id, seq, frame);
                    }
                    Incoming::Established { peer_subject } => encode_opened(
                        &mut self.batch,
                        id,
                        listener_index,
                        peer,
                        Security::Tls { peer_subject },
                    ),
                });
            match result {
                Ok(ReadOutcome::Read) => {}
                Ok(ReadOutcome::WouldBlock) => {
                    connection.readable = false;
                    return;
                }
                Ok(ReadOutcome::PeerClosed) => close_reason = Some(CloseReason::PeerClosed),
                Err(ReadError::Frame(_)) => close_reason = Some(CloseReason::InvalidFrame),
                Err(ReadError::Io(error)) => close_reason = Some(close_reason_of(&error)),
                Err(ReadError::TlsHandshake(message)) => {
                    self.close_with(id, CloseReason::TlsHandshakeFailed, &message);
                    return;
                }
                // A record that does not decrypt or parse: the stream cannot be trusted.
                Err(ReadError::TlsProtocol(_)) => close_reason = Some(CloseReason::InvalidFrame),
            }
            if close_reason.is_some() {
                break;
            }
        }
        match close_reason {
            Some(reason) => self.close(id, reason),
            None => self.schedule_read(id),
        }
    }

    fn sweep_idle(&mut self, now: Instant) {
        let (Some(idle_max), Some(next)) = (
            self.shared.config.connections_idle_max,
            self.next_idle_sweep,
        ) else {
            return;
        };
        if now < next {
            return;
        }
        self.next_idle_sweep = Some(now + idle_sweep_interval(idle_max));
        let idle: Vec<u32> = self
            .connections
            .values()
            .filter(|connection| {
                let state = connection.write.lock();
                connection.is_quiescent(&state)
                    && now.saturating_duration_since(connection.last_activity(&state)) >= idle_max
            })
            .map(|connection| connection.id)
            .collect();
        for id in idle {
            self.close(id, CloseReason::Idle);
        }
    }

    /// Closes TLS connections whose handshake is overdue.
    fn expire_handshakes(&mut self, now: Instant) {
        while let Some(&(deadline, id)) = self.handshake_deadlines.front() {
            if deadline > now {
                return;
            }
            self.handshake_deadlines.pop_front();
            // The id may have closed and been given to a newer connection, whose own deadline
            // is later: only a connection adopted by this deadline is due.
            let overdue = self.connections.get(&id).is_some_and(|connection| {
                !connection.announced
                    && now.saturating_duration_since(connection.adopted_at) >= HANDSHAKE_TIMEOUT
            });
            if overdue {
                let message = format!("no TLS handshake within {} s", HANDSHAKE_TIMEOUT.as_secs());
                self.close_with(id, CloseReason::TlsHandshakeFailed, &message);
            }
        }
    }

    /// Reads again the connections whose mute has ended.
    fn unmute_due(&mut self, now: Instant) {
        while let Some(&Reverse((until, id))) = self.mute_deadlines.peek() {
            if until > now {
                return;
            }
            self.mute_deadlines.pop();
            let due = self
                .connections
                .get_mut(&id)
                .is_some_and(|connection| connection.muted_until == Some(until));
            if due {
                if let Some(connection) = self.connections.get_mut(&id) {
                    connection.muted_until = None;
                }
                self.schedule_read(id);
            }
        }
    }

    fn progress_shutdown(&mut self, now: Instant) {
        let Some(deadline) = self.shutdown_deadline else {
            return;
        };
        let done: Vec<u32> = self
            .connections
            .values()
            .filter(|connection| {
                now >= deadline
                    || !connection.announced
                    || connection.is_quiescent(&connection.write.lock())
            })
            .map(|connection| connection.id)
            .collect();
        for id in done {
            self.close(id, CloseReason::Shutdown);
        }
    }

    /// Closes now; queued responses are dropped and late ones will be ignored.
    fn close(&mut self, id: u32, reason: CloseReason) {
        self.close_with(id, reason, "");
    }

    /// Closes now, as [`close`](Self::close); `detail` says why a TLS handshake failed.
    fn close_with(&mut self, id: u32, reason: CloseReason, detail: &str) {
        let Some(mut connection) = self.connections.remove(&id) else {
            return;
        };
        let _ = self.poll.registry().deregister(connection.stream_mut());
        let (queued_response_bytes, waiting_request_bytes) = {
            // Closed under the lock before the socket is: no other thread writes to it after.
            let mut state = connection.write.lock();
            state.closed = true;
            let bytes = (
                state.responses.queued_response_bytes(),
                state.responses.waiting_request_bytes(),
            );
            state.responses = Default::default(); // drops queued parts (and their files) now
            bytes
        };
        self.shared
            .adjust_queued_response_bytes(queued_response_bytes, 0);
        self.shared.release_request_bytes(waiting_request_bytes);
        // A TLS peer still reading learns why: close_notify, or the failed handshake's alert.
        if !matches!(reason, CloseReason::PeerClosed | CloseReason::IoError) {
            connection.close_session();
        }
        // Counted before the socket closes: a client that sees the close sees the count.
        self.shared.counters.closed[reason.code() as usize].fetch_add(1, Ordering::Relaxed);
        if reason == CloseReason::TlsHandshakeFailed {
            self.shared
                .counters
                .tls_handshake_failures
                .fetch_add(1, Ordering::Relaxed);
        }
        let (announced, listener_index, peer) = (
            connection.announced,
            connection.listener_index,
            connection.peer,
        );
        drop(connection);
        if self.shared.registry.retire(id) {
            self.shared.acceptor.wake();
        }
        if announced {
            encode_closed(&mut self.batch, id, reason);
        } else if reason == CloseReason::TlsHandshakeFailed {
            encode_tls_handshake_failed(&mut self.batch, id, listener_index, peer, detail);
        }
        self.closed.push(id);
    }

    fn publish(&mut self) {
        self.shared.events.publish(&mut self.batch);
        if !self.closed.is_empty() {
            self.shared.registry.remove(&self.closed);
            self.closed.clear();
        }
    }
}

fn idle_sweep_interval(idle_max: Duration) -> Duration {
    (idle_max / IDLE_SWEEPS_PER_TIMEOUT).clamp(IDLE_SWEEP_INTERVAL_MIN, IDLE_SWEEP_INTERVAL_MAX)
}

fn close_reason_of(error: &io::Error) -> CloseReason {
    match error.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
            CloseReason::PeerClosed
        }
        _ => CloseReason::IoError,
    }
}
