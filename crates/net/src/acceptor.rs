//! The acceptor thread: owns every listening socket, admits new connections
//! (`max.connections`, `max.connections.per.ip`) and hands each to a reactor, round-robin.
//!
//! Connection creation rates, as Kafka's `ConnectionQuotas` enforces them: above
//! `max.connection.creation.rate` (broker-wide or the listener's own) a newly accepted
//! connection is held back, and its listener accepts nothing else, until the rate is back
//! under the limit (at most one quota window); a connection from an IP over its
//! `connection_creation_rate` client quota is not admitted and is closed once the time it
//! should have waited has passed (so a client retrying at once is slowed down, as Kafka's
//! delayed close does).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use crate::rate::Rate;
use crate::reactor::Command;
use crate::registry::Refusal;
use crate::server::Shared;

const WAKER: Token = Token(usize::MAX);

/// After an accept error that does not clear by itself (out of file descriptors), the
/// acceptor waits this long before trying again instead of spinning.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// Connections refused for their IP's connection creation rate and waiting to be closed; past
/// this many, a refused connection is closed at once (bounded memory and descriptors).
const DELAYED_CLOSES_MAX: usize = 10_000;

/// Per-IP rates kept before idle ones (nothing recorded for a whole quota window) are dropped.
const IP_RATES_SWEEP_AT: usize = 4096;

/// The `connection_creation_rate` client quotas of IPs (Kafka's `ip` quota entity): a
/// default for every IP and overrides of it; set by [`Server::set_ip_connection_rates`](crate::Server::set_ip_connection_rates).
#[derive(Debug, Default, Clone)]
pub(crate) struct IpConnectionRates {
    pub(crate) default: Option<u32>,
    pub(crate) overrides: HashMap<IpAddr, u32>,
}

impl IpConnectionRates {
    fn of(&self, ip: IpAddr) -> Option<u32> {
        self.overrides.get(&ip).copied().or(self.default)
    }
}

/// A connection accepted while its listener was over its creation rate: handed on at `until`.
struct Held {
    until: Instant,
    stream: TcpStream,
    peer: SocketAddr,
}

/// A refused connection, closed at `until` (ordered by that time only).
struct DelayedClose {
    until: Instant,
    /// Held only to be closed (dropped) at `until`.
    #[allow(dead_code)]
    stream: TcpStream,
}

impl PartialEq for DelayedClose {
    fn eq(&self, other: &Self) -> bool {
        self.until == other.until
    }
}
impl Eq for DelayedClose {}
impl PartialOrd for DelayedClose {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for DelayedClose {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.until.cmp(&other.until)
    }
}

/// The other threads' way to reach the acceptor.
pub(crate) struct AcceptorHandle {
    waker: Waker,
    stop: AtomicBool,
}

impl AcceptorHandle {
    pub(crate) fn new(poll: &Poll) -> io::Result<Self> {
        Ok(Self {
            waker: Waker::new(poll.registry(), WAKER)?,
            stop: AtomicBool::new(false),
        })
    }

    /// Wakes the acceptor to retry listeners it left at `max.connections`.
    pub(crate) fn wake(&self) {
        // Waking only fails if the eventfd is gone, i.e. the acceptor already exited.
        let _ = self.waker.wake();
    }

    /// Makes the acceptor close its listeners and exit.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake();
    }
}

pub(crate) struct Acceptor {
    shared: Arc<Shared>,
    poll: Poll,
    listeners: Vec<TcpListener>,
    /// A readable edge arrived for the listener and `accept` has not hit `WouldBlock`
    /// since (edge-triggered: no new event until then).
    pending: Vec<bool>,
    next_reactor: usize,
    /// `max.connection.creation.rate`, all listeners.
    broker_rate: Option<Rate>,
    /// Each listener's own `max.connection.creation.rate`.
    listener_rates: Vec<Option<Rate>>,
    /// Per listener, the connection held back for its creation rate.
    held: Vec<Option<Held>>,
    ip_rates: HashMap<IpAddr, Rate>,
    delayed_closes: BinaryHeap<Reverse<DelayedClose>>,
}

impl Acceptor {
    pub(crate) fn new(
        shared: Arc<Shared>,
        poll: Poll,
        mut listeners: Vec<TcpListener>,
    ) -> io::Result<Self> {
        for (index, listener) in listeners.iter_mut().enumerate() {
            poll.registry()
                .register(listener, Token(index), Interest::READABLE)?;
        }
        let pending = vec![true; listeners.len()];
        let now = Instant::now();
        let window = shared.config.quota_window;
        let broker_rate = shared
            .config
            .connection_creation_rate_max
            .map(|_| Rate::new(window, now));
        let listener_rates = shared
            .config
            .listeners
            .iter()
            .map(|listener| {
                listener
                    .connection_creation_rate_max
                    .map(|_| Rate::new(window, now))
            })
            .collect();
        let held = listeners.iter().map(|_| None).collect();
        Ok(Self {
            shared,
            poll,
            listeners,
            pending,
            next_reactor: 0,
            broker_rate,
            listener_rates,
            held,
            ip_rates: HashMap::new(),
            delayed_closes: BinaryHeap::new(),
        })
    }

    /// Runs until [`AcceptorHandle::stop`]; the listeners close when it returns.
    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(64);
        loop {
            if self.shared.acceptor.stop.load(Ordering::SeqCst) {
                return;
            }
            let now = Instant::now();
            self.close_delayed(now);
            let mut timeout = match self.accept_pending() {
                Ok(()) => None,
                Err(_) => Some(ACCEPT_ERROR_BACKOFF),
            };
            let next_deadline = self
                .held
                .iter()
                .flatten()
                .map(|held| held.until)
                .chain(self.delayed_closes.peek().map(|Reverse(close)| close.until))
                .min();
            if let Some(deadline) = next_deadline {
                let wait = deadline.saturating_duration_since(Instant::now());
                timeout = Some(timeout.map_or(wait, |timeout| timeout.min(wait)));
            }
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => panic!("acceptor poll failed: {error}"),
            }
            for event in &events {
                if event.token() != WAKER {
                    self.pending[event.token().0] = true;
                }
            }
        }
    }

    /// Accepts until every listener would block or `max.connections` is reached (then a
    /// closing connection wakes the acceptor). An error other than `WouldBlock` is passed
    /// up after trying the other listeners.
    fn accept_pending(&mut self) -> io::Result<()> {
        let mut result = Ok(());
        for index in 0..self.listeners.len() {
            loop {
                if let Some(held) = &self.held[index] {
                    if Instant::now() < held.until {
                        break; // the listener waits out its creation rate
                    }
                }
                if self.held[index].is_none() && !self.pending[index] {
                    break;
                }
                if !self
                    .shared
                    .registry
                    .has_room_or_wait(self.shared.config.connections_max)
                {
                    return result;
                }
                if let Some(held) = self.held[index].take() {
                    self.admit(index, held.stream, held.peer);
                    continue;
                }
                match self.listeners[index].accept() {
                    Ok((stream, peer)) => self.accepted(index, stream, peer),
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        self.pending[index] = false;
                    }
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    // ECONNABORTED and friends concern one connection; try the next one.
                    Err(error) if error.kind() == io::ErrorKind::ConnectionAborted => {}
                    Err(error) => {
                        // EMFILE, ENFILE, ENOBUFS: retry after a pause.
                        result = Err(error);
                        break;
                    }
                }
            }
        }
        result
    }

    /// A connection just accepted: held back while the broker or its listener is over its
    /// creation rate (Kafka's `waitForConnectionSlot`), else admitted.
    fn accepted(&mut self, listener_index: usize, stream: TcpStream, peer: SocketAddr) {
        let now = Instant::now();
        let config = &self.shared.config;
        let mut throttle = Duration::ZERO;
        if let (Some(rate), Some(max)) =
            (&mut self.broker_rate, config.connection_creation_rate_max)
        {
            throttle = throttle.max(rate.record_and_throttle(f64::from(max), now));
        }
        if let (Some(rate), Some(max)) = (
            &mut self.listener_rates[listener_index],
            config.listeners[listener_index].connection_creation_rate_max,
        ) {
            throttle = throttle.max(rate.record_and_throttle(f64::from(max), now));
        }
        if throttle.is_zero() {
            self.admit(listener_index, stream, peer);
        } else {
            self.shared
                .counters
                .accepts_delayed
                .fetch_add(1, Ordering::Relaxed);
            self.held[listener_index] = Some(Held {
                until: now + throttle,
                stream,
                peer,
            });
        }
    }

    /// Whether the IP's `connection_creation_rate` quota lets a new connection in; when it
    /// does not, the connection is not counted in any rate (as Kafka un-records it) and is
    /// closed after the time it should have waited.
    fn within_ip_rate(
        &mut self,
        listener_index: usize,
        ip: IpAddr,
        stream: TcpStream,
    ) -> Option<TcpStream> {
        let quota = self
            .shared
            .ip_connection_rates
            .read()
            .expect("IP connection rates lock")
            .of(ip);
        let Some(quota) = quota else {
            return Some(stream);
        };
        let now = Instant::now();
        if self.ip_rates.len() >= IP_RATES_SWEEP_AT {
            self.ip_rates.retain(|_, rate| !rate.is_idle(now));
        }
        let window = self.shared.config.quota_window;
        let rate = self
            .ip_rates
            .entry(ip)
            .or_insert_with(|| Rate::new(window, now));
        let throttle = rate.record_and_throttle(f64::from(quota), now);
        if throttle.is_zero() {
            return Some(stream);
        }
        rate.record(-1.0, now);
        if let Some(rate) = &mut self.broker_rate {
            rate.record(-1.0, now);
        }
        if let Some(rate) = &mut self.listener_rates[listener_index] {
            rate.record(-1.0, now);
        }
        self.shared
            .counters
            .throttled_per_ip
            .fetch_add(1, Ordering::Relaxed);
        if self.delayed_closes.len() < DELAYED_CLOSES_MAX {
            self.delayed_closes.push(Reverse(DelayedClose {
                until: now + throttle,
                stream,
            }));
        }
        None
    }

    /// Closes the refused connections whose time has come.
    fn close_delayed(&mut self, now: Instant) {
        while self
            .delayed_closes
            .peek()
            .is_some_and(|Reverse(close)| close.until <= now)
        {
            drop(self.delayed_closes.pop());
        }
    }

    fn admit(&mut self, listener_index: usize, stream: TcpStream, peer: SocketAddr) {
        let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
        let Some(stream) = self.within_ip_rate(listener_index, peer.ip(), stream) else {
            return;
        };
        let config = &self.shared.config;
        let reactor = self.next_reactor;
        match self
            .shared
            .registry
            .admit(peer.ip(), config.connections_per_ip_max, reactor)
        {
            Err(Refusal::PerIpLimit) => {
                self.shared
                    .counters
                    .refused_per_ip
                    .fetch_add(1, Ordering::Relaxed);
                drop(stream);
            }
            Ok(id) => {
                configure(
                    &stream,
                    config.socket_send_buffer_bytes,
                    config.socket_receive_buffer_bytes,
                );
                self.shared
                    .counters
                    .accepted
                    .fetch_add(1, Ordering::Relaxed);
                self.next_reactor = (reactor + 1) % self.shared.reactors.len();
                // The listener's TLS settings as of now: a reload later does not change them.
                let tls = self.shared.tls[listener_index]
                    .as_ref()
                    .map(|config| config.read().expect("listener TLS lock").clone());
                self.shared.reactors[reactor].send(Command::Adopt {
                    id,
                    listener_index: listener_index as u16,
                    peer,
                    stream,
                    tls,
                });
            }
        }
    }
}

/// TCP_NODELAY (Kafka's responses are whole messages; Nagle only adds latency) and the
/// configured buffer sizes. Failures only cost performance, so they are ignored.
fn configure(
    stream: &TcpStream,
    send_buffer_bytes: Option<usize>,
    receive_buffer_bytes: Option<usize>,
) {
    let _ = stream.set_nodelay(true);
    if let Some(bytes) = send_buffer_bytes {
        set_buffer(stream, libc::SO_SNDBUF, bytes);
    }
    if let Some(bytes) = receive_buffer_bytes {
        set_buffer(stream, libc::SO_RCVBUF, bytes);
    }
}

fn set_buffer(stream: &TcpStream, option: libc::c_int, bytes: usize) {
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: a valid socket descriptor and a c_int option value of the right size.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}
