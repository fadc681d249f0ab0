//! One client connection as its reactor sees it: the socket, the frame decoder, and the
//! ordered responses. The responses and the right to write the socket are the connection's
//! [`WriteSide`], shared under a lock with the JS thread: a response completed there is written
//! at once when nothing is queued before it (no hand-off to the reactor, whose thread would
//! have to wake for it); what cannot be written there (a full socket, a file region, a large
//! remainder) stays queued for the reactor.

use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use mio::net::TcpStream;

use crate::framing::{FrameDecoder, FrameError};
use crate::response_queue::ResponseQueue;
use crate::transmit::WriteProgress;

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
}

/// What the reactor and the JS thread share of a connection: its responses and the socket's
/// write side. Whoever holds the lock may write the socket; the reactor marks it closed under
/// the lock before it closes the socket, so nobody writes to a closed (or reused) descriptor.
pub(crate) struct WriteSide {
    state: Mutex<WriteState>,
    fd: RawFd,
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
    /// Last byte read or written, for `connections.max.idle.ms`.
    pub(crate) last_activity: Instant,
}

impl Connection {
    pub(crate) fn new(id: u32, stream: TcpStream, request_bytes_max: usize, now: Instant) -> Self {
        let write = Arc::new(WriteSide {
            state: Mutex::new(WriteState {
                responses: ResponseQueue::default(),
                closed: false,
                last_write: None,
            }),
            fd: stream.as_raw_fd(),
        });
        Self {
            id,
            stream,
            decoder: FrameDecoder::new(request_bytes_max),
            write,
            readable: false,
            read_scheduled: false,
            last_activity: now,
        }
    }

    pub(crate) fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// One `read` into `buffer`; each frame it completes goes to `on_frame` with the
    /// connection's responses (to admit it), in order, also when a bad prefix follows.
    pub(crate) fn read_once(
        &mut self,
        buffer: &mut [u8],
        now: Instant,
        mut on_frame: impl FnMut(&mut ResponseQueue, &[u8]),
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
        self.decoder
            .decode_each(&buffer[..count], |frame| {
                on_frame(responses, frame.as_slice())
            })
            .map_err(ReadError::Frame)?;
        Ok(ReadOutcome::Read)
    }

    /// Writes queued response parts (`state` is this connection's, locked) until done, the
    /// socket would block, or about `budget_bytes` are written.
    pub(crate) fn flush(
        &mut self,
        state: &mut WriteState,
        now: Instant,
        budget_bytes: u64,
    ) -> io::Result<WriteProgress> {
        let progress = state
            .responses
            .outgoing()
            .write_to(self.stream.as_raw_fd(), budget_bytes)?;
        if progress.bytes_written > 0 {
            self.last_activity = now;
        }
        Ok(progress)
    }

    /// The last byte read or written, by either thread.
    pub(crate) fn last_activity(&self, state: &WriteState) -> Instant {
        state.last_write.map_or(self.last_activity, |written| {
            written.max(self.last_activity)
        })
    }
}
