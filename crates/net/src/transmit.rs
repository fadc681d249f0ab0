//! Writing queued response parts to a nonblocking socket: runs of byte parts with one
//! vectored `sendmsg` (many responses per system call), file regions with `sendfile`. For a
//! TLS connection the parts go through its session instead ([`Outgoing::encrypt_front`]):
//! byte parts as they are, file regions read with `pread` one bounded chunk at a time.
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

/// Why a call to [`Outgoing::write_to`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteStop {
    /// Everything queued is written.
    Drained,
    /// The socket buffer is full; a writable event will come.
    WouldBlock,
    /// The budget is spent with more to write and room in the socket: no event will come,
    /// so the caller must write again soon.
    BudgetSpent,
    /// A file region is next and the caller does not send files (the JS thread must not
    /// wait for a disk read): the reactor must write the rest.
    FileNext,
}

/// What a call to [`Outgoing::write_to`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WriteProgress {
    pub bytes_written: u64,
    pub stop: WriteStop,
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

    /// Writes until the queue is empty, the socket would block, or about `budget_bytes`
    /// are written (one system call may go past it). A file that ends before its region
    /// does (truncated under us) is an `UnexpectedEof` error: the connection must close
    /// rather than send a short response.
    pub(crate) fn write_to(
        &mut self,
        socket: RawFd,
        budget_bytes: u64,
    ) -> io::Result<WriteProgress> {
        self.write_parts_to(socket, budget_bytes, true)
    }

    /// As [`write_to`](Self::write_to), but stops before a file region
    /// ([`WriteStop::FileNext`]): byte parts only, never a `sendfile` that may read the disk.
    pub(crate) fn write_bytes_to(
        &mut self,
        socket: RawFd,
        budget_bytes: u64,
    ) -> io::Result<WriteProgress> {
        self.write_parts_to(socket, budget_bytes, false)
    }

    fn write_parts_to(
        &mut self,
        socket: RawFd,
        budget_bytes: u64,
        files: bool,
    ) -> io::Result<WriteProgress> {
        let mut bytes_written = 0;
        loop {
            if !files && matches!(self.parts.front(), Some(Part::File(_))) {
                return Ok(WriteProgress {
                    bytes_written,
                    stop: WriteStop::FileNext,
                });
            }
            if bytes_written >= budget_bytes && !self.parts.is_empty() {
                return Ok(WriteProgress {
                    bytes_written,
                    stop: WriteStop::BudgetSpent,
                });
            }
            let written = match self.parts.front() {
                None => {
                    return Ok(WriteProgress {
                        bytes_written,
                        stop: WriteStop::Drained,
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
                        stop: WriteStop::WouldBlock,
                    })
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Hands the unsent bytes of the front part to `encrypt` (a TLS session), which returns
    /// how many it took: a byte part's remainder as it is, a file region read with `pread`
    /// into `chunk`, at most `chunk.len()` bytes at a time (bytes it does not take are read
    /// again next time). Returns the bytes taken, 0 when the queue is empty. A file that ends
    /// before its region does is an `UnexpectedEof` error, as for [`write_to`](Self::write_to).
    pub(crate) fn encrypt_front(
        &mut self,
        chunk: &mut [u8],
        encrypt: impl FnOnce(&[u8]) -> io::Result<usize>,
    ) -> io::Result<u64> {
        let taken = match self.parts.front() {
            None => return Ok(0),
            Some(Part::Bytes(bytes)) => encrypt(&bytes[self.front_written as usize..])?,
            Some(Part::File(region)) => {
                let read = read_file(region.as_ref(), self.front_written, chunk)?;
                encrypt(&chunk[..read])?
            }
        } as u64;
        self.advance(taken);
        Ok(taken)
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

/// Reads the next bytes of a region, from `already_written` on, into `chunk` (as many as fit);
/// the count read, never 0.
fn read_file(region: &dyn FileRegion, already_written: u64, chunk: &mut [u8]) -> io::Result<usize> {
    let wanted = (region.len() - already_written).min(chunk.len() as u64) as usize;
    let offset = libc::off_t::try_from(region.position() + already_written)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file offset out of range"))?;
    loop {
        // SAFETY: `chunk` is writable for at least `wanted` bytes; the region keeps its file
        // open while it is queued.
        let read = unsafe { libc::pread(region.fd(), chunk.as_mut_ptr().cast(), wanted, offset) };
        match read {
            -1 => {
                let error = io::Error::last_os_error();
                if error.kind() != io::ErrorKind::Interrupted {
                    return Err(error);
                }
            }
            0 => return Err(truncated(region, already_written)),
            read => return Ok(read as usize),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::OwnedFileRegion;
    use std::io::{Read, Write};
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::os::unix::net::UnixStream;

    fn file_part(content: &[u8], position: u64, length: u64) -> Part {
        let path = std::env::temp_dir().join(format!(
            "sluice-transmit-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::File::create(&path)
            .unwrap()
            .write_all(content)
            .unwrap();
        let file = std::fs::File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        Part::File(Box::new(OwnedFileRegion::new(
            OwnedFd::from(file),
            position,
            length,
        )))
    }

    #[test]
    fn a_spent_budget_stops_between_system_calls_and_the_next_call_goes_on() {
        let (writer, mut reader) = UnixStream::pair().unwrap();
        let mut outgoing = Outgoing::default();
        outgoing.push(Part::Bytes(b"head ".to_vec()));
        outgoing.push(Part::Bytes(b"more ".to_vec()));
        outgoing.push(file_part(b"..file bytes..", 2, 10));
        outgoing.push(Part::Bytes(b" tail".to_vec()));
        assert_eq!(outgoing.buffered_bytes(), 15);

        let first = outgoing.write_to(writer.as_raw_fd(), 1).unwrap();
        assert_eq!(first.bytes_written, 10, "both byte parts in one sendmsg");
        assert_eq!(first.stop, WriteStop::BudgetSpent);
        let rest = outgoing.write_to(writer.as_raw_fd(), u64::MAX).unwrap();
        assert_eq!(rest.stop, WriteStop::Drained);
        assert!(outgoing.is_empty());
        assert_eq!(outgoing.buffered_bytes(), 0);

        drop(writer);
        let mut received = String::new();
        reader.read_to_string(&mut received).unwrap();
        assert_eq!(received, "head more file bytes tail");
    }

    #[test]
    fn bytes_only_writing_stops_before_a_file_region() {
        let (writer, mut reader) = UnixStream::pair().unwrap();
        let mut outgoing = Outgoing::default();
        outgoing.push(Part::Bytes(b"head ".to_vec()));
        outgoing.push(file_part(b"..file bytes..", 2, 10));
        outgoing.push(Part::Bytes(b" tail".to_vec()));
        let first = outgoing
            .write_bytes_to(writer.as_raw_fd(), u64::MAX)
            .unwrap();
        assert_eq!(first.bytes_written, 5);
        assert_eq!(first.stop, WriteStop::FileNext);
        let again = outgoing
            .write_bytes_to(writer.as_raw_fd(), u64::MAX)
            .unwrap();
        assert_eq!((again.bytes_written, again.stop), (0, WriteStop::FileNext));
        let rest = outgoing.write_to(writer.as_raw_fd(), u64::MAX).unwrap();
        assert_eq!(rest.stop, WriteStop::Drained);
        drop(writer);
        let mut received = String::new();
        reader.read_to_string(&mut received).unwrap();
        assert_eq!(received, "head file bytes tail");
    }

    #[test]
    fn encrypting_takes_byte_parts_whole_and_file_regions_one_chunk_at_a_time() {
        let mut outgoing = Outgoing::default();
        outgoing.push(Part::Bytes(b"head ".to_vec()));
        outgoing.push(file_part(b"..file bytes..", 2, 10));
        outgoing.push(Part::Bytes(b" tail".to_vec()));
        let mut chunk = [0u8; 4];
        let mut sealed = Vec::new();
        loop {
            // A sink that takes at most 3 bytes: the rest of a chunk is read again.
            let taken = outgoing
                .encrypt_front(&mut chunk, |plaintext| {
                    let count = plaintext.len().min(3);
                    sealed.extend_from_slice(&plaintext[..count]);
                    Ok(count)
                })
                .unwrap();
            if taken == 0 {
                break;
            }
        }
        assert!(outgoing.is_empty());
        assert_eq!(outgoing.buffered_bytes(), 0);
        assert_eq!(sealed, b"head file bytes tail");

        let mut truncated = Outgoing::default();
        truncated.push(file_part(b"short", 0, 10));
        let mut chunk = [0u8; 64];
        let taken = truncated.encrypt_front(&mut chunk, |plaintext| Ok(plaintext.len()));
        assert_eq!(taken.unwrap(), 5);
        let error = truncated
            .encrypt_front(&mut chunk, |plaintext| Ok(plaintext.len()))
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn a_full_socket_stops_the_write_and_it_resumes_mid_part() {
        let (writer, mut reader) = UnixStream::pair().unwrap();
        writer.set_nonblocking(true).unwrap();
        let bytes: Vec<u8> = (0..3_000_000u32).map(|index| (index % 241) as u8).collect();
        let file_bytes: Vec<u8> = (0..3_000_000u32).map(|index| (index % 239) as u8).collect();
        let mut outgoing = Outgoing::default();
        outgoing.push(Part::Bytes(bytes.clone()));
        outgoing.push(file_part(&file_bytes, 0, file_bytes.len() as u64));
        let expected = [bytes, file_bytes].concat();

        let mut received = Vec::new();
        let mut chunk = vec![0u8; 100_000];
        let mut stops = Vec::new();
        loop {
            let progress = outgoing.write_to(writer.as_raw_fd(), u64::MAX).unwrap();
            stops.push(progress.stop);
            if progress.stop == WriteStop::Drained {
                break;
            }
            let count = reader.read(&mut chunk).unwrap();
            received.extend_from_slice(&chunk[..count]);
        }
        drop(writer);
        reader.read_to_end(&mut received).unwrap();
        assert!(stops.contains(&WriteStop::WouldBlock));
        assert!(received == expected);
    }
}
