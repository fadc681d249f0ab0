//! The acceptor thread: owns every listening socket, admits new connections
//! (`max.connections`, `max.connections.per.ip`) and hands each to a reactor, round-robin.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use crate::reactor::Command;
use crate::registry::Refusal;
use crate::server::Shared;

const WAKER: Token = Token(usize::MAX);

/// After an accept error that does not clear by itself (out of file descriptors), the
/// acceptor waits this long before trying again instead of spinning.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

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
        Ok(Self {
            shared,
            poll,
            listeners,
            pending,
            next_reactor: 0,
        })
    }

    /// Runs until [`AcceptorHandle::stop`]; the listeners close when it returns.
    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(64);
        loop {
            if self.shared.acceptor.stop.load(Ordering::SeqCst) {
                return;
            }
            let timeout = match self.accept_pending() {
                Ok(()) => None,
                Err(_) => Some(ACCEPT_ERROR_BACKOFF),
            };
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
            while self.pending[index] {
                if !self
                    .shared
                    .registry
                    .has_room_or_wait(self.shared.config.connections_max)
                {
                    return result;
                }
                match self.listeners[index].accept() {
                    Ok((stream, peer)) => self.admit(index, stream, peer),
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

    fn admit(&mut self, listener_index: usize, stream: TcpStream, peer: SocketAddr) {
        let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
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
