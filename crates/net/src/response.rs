//! A response as JS hands it over: a list of parts, owned bytes and file regions.
//!
//! Byte parts are copied out of the JS buffers (adjacent ones into one `Vec`), so JS may
//! reuse its buffers as soon as it has submitted. A file region is written with `sendfile`
//! and keeps its file open until it is dropped, which is after its last byte is written
//! or when the connection closes.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// A byte range of an open file, sent with `sendfile`. The implementation keeps the file
/// open (and its bytes in place) until it is dropped.
pub trait FileRegion: Send + 'static {
    fn fd(&self) -> RawFd;
    /// Byte offset of the region in the file.
    fn position(&self) -> u64;
    /// Bytes in the region.
    fn len(&self) -> u64;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A region of a file whose descriptor the region owns (for example a `dup` of a
/// segment's descriptor): the open file description outlives the segment's own handle.
#[derive(Debug)]
pub struct OwnedFileRegion {
    fd: OwnedFd,
    position: u64,
    length: u64,
}

impl OwnedFileRegion {
    pub fn new(fd: OwnedFd, position: u64, length: u64) -> Self {
        Self {
            fd,
            position,
            length,
        }
    }
}

impl FileRegion for OwnedFileRegion {
    fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn position(&self) -> u64 {
        self.position
    }

    fn len(&self) -> u64 {
        self.length
    }
}

/// One piece of a response, in the order it goes on the wire.
pub enum Part {
    Bytes(Vec<u8>),
    File(Box<dyn FileRegion>),
}

impl Part {
    pub fn len(&self) -> u64 {
        match self {
            Part::Bytes(bytes) => bytes.len() as u64,
            Part::File(region) => region.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for Part {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Part::Bytes(bytes) => write!(formatter, "Bytes({} bytes)", bytes.len()),
            Part::File(region) => write!(
                formatter,
                "File(fd {}, position {}, {} bytes)",
                region.fd(),
                region.position(),
                region.len()
            ),
        }
    }
}

/// The parts of one response. Empty parts are left out and adjacent byte parts share one
/// buffer, so the write path sees the fewest pieces.
#[derive(Debug, Default)]
pub struct Response {
    parts: Vec<Part>,
    /// Bytes held in byte parts (file regions cost no memory).
    buffered_bytes: usize,
}

impl Response {
    pub fn new() -> Self {
        Self::default()
    }

    /// Copies `bytes` to the end of the response.
    pub fn push_bytes(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.buffered_bytes += bytes.len();
        if let Some(Part::Bytes(last)) = self.parts.last_mut() {
            last.extend_from_slice(bytes);
        } else {
            self.parts.push(Part::Bytes(bytes.to_vec()));
        }
    }

    pub fn push_file(&mut self, region: Box<dyn FileRegion>) {
        if !region.is_empty() {
            self.parts.push(Part::File(region));
        }
    }

    pub fn buffered_bytes(&self) -> usize {
        self.buffered_bytes
    }

    /// Bytes the response puts on the wire.
    pub fn len(&self) -> u64 {
        self.parts.iter().map(Part::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    pub fn into_parts(self) -> Vec<Part> {
        self.parts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct FakeRegion(u64);

    impl FileRegion for FakeRegion {
        fn fd(&self) -> RawFd {
            -1
        }
        fn position(&self) -> u64 {
            0
        }
        fn len(&self) -> u64 {
            self.0
        }
    }

    #[test]
    fn adjacent_byte_parts_share_a_buffer_and_empty_parts_are_left_out() {
        let mut response = Response::new();
        response.push_bytes(b"head");
        response.push_bytes(b"");
        response.push_bytes(b"er");
        response.push_file(Box::new(FakeRegion(0)));
        response.push_file(Box::new(FakeRegion(10)));
        response.push_bytes(b"tail");
        assert_eq!(response.buffered_bytes(), 10);
        assert_eq!(response.len(), 20);
        let parts = response.into_parts();
        assert_eq!(parts.len(), 3);
        assert!(matches!(&parts[0], Part::Bytes(bytes) if bytes == b"header"));
        assert!(matches!(&parts[1], Part::File(region) if region.len() == 10));
        assert!(matches!(&parts[2], Part::Bytes(bytes) if bytes == b"tail"));
    }
}
