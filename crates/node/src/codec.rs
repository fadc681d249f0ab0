//! Binding of the compression codecs and of produce validation
//! (`sluice_storage::compression`, `sluice_storage::validation`).
//!
//! Codec failures on explicit codec calls (tools, tests, compaction) throw; validation
//! failures are an expected outcome of a Produce and come back as values.

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use sluice_storage::compression::{self, Compression, CompressionError};
use sluice_storage::validation::{
    self, BatchSummary, TimestampType, ValidationConfig, ValidationError, ValidationSummary,
};

fn codec_of(name: &str) -> napi::Result<Compression> {
    Compression::from_name(name).ok_or_else(|| {
        napi::Error::new(
            napi::Status::InvalidArg,
            format!("unknown compression codec {name:?} (none, gzip, snappy, lz4, zstd)"),
        )
    })
}

fn thrown(error: CompressionError) -> napi::Error {
    let status = match error {
        CompressionError::InvalidLevel { .. } | CompressionError::UnknownCodec { .. } => {
            napi::Status::InvalidArg
        }
        _ => napi::Status::GenericFailure,
    };
    napi::Error::new(status, error.to_string())
}

fn limit_of(decompressed_bytes_max: Option<f64>) -> u64 {
    match decompressed_bytes_max {
        Some(limit) if limit.is_finite() && limit >= 0.0 => limit as u64,
        _ => validation::default_decompressed_bytes_max(1_048_588),
    }
}

/// Compresses `bytes` as one stream of `codec` (Kafka's framing: xerial snappy, lz4 frame).
#[napi]
pub fn compress(codec: String, bytes: &[u8], level: Option<i32>) -> napi::Result<Buffer> {
    compression::compress(codec_of(&codec)?, bytes, level)
        .map(Buffer::from)
        .map_err(thrown)
}

/// Decompresses one stream of `codec`, failing past `decompressedBytesMax` bytes
/// (default: the bound derived from Kafka's default `max.message.bytes`).
#[napi]
pub fn decompress(
    codec: String,
    bytes: &[u8],
    decompressed_bytes_max: Option<f64>,
) -> napi::Result<Buffer> {
    compression::decompress(codec_of(&codec)?, bytes, limit_of(decompressed_bytes_max))
        .map(Buffer::from)
        .map_err(thrown)
}

/// Rewrites one record batch v2 with another codec (`none` to decompress it), fixing the
/// attributes, length and CRC32C.
#[napi]
pub fn recompress_batch(
    batch: &[u8],
    codec: String,
    level: Option<i32>,
    decompressed_bytes_max: Option<f64>,
) -> napi::Result<Buffer> {
    compression::recompress_batch(
        batch,
        codec_of(&codec)?,
        level,
        limit_of(decompressed_bytes_max),
    )
    .map(Buffer::from)
    .map_err(thrown)
}

/// Topic configs and request facts for produce validation; absent fields take Kafka 4.1's
/// defaults.
#[napi(object)]
pub struct ProduceValidationConfig {
    pub produce_version: Option<i32>,
    pub max_message_bytes: Option<i32>,
    pub segment_bytes: Option<i32>,
    /// `CreateTime` or `LogAppendTime`.
    pub timestamp_type: Option<String>,
    pub timestamp_before_max_ms: Option<i64>,
    pub timestamp_after_max_ms: Option<i64>,
    pub compacted: Option<bool>,
    pub decompressed_bytes_max: Option<f64>,
}

/// One record rejected by validation (Kafka's `RecordError`, with its batch).
#[napi(object)]
pub struct ProduceRecordError {
    pub batch_index: u32,
    pub record_index: i32,
    pub message: String,
}

/// A rejected append: the Kafka error code and name for the partition, a message, and the
/// records at fault when Kafka names them.
#[napi(object)]
pub struct ProduceValidationError {
    pub error_code: i32,
    pub error_name: String,
    pub message: String,
    pub record_errors: Vec<ProduceRecordError>,
}

/// One valid batch. Numbers above 2^53 (producer ids, timestamps) lose precision; real
/// ones stay far below.
#[napi(object)]
pub struct ProduceBatchSummary {
    pub position: u32,
    pub size_bytes: u32,
    pub magic: i32,
    pub compression: String,
    pub record_count: i32,
    pub last_offset_delta: i32,
    pub producer_id: i64,
    pub producer_epoch: i32,
    pub base_sequence: i32,
    pub last_sequence: i32,
    pub is_transactional: bool,
    pub is_control: bool,
    pub timestamp_type: String,
    pub max_timestamp: i64,
    pub max_timestamp_offset_delta: i32,
}

/// A valid append.
#[napi(object)]
pub struct ProduceValidationSummary {
    pub batches: Vec<ProduceBatchSummary>,
    pub record_count: i64,
    pub valid_bytes: u32,
    pub source_compression: String,
    pub max_timestamp: i64,
    pub max_timestamp_offset_delta: i64,
    /// Magic 0/1 input up-converted to one batch v2: append this instead.
    pub converted: Option<Buffer>,
}

/// The outcome of validating one partition's records: exactly one of the two is set.
#[napi(object)]
pub struct ProduceValidation {
    pub summary: Option<ProduceValidationSummary>,
    pub error: Option<ProduceValidationError>,
}

fn timestamp_type_name(timestamp_type: TimestampType) -> String {
    match timestamp_type {
        TimestampType::CreateTime => "CreateTime",
        TimestampType::LogAppendTime => "LogAppendTime",
    }
    .to_string()
}

pub(crate) fn config_of(config: ProduceValidationConfig) -> napi::Result<ValidationConfig> {
    let defaults = ValidationConfig::kafka_defaults();
    let max_message_bytes = config
        .max_message_bytes
        .unwrap_or(defaults.max_message_bytes);
    let timestamp_type = match config.timestamp_type.as_deref() {
        None | Some("CreateTime") => TimestampType::CreateTime,
        Some("LogAppendTime") => TimestampType::LogAppendTime,
        Some(other) => {
            return Err(napi::Error::new(
                napi::Status::InvalidArg,
                format!("unknown timestamp type {other:?} (CreateTime, LogAppendTime)"),
            ))
        }
    };
    let produce_version = config
        .produce_version
        .map_or(defaults.produce_version, |version| {
            version.clamp(0, i32::from(i16::MAX)) as i16
        });
    Ok(ValidationConfig {
        produce_version,
        max_message_bytes,
        segment_bytes: config.segment_bytes.unwrap_or(defaults.segment_bytes),
        timestamp_type,
        timestamp_before_max_ms: config
            .timestamp_before_max_ms
            .unwrap_or(defaults.timestamp_before_max_ms),
        timestamp_after_max_ms: config
            .timestamp_after_max_ms
            .unwrap_or(defaults.timestamp_after_max_ms),
        compacted: config.compacted.unwrap_or(false),
        decompressed_bytes_max: config.decompressed_bytes_max.map_or_else(
            || validation::default_decompressed_bytes_max(max_message_bytes),
            |limit| limit_of(Some(limit)),
        ),
    })
}

fn batch_of(batch: BatchSummary) -> ProduceBatchSummary {
    ProduceBatchSummary {
        position: batch.position as u32,
        size_bytes: batch.size_bytes as u32,
        magic: i32::from(batch.magic),
        compression: batch.compression.name().to_string(),
        record_count: batch.record_count,
        last_offset_delta: batch.last_offset_delta,
        producer_id: batch.producer_id,
        producer_epoch: i32::from(batch.producer_epoch),
        base_sequence: batch.base_sequence,
        last_sequence: batch.last_sequence,
        is_transactional: batch.is_transactional,
        is_control: batch.is_control,
        timestamp_type: timestamp_type_name(batch.timestamp_type),
        max_timestamp: batch.max_timestamp,
        max_timestamp_offset_delta: batch.max_timestamp_offset_delta,
    }
}

fn summary_of(summary: ValidationSummary) -> ProduceValidationSummary {
    ProduceValidationSummary {
        batches: summary.batches.into_iter().map(batch_of).collect(),
        record_count: summary.record_count,
        valid_bytes: summary.valid_bytes as u32,
        source_compression: summary.source_compression.name().to_string(),
        max_timestamp: summary.max_timestamp,
        max_timestamp_offset_delta: summary.max_timestamp_offset_delta,
        converted: summary.converted.map(Buffer::from),
    }
}

pub(crate) fn error_of(error: ValidationError) -> ProduceValidationError {
    ProduceValidationError {
        error_code: i32::from(error.error.code()),
        error_name: error.error.name().to_string(),
        message: error.message,
        record_errors: error
            .record_errors
            .into_iter()
            .map(|record| ProduceRecordError {
                batch_index: record.batch_index,
                record_index: record.record_index,
                message: record.message,
            })
            .collect(),
    }
}

/// Validates the records of one partition of a ProduceRequest as Kafka's broker does
/// (see `sluice_storage::validation`). Throws only for a bad `config`.
#[napi]
pub fn validate_produce_batches(
    bytes: &[u8],
    config: ProduceValidationConfig,
    now_ms: i64,
) -> napi::Result<ProduceValidation> {
    let config = config_of(config)?;
    Ok(
        match validation::validate_produce_batches(bytes, &config, now_ms) {
            Ok(summary) => ProduceValidation {
                summary: Some(summary_of(summary)),
                error: None,
            },
            Err(error) => ProduceValidation {
                summary: None,
                error: Some(error_of(error)),
            },
        },
    )
}
