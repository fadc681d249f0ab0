//! A zero-copy view over one Kafka record batch, format v2 (magic 2).
//!
//! The same bytes travel in a Produce request, sit in a `.log` segment and leave in a Fetch
//! response, so the broker validates a batch without decoding its records. Every field of
//! the 61-byte header is big-endian:
//!
//! ```text
//! offset  size  field
//!      0     8  baseOffset            i64
//!      8     4  batchLength           i32  bytes after this field: total size = 12 + batchLength
//!     12     4  partitionLeaderEpoch  i32
//!     16     1  magic                 i8   2 for this format
//!     17     4  crc                   u32  CRC32C of bytes [21, end of batch)
//!     21     2  attributes            i16  bits 0-2 compression, 3 timestamp type,
//!                                          4 transactional, 5 control, 6 delete horizon
//!     23     4  lastOffsetDelta       i32
//!     27     8  baseTimestamp         i64
//!     35     8  maxTimestamp          i64
//!     43     8  producerId            i64
//!     51     2  producerEpoch         i16
//!     53     4  baseSequence          i32
//!     57     4  recordsCount          i32
//!     61     …  records               (compressed as a whole when attributes say so)
//! ```
//!
//! The CRC starts at `attributes`, after `baseOffset`, `batchLength` and
//! `partitionLeaderEpoch`: the broker rewrites those in place on append (offset
//! assignment, leader epoch stamping) without recomputing the checksum.

use std::fmt;

use crate::crc32c::crc32c;

/// Size of the header that precedes the records.
pub const HEADER_BYTES: usize = 61;
/// `baseOffset` and `batchLength`: the part of the header that `batchLength` does not count.
pub const LOG_OVERHEAD_BYTES: usize = 12;
/// The only magic value this view accepts.
pub const MAGIC_V2: i8 = 2;
/// The first byte covered by the CRC.
pub const CRC_START_OFFSET: usize = 21;

pub const BASE_OFFSET_OFFSET: usize = 0;
pub const BATCH_LENGTH_OFFSET: usize = 8;
pub const PARTITION_LEADER_EPOCH_OFFSET: usize = 12;
pub const MAGIC_OFFSET: usize = 16;
pub const CRC_OFFSET: usize = 17;
pub const ATTRIBUTES_OFFSET: usize = 21;
pub const LAST_OFFSET_DELTA_OFFSET: usize = 23;
pub const BASE_TIMESTAMP_OFFSET: usize = 27;
pub const MAX_TIMESTAMP_OFFSET: usize = 35;
pub const PRODUCER_ID_OFFSET: usize = 43;
pub const PRODUCER_EPOCH_OFFSET: usize = 51;
pub const BASE_SEQUENCE_OFFSET: usize = 53;
pub const RECORDS_COUNT_OFFSET: usize = 57;

/// Attribute bits 0-2: the compression codec (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
pub const COMPRESSION_ATTRIBUTE_MASK: i16 = 0x07;
/// Attribute bit 3: timestamps are LogAppendTime (set) or CreateTime.
pub const TIMESTAMP_TYPE_ATTRIBUTE: i16 = 0x08;
/// Attribute bit 4: the batch is part of a transaction.
pub const TRANSACTIONAL_ATTRIBUTE: i16 = 0x10;
/// Attribute bit 5: the batch holds control records (transaction markers).
pub const CONTROL_ATTRIBUTE: i16 = 0x20;

/// Why bytes are not a valid record batch v2. Bad input from a client or a torn write on
/// disk, never a programmer error: callers turn it into a Kafka error code
/// (CORRUPT_MESSAGE) or truncate a log during recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordBatchError {
    /// Fewer bytes than a batch header.
    TooShort { buffer_bytes: usize },
    /// The magic byte is not 2 (v0/v1 message sets are not accepted).
    BadMagic { magic: i8 },
    /// `12 + batchLength` is not the number of bytes given: a truncated batch, trailing
    /// bytes, or a negative length.
    LengthMismatch {
        batch_length: i32,
        buffer_bytes: usize,
    },
    /// The stored CRC does not match the CRC32C of the bytes it covers.
    CrcMismatch { stored: u32, computed: u32 },
}

impl fmt::Display for RecordBatchError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TooShort { buffer_bytes } => write!(
                formatter,
                "record batch too short: {buffer_bytes} bytes, header needs {HEADER_BYTES}"
            ),
            Self::BadMagic { magic } => {
                write!(
                    formatter,
                    "record batch magic is {magic}, expected {MAGIC_V2}"
                )
            }
            Self::LengthMismatch {
                batch_length,
                buffer_bytes,
            } => write!(
                formatter,
                "record batch length {batch_length} does not match {buffer_bytes} bytes \
                 (expected {LOG_OVERHEAD_BYTES} + batch length)"
            ),
            Self::CrcMismatch { stored, computed } => write!(
                formatter,
                "record batch CRC mismatch: stored {stored:#010x}, computed {computed:#010x}"
            ),
        }
    }
}

impl std::error::Error for RecordBatchError {}

/// A borrowed view over exactly one record batch v2. Construction checks the framing
/// (size, magic, length); the CRC is checked separately by [`RecordBatchView::validate_crc`]
/// because it reads every byte.
#[derive(Debug, Clone, Copy)]
pub struct RecordBatchView<'a> {
    bytes: &'a [u8],
}

impl<'a> RecordBatchView<'a> {
    /// Wraps `bytes`, which must hold one whole batch and nothing else.
    pub fn new(bytes: &'a [u8]) -> Result<Self, RecordBatchError> {
        if bytes.len() < HEADER_BYTES {
            return Err(RecordBatchError::TooShort {
                buffer_bytes: bytes.len(),
            });
        }
        let magic = bytes[MAGIC_OFFSET] as i8;
        if magic != MAGIC_V2 {
            return Err(RecordBatchError::BadMagic { magic });
        }
        let batch_length = read_i32(bytes, BATCH_LENGTH_OFFSET);
        let length_matches = usize::try_from(batch_length)
            .ok()
            .and_then(|length| length.checked_add(LOG_OVERHEAD_BYTES))
            .is_some_and(|total| total == bytes.len());
        if !length_matches {
            return Err(RecordBatchError::LengthMismatch {
                batch_length,
                buffer_bytes: bytes.len(),
            });
        }
        Ok(Self { bytes })
    }

    /// Checks the stored CRC against the CRC32C of bytes `[21, end)`.
    pub fn validate_crc(&self) -> Result<(), RecordBatchError> {
        let stored = self.crc();
        let computed = self.compute_crc();
        if stored == computed {
            Ok(())
        } else {
            Err(RecordBatchError::CrcMismatch { stored, computed })
        }
    }

    /// The CRC32C that the `crc` field should hold for these bytes.
    pub fn compute_crc(&self) -> u32 {
        crc32c(&self.bytes[CRC_START_OFFSET..])
    }

    /// The whole batch, header included.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The bytes after the header: the records, compressed as a whole if
    /// `attributes` names a codec.
    pub fn records_bytes(&self) -> &'a [u8] {
        &self.bytes[HEADER_BYTES..]
    }

    pub fn base_offset(&self) -> i64 {
        read_i64(self.bytes, BASE_OFFSET_OFFSET)
    }

    pub fn batch_length(&self) -> i32 {
        read_i32(self.bytes, BATCH_LENGTH_OFFSET)
    }

    pub fn partition_leader_epoch(&self) -> i32 {
        read_i32(self.bytes, PARTITION_LEADER_EPOCH_OFFSET)
    }

    pub fn magic(&self) -> i8 {
        self.bytes[MAGIC_OFFSET] as i8
    }

    pub fn crc(&self) -> u32 {
        u32::from_be_bytes(array_at(self.bytes, CRC_OFFSET))
    }

    pub fn attributes(&self) -> i16 {
        i16::from_be_bytes(array_at(self.bytes, ATTRIBUTES_OFFSET))
    }

    pub fn last_offset_delta(&self) -> i32 {
        read_i32(self.bytes, LAST_OFFSET_DELTA_OFFSET)
    }

    pub fn base_timestamp(&self) -> i64 {
        read_i64(self.bytes, BASE_TIMESTAMP_OFFSET)
    }

    pub fn max_timestamp(&self) -> i64 {
        read_i64(self.bytes, MAX_TIMESTAMP_OFFSET)
    }

    pub fn producer_id(&self) -> i64 {
        read_i64(self.bytes, PRODUCER_ID_OFFSET)
    }

    pub fn producer_epoch(&self) -> i16 {
        i16::from_be_bytes(array_at(self.bytes, PRODUCER_EPOCH_OFFSET))
    }

    pub fn base_sequence(&self) -> i32 {
        read_i32(self.bytes, BASE_SEQUENCE_OFFSET)
    }

    pub fn records_count(&self) -> i32 {
        read_i32(self.bytes, RECORDS_COUNT_OFFSET)
    }
}

/// Checks framing and CRC of one whole batch in a single call.
pub fn validate_record_batch_crc(bytes: &[u8]) -> Result<(), RecordBatchError> {
    RecordBatchView::new(bytes)?.validate_crc()
}

fn array_at<const N: usize>(bytes: &[u8], offset: usize) -> [u8; N] {
    // In bounds by construction: every caller reads inside the checked header.
    bytes[offset..offset + N]
        .try_into()
        .expect("slice of length N")
}

fn read_i32(bytes: &[u8], offset: usize) -> i32 {
    i32::from_be_bytes(array_at(bytes, offset))
}

fn read_i64(bytes: &[u8], offset: usize) -> i64 {
    i64::from_be_bytes(array_at(bytes, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One uncompressed record (offset delta 0, timestamp delta 0, no key, value "hello",
    /// no headers) in Kafka's varint record encoding.
    const ONE_RECORD: [u8; 12] = [
        0x16, // record length 11, zigzag varint
        0x00, // attributes
        0x00, // timestamp delta 0
        0x00, // offset delta 0
        0x01, // key length -1 (null)
        0x0A, // value length 5
        b'h', b'e', b'l', b'l', b'o', //
        0x00, // header count 0
    ];

    /// A whole batch with a correct CRC, built field by field.
    fn build_batch() -> Vec<u8> {
        let records = &ONE_RECORD[..];
        let batch_length = (HEADER_BYTES - LOG_OVERHEAD_BYTES + records.len()) as i32;
        let mut batch = Vec::with_capacity(LOG_OVERHEAD_BYTES + batch_length as usize);
        batch.extend_from_slice(&42i64.to_be_bytes()); // baseOffset
        batch.extend_from_slice(&batch_length.to_be_bytes());
        batch.extend_from_slice(&7i32.to_be_bytes()); // partitionLeaderEpoch
        batch.push(MAGIC_V2 as u8);
        batch.extend_from_slice(&0u32.to_be_bytes()); // crc, filled in below
        batch.extend_from_slice(&0i16.to_be_bytes()); // attributes
        batch.extend_from_slice(&0i32.to_be_bytes()); // lastOffsetDelta
        batch.extend_from_slice(&1_700_000_000_000i64.to_be_bytes()); // baseTimestamp
        batch.extend_from_slice(&1_700_000_000_123i64.to_be_bytes()); // maxTimestamp
        batch.extend_from_slice(&(-1i64).to_be_bytes()); // producerId
        batch.extend_from_slice(&(-1i16).to_be_bytes()); // producerEpoch
        batch.extend_from_slice(&(-1i32).to_be_bytes()); // baseSequence
        batch.extend_from_slice(&1i32.to_be_bytes()); // recordsCount
        assert_eq!(batch.len(), HEADER_BYTES);
        batch.extend_from_slice(records);
        let crc = crc32c(&batch[CRC_START_OFFSET..]);
        batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        batch
    }

    #[test]
    fn header_fields_read_back_as_written() {
        let batch = build_batch();
        let view = RecordBatchView::new(&batch).unwrap();
        assert_eq!(view.base_offset(), 42);
        assert_eq!(
            view.batch_length() as usize,
            batch.len() - LOG_OVERHEAD_BYTES
        );
        assert_eq!(view.partition_leader_epoch(), 7);
        assert_eq!(view.magic(), MAGIC_V2);
        assert_eq!(view.attributes(), 0);
        assert_eq!(view.last_offset_delta(), 0);
        assert_eq!(view.base_timestamp(), 1_700_000_000_000);
        assert_eq!(view.max_timestamp(), 1_700_000_000_123);
        assert_eq!(view.producer_id(), -1);
        assert_eq!(view.producer_epoch(), -1);
        assert_eq!(view.base_sequence(), -1);
        assert_eq!(view.records_count(), 1);
        assert_eq!(view.records_bytes(), &ONE_RECORD[..]);
        assert_eq!(view.as_bytes(), &batch[..]);
    }

    #[test]
    fn a_well_formed_batch_passes_crc_validation() {
        let batch = build_batch();
        assert_eq!(validate_record_batch_crc(&batch), Ok(()));
    }

    #[test]
    fn a_flipped_byte_anywhere_under_the_crc_is_detected() {
        let batch = build_batch();
        for position in CRC_START_OFFSET..batch.len() {
            let mut corrupted = batch.clone();
            corrupted[position] ^= 0x01;
            let error = validate_record_batch_crc(&corrupted).unwrap_err();
            assert!(
                matches!(error, RecordBatchError::CrcMismatch { .. }),
                "flip at {position} gave {error:?}"
            );
        }
    }

    #[test]
    fn a_wrong_stored_crc_is_reported_with_both_values() {
        let mut batch = build_batch();
        let good = RecordBatchView::new(&batch).unwrap().crc();
        batch[CRC_OFFSET] ^= 0x80;
        assert_eq!(
            validate_record_batch_crc(&batch),
            Err(RecordBatchError::CrcMismatch {
                stored: good ^ 0x8000_0000,
                computed: good,
            })
        );
    }

    #[test]
    fn fields_outside_the_crc_can_be_rewritten_in_place() {
        // The broker assigns baseOffset and stamps partitionLeaderEpoch on append.
        let mut batch = build_batch();
        batch[BASE_OFFSET_OFFSET..BASE_OFFSET_OFFSET + 8].copy_from_slice(&1000i64.to_be_bytes());
        batch[PARTITION_LEADER_EPOCH_OFFSET..PARTITION_LEADER_EPOCH_OFFSET + 4]
            .copy_from_slice(&99i32.to_be_bytes());
        assert_eq!(validate_record_batch_crc(&batch), Ok(()));
    }

    #[test]
    fn input_shorter_than_a_header_is_rejected() {
        let batch = build_batch();
        for length in [0, 1, 16, 17, HEADER_BYTES - 1] {
            assert_eq!(
                RecordBatchView::new(&batch[..length]).unwrap_err(),
                RecordBatchError::TooShort {
                    buffer_bytes: length
                }
            );
        }
    }

    #[test]
    fn a_batch_truncated_after_its_header_is_a_length_mismatch() {
        let batch = build_batch();
        let truncated = &batch[..batch.len() - 1];
        assert_eq!(
            RecordBatchView::new(truncated).unwrap_err(),
            RecordBatchError::LengthMismatch {
                batch_length: (batch.len() - LOG_OVERHEAD_BYTES) as i32,
                buffer_bytes: truncated.len(),
            }
        );
    }

    #[test]
    fn trailing_bytes_after_the_batch_are_a_length_mismatch() {
        let mut batch = build_batch();
        batch.push(0);
        assert!(matches!(
            RecordBatchView::new(&batch),
            Err(RecordBatchError::LengthMismatch { .. })
        ));
    }

    #[test]
    fn a_negative_or_oversized_batch_length_is_a_length_mismatch() {
        for batch_length in [-1, i32::MIN, 0, i32::MAX] {
            let mut batch = build_batch();
            batch[BATCH_LENGTH_OFFSET..BATCH_LENGTH_OFFSET + 4]
                .copy_from_slice(&batch_length.to_be_bytes());
            assert_eq!(
                RecordBatchView::new(&batch).unwrap_err(),
                RecordBatchError::LengthMismatch {
                    batch_length,
                    buffer_bytes: batch.len(),
                }
            );
        }
    }

    #[test]
    fn magic_other_than_two_is_rejected() {
        for magic in [0i8, 1, 3, -1] {
            let mut batch = build_batch();
            batch[MAGIC_OFFSET] = magic as u8;
            assert_eq!(
                RecordBatchView::new(&batch).unwrap_err(),
                RecordBatchError::BadMagic { magic }
            );
        }
    }

    #[test]
    fn errors_explain_themselves() {
        let message = RecordBatchError::CrcMismatch {
            stored: 1,
            computed: 0xE306_9283,
        }
        .to_string();
        assert_eq!(
            message,
            "record batch CRC mismatch: stored 0x00000001, computed 0xe3069283"
        );
    }
}
