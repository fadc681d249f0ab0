//! One client connection as its reactor sees it: the socket, the frame decoder, the ordered
//! responses and, on an SSL listener, the TLS session. The responses and the right to write
//! the socket are the connection's [`WriteSide`], shared under a lock with the JS thread: a
//! response completed there is written at once when nothing is queued before it (no hand-off
//! to the reactor, whose thread would have to wake for it); what cannot be written there (a
//! full socket, a file region, a large remainder, anything of a TLS connection) stays queued
//! for the reactor.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use mio::net::TcpStream;

use crate::framing::{FrameDecoder, FrameError};
use crate::response_queue::ResponseQueue;
use crate::tls::{TlsEvent, TlsFailure, TlsSession};
use crate::transmit::{Outgoing, WriteProgress, WriteStop};

/// The result of one read from the socket.
#[derive(Debug)]
pub(crate) enum ReadOutcome {
    /// Bytes came in (frames they completed are in the output).
    Read,
    /// Nothing more to read until the next readable event.
    WouldBlock,
    /// The client closed its side.
    PeerClosed,
}

#[derive(Debug)]
#[allow(dead_code)] // The payloads are for Debug output.
pub(crate) enum ReadError {
    /// A size prefix that is negative or over `socket.request.max.bytes`.
    Frame(FrameError),
    Io(io::Error),
    /// The TLS handshake failed; the message says why.
    TlsHandshake(String),
    /// A TLS record after the handshake was bad.
    TlsProtocol(String),
}

impl From<TlsFailure> for ReadError {
    fn from(failure: TlsFailure) -> Self {
        match failure {
            TlsFailure::Handshake(message) => Self::TlsHandshake(message),
            TlsFailure::Protocol(message) => Self::TlsProtocol(message),
            TlsFailure::Frame(error) => Self::Frame(error),
            TlsFailure::Io(error) => Self::Io(error),
        }
    }
}

/// What reading hands the reactor, in order.
pub(crate) enum Incoming<'a> {
    /// The TLS handshake completed, before any frame of the connection: announce it (Opened),
    /// with the client certificate's subject (RFC 2253) when the client sent one.
    Established { peer_subject: Option<&'a str> },
    /// A whole request, with the connection's responses to admit it.
    Frame {
        responses: &'a mut ResponseQueue,
        frame: &'a [u8],
    },
}

/// What the reactor and the JS thread share of a connection: its responses and the socket's
/// write side. Whoever holds the lock may write the socket; the reactor marks it closed under
/// the lock before it closes the socket, so nobody writes to a closed (or reused) descriptor.
pub(crate) struct WriteSide {
    state: Mutex<WriteState>,
    fd: RawFd,
    /// The connection is TLS: only its reactor writes the socket (everything goes through the
    /// session there), so the JS thread leaves every response to the reactor.
    tls: bool,
}

pub(crate) struct WriteState {
    pub(crate) responses: ResponseQueue,
    pub(crate) closed: bool,
    /// Last byte written from outside the reactor, for `connections.max.idle.ms`.
    pub(crate) last_write: Option<Instant>,
}

impl WriteSide {
    pub(crate) fn lock(&self) -> MutexGuard<'_, WriteState> {
        self.state.lock().expect("connection write lock")
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.fd
    }

    pub(crate) fn is_tls(&self) -> bool {
        self.tls
    }
}

pub(crate) struct Connection {
    pub(crate) id: u32,
    stream: TcpStream,
    decoder: FrameDecoder,
    pub(crate) write: Arc<WriteSide>,
    /// A readable edge arrived and reading has not hit `WouldBlock` since. With
    /// edge-triggered polling no new event comes until then, so a connection paused by
    /// backpressure is remembered here and read again when it resumes.
    pub(crate) readable: bool,
    /// Queued in the reactor's list of connections to read (at most once).
    pub(crate) read_scheduled: bool,
    /// Not read before this time: the client is throttled (KIP-219).
    pub(crate) muted_until: Option<Instant>,
    /// Last byte read or written, for `connections.max.idle.ms`.
    pub(crate) last_activity: Instant,
    pub(crate) listener_index: u16,
    pub(crate) peer: SocketAddr,
    /// When the reactor took the connection over (a TLS handshake is due 10 s later).
    pub(crate) adopted_at: Instant,
    /// JS was told of the connection (its Opened event is in a batch): at once for plaintext,
    /// when the handshake completes for TLS. Until then it gets no Closed event either.
    pub(crate) announced: bool,
    /// The TLS session of a connection to an SSL listener.
    tls: Option<Box<TlsSession>>,
}

/// Where a connection came from.
pub(crate) struct Origin {
    pub(crate) listener_index: u16,
    pub(crate) peer: SocketAddr,
}

impl Connection {
    /// A connection; with `tls`, announced only once its handshake completes.
    pub(crate) fn new(
        id: u32,
        stream: TcpStream,
        origin: Origin,
        tls: Option<TlsSession>,
        request_bytes_max: usize,
        now: Instant,
    ) -> Self {
        let write = Arc::new(WriteSide {
            state: Mutex::new(WriteState {
                responses: ResponseQueue::default(),
                closed: false,
                last_write: None,
            }),
            fd: stream.as_raw_fd(),
            tls: tls.is_some(),
        });
        Self {
            id,
            stream,
            decoder: FrameDecoder::new(request_bytes_max),
            write,
            readable: false,
            read_scheduled: false,
            muted_until: None,
            last_activity: now,
            listener_index: origin.listener_index,
            peer: origin.peer,
            adopted_at: now,
            announced: tls.is_none(),
            tls: tls.map(Box::new),
        }
    }

    pub(crate) fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// One `read` into `buffer`; each frame it completes goes to `on` with the connection's
    /// responses (to admit it), in order, also when a bad prefix follows. On a TLS connection
    /// the read is ciphertext: its plaintext is framed, and the completion of the handshake
    /// reaches `on` before the first frame.
    pub(crate) fn read_once(
        &mut self,
        buffer: &mut [u8],
        now: Instant,
        mut on: impl FnMut(Incoming<'_>),
    ) -> Result<ReadOutcome, ReadError> {
        let count = loop {
            match self.stream.read(buffer) {
                Ok(0) => return Ok(ReadOutcome::PeerClosed),
                Ok(count) => break count,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(ReadOutcome::WouldBlock)
                }
                Err(error) => return Err(ReadError::Io(error)),
            }
        };
        self.last_activity = now;
        let mut state = self.write.lock();
        let responses = &mut state.responses;
        let Some(tls) = self.tls.as_deref_mut() else {
            self.decoder
                .decode_each(&buffer[..count], |frame| {
                    on(Incoming::Frame {
                        responses,
                        frame: frame.as_slice(),
                    })
                })
                .map_err(ReadError::Frame)?;
            return Ok(ReadOutcome::Read);
        };
        let decoder = &mut self.decoder;
        let announced = &mut self.announced;
        let received = tls.receive(&buffer[..count], |event| match event {
            TlsEvent::Established { peer_subject } => {
                *announced = true;
                on(Incoming::Established { peer_subject });
                Ok(())
            }
            TlsEvent::Plaintext(plaintext) => decoder
                .decode_each(plaintext, |frame| {
                    on(Incoming::Frame {
                        responses: &mut *responses,
                        frame: frame.as_slice(),
                    })
                })
                .map_err(TlsFailure::Frame),
        })?;
        drop(state);
        // Handshake messages, alerts, session tickets: the reactor alone writes a TLS socket.
        tls.write_pending(self.stream.as_raw_fd())
            .map_err(ReadError::Io)?;
        Ok(if received.peer_closed {
            ReadOutcome::PeerClosed
        } else {
            ReadOutcome::Read
        })
    }

    /// Writes queued response parts (`state` is this connection's, locked) until done, the
    /// socket would block, or about `budget_bytes` are written. A TLS connection encrypts them
    /// first, reading file regions into `chunk` (the budget counts ciphertext).
    pub(crate) fn flush(
        &mut self,
        state: &mut WriteState,
        now: Instant,
        budget_bytes: u64,
        chunk: &mut [u8],
    ) -> io::Result<WriteProgress> {
        let socket = self.stream.as_raw_fd();
        let progress = match self.tls.as_deref_mut() {
            None => state.responses.outgoing().write_to(socket, budget_bytes)?,
            Some(tls) => flush_tls(tls, state.responses.outgoing(), socket, budget_bytes, chunk)?,
        };
        if progress.bytes_written > 0 {
            self.last_activity = now;
        }
        Ok(progress)
    }

    /// Bytes wait to be written that the response queue does not hold: a TLS session's
    /// ciphertext (handshake messages, encrypted responses).
    pub(crate) fn has_session_bytes(&self) -> bool {
        self.tls.as_ref().is_some_and(|tls| tls.wants_write())
    }

    /// Nothing in flight and nothing left to write (`state` is this connection's, locked).
    pub(crate) fn is_quiescent(&self, state: &WriteState) -> bool {
        state.responses.is_quiescent() && !self.has_session_bytes()
    }

    /// Before the socket closes: a TLS connection sends `close_notify` (or the alert of a
    /// failed handshake), as far as the socket takes it now.
    pub(crate) fn close_session(&mut self) {
        let socket = self.stream.as_raw_fd();
        if let Some(tls) = self.tls.as_deref_mut() {
            tls.close(socket);
        }
    }

    /// The last byte read or written, by either thread.
    pub(crate) fn last_activity(&self, state: &WriteState) -> Instant {
        state.last_write.map_or(self.last_activity, |written| {
            written.max(self.last_activity)
        })
    }
}

/// Encrypts queued parts and writes the ciphertext: rustls holds at most one bounded batch of
/// ciphertext, written before more is encrypted, so the work stops with the socket.
fn flush_tls(
    tls: &mut TlsSession,
    outgoing: &mut Outgoing,
    socket: RawFd,
    budget_bytes: u64,
    chunk: &mut [u8],
) -> io::Result<WriteProgress> {
    let mut bytes_written = 0;
    loop {
        bytes_written += tls.write_pending(socket)?;
        let stop = if tls.wants_write() {
            WriteStop::WouldBlock
        } else if outgoing.is_empty() {
            WriteStop::Drained
        } else if bytes_written >= budget_bytes {
            WriteStop::BudgetSpent
        } else {
            if outgoing.encrypt_front(chunk, |plaintext| tls.encrypt(plaintext))? == 0 {
                return Err(io::Error::other("the TLS session took no plaintext"));
            }
            continue;
        };
        return Ok(WriteProgress {
            bytes_written,
            stop,
        });
    }
}
