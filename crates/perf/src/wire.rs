//! Kafka's wire primitives: big-endian integers, (unsigned) varints, compact strings, arrays
//! and bytes, tagged fields; and the frames around them (size prefix, request header v2,
//! response headers v0/v1). Only what the requests in [`crate::protocol`] need.

use std::fmt;
use std::io::{self, Read};

/// What went wrong, as one line for a person: a broker's error code, a malformed response,
/// a socket error, a bad option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(error: io::Error) -> Self {
        Error(format!("I/O: {error}"))
    }
}

pub type Result<T> = std::result::Result<T, Error>;

pub fn error<T>(message: impl Into<String>) -> Result<T> {
    Err(Error(message.into()))
}

/// A frame being written: 4 bytes of size first (patched by [`Encoder::finish_frame`]).
pub struct Encoder {
    pub buf: Vec<u8>,
}

impl Encoder {
    /// Starts a request frame: size placeholder and request header v2 (api key, version,
    /// correlation id, client id as a nullable i16-length string, empty tagged fields).
    pub fn request(
        api_key: i16,
        version: i16,
        correlation_id: i32,
        client_id: &str,
        capacity: usize,
    ) -> Self {
        let mut encoder = Encoder {
            buf: Vec::with_capacity(capacity + 64),
        };
        encoder.i32(0);
        encoder.i16(api_key);
        encoder.i16(version);
        encoder.i32(correlation_id);
        encoder.i16(client_id.len() as i16);
        encoder.buf.extend_from_slice(client_id.as_bytes());
        encoder.tagged_fields();
        encoder
    }

    /// Writes the size prefix and returns the whole frame.
    pub fn finish_frame(mut self) -> Vec<u8> {
        let size = (self.buf.len() - 4) as i32;
        self.buf[..4].copy_from_slice(&size.to_be_bytes());
        self.buf
    }

    pub fn i8(&mut self, value: i8) {
        self.buf.push(value as u8);
    }
    pub fn bool(&mut self, value: bool) {
        self.buf.push(u8::from(value));
    }
    pub fn i16(&mut self, value: i16) {
        self.buf.extend_from_slice(&value.to_be_bytes());
    }
    pub fn i32(&mut self, value: i32) {
        self.buf.extend_from_slice(&value.to_be_bytes());
    }
    pub fn i64(&mut self, value: i64) {
        self.buf.extend_from_slice(&value.to_be_bytes());
    }
    pub fn uvarint(&mut self, value: u64) {
        put_uvarint(&mut self.buf, value);
    }
    /// A compact array's length (n + 1; 0 is null).
    pub fn compact_len(&mut self, length: usize) {
        self.uvarint(length as u64 + 1);
    }
    pub fn compact_string(&mut self, value: &str) {
        self.compact_len(value.len());
        self.buf.extend_from_slice(value.as_bytes());
    }
    pub fn compact_nullable_string(&mut self, value: Option<&str>) {
        match value {
            None => self.uvarint(0),
            Some(value) => self.compact_string(value),
        }
    }
    pub fn compact_bytes(&mut self, value: &[u8]) {
        self.compact_len(value.len());
        self.buf.extend_from_slice(value);
    }
    pub fn uuid(&mut self, value: [u8; 16]) {
        self.buf.extend_from_slice(&value);
    }
    /// No tagged fields.
    pub fn tagged_fields(&mut self) {
        self.buf.push(0);
    }
}

pub fn put_uvarint(buf: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buf.push((value as u8) | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

/// A zigzag varint, as record fields use.
pub fn put_varint(buf: &mut Vec<u8>, value: i64) {
    put_uvarint(buf, ((value << 1) ^ (value >> 63)) as u64);
}

/// Reads a response body; every read checks the bounds, so a short or malformed response is
/// an error naming the field, never a panic.
pub struct Decoder<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Decoder<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Decoder { bytes, position: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.position
    }

    fn take(&mut self, length: usize, what: &str) -> Result<&'a [u8]> {
        if self.remaining() < length {
            return error(format!(
                "malformed response: {what} needs {length} bytes at {}, {} left",
                self.position,
                self.remaining()
            ));
        }
        let slice = &self.bytes[self.position..self.position + length];
        self.position += length;
        Ok(slice)
    }

    pub fn i8(&mut self, what: &str) -> Result<i8> {
        Ok(self.take(1, what)?[0] as i8)
    }
    pub fn bool(&mut self, what: &str) -> Result<bool> {
        Ok(self.take(1, what)?[0] != 0)
    }
    pub fn i16(&mut self, what: &str) -> Result<i16> {
        Ok(i16::from_be_bytes(self.take(2, what)?.try_into().unwrap()))
    }
    pub fn i32(&mut self, what: &str) -> Result<i32> {
        Ok(i32::from_be_bytes(self.take(4, what)?.try_into().unwrap()))
    }
    pub fn i64(&mut self, what: &str) -> Result<i64> {
        Ok(i64::from_be_bytes(self.take(8, what)?.try_into().unwrap()))
    }
    pub fn uuid(&mut self, what: &str) -> Result<[u8; 16]> {
        Ok(self.take(16, what)?.try_into().unwrap())
    }
    pub fn uvarint(&mut self, what: &str) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1, what)?[0];
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        error(format!(
            "malformed response: {what}: varint longer than 10 bytes"
        ))
    }
    /// A compact array's or string's length; None for null.
    pub fn compact_len(&mut self, what: &str) -> Result<Option<usize>> {
        let raw = self.uvarint(what)?;
        if raw == 0 {
            return Ok(None);
        }
        let length = (raw - 1) as usize;
        Ok(Some(length))
    }
    /// A compact array that must not be null; also bounds the length by the bytes left (each
    /// element is at least one byte), so a bad length cannot make us allocate much.
    pub fn array_len(&mut self, what: &str) -> Result<usize> {
        match self.compact_len(what)? {
            None => Ok(0),
            Some(length) if length > self.remaining() => error(format!(
                "malformed response: {what}: array of {length} in {} bytes",
                self.remaining()
            )),
            Some(length) => Ok(length),
        }
    }
    pub fn compact_nullable_string(&mut self, what: &str) -> Result<Option<&'a str>> {
        match self.compact_len(what)? {
            None => Ok(None),
            Some(length) => {
                let bytes = self.take(length, what)?;
                std::str::from_utf8(bytes)
                    .map(Some)
                    .map_err(|_| Error(format!("malformed response: {what} is not UTF-8")))
            }
        }
    }
    pub fn compact_string(&mut self, what: &str) -> Result<&'a str> {
        Ok(self.compact_nullable_string(what)?.unwrap_or(""))
    }
    pub fn compact_nullable_bytes(&mut self, what: &str) -> Result<Option<&'a [u8]>> {
        match self.compact_len(what)? {
            None => Ok(None),
            Some(length) => self.take(length, what).map(Some),
        }
    }
    /// Skips a tagged-field section (we ask for none, and read none).
    pub fn tagged_fields(&mut self, what: &str) -> Result<()> {
        let count = self.uvarint(what)?;
        for _ in 0..count {
            self.uvarint(what)?;
            let size = self.uvarint(what)? as usize;
            self.take(size, what)?;
        }
        Ok(())
    }
    /// The body must end here: trailing bytes mean we read it with the wrong layout.
    pub fn end(&self, what: &str) -> Result<()> {
        if self.remaining() != 0 {
            return error(format!(
                "malformed {what} response: {} bytes left after the last field",
                self.remaining()
            ));
        }
        Ok(())
    }
}

/// The largest response we accept (a length beyond it is a framing error, not a reason to
/// allocate gigabytes).
pub const MAX_FRAME_BYTES: usize = 1 << 30;

/// Reads one size-prefixed frame into `buffer` (reused between calls).
pub fn read_frame(reader: &mut impl Read, buffer: &mut Vec<u8>) -> Result<()> {
    let mut size = [0u8; 4];
    reader.read_exact(&mut size).map_err(|error| {
        if error.kind() == io::ErrorKind::UnexpectedEof {
            Error("the broker closed the connection".into())
        } else {
            Error::from(error)
        }
    })?;
    let size = i32::from_be_bytes(size);
    if size < 4 || size as usize > MAX_FRAME_BYTES {
        return error(format!("bad frame: size {size}"));
    }
    buffer.resize(size as usize, 0);
    reader.read_exact(buffer)?;
    Ok(())
}

/// Checks the response header (v0: correlation id; v1: and tagged fields) and returns the
/// body's decoder.
pub fn response_body<'a>(
    frame: &'a [u8],
    correlation_id: i32,
    flexible_header: bool,
    api: &str,
) -> Result<Decoder<'a>> {
    let mut decoder = Decoder::new(frame);
    let received = decoder.i32("correlation id")?;
    if received != correlation_id {
        return error(format!(
            "{api}: response with correlation id {received}, expected {correlation_id}"
        ));
    }
    if flexible_header {
        decoder.tagged_fields("response header tagged fields")?;
    }
    Ok(decoder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        for value in [
            0u64,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u32::MAX as u64,
            u64::MAX,
        ] {
            let mut buf = Vec::new();
            put_uvarint(&mut buf, value);
            let mut decoder = Decoder::new(&buf);
            assert_eq!(decoder.uvarint("v").unwrap(), value);
            assert_eq!(decoder.remaining(), 0);
        }
        let mut buf = Vec::new();
        put_varint(&mut buf, -1);
        assert_eq!(buf, [1]);
        buf.clear();
        put_varint(&mut buf, 150);
        assert_eq!(buf, [0xac, 0x02]);
    }

    #[test]
    fn short_input_is_an_error_not_a_panic() {
        let mut decoder = Decoder::new(&[0, 1]);
        let failure = decoder.i32("throttle").unwrap_err();
        assert!(failure.0.contains("throttle"), "{failure}");
        let mut decoder = Decoder::new(&[0x05, b'a']);
        assert!(decoder.compact_string("name").is_err());
        let mut decoder = Decoder::new(&[0xff, 0xff, 0x03]);
        assert!(decoder.array_len("partitions").is_err());
    }

    #[test]
    fn request_header_v2_layout() {
        let frame = Encoder::request(0, 9, 7, "ab", 0).finish_frame();
        assert_eq!(
            frame,
            [0, 0, 0, 13, 0, 0, 0, 9, 0, 0, 0, 7, 0, 2, b'a', b'b', 0]
        );
    }
}
