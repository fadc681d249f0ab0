//! Records inside a batch v2, in Kafka's varint encoding (`DefaultRecord`):
//!
//! ```text
//! length          varint   bytes after this field
//! attributes      int8     unused, 0
//! timestampDelta  varlong  from the batch's baseTimestamp
//! offsetDelta     varint   from the batch's baseOffset
//! keyLength       varint   -1 (any negative) = null key
//! key             bytes
//! valueLength     varint   -1 (any negative) = null value
//! value           bytes
//! headerCount     varint   >= 0
//! headers         headerKeyLength varint (>= 0), headerKey, headerValueLength varint
//!                 (negative = null), headerValue
//! ```
//!
//! Varints are zigzag encoded, at most 5 bytes (varint) or 10 bytes (varlong), as Kafka's
//! `ByteUtils` reads them. The reader works over a slice (an uncompressed batch) or a
//! decompressing stream, skipping keys, values and headers without buffering them, so a
//! compressed batch of any size is checked in constant memory.

use crate::compression::{CompressionError, Decompressor};

/// What the validator needs of one record; keys, values and headers are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordShape {
    pub timestamp_delta: i64,
    pub offset_delta: i32,
    /// Negative for a null key (Kafka: any negative length is null).
    pub key_length: i32,
    pub value_length: i32,
    pub header_count: i32,
    /// The whole record, its length varint included.
    pub size_bytes: u64,
}

/// Why a record could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordReadError {
    /// The records ended before the declared count (Kafka: "premature EOF").
    EndOfRecords,
    /// The bytes are not a record (Kafka's InvalidRecordException messages).
    Invalid(String),
    /// The compressed stream under the records failed.
    Decompression(CompressionError),
}

impl From<CompressionError> for RecordReadError {
    fn from(error: CompressionError) -> Self {
        Self::Decompression(error)
    }
}

/// Bytes that records are read from, one at a time or skipped in bulk.
pub trait ByteSource {
    /// The next byte; `None` at the end.
    fn next_byte(&mut self) -> Result<Option<u8>, CompressionError>;
    /// Skips `count` bytes; false if the source ended first.
    fn skip(&mut self, count: u64) -> Result<bool, CompressionError>;
    /// True when no byte is left.
    fn at_end(&mut self) -> Result<bool, CompressionError>;
}

/// Records of an uncompressed batch.
pub struct SliceSource<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> SliceSource<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, position: 0 }
    }
}

impl ByteSource for SliceSource<'_> {
    #[inline]
    fn next_byte(&mut self) -> Result<Option<u8>, CompressionError> {
        let byte = self.bytes.get(self.position).copied();
        self.position += usize::from(byte.is_some());
        Ok(byte)
    }

    #[inline]
    fn skip(&mut self, count: u64) -> Result<bool, CompressionError> {
        let left = (self.bytes.len() - self.position) as u64;
        if count > left {
            self.position = self.bytes.len();
            return Ok(false);
        }
        self.position += count as usize;
        Ok(true)
    }

    fn at_end(&mut self) -> Result<bool, CompressionError> {
        Ok(self.position == self.bytes.len())
    }
}

/// Records of a compressed batch, read through a bounded decompressor.
pub struct StreamSource<'a> {
    decompressor: Decompressor<'a>,
    buffer: Vec<u8>,
    start: usize,
    end: usize,
}

const STREAM_BUFFER_BYTES: usize = 16 * 1024;

impl<'a> StreamSource<'a> {
    pub fn new(decompressor: Decompressor<'a>) -> Self {
        Self {
            decompressor,
            buffer: vec![0; STREAM_BUFFER_BYTES],
            start: 0,
            end: 0,
        }
    }

    /// Refills the buffer; false at the end of the stream.
    fn fill(&mut self) -> Result<bool, CompressionError> {
        if self.start < self.end {
            return Ok(true);
        }
        self.start = 0;
        self.end = self.decompressor.read_decompressed(&mut self.buffer)?;
        Ok(self.end > 0)
    }
}

impl ByteSource for StreamSource<'_> {
    #[inline]
    fn next_byte(&mut self) -> Result<Option<u8>, CompressionError> {
        if !self.fill()? {
            return Ok(None);
        }
        let byte = self.buffer[self.start];
        self.start += 1;
        Ok(Some(byte))
    }

    fn skip(&mut self, mut count: u64) -> Result<bool, CompressionError> {
        while count > 0 {
            if !self.fill()? {
                return Ok(false);
            }
            let step = ((self.end - self.start) as u64).min(count);
            self.start += step as usize;
            count -= step;
        }
        Ok(true)
    }

    fn at_end(&mut self) -> Result<bool, CompressionError> {
        Ok(!self.fill()?)
    }
}

/// Reads one record's framing, bounded by its declared length.
struct BodyReader<'s, S: ByteSource> {
    source: &'s mut S,
    left: u64,
}

impl<S: ByteSource> BodyReader<'_, S> {
    fn byte(&mut self) -> Result<u8, RecordReadError> {
        if self.left == 0 {
            return Err(invalid_structure());
        }
        self.left -= 1;
        self.source
            .next_byte()?
            .ok_or_else(record_payload_reached_end)
    }

    fn varint(&mut self) -> Result<i32, RecordReadError> {
        let mut value: u32 = 0;
        let mut shift = 0;
        loop {
            let byte = self.byte()?;
            value |= u32::from(byte & 0x7F).wrapping_shl(shift);
            if byte & 0x80 == 0 {
                return Ok(((value >> 1) as i32) ^ -((value & 1) as i32));
            }
            shift += 7;
            if shift > 28 {
                return Err(RecordReadError::Invalid(
                    "Found invalid record structure: varint is too long".to_string(),
                ));
            }
        }
    }

    fn varlong(&mut self) -> Result<i64, RecordReadError> {
        let mut value: u64 = 0;
        let mut shift = 0;
        loop {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7F).wrapping_shl(shift);
            if byte & 0x80 == 0 {
                return Ok(((value >> 1) as i64) ^ -((value & 1) as i64));
            }
            shift += 7;
            if shift > 63 {
                return Err(RecordReadError::Invalid(
                    "Found invalid record structure: varlong is too long".to_string(),
                ));
            }
        }
    }

    /// Skips a length-prefixed field of `length` bytes (nothing when negative: null).
    fn skip_field(&mut self, length: i32) -> Result<(), RecordReadError> {
        let Ok(length) = u64::try_from(length) else {
            return Ok(());
        };
        if length > self.left {
            return Err(invalid_structure());
        }
        self.left -= length;
        if self.source.skip(length)? {
            Ok(())
        } else {
            Err(record_payload_reached_end())
        }
    }
}

fn invalid_structure() -> RecordReadError {
    RecordReadError::Invalid(
        "Found invalid record structure: a field runs past the record's declared length"
            .to_string(),
    )
}

fn record_payload_reached_end() -> RecordReadError {
    RecordReadError::Invalid(
        "Invalid record size: the record payload reached the end of the batch".to_string(),
    )
}

/// Reads the length varint of the next record; `EndOfRecords` if no byte is left.
fn read_length<S: ByteSource>(source: &mut S) -> Result<(i32, u64), RecordReadError> {
    let mut value: u32 = 0;
    let mut shift = 0;
    let mut bytes = 0u64;
    loop {
        let Some(byte) = source.next_byte()? else {
            return Err(RecordReadError::EndOfRecords);
        };
        bytes += 1;
        value |= u32::from(byte & 0x7F).wrapping_shl(shift);
        if byte & 0x80 == 0 {
            return Ok((((value >> 1) as i32) ^ -((value & 1) as i32), bytes));
        }
        shift += 7;
        if shift > 28 {
            return Err(RecordReadError::Invalid(
                "Found invalid record structure: varint is too long".to_string(),
            ));
        }
    }
}

/// Reads one record from `source`, checking its framing as Kafka's `DefaultRecord.readFrom`
/// does: the fields must fill exactly the declared length, header keys are not null and
/// the header count is not negative.
pub fn read_record_shape<S: ByteSource>(source: &mut S) -> Result<RecordShape, RecordReadError> {
    let (body_length, length_bytes) = read_length(source)?;
    let Ok(body_bytes) = u64::try_from(body_length) else {
        return Err(RecordReadError::Invalid(format!(
            "Invalid record size: expected {body_length} bytes in record payload"
        )));
    };
    let mut body = BodyReader {
        source,
        left: body_bytes,
    };
    let _attributes = body.byte()?;
    let timestamp_delta = body.varlong()?;
    let offset_delta = body.varint()?;
    let key_length = body.varint()?;
    body.skip_field(key_length)?;
    let value_length = body.varint()?;
    body.skip_field(value_length)?;
    let header_count = body.varint()?;
    if header_count < 0 {
        return Err(RecordReadError::Invalid(format!(
            "Found invalid number of record headers {header_count}"
        )));
    }
    if u64::from(header_count.unsigned_abs()) > body.left {
        return Err(RecordReadError::Invalid(format!(
            "Found invalid number of record headers. {header_count} is larger than the remaining size of the buffer"
        )));
    }
    for _ in 0..header_count {
        let header_key_length = body.varint()?;
        if header_key_length < 0 {
            return Err(RecordReadError::Invalid(format!(
                "Invalid negative header key size {header_key_length}"
            )));
        }
        body.skip_field(header_key_length)?;
        let header_value_length = body.varint()?;
        body.skip_field(header_value_length)?;
    }
    if body.left != 0 {
        return Err(RecordReadError::Invalid(format!(
            "Invalid record size: expected to read {body_bytes} bytes in record payload, but instead read {}",
            body_bytes - body.left
        )));
    }
    Ok(RecordShape {
        timestamp_delta,
        offset_delta,
        key_length,
        value_length,
        header_count,
        size_bytes: length_bytes + body_bytes,
    })
}

/// A record header: a key (never null) and a value that may be null.
pub type RecordHeader<'a> = (&'a [u8], Option<&'a [u8]>);

/// Appends one record in Kafka's varint encoding to `out`.
pub fn encode_record(
    out: &mut Vec<u8>,
    offset_delta: i32,
    timestamp_delta: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[RecordHeader<'_>],
) {
    let mut body =
        Vec::with_capacity(16 + key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len));
    body.push(0); // attributes
    write_varlong(&mut body, timestamp_delta);
    write_varint(&mut body, offset_delta);
    write_nullable_bytes(&mut body, key);
    write_nullable_bytes(&mut body, value);
    write_varint(&mut body, headers.len() as i32);
    for (header_key, header_value) in headers {
        write_nullable_bytes(&mut body, Some(header_key));
        write_nullable_bytes(&mut body, *header_value);
    }
    write_varint(out, body.len() as i32);
    out.extend_from_slice(&body);
}

fn write_nullable_bytes(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => write_varint(out, -1),
        Some(bytes) => {
            write_varint(out, bytes.len() as i32);
            out.extend_from_slice(bytes);
        }
    }
}

/// Zigzag varint, as Kafka's `ByteUtils.writeVarint`.
pub fn write_varint(out: &mut Vec<u8>, value: i32) {
    let mut zigzag = ((value << 1) ^ (value >> 31)) as u32;
    while zigzag >= 0x80 {
        out.push((zigzag as u8) | 0x80);
        zigzag >>= 7;
    }
    out.push(zigzag as u8);
}

/// Zigzag varlong, as Kafka's `ByteUtils.writeVarlong`.
pub fn write_varlong(out: &mut Vec<u8>, value: i64) {
    let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
    while zigzag >= 0x80 {
        out.push((zigzag as u8) | 0x80);
        zigzag >>= 7;
    }
    out.push(zigzag as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_varlong(bytes: &[u8]) -> Result<i64, RecordReadError> {
        let mut source = SliceSource::new(bytes);
        let mut body = BodyReader {
            source: &mut source,
            left: bytes.len() as u64,
        };
        let value = body.varlong()?;
        assert_eq!(body.left, 0, "the whole varlong was consumed");
        Ok(value)
    }

    #[test]
    fn varlongs_are_zigzag() {
        for (bytes, value) in [
            (&[0x00][..], 0i64),
            (&[0x01][..], -1),
            (&[0x02][..], 1),
            (&[0xAC, 0x02][..], 150),
            (
                &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01][..],
                i64::MIN,
            ),
        ] {
            assert_eq!(read_varlong(bytes), Ok(value));
        }
        assert!(read_varlong(&[0x80]).is_err());
    }
}
