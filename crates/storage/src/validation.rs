//! Validation of the records a ProduceRequest carries for one partition, as Kafka's broker
//! does before appending (`ProduceRequest.validateRecords`,
//! `UnifiedLog.analyzeAndValidateRecords`, `LogValidator`), with Kafka's error codes.
//!
//! In order, as Kafka checks them:
//!
//! 1. Framing of each batch (`ByteBufferLogInputStream`): size field below 14 or magic
//!    outside 0-2 is CORRUPT_MESSAGE. A trailing incomplete batch is ignored, as Kafka
//!    does; [`ValidationSummary::valid_bytes`] says how many bytes to append.
//! 2. Produce v3+: at least one batch, magic 2, exactly one batch (INVALID_RECORD), zstd
//!    only from Produce v7 (UNSUPPORTED_COMPRESSION_TYPE).
//! 3. Per batch: baseOffset 0 (v2, INVALID_RECORD), size within `max.message.bytes`
//!    (MESSAGE_TOO_LARGE), CRC (CORRUPT_MESSAGE), a known codec.
//! 4. `LogValidator`: one batch when v2 or compressed; lastOffsetDelta + 1 == count > 0; no
//!    control batch; a producer id needs a sequence (all INVALID_RECORD). Records: framing
//!    and the declared count (INVALID_RECORD, the whole batch); per record, collected into
//!    `RecordErrors` as Kafka does: a key on compacted topics (INVALID_RECORD), CreateTime
//!    timestamps within `message.timestamp.before.max.ms` / `after.max.ms` and no
//!    LogAppendTime from producers (INVALID_TIMESTAMP wins when present).
//! 5. The whole append within `segment.bytes` (RECORD_LIST_TOO_LARGE).
//!
//! Where Sluice differs from Kafka, on purpose:
//! - Offset deltas must be 0..n-1. Kafka does not look at them in an uncompressed batch
//!   and rebuilds a compressed one; every client writes them in order, so Sluice rejects
//!   a batch that does not (INVALID_RECORD, a record error) instead of appending odd offsets.
//! - A codec id of 5-7 is UNSUPPORTED_COMPRESSION_TYPE (Kafka fails with
//!   UNKNOWN_SERVER_ERROR); compressed bytes that do not decompress are CORRUPT_MESSAGE
//!   (Kafka: UNKNOWN_SERVER_ERROR, or INVALID_RECORD when the stream ends early).
//! - Decompressed records are bounded by `decompressed_bytes_max`; past it the batch is
//!   MESSAGE_TOO_LARGE (a producer splits such a batch and retries). Kafka has no bound.
//! - Message sets of magic 0 and 1 (Produce v0-2 clients) are up-converted to one batch
//!   v2, as Kafka 3.x did for a v2 log, in [`legacy`].

pub mod legacy;
pub mod records;

use std::fmt;

use crate::compression::{Compression, CompressionError, Decompressor};
use crate::record_batch::{
    RecordBatchView, CONTROL_ATTRIBUTE, HEADER_BYTES, LOG_OVERHEAD_BYTES, MAGIC_OFFSET, MAGIC_V2,
    TIMESTAMP_TYPE_ATTRIBUTE, TRANSACTIONAL_ATTRIBUTE,
};

use self::records::{read_record_shape, ByteSource, RecordReadError, SliceSource, StreamSource};

/// Smallest value of a batch's size field Kafka's framing accepts (a magic 0 message).
pub const LEGACY_RECORD_OVERHEAD_V0: i32 = 14;
/// `message.timestamp.type`, and the timestamp type bit of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    CreateTime,
    LogAppendTime,
}

/// The Kafka error codes validation returns, named as Kafka names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KafkaErrorCode {
    CorruptMessage,
    MessageTooLarge,
    RecordListTooLarge,
    InvalidTimestamp,
    UnsupportedForMessageFormat,
    UnsupportedCompressionType,
    InvalidRecord,
}

impl KafkaErrorCode {
    pub fn code(self) -> i16 {
        match self {
            Self::CorruptMessage => 2,
            Self::MessageTooLarge => 10,
            Self::RecordListTooLarge => 18,
            Self::InvalidTimestamp => 32,
            Self::UnsupportedForMessageFormat => 43,
            Self::UnsupportedCompressionType => 76,
            Self::InvalidRecord => 87,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::CorruptMessage => "CORRUPT_MESSAGE",
            Self::MessageTooLarge => "MESSAGE_TOO_LARGE",
            Self::RecordListTooLarge => "RECORD_LIST_TOO_LARGE",
            Self::InvalidTimestamp => "INVALID_TIMESTAMP",
            Self::UnsupportedForMessageFormat => "UNSUPPORTED_FOR_MESSAGE_FORMAT",
            Self::UnsupportedCompressionType => "UNSUPPORTED_COMPRESSION_TYPE",
            Self::InvalidRecord => "INVALID_RECORD",
        }
    }
}

/// The topic configs and request facts validation depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationConfig {
    /// The ProduceRequest's version: v3+ needs exactly one batch of magic 2, zstd needs v7+.
    pub produce_version: i16,
    /// `max.message.bytes`: the largest batch, after any conversion.
    pub max_message_bytes: i32,
    /// `segment.bytes`: the largest append.
    pub segment_bytes: i32,
    /// `message.timestamp.type`.
    pub timestamp_type: TimestampType,
    /// `message.timestamp.before.max.ms` (CreateTime only).
    pub timestamp_before_max_ms: i64,
    /// `message.timestamp.after.max.ms` (CreateTime only).
    pub timestamp_after_max_ms: i64,
    /// `cleanup.policy` contains `compact`: every record needs a key.
    pub compacted: bool,
    /// The most bytes a compressed batch may decompress to.
    pub decompressed_bytes_max: u64,
}

impl ValidationConfig {
    /// Kafka 4.1's topic defaults for a current producer (Produce v13).
    pub fn kafka_defaults() -> Self {
        let max_message_bytes = 1_048_588;
        Self {
            produce_version: 13,
            max_message_bytes,
            segment_bytes: 1 << 30,
            timestamp_type: TimestampType::CreateTime,
            timestamp_before_max_ms: i64::MAX,
            timestamp_after_max_ms: 3_600_000,
            compacted: false,
            decompressed_bytes_max: default_decompressed_bytes_max(max_message_bytes),
        }
    }
}

/// A bound on decompressed records derived from `max.message.bytes`: 64 times it, and at
/// least 64 MiB. Generous for real data (text compresses 5-20x), small enough that a bomb
/// costs little CPU; memory use does not depend on it (decompression streams).
pub fn default_decompressed_bytes_max(max_message_bytes: i32) -> u64 {
    (u64::try_from(max_message_bytes).unwrap_or(0) * 64).max(64 << 20)
}

/// One record that failed validation: Kafka's `RecordError`, plus the batch it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// The batch, counted from 0 in the request's records for this partition.
    pub batch_index: u32,
    /// The record in its batch, from 0 (Kafka's `batch_index` field of `RecordErrors`).
    pub record_index: i32,
    pub message: String,
}

/// Why the records of a partition are rejected: a Kafka error for the partition, its
/// message, and the records at fault when Kafka names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    pub error: KafkaErrorCode,
    pub message: String,
    pub record_errors: Vec<RecordError>,
}

impl ValidationError {
    pub fn new(error: KafkaErrorCode, message: impl Into<String>) -> Self {
        Self {
            error,
            message: message.into(),
            record_errors: Vec::new(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {}", self.error.name(), self.message)
    }
}

impl std::error::Error for ValidationError {}

/// What the log and the producer state need to know of one valid batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSummary {
    /// Where the batch starts in the validated bytes, and its whole size.
    pub position: usize,
    pub size_bytes: usize,
    pub magic: i8,
    pub compression: Compression,
    pub record_count: i32,
    pub last_offset_delta: i32,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    /// `baseSequence + lastOffsetDelta`, wrapping past i32::MAX as Kafka's does; -1 without
    /// a sequence.
    pub last_sequence: i32,
    pub is_transactional: bool,
    pub is_control: bool,
    /// The timestamp type bit of the batch header.
    pub timestamp_type: TimestampType,
    /// The largest record timestamp (what Kafka writes into the header's maxTimestamp
    /// when it differs), -1 when no record has one.
    pub max_timestamp: i64,
    /// Offset delta of the first record with `max_timestamp`, -1 when none.
    pub max_timestamp_offset_delta: i32,
}

/// A valid append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationSummary {
    pub batches: Vec<BatchSummary>,
    pub record_count: i64,
    /// Bytes of the input that hold whole batches; Kafka drops a trailing partial batch.
    pub valid_bytes: usize,
    /// Codec of the (last) compressed batch, `None` when all are uncompressed: Kafka's
    /// source compression, compared with the topic's `compression.type`.
    pub source_compression: Compression,
    /// The largest timestamp of the append (`now_ms` under LogAppendTime), -1 when none.
    pub max_timestamp: i64,
    /// Offset of the record holding `max_timestamp`, counted from the append's first
    /// record; -1 when none. (Kafka 4 indexes time by a batch's last offset.)
    pub max_timestamp_offset_delta: i64,
    /// For magic 0/1 input: the same records as one batch v2, to append instead of the
    /// input (`batches` then describe this batch).
    pub converted: Option<Vec<u8>>,
}

/// One batch as framed in the input.
#[derive(Debug, Clone, Copy)]
struct Framed {
    position: usize,
    size_bytes: usize,
    magic: i8,
}

/// Validates the records of one partition in a ProduceRequest (see the module comment).
pub fn validate_produce_batches(
    bytes: &[u8],
    config: &ValidationConfig,
    now_ms: i64,
) -> Result<ValidationSummary, ValidationError> {
    let framed = frame_batches(bytes)?;
    check_request_rules(bytes, &framed, config.produce_version)?;
    let valid_bytes = framed
        .last()
        .map_or(0, |batch| batch.position + batch.size_bytes);
    if framed.is_empty() {
        // Produce v0-2 with nothing to append: Kafka appends nothing and succeeds.
        return Ok(ValidationSummary {
            batches: Vec::new(),
            record_count: 0,
            valid_bytes,
            source_compression: Compression::None,
            max_timestamp: -1,
            max_timestamp_offset_delta: -1,
            converted: None,
        });
    }
    let mut source_compression = Compression::None;
    for batch in &framed {
        let compression = check_batch_header(
            &bytes[batch.position..][..batch.size_bytes],
            batch.magic,
            config,
        )?;
        if compression != Compression::None {
            source_compression = compression;
        }
    }
    let first = framed[0];
    if (first.magic >= MAGIC_V2 || source_compression != Compression::None) && framed.len() > 1 {
        return Err(ValidationError::new(
            KafkaErrorCode::InvalidRecord,
            "Compressed outer record has more than one batch",
        ));
    }
    if let Some(batch) = framed.iter().find(|batch| batch.magic != first.magic) {
        return Err(ValidationError::new(
            KafkaErrorCode::InvalidRecord,
            format!(
                "Batch magic {} is not the same as the first batch's magic byte {}",
                batch.magic, first.magic
            ),
        ));
    }
    let summary = if first.magic < MAGIC_V2 {
        legacy::convert_message_set(bytes, valid_bytes, source_compression, config, now_ms)?
    } else {
        let batch = &bytes[first.position..][..first.size_bytes];
        let batch_summary = validate_batch_v2(batch, first.position, config, now_ms)?;
        summarize(
            vec![batch_summary],
            valid_bytes,
            source_compression,
            None,
            config,
            now_ms,
        )
    };
    let appended_bytes = summary
        .converted
        .as_ref()
        .map_or(summary.valid_bytes, Vec::len);
    if appended_bytes as u64 > u64::try_from(config.segment_bytes).unwrap_or(0) {
        return Err(ValidationError::new(
            KafkaErrorCode::RecordListTooLarge,
            format!(
                "Message batch size is {appended_bytes} bytes in append which exceeds the maximum configured segment size of {}.",
                config.segment_bytes
            ),
        ));
    }
    Ok(summary)
}

/// Builds the append's summary from its batches' (Kafka's ValidationResult).
fn summarize(
    batches: Vec<BatchSummary>,
    valid_bytes: usize,
    source_compression: Compression,
    converted: Option<Vec<u8>>,
    config: &ValidationConfig,
    now_ms: i64,
) -> ValidationSummary {
    let mut record_count = 0i64;
    let mut max_timestamp = -1i64;
    let mut max_timestamp_offset_delta = -1i64;
    for batch in &batches {
        if batch.max_timestamp > max_timestamp {
            max_timestamp = batch.max_timestamp;
            max_timestamp_offset_delta = record_count + i64::from(batch.max_timestamp_offset_delta);
        }
        record_count += i64::from(batch.record_count);
    }
    if config.timestamp_type == TimestampType::LogAppendTime {
        max_timestamp = now_ms;
        max_timestamp_offset_delta = record_count - 1;
    }
    ValidationSummary {
        batches,
        record_count,
        valid_bytes,
        source_compression,
        max_timestamp,
        max_timestamp_offset_delta,
        converted,
    }
}

/// Splits `bytes` into batches as Kafka's `ByteBufferLogInputStream` does.
fn frame_batches(bytes: &[u8]) -> Result<Vec<Framed>, ValidationError> {
    let mut framed = Vec::new();
    let mut position = 0usize;
    loop {
        let remaining = bytes.len() - position;
        if remaining < LOG_OVERHEAD_BYTES {
            return Ok(framed);
        }
        let size = i32::from_be_bytes(
            bytes[position + 8..position + 12]
                .try_into()
                .expect("4 bytes"),
        );
        if size < LEGACY_RECORD_OVERHEAD_V0 {
            return Err(ValidationError::new(
                KafkaErrorCode::CorruptMessage,
                format!(
                    "Record size {size} is less than the minimum record overhead ({LEGACY_RECORD_OVERHEAD_V0})"
                ),
            ));
        }
        if remaining <= MAGIC_OFFSET {
            return Ok(framed);
        }
        let magic = bytes[position + MAGIC_OFFSET] as i8;
        if !(0..=MAGIC_V2).contains(&magic) {
            return Err(ValidationError::new(
                KafkaErrorCode::CorruptMessage,
                format!("Invalid magic found in record: {magic}"),
            ));
        }
        let size_bytes = size as usize + LOG_OVERHEAD_BYTES;
        if remaining < size_bytes {
            return Ok(framed);
        }
        framed.push(Framed {
            position,
            size_bytes,
            magic,
        });
        position += size_bytes;
    }
}

/// `ProduceRequest.validateRecords` (checked by Kafka when the request is handled).
fn check_request_rules(
    bytes: &[u8],
    framed: &[Framed],
    version: i16,
) -> Result<(), ValidationError> {
    if version < 3 {
        // Kafka does not check older versions, "to ensure compatibility with clients which
        // send the wrong magic version in the wrong version of the produce request".
        return Ok(());
    }
    let Some(first) = framed.first() else {
        return Err(ValidationError::new(
            KafkaErrorCode::InvalidRecord,
            format!("Produce requests with version {version} must have at least one record batch per partition"),
        ));
    };
    if first.magic != MAGIC_V2 {
        return Err(ValidationError::new(
            KafkaErrorCode::InvalidRecord,
            format!("Produce requests with version {version} are only allowed to contain record batches with magic version 2"),
        ));
    }
    if version < 7 && first.size_bytes >= HEADER_BYTES {
        let attributes = i16::from_be_bytes(
            bytes[first.position + 21..first.position + 23]
                .try_into()
                .expect("2 bytes"),
        );
        if Compression::from_attributes(attributes) == Ok(Compression::Zstd) {
            return Err(ValidationError::new(
                KafkaErrorCode::UnsupportedCompressionType,
                format!("Produce requests with version {version} are not allowed to use ZStandard compression"),
            ));
        }
    }
    if framed.len() > 1 {
        return Err(ValidationError::new(
            KafkaErrorCode::InvalidRecord,
            format!("Produce requests with version {version} are only allowed to contain exactly one record batch per partition"),
        ));
    }
    Ok(())
}

/// `analyzeAndValidateRecords` for one batch: base offset, size, CRC; and its codec.
fn check_batch_header(
    batch: &[u8],
    magic: i8,
    config: &ValidationConfig,
) -> Result<Compression, ValidationError> {
    if magic >= MAGIC_V2 {
        let base_offset = i64::from_be_bytes(batch[..8].try_into().expect("8 bytes"));
        if base_offset != 0 {
            return Err(ValidationError::new(
                KafkaErrorCode::InvalidRecord,
                format!("The baseOffset of the record batch in the append should be 0, but it is {base_offset}"),
            ));
        }
    }
    if batch.len() as u64 > u64::try_from(config.max_message_bytes).unwrap_or(0) {
        return Err(ValidationError::new(
            KafkaErrorCode::MessageTooLarge,
            format!(
                "The record batch size in the append is {} bytes which exceeds the maximum configured value of {}.",
                batch.len(),
                config.max_message_bytes
            ),
        ));
    }
    let attributes = if magic >= MAGIC_V2 {
        let view = RecordBatchView::new(batch).map_err(|error| {
            ValidationError::new(
                KafkaErrorCode::CorruptMessage,
                format!("Record is corrupt: {error}"),
            )
        })?;
        if let Err(error) = view.validate_crc() {
            return Err(ValidationError::new(
                KafkaErrorCode::CorruptMessage,
                format!("Record is corrupt (stored crc = {}): {error}", view.crc()),
            ));
        }
        view.attributes()
    } else {
        legacy::check_message_crc(batch)?;
        i16::from(batch[LOG_OVERHEAD_BYTES + 5])
    };
    Compression::from_attributes(attributes).map_err(unsupported_codec)
}

fn unsupported_codec(error: CompressionError) -> ValidationError {
    ValidationError::new(
        KafkaErrorCode::UnsupportedCompressionType,
        error.to_string(),
    )
}

/// `LogValidator.validateBatch` and the record loop, for the one batch v2 of a request.
fn validate_batch_v2(
    batch: &[u8],
    position: usize,
    config: &ValidationConfig,
    now_ms: i64,
) -> Result<BatchSummary, ValidationError> {
    let view = RecordBatchView::new(batch).expect("framing checked");
    let attributes = view.attributes();
    let compression = Compression::from_attributes(attributes).map_err(unsupported_codec)?;
    let last_offset_delta = view.last_offset_delta();
    let count = view.records_count();
    let count_from_offsets = i64::from(last_offset_delta) + 1;
    let invalid = |message: String| ValidationError::new(KafkaErrorCode::InvalidRecord, message);
    if count_from_offsets <= 0 {
        return Err(invalid(format!(
            "Batch has an invalid offset range: [0, {last_offset_delta}]"
        )));
    }
    if count <= 0 {
        return Err(invalid(format!(
            "Invalid reported count for record batch: {count}"
        )));
    }
    if count_from_offsets != i64::from(count) {
        return Err(invalid(format!(
            "Inconsistent batch offset range [0, {last_offset_delta}] and count of records {count}"
        )));
    }
    let is_control = attributes & CONTROL_ATTRIBUTE != 0;
    if is_control {
        return Err(invalid(
            "Clients are not allowed to write control records".to_string(),
        ));
    }
    let producer_id = view.producer_id();
    let base_sequence = view.base_sequence();
    if producer_id >= 0 && base_sequence < 0 {
        return Err(invalid(format!(
            "Invalid sequence number {base_sequence} in record batch with producerId {producer_id}"
        )));
    }
    let timestamp_type = if attributes & TIMESTAMP_TYPE_ATTRIBUTE != 0 {
        TimestampType::LogAppendTime
    } else {
        TimestampType::CreateTime
    };
    let context = RecordContext {
        config,
        now_ms,
        batch_timestamp_type: timestamp_type,
        base_timestamp: view.base_timestamp(),
        header_max_timestamp: view.max_timestamp(),
        count,
    };
    let maxima = match compression {
        Compression::None => {
            validate_records(&mut SliceSource::new(view.records_bytes()), &context)
        }
        codec => {
            let decompressor =
                Decompressor::new(codec, view.records_bytes(), config.decompressed_bytes_max)
                    .map_err(decompression_error)?;
            validate_records(&mut StreamSource::new(decompressor), &context)
        }
    }?;
    Ok(BatchSummary {
        position,
        size_bytes: batch.len(),
        magic: MAGIC_V2,
        compression,
        record_count: count,
        last_offset_delta,
        producer_id,
        producer_epoch: view.producer_epoch(),
        base_sequence,
        last_sequence: last_sequence(base_sequence, last_offset_delta),
        is_transactional: attributes & TRANSACTIONAL_ATTRIBUTE != 0,
        is_control,
        timestamp_type,
        max_timestamp: maxima.0,
        max_timestamp_offset_delta: maxima.1,
    })
}

/// Kafka's `DefaultRecordBatch.lastSequence`.
fn last_sequence(base_sequence: i32, last_offset_delta: i32) -> i32 {
    if base_sequence < 0 {
        return -1;
    }
    if base_sequence > i32::MAX - last_offset_delta {
        last_offset_delta - (i32::MAX - base_sequence) - 1
    } else {
        base_sequence + last_offset_delta
    }
}

struct RecordContext<'c> {
    config: &'c ValidationConfig,
    now_ms: i64,
    batch_timestamp_type: TimestampType,
    base_timestamp: i64,
    header_max_timestamp: i64,
    count: i32,
}

/// Reads `count` records, checks each, collects Kafka's record errors. Returns the largest
/// timestamp and its offset delta.
fn validate_records<S: ByteSource>(
    source: &mut S,
    context: &RecordContext<'_>,
) -> Result<(i64, i32), ValidationError> {
    let mut record_errors = Vec::new();
    let mut max_timestamp = -1i64;
    let mut max_timestamp_offset_delta = -1i32;
    for index in 0..context.count {
        let shape = read_record_shape(source).map_err(record_read_error)?;
        if index == context.count - 1 && !source.at_end().map_err(decompression_error)? {
            return Err(ValidationError::new(
                KafkaErrorCode::InvalidRecord,
                "Incorrect declared batch size, records still remaining in file",
            ));
        }
        // A LogAppendTime batch gives every record the header's maxTimestamp.
        let timestamp = match context.batch_timestamp_type {
            TimestampType::LogAppendTime => context.header_max_timestamp,
            TimestampType::CreateTime => context.base_timestamp.wrapping_add(shape.timestamp_delta),
        };
        if timestamp > max_timestamp {
            max_timestamp = timestamp;
            max_timestamp_offset_delta = shape.offset_delta;
        }
        if let Some((error, message)) = check_record(index, &shape, timestamp, context) {
            record_errors.push((
                error,
                RecordError {
                    batch_index: 0,
                    record_index: index,
                    message,
                },
            ));
        }
    }
    if record_errors.is_empty() {
        Ok((max_timestamp, max_timestamp_offset_delta))
    } else {
        Err(record_errors_to_error(record_errors))
    }
}

/// Kafka's `validateRecord` (key, then timestamp) plus Sluice's offset delta rule.
fn check_record(
    index: i32,
    shape: &records::RecordShape,
    timestamp: i64,
    context: &RecordContext<'_>,
) -> Option<(KafkaErrorCode, String)> {
    if shape.offset_delta != index {
        return Some((
            KafkaErrorCode::InvalidRecord,
            format!(
                "Record {index} has offset delta {}, expected {index}",
                shape.offset_delta
            ),
        ));
    }
    check_key_and_timestamp(
        shape.key_length >= 0,
        timestamp,
        context.batch_timestamp_type,
        context.config,
        context.now_ms,
    )
}

/// Kafka's `validateKey` and `validateTimestamp`, shared with legacy messages.
pub(crate) fn check_key_and_timestamp(
    has_key: bool,
    timestamp: i64,
    batch_timestamp_type: TimestampType,
    config: &ValidationConfig,
    now_ms: i64,
) -> Option<(KafkaErrorCode, String)> {
    if config.compacted && !has_key {
        return Some((
            KafkaErrorCode::InvalidRecord,
            "Compacted topic cannot accept message without key in topic partition".to_string(),
        ));
    }
    if config.timestamp_type == TimestampType::CreateTime && timestamp != -1 {
        // Java's long arithmetic wraps; so does this, to reject exactly what Kafka rejects.
        let difference = now_ms.wrapping_sub(timestamp);
        if difference > config.timestamp_before_max_ms
            || difference.wrapping_neg() > config.timestamp_after_max_ms
        {
            return Some((
                KafkaErrorCode::InvalidTimestamp,
                format!(
                    "Timestamp {timestamp} of message is out of range. The timestamp should be within [{}, {}]",
                    now_ms.wrapping_sub(config.timestamp_before_max_ms),
                    now_ms.wrapping_add(config.timestamp_after_max_ms)
                ),
            ));
        }
    } else if batch_timestamp_type == TimestampType::LogAppendTime {
        return Some((
            KafkaErrorCode::InvalidTimestamp,
            "Invalid timestamp type in message. Producer should not set timestamp type to LogAppendTime.".to_string(),
        ));
    }
    None
}

/// Kafka's `processRecordErrors`: INVALID_TIMESTAMP if any record has a bad timestamp,
/// else INVALID_RECORD naming at most three errors.
pub(crate) fn record_errors_to_error(
    errors: Vec<(KafkaErrorCode, RecordError)>,
) -> ValidationError {
    let any_timestamp = errors
        .iter()
        .any(|(error, _)| *error == KafkaErrorCode::InvalidTimestamp);
    let record_errors: Vec<RecordError> = errors.into_iter().map(|(_, record)| record).collect();
    if any_timestamp {
        return ValidationError {
            error: KafkaErrorCode::InvalidTimestamp,
            message: "One or more records have been rejected due to invalid timestamp".to_string(),
            record_errors,
        };
    }
    let shown: Vec<String> = record_errors
        .iter()
        .take(3)
        .map(|record| {
            format!(
                "RecordError(batchIndex={}, message={})",
                record.record_index, record.message
            )
        })
        .collect();
    ValidationError {
        error: KafkaErrorCode::InvalidRecord,
        message: format!(
            "One or more records have been rejected due to {} record errors in total, and only showing the first three errors at most: [{}]",
            record_errors.len(),
            shown.join(", ")
        ),
        record_errors,
    }
}

fn record_read_error(error: RecordReadError) -> ValidationError {
    match error {
        RecordReadError::EndOfRecords => ValidationError::new(
            KafkaErrorCode::InvalidRecord,
            "Incorrect declared batch size, premature EOF reached",
        ),
        RecordReadError::Invalid(message) => {
            ValidationError::new(KafkaErrorCode::InvalidRecord, message)
        }
        RecordReadError::Decompression(error) => decompression_error(error),
    }
}

pub(crate) fn decompression_error(error: CompressionError) -> ValidationError {
    let code = match error {
        CompressionError::TooLarge { .. } => KafkaErrorCode::MessageTooLarge,
        CompressionError::UnknownCodec { .. } => KafkaErrorCode::UnsupportedCompressionType,
        _ => KafkaErrorCode::CorruptMessage,
    };
    ValidationError::new(code, error.to_string())
}

#[cfg(test)]
mod tests;
