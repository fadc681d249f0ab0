//! Writing queued response parts to a nonblocking socket: runs of byte parts with one
//! vectored `sendmsg` (many responses per system call), file regions with `sendfile`.
//!
//! Invariant: the front part has `front_written` bytes on the wire already and every
//! other part none; a part leaves the queue (dropping its buffer or closing its file
//! reference) only when all its bytes are written.

use std::collections::VecDeque;
use std::io;
use std::os::fd::RawFd;

use crate::response::{FileRegion, Part};

/// Byte parts gathered into one `sendmsg`; well under Linux's `IOV_MAX` (1024).
const IOVECS_PER_WRITE_MAX: usize = 64;

/// Bytes asked of one `sendfile` call: Linux moves at most 0x7ffff000 per call anyway.
const SENDFILE_CHUNK_BYTES_MAX: u64 = 0x7fff_f000;

/// What a call to [`Outgoing::write_to`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WriteProgress {
    pub bytes_written: u64,
    /// True when the queue is empty; false when the socket would block.
    pub drained: bool,
}

/// Parts ready to go on the wire, in order.
#[derive(Debug, Default)]
pub(crate) struct Outgoing {
    parts: VecDeque<Part>,
    front_written: u64,
    /// Bytes held in byte parts not yet fully written.
    buffered_bytes: usize,
}

impl Outgoing {
    pub(crate) fn push(&mut self, part: Part) {
        debug_assert!(!part.is_empty(), "empty parts never reach the queue");
        if let Part::Bytes(bytes) = &part {
            self.buffered_bytes += bytes.len();
        }
        self.parts.push_back(part);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    pub(crate) fn buffered_bytes(&self) -> usize {
        self.buffered_bytes
    }

    /// Writes until the queue is empty or the socket would block. A file that ends before
    /// its region does (truncated under us) is an `UnexpectedEof` error: the connection
    /// must close rather than send a short response.
    pub(crate) fn write_to(&mut self, socket: RawFd) -> io::Result<WriteProgress> {
        let mut bytes_written = 0;
        loop {
            let written = match self.parts.front() {
                None => {
                    return Ok(WriteProgress {
                        bytes_written,
                        drained: true,
                    })
                }
                Some(Part::Bytes(_)) => self.send_bytes(socket),
                Some(Part::File(region)) => send_file(socket, region.as_ref(), self.front_written),
            };
            match written {
                Ok(count) => {
                    bytes_written += count;
                    self.advance(count);
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(WriteProgress {
                        bytes_written,
                        drained: false,
                    })
                }
                Err(error) => return Err(error),
            }
        }
    }

    fn send_bytes(&self, socket: RawFd) -> io::Result<u64> {
        let mut iovecs = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; IOVECS_PER_WRITE_MAX];
        let mut count = 0;
        for part in self.parts.iter().take(IOVECS_PER_WRITE_MAX) {
            let Part::Bytes(bytes) = part else { break };
            let skip = if count == 0 {
                self.front_written as usize
            } else {
                0
            };
            let bytes = &bytes[skip..];
            iovecs[count] = libc::iovec {
                iov_base: bytes.as_ptr() as *mut libc::c_void,
                iov_len: bytes.len(),
            };
            count += 1;
        }
        // SAFETY: a zeroed msghdr is valid (no address, no control data); the iovecs point
        // into buffers owned by `self.parts`, alive and unchanged for the call.
        let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
        message.msg_iov = iovecs.as_mut_ptr();
        message.msg_iovlen = count as _;
        // MSG_NOSIGNAL: a peer that went away is an EPIPE error, not a SIGPIPE.
        let sent = unsafe { libc::sendmsg(socket, &message, libc::MSG_NOSIGNAL) };
        if sent < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(sent as u64)
        }
    }

    /// Drops fully written parts and records how far into the front one the wire is.
    fn advance(&mut self, mut count: u64) {
        while count > 0 {
            let front = self
                .parts
                .front()
                .expect("written bytes belong to a queued part");
            let remaining = front.len() - self.front_written;
            if count < remaining {
                self.front_written += count;
                return;
            }
            count -= remaining;
            if let Some(Part::Bytes(bytes)) = self.parts.pop_front() {
                self.buffered_bytes -= bytes.len();
            }
            self.front_written = 0;
        }
    }
}

#[cfg(target_os = "linux")]
fn send_file(socket: RawFd, region: &dyn FileRegion, already_written: u64) -> io::Result<u64> {
    let remaining = region.len() - already_written;
    let mut offset = libc::off_t::try_from(region.position() + already_written)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file offset out of range"))?;
    let chunk = remaining.min(SENDFILE_CHUNK_BYTES_MAX) as usize;
    // SAFETY: both descriptors are open (the region keeps its file open while queued);
    // `offset` is a valid out-parameter, so the file's own position is not used.
    let sent = unsafe { libc::sendfile(socket, region.fd(), &mut offset, chunk) };
    match sent {
        -1 => Err(io::Error::last_os_error()),
        0 => Err(truncated(region, already_written)),
        sent => Ok(sent as u64),
    }
}

/// Outside Linux: read the region and send it, one bounded chunk per call.
#[cfg(not(target_os = "linux"))]
fn send_file(socket: RawFd, region: &dyn FileRegion, already_written: u64) -> io::Result<u64> {
    let mut chunk = [0u8; 64 * 1024];
    let wanted = (region.len() - already_written).min(chunk.len() as u64) as usize;
    let offset = (region.position() + already_written) as libc::off_t;
    // SAFETY: `chunk` is a writable buffer of at least `wanted` bytes.
    let read = unsafe { libc::pread(region.fd(), chunk.as_mut_ptr().cast(), wanted, offset) };
    match read {
        -1 => return Err(io::Error::last_os_error()),
        0 => return Err(truncated(region, already_written)),
        _ => {}
    }
    // SAFETY: the first `read` bytes of `chunk` are initialized.
    let sent = unsafe { libc::send(socket, chunk.as_ptr().cast(), read as usize, 0) };
    if sent < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(sent as u64)
    }
}

fn truncated(region: &dyn FileRegion, already_written: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!(
            "file region (position {}, {} bytes) ended after {already_written} bytes: \
             the file was truncated",
            region.position(),
            region.len()
        ),
    )
}
