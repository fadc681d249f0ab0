//! The network server: binds the listeners, runs the acceptor and reactor threads, and is
//! the JS thread's handle on them (responses, closes, events, shutdown).
//!
//! Threads: one acceptor polling every listener, and `num.network.threads` reactors, each
//! with its own epoll instance and its own connections. The JS thread reads nothing from a
//! socket and never waits on one: it drains events, and a response it completes is written
//! at once, without blocking, when nothing is queued before it on that connection (byte
//! parts only; file regions, a full socket and large remainders go to the reactor). On SSL
//! listeners the reactor alone writes: it encrypts (see [`crate::tls`]).

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::Poll;

use crate::acceptor::{Acceptor, AcceptorHandle, IpConnectionRates};
use crate::config::{ListenerConfig, ServerConfig, TlsSettings};
use crate::event::{EventQueue, CLOSE_REASON_COUNT};
use crate::reactor::{Command, Reactor, ReactorHandle};
use crate::registry::Registry;
use crate::response::Response;
use crate::response_queue::ResponseQueue;
use crate::tls::TlsConfigError;
use crate::transmit::WriteStop;

/// A listener as bound: `address` carries the actual port when 0 was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundListener {
    pub name: String,
    pub host: String,
    pub address: SocketAddr,
}

/// A snapshot of the server's gauges and counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub connections: usize,
    /// Request bytes delivered (or queued) to JS and not yet answered.
    pub queued_request_bytes: usize,
    /// Owned response bytes submitted and not yet written, all connections.
    pub queued_response_bytes: usize,
    /// Bytes of events waiting for JS to drain them.
    pub queued_event_bytes: usize,
    /// Whether reading stopped because of `queued_request_bytes` (cleared on resume).
    pub reads_paused: bool,
    pub connections_accepted_total: u64,
    pub connections_refused_per_ip_total: u64,
    /// Closed connections, indexed by [`CloseReason`](crate::CloseReason) code.
    pub connections_closed_total: [u64; CLOSE_REASON_COUNT],
    /// TLS handshakes that failed or did not complete in time (each closed its connection).
    pub tls_handshake_failures_total: u64,
    /// Nanoseconds the reactor threads spent waiting for events, summed over the threads.
    pub reactor_idle_nanos_total: u64,
    /// Connections held back because the broker or their listener was over its
    /// `max.connection.creation.rate`.
    pub connections_accept_delayed_total: u64,
    /// Connections refused (closed after a delay) for their IP's `connection_creation_rate`.
    pub connections_throttled_per_ip_total: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) accepted: AtomicU64,
    pub(crate) refused_per_ip: AtomicU64,
    pub(crate) closed: [AtomicU64; CLOSE_REASON_COUNT],
    pub(crate) tls_handshake_failures: AtomicU64,
    /// Nanoseconds the reactor threads spent waiting in epoll, summed over the threads.
    pub(crate) reactor_idle_nanos: AtomicU64,
    pub(crate) accepts_delayed: AtomicU64,
    pub(crate) throttled_per_ip: AtomicU64,
}

/// State every thread of the server shares.
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    /// The rustls configuration of each SSL listener (by listener index; `None` for plaintext
    /// ones), taken for each connection as it is accepted; [`Server::reload_tls`] swaps it.
    pub(crate) tls: Vec<Option<RwLock<Arc<rustls::ServerConfig>>>>,
    pub(crate) registry: Registry,
    /// The IPs' `connection_creation_rate` quotas, read by the acceptor for each connection.
    pub(crate) ip_connection_rates: RwLock<IpConnectionRates>,
    pub(crate) events: EventQueue,
    pub(crate) reactors: Vec<ReactorHandle>,
    pub(crate) acceptor: AcceptorHandle,
    /// Request bytes delivered to JS and not yet answered, all connections.
    pub(crate) queued_request_bytes: AtomicUsize,
    pub(crate) queued_response_bytes: AtomicUsize,
    /// Set by a reactor that stopped reading on `queued_request_bytes`; whoever brings
    /// the count back under the bound clears it and tells every reactor to resume.
    reads_paused: AtomicBool,
    /// Shutdown began: every completion is reported to the reactor, which closes each
    /// connection once its responses are written.
    pub(crate) shutting_down: AtomicBool,
    pub(crate) counters: Counters,
}

impl Shared {
    /// Whether `connection` may be read now: under its in-flight and response-bytes
    /// bounds, and the broker under its request-bytes bound.
    pub(crate) fn may_read(&self, responses: &ResponseQueue) -> bool {
        self.within_connection_bounds(responses) && self.may_read_globally()
    }

    /// Under the connection's in-flight and response-bytes bounds.
    pub(crate) fn within_connection_bounds(&self, responses: &ResponseQueue) -> bool {
        let config = &self.config;
        responses.in_flight() < config.in_flight_requests_per_connection_max
            && responses.queued_response_bytes() <= config.queued_response_bytes_per_connection_max
    }

    fn may_read_globally(&self) -> bool {
        let bound = self.config.queued_request_bytes_max;
        if self.queued_request_bytes.load(Ordering::SeqCst) < bound {
            return true;
        }
        // Publish the pause, then look again: a release that raced with us either sees
        // the flag (and resumes everyone) or is seen here.
        self.reads_paused.store(true, Ordering::SeqCst);
        self.queued_request_bytes.load(Ordering::SeqCst) < bound
    }

    pub(crate) fn release_request_bytes(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let after = self.queued_request_bytes.fetch_sub(bytes, Ordering::SeqCst) - bytes;
        if after < self.config.queued_request_bytes_max
            && self.reads_paused.swap(false, Ordering::SeqCst)
        {
            for reactor in &self.reactors {
                reactor.send(Command::Resume);
            }
        }
    }

    pub(crate) fn adjust_queued_response_bytes(&self, before: usize, after: usize) {
        if after > before {
            self.queued_response_bytes
                .fetch_add(after - before, Ordering::Relaxed);
        } else if before > after {
            self.queued_response_bytes
                .fetch_sub(before - after, Ordering::Relaxed);
        }
    }
}

struct Threads {
    reactors: Vec<JoinHandle<()>>,
}

/// Bytes the JS thread writes of what a completion put in order before it leaves the rest to
/// the reactor: small responses go out at once, a large one does not hold the JS thread.
const INLINE_WRITE_BYTES_MAX: u64 = 256 * 1024;

/// A running network server. Dropping it shuts it down at once (no grace period).
pub struct Server {
    shared: Arc<Shared>,
    bound: Vec<BoundListener>,
    threads: Mutex<Option<Threads>>,
    acceptor_thread: Mutex<Option<JoinHandle<()>>>,
}

impl Server {
    /// Binds every listener and starts the threads. `wake` runs on a reactor thread when
    /// events become available after a drain (once, until the next drain).
    pub fn start(
        config: ServerConfig,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> io::Result<Server> {
        if config.network_threads == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "num.network.threads must be at least 1",
            ));
        }
        let tls = config
            .listeners
            .iter()
            .map(|listener| {
                listener
                    .tls
                    .as_ref()
                    .map(|settings| tls_config_of(listener, settings).map(RwLock::new))
                    .transpose()
            })
            .collect::<io::Result<Vec<_>>>()?;
        let (listeners, bound) = bind_all(&config.listeners)?;
        let acceptor_poll = Poll::new()?;
        let reactor_polls = (0..config.network_threads)
            .map(|_| Poll::new())
            .collect::<io::Result<Vec<_>>>()?;
        let reactors = reactor_polls
            .iter()
            .map(ReactorHandle::new)
            .collect::<io::Result<Vec<_>>>()?;
        let shared = Arc::new(Shared {
            config,
            tls,
            registry: Registry::default(),
            ip_connection_rates: RwLock::new(IpConnectionRates::default()),
            events: EventQueue::new(Box::new(wake)),
            reactors,
            acceptor: AcceptorHandle::new(&acceptor_poll)?,
            queued_request_bytes: AtomicUsize::new(0),
            queued_response_bytes: AtomicUsize::new(0),
            reads_paused: AtomicBool::new(false),
            shutting_down: AtomicBool::new(false),
            counters: Counters::default(),
        });
        let acceptor = Acceptor::new(shared.clone(), acceptor_poll, listeners)?;
        let mut reactor_threads = Vec::new();
        for (index, poll) in reactor_polls.into_iter().enumerate() {
            let reactor = Reactor::new(index, shared.clone(), poll);
            reactor_threads.push(
                std::thread::Builder::new()
                    .name(format!("sluice-net-{index}"))
                    .spawn(move || reactor.run())?,
            );
        }
        let acceptor_thread = std::thread::Builder::new()
            .name("sluice-acceptor".into())
            .spawn(move || acceptor.run())?;
        Ok(Server {
            shared,
            bound,
            threads: Mutex::new(Some(Threads {
                reactors: reactor_threads,
            })),
            acceptor_thread: Mutex::new(Some(acceptor_thread)),
        })
    }

    pub fn bound_listeners(&self) -> &[BoundListener] {
        &self.bound
    }

    /// Replaces the TLS settings of the SSL listener `listener_name` (Kafka's certificate
    /// reload): connections accepted from now on use them; open connections keep the
    /// settings they were accepted with. Invalid settings are refused and the old ones stay.
    pub fn reload_tls(&self, listener_name: &str, settings: &TlsSettings) -> io::Result<()> {
        let index = self
            .shared
            .config
            .listeners
            .iter()
            .position(|listener| listener.name == listener_name)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("there is no listener {listener_name}"),
                )
            })?;
        let listener = &self.shared.config.listeners[index];
        let Some(current) = &self.shared.tls[index] else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("listener {listener_name} is not an SSL listener: it has no TLS to reload"),
            ));
        };
        let config = tls_config_of(listener, settings)?;
        *current.write().expect("listener TLS lock") = config;
        Ok(())
    }

    /// Everything queued since the last drain, as one encoded event stream (see
    /// [`crate::event`]); `None` when nothing is queued.
    pub fn drain_events(&self) -> Option<Vec<u8>> {
        self.shared.events.drain()
    }

    /// Copies every queued event into `target` when they fit and returns their length (0:
    /// none); when they do not fit, takes nothing and returns the queued length negated (then
    /// call [`drain_events`](Self::drain_events)).
    pub fn drain_events_into(&self, target: &mut [u8]) -> i64 {
        self.shared.events.drain_into(target)
    }

    /// Submits the response to request `seq` of `connection`; it is written after every
    /// earlier seq of the connection. False when the connection is not open.
    pub fn respond(&self, connection: u32, seq: u32, response: Response) -> bool {
        self.complete(connection, seq, Some(response))
    }

    /// Completes request `seq` of `connection` without a response (acks=0 produce).
    pub fn skip(&self, connection: u32, seq: u32) -> bool {
        self.complete(connection, seq, None)
    }

    /// Records the answer on the calling thread and writes what is now in order, if the
    /// socket takes it without waiting; the reactor is told only when it has something to
    /// do: a remainder to write, a connection to read again, a failed write, or shutdown.
    fn complete(&self, connection: u32, seq: u32, response: Option<Response>) -> bool {
        let Some((reactor, write)) = self.shared.registry.write_side_of(connection) else {
            return false;
        };
        let mut notify = false;
        let mut failed = false;
        let request_bytes;
        {
            let mut state = write.lock();
            if state.closed {
                return false;
            }
            let was_within = self.shared.within_connection_bounds(&state.responses);
            let queued_before = state.responses.queued_response_bytes();
            // A rejected completion (unknown or repeated seq) is a JS bug; ignoring it keeps
            // the other responses flowing, as the reactor always did.
            let Ok(bytes) = state.responses.complete(seq, response) else {
                return true;
            };
            request_bytes = bytes;
            if state.responses.has_outgoing() && write.is_tls() {
                notify = true; // the reactor encrypts and writes
            } else if state.responses.has_outgoing() {
                match state
                    .responses
                    .outgoing()
                    .write_bytes_to(write.fd(), INLINE_WRITE_BYTES_MAX)
                {
                    Ok(progress) => {
                        if progress.bytes_written > 0 {
                            state.last_write = Some(Instant::now());
                        }
                        // WouldBlock needs nothing: the socket's writable edge wakes the reactor.
                        if matches!(progress.stop, WriteStop::BudgetSpent | WriteStop::FileNext) {
                            notify = true;
                        }
                    }
                    Err(_) => failed = true,
                }
            }
            let queued_after = state.responses.queued_response_bytes();
            self.shared
                .adjust_queued_response_bytes(queued_before, queued_after);
            if !was_within && self.shared.within_connection_bounds(&state.responses) {
                notify = true; // reading was paused on this connection's bounds
            }
        }
        self.shared.release_request_bytes(request_bytes);
        // Read after the lock: a shutdown that began before the reactor last looked at this
        // connection is seen here, so the reactor hears of the completion it did not see.
        notify |= self.shared.shutting_down.load(Ordering::SeqCst);
        if failed {
            self.shared.reactors[reactor].send(Command::WriteFailed { connection });
        } else if notify {
            self.shared.reactors[reactor].send(Command::Written { connection });
        }
        true
    }

    /// Closes `connection` now, dropping its queued responses; its Closed event follows.
    pub fn close(&self, connection: u32) -> bool {
        self.send(connection, Command::Close { connection })
    }

    /// Stops reading `connection` for `duration` (a throttled client's channel is muted, as
    /// Kafka does for quota violations, KIP-219); its responses are still written. A later mute
    /// replaces an earlier one only when it ends later.
    pub fn mute(&self, connection: u32, duration: Duration) -> bool {
        let until = Instant::now() + duration;
        self.send(connection, Command::Mute { connection, until })
    }

    /// Sets the `connection_creation_rate` client quotas of IPs (Kafka's `ip` quota entity): a
    /// connection from an IP above its rate is refused and closed after the time it should
    /// have waited. `default` applies to every IP without an override; `None`: unlimited.
    pub fn set_ip_connection_rates(
        &self,
        default: Option<u32>,
        overrides: impl IntoIterator<Item = (std::net::IpAddr, u32)>,
    ) {
        let rates = IpConnectionRates {
            default,
            overrides: overrides
                .into_iter()
                .map(|(ip, rate)| (ip.to_canonical(), rate))
                .collect(),
        };
        *self
            .shared
            .ip_connection_rates
            .write()
            .expect("IP connection rates lock") = rates;
    }

    fn send(&self, connection: u32, command: Command) -> bool {
        match self.shared.registry.reactor_of(connection) {
            Some(reactor) => {
                self.shared.reactors[reactor].send(command);
                true
            }
            None => false,
        }
    }

    /// Closes the listeners (and returns once they are closed); open connections go on.
    pub fn stop_accepting(&self) {
        let thread = self
            .acceptor_thread
            .lock()
            .expect("acceptor thread lock")
            .take();
        if let Some(thread) = thread {
            self.shared.acceptor.stop();
            // A thread that panicked has printed why; shutting down goes on regardless.
            let _ = thread.join();
        }
    }

    /// Stops accepting and reading, waits until every connection has written the responses
    /// to the requests already delivered (JS must still answer them) or `timeout` passes,
    /// then closes every connection and joins the threads. Blocks; later calls return at
    /// once.
    pub fn shutdown(&self, timeout: Duration) {
        let mut threads = self.threads.lock().expect("server threads lock");
        let Some(threads) = threads.take() else {
            return;
        };
        self.stop_accepting();
        let deadline = Instant::now() + timeout;
        self.shared.shutting_down.store(true, Ordering::SeqCst);
        for reactor in &self.shared.reactors {
            reactor.send(Command::Shutdown { deadline });
        }
        for thread in threads.reactors {
            let _ = thread.join();
        }
    }

    pub fn stats(&self) -> Stats {
        let shared = &self.shared;
        let counters = &shared.counters;
        Stats {
            connections: shared.registry.open_count(),
            queued_request_bytes: shared.queued_request_bytes.load(Ordering::SeqCst),
            queued_response_bytes: shared.queued_response_bytes.load(Ordering::Relaxed),
            queued_event_bytes: shared.events.queued_bytes(),
            reads_paused: shared.reads_paused.load(Ordering::SeqCst),
            connections_accepted_total: counters.accepted.load(Ordering::Relaxed),
            connections_refused_per_ip_total: counters.refused_per_ip.load(Ordering::Relaxed),
            connections_closed_total: std::array::from_fn(|index| {
                counters.closed[index].load(Ordering::Relaxed)
            }),
            tls_handshake_failures_total: counters.tls_handshake_failures.load(Ordering::Relaxed),
            reactor_idle_nanos_total: counters.reactor_idle_nanos.load(Ordering::Relaxed),
            connections_accept_delayed_total: counters.accepts_delayed.load(Ordering::Relaxed),
            connections_throttled_per_ip_total: counters.throttled_per_ip.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown(Duration::ZERO);
    }
}

/// The rustls configuration of an SSL listener; an error names the listener.
fn tls_config_of(
    listener: &ListenerConfig,
    settings: &TlsSettings,
) -> io::Result<Arc<rustls::ServerConfig>> {
    crate::tls::server_config(settings).map_err(|TlsConfigError(message)| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "listener {}: TLS settings refused: {message}",
                listener.name
            ),
        )
    })
}

fn bind_all(configs: &[ListenerConfig]) -> io::Result<(Vec<TcpListener>, Vec<BoundListener>)> {
    let mut listeners = Vec::new();
    let mut bound = Vec::new();
    for config in configs {
        let listener = bind(config)?;
        bound.push(BoundListener {
            name: config.name.clone(),
            host: config.host.clone(),
            address: listener.local_addr()?,
        });
        listeners.push(listener);
    }
    Ok((listeners, bound))
}

fn bind(config: &ListenerConfig) -> io::Result<TcpListener> {
    let failed = |error: io::Error| {
        io::Error::new(
            error.kind(),
            format!(
                "cannot bind listener {} to {}:{}: {}{error}",
                config.name,
                config.host,
                config.port,
                error_code_prefix(&error)
            ),
        )
    };
    // Kafka writes IPv6 listener hosts in brackets (`PLAINTEXT://[::1]:9092`).
    let host = config.host.trim_start_matches('[').trim_end_matches(']');
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    let address = (host, config.port)
        .to_socket_addrs()
        .map_err(failed)?
        .next()
        .ok_or_else(|| failed(io::Error::new(io::ErrorKind::NotFound, "no address")))?;
    TcpListener::bind(address).map_err(failed)
}

/// The errno name Node users know (`EADDRINUSE: `), for the errors binding can hit.
fn error_code_prefix(error: &io::Error) -> &'static str {
    match error.raw_os_error() {
        Some(libc::EADDRINUSE) => "EADDRINUSE: ",
        Some(libc::EADDRNOTAVAIL) => "EADDRNOTAVAIL: ",
        Some(libc::EACCES) => "EACCES: ",
        _ => "",
    }
}
