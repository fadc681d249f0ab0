//! Message sets of magic 0 and 1, which Produce v0-2 clients send, checked and up-converted
//! to one record batch v2 as Kafka 3.x did for a log in format v2
//! (`LogValidator.convertAndAssignOffsetsNonCompressed` / `buildRecordsAndAssignOffsets`).
//! Kafka 4 dropped Produce v0-2 (KIP-896); Sluice still serves them.
//!
//! A legacy message set is a sequence of entries:
//!
//! ```text
//! offset i64, size i32 (bytes after this field), then the message:
//!   crc u32         CRC-32 (IEEE, not Castagnoli) of the rest of the message
//!   magic i8        0 or 1
//!   attributes i8   bits 0-2 codec, bit 3 timestamp type (magic 1)
//!   timestamp i64   magic 1 only
//!   key             i32 length (negative = null), bytes
//!   value           i32 length (negative = null), bytes
//! ```
//!
//! A compressed set is one wrapper message whose value is a compressed message set (inner
//! offsets relative in magic 1, absolute in magic 0; Kafka reassigns them either way).
//! The converted batch keeps the source codec (Kafka's `compression.type=producer`);
//! recompress it with [`crate::compression::recompress_batch`] for another topic codec.

use crate::compression::{write_batch, BatchHeader, Compression, Decompressor};
use crate::record_batch::LOG_OVERHEAD_BYTES;

use super::records::encode_record;
use super::{
    check_key_and_timestamp, decompression_error, record_errors_to_error, summarize, BatchSummary,
    KafkaErrorCode, RecordError, TimestampType, ValidationConfig, ValidationError,
    ValidationSummary,
};

const CRC_OFFSET: usize = LOG_OVERHEAD_BYTES;
const MAGIC_OFFSET: usize = LOG_OVERHEAD_BYTES + 4;
const ATTRIBUTES_OFFSET: usize = LOG_OVERHEAD_BYTES + 5;
const TIMESTAMP_OFFSET: usize = LOG_OVERHEAD_BYTES + 6;
const RECORD_OVERHEAD_V1: usize = 22;
const TIMESTAMP_TYPE_FLAG: u8 = 0x08;
const CODEC_MASK: u8 = 0x07;

/// One legacy message, borrowed from its entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Message<'a> {
    magic: i8,
    attributes: u8,
    /// -1 for magic 0.
    timestamp: i64,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
}

impl Message<'_> {
    fn timestamp_type(&self) -> TimestampType {
        if self.magic >= 1 && self.attributes & TIMESTAMP_TYPE_FLAG != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    fn codec_id(&self) -> u8 {
        self.attributes & CODEC_MASK
    }
}

/// Kafka's `LegacyRecord.isValid` for one whole entry (offset and size included).
pub(crate) fn check_message_crc(entry: &[u8]) -> Result<(), ValidationError> {
    let stored = u32::from_be_bytes(
        entry[CRC_OFFSET..CRC_OFFSET + 4]
            .try_into()
            .expect("4 bytes"),
    );
    let mut crc = flate2::Crc::new();
    crc.update(&entry[MAGIC_OFFSET..]);
    let computed = crc.sum();
    if stored != computed {
        return Err(ValidationError::new(
            KafkaErrorCode::CorruptMessage,
            format!("Record is corrupt (stored crc = {stored}, computed crc = {computed})"),
        ));
    }
    Ok(())
}

fn parse_message(entry: &[u8]) -> Result<Message<'_>, ValidationError> {
    let corrupt = |what: &str| {
        ValidationError::new(
            KafkaErrorCode::CorruptMessage,
            format!("Record is corrupt: {what}"),
        )
    };
    let magic = entry[MAGIC_OFFSET] as i8;
    let attributes = entry[ATTRIBUTES_OFFSET];
    let (timestamp, mut position) = if magic >= 1 {
        if entry.len() < LOG_OVERHEAD_BYTES + RECORD_OVERHEAD_V1 {
            return Err(corrupt("a magic 1 message shorter than its overhead"));
        }
        let timestamp = i64::from_be_bytes(
            entry[TIMESTAMP_OFFSET..TIMESTAMP_OFFSET + 8]
                .try_into()
                .expect("8 bytes"),
        );
        (timestamp, TIMESTAMP_OFFSET + 8)
    } else {
        (-1, TIMESTAMP_OFFSET)
    };
    let mut field = |name: &str| -> Result<Option<&[u8]>, ValidationError> {
        let length_bytes = entry
            .get(position..position + 4)
            .ok_or_else(|| corrupt(&format!("{name} length missing")))?;
        let length = i32::from_be_bytes(length_bytes.try_into().expect("4 bytes"));
        position += 4;
        let Ok(length) = usize::try_from(length) else {
            return Ok(None);
        };
        let bytes = entry
            .get(position..position + length)
            .ok_or_else(|| corrupt(&format!("{name} runs past the message")))?;
        position += length;
        Ok(Some(bytes))
    };
    let key = field("key")?;
    let value = field("value")?;
    Ok(Message {
        magic,
        attributes,
        timestamp,
        key,
        value,
    })
}

/// Entries of a legacy message set, as Kafka frames them.
fn entries(bytes: &[u8]) -> Result<Vec<&[u8]>, ValidationError> {
    let mut entries = Vec::new();
    let mut position = 0;
    while bytes.len() - position >= LOG_OVERHEAD_BYTES {
        let size = i32::from_be_bytes(
            bytes[position + 8..position + 12]
                .try_into()
                .expect("4 bytes"),
        );
        if size < super::LEGACY_RECORD_OVERHEAD_V0 {
            return Err(ValidationError::new(
                KafkaErrorCode::CorruptMessage,
                format!(
                    "Record size {size} is less than the minimum record overhead ({})",
                    super::LEGACY_RECORD_OVERHEAD_V0
                ),
            ));
        }
        let end = position + LOG_OVERHEAD_BYTES + size as usize;
        let Some(entry) = bytes.get(position..end) else {
            return Err(ValidationError::new(
                KafkaErrorCode::CorruptMessage,
                "Record is corrupt: a truncated inner message",
            ));
        };
        entries.push(entry);
        position = end;
    }
    if position != bytes.len() {
        return Err(ValidationError::new(
            KafkaErrorCode::CorruptMessage,
            "Record is corrupt: a truncated inner message",
        ));
    }
    Ok(entries)
}

/// A record to write into the converted batch.
struct Converted<'a> {
    timestamp: i64,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
}

/// Validates the legacy message set `bytes[..valid_bytes]` (framing, CRCs and the batch
/// sizes were checked by the caller) and converts it to one batch v2.
pub(crate) fn convert_message_set(
    bytes: &[u8],
    valid_bytes: usize,
    source_compression: Compression,
    config: &ValidationConfig,
    now_ms: i64,
) -> Result<ValidationSummary, ValidationError> {
    let outer = entries(&bytes[..valid_bytes])?;
    let inner_bytes;
    let mut records = Vec::new();
    if source_compression == Compression::None {
        for (batch_index, entry) in outer.iter().enumerate() {
            let message = parse_message(entry)?;
            let timestamp = message.timestamp;
            if let Some((error, text)) = check_key_and_timestamp(
                message.key.is_some(),
                timestamp,
                message.timestamp_type(),
                config,
                now_ms,
            ) {
                // Kafka checks each uncompressed message as a batch of one.
                let record = RecordError {
                    batch_index: batch_index as u32,
                    record_index: 0,
                    message: text,
                };
                return Err(record_errors_to_error(vec![(error, record)]));
            }
            records.push(Converted {
                timestamp,
                key: message.key,
                value: message.value,
            });
        }
    } else {
        let wrapper = parse_message(outer[0])?;
        if wrapper.magic < 2 && source_compression == Compression::Zstd {
            return Err(ValidationError::new(
                KafkaErrorCode::UnsupportedCompressionType,
                "ZStandard compression is not allowed in message format v0 or v1",
            ));
        }
        let Some(value) = wrapper.value else {
            return Err(ValidationError::new(
                KafkaErrorCode::InvalidRecord,
                format!(
                    "Found invalid compressed record set with null value (magic = {})",
                    wrapper.magic
                ),
            ));
        };
        inner_bytes = Decompressor::for_magic(
            source_compression,
            value,
            wrapper.magic,
            config.decompressed_bytes_max,
        )
        .and_then(Decompressor::read_to_end)
        .map_err(decompression_error)?;
        let inner = entries(&inner_bytes)?;
        if inner.is_empty() {
            return Err(ValidationError::new(
                KafkaErrorCode::InvalidRecord,
                "Found invalid compressed record set with no inner records",
            ));
        }
        let mut record_errors = Vec::new();
        for (index, entry) in inner.iter().enumerate() {
            check_message_crc(entry)?;
            let message = parse_message(entry)?;
            let timestamp = match wrapper.timestamp_type() {
                TimestampType::LogAppendTime => wrapper.timestamp,
                TimestampType::CreateTime => message.timestamp,
            };
            let problem = if message.codec_id() != 0 {
                Some((KafkaErrorCode::InvalidRecord, "Compressed outer record should not have an inner record with a compression attribute set".to_string()))
            } else if message.magic != wrapper.magic {
                Some((
                    KafkaErrorCode::InvalidRecord,
                    format!(
                        "Record's magic does not match outer magic {}",
                        wrapper.magic
                    ),
                ))
            } else {
                check_key_and_timestamp(
                    message.key.is_some(),
                    timestamp,
                    wrapper.timestamp_type(),
                    config,
                    now_ms,
                )
            };
            match problem {
                Some((error, text)) => record_errors.push((
                    error,
                    RecordError {
                        batch_index: 0,
                        record_index: index as i32,
                        message: text,
                    },
                )),
                None => records.push(Converted {
                    timestamp,
                    key: message.key,
                    value: message.value,
                }),
            }
        }
        if !record_errors.is_empty() {
            return Err(record_errors_to_error(record_errors));
        }
    }
    let converted = write_converted(&records, source_compression, config, now_ms)?;
    if converted.1.size_bytes as u64 > u64::try_from(config.max_message_bytes).unwrap_or(0) {
        return Err(ValidationError::new(
            KafkaErrorCode::MessageTooLarge,
            format!(
                "Message batch size is {} bytes in append which exceeds the maximum configured size of {}.",
                converted.1.size_bytes, config.max_message_bytes
            ),
        ));
    }
    Ok(summarize(
        vec![converted.1],
        valid_bytes,
        source_compression,
        Some(converted.0),
        config,
        now_ms,
    ))
}

/// Writes `records` as one batch v2 the way Kafka's MemoryRecordsBuilder does for a
/// conversion: offsets from 0, base timestamp of the first record, no producer id.
fn write_converted(
    records: &[Converted<'_>],
    compression: Compression,
    config: &ValidationConfig,
    now_ms: i64,
) -> Result<(Vec<u8>, BatchSummary), ValidationError> {
    let base_timestamp = records[0].timestamp;
    let mut uncompressed = Vec::new();
    let mut max_timestamp = -1i64;
    let mut max_timestamp_offset_delta = -1i32;
    for (offset_delta, record) in records.iter().enumerate() {
        let offset_delta = offset_delta as i32;
        if record.timestamp > max_timestamp {
            max_timestamp = record.timestamp;
            max_timestamp_offset_delta = offset_delta;
        }
        encode_record(
            &mut uncompressed,
            offset_delta,
            record.timestamp.wrapping_sub(base_timestamp),
            record.key,
            record.value,
            &[],
        );
    }
    let last_offset_delta = records.len() as i32 - 1;
    let (attributes, header_max_timestamp) = match config.timestamp_type {
        TimestampType::CreateTime => (0, max_timestamp),
        TimestampType::LogAppendTime => (i16::from(TIMESTAMP_TYPE_FLAG), now_ms),
    };
    let header = BatchHeader {
        base_offset: 0,
        partition_leader_epoch: -1,
        attributes,
        last_offset_delta,
        base_timestamp,
        max_timestamp: header_max_timestamp,
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
        records_count: records.len() as i32,
    };
    let batch =
        write_batch(&header, &uncompressed, compression, None).map_err(decompression_error)?;
    let summary = BatchSummary {
        position: 0,
        size_bytes: batch.len(),
        magic: 2,
        compression,
        record_count: records.len() as i32,
        last_offset_delta,
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
        last_sequence: -1,
        is_transactional: false,
        is_control: false,
        timestamp_type: config.timestamp_type,
        max_timestamp,
        max_timestamp_offset_delta,
    };
    Ok((batch, summary))
}
