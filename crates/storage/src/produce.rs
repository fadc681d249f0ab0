//! A leader's produce append in one pass, as Kafka's `LogValidator` + `UnifiedLog.append`
//! do it: validate the records of one partition ([`crate::validation`]), up-convert magic
//! 0/1 message sets, recompress batches whose codec differs from the topic's
//! `compression.type`, then append with offsets assigned in place.
//!
//! The work splits in two so a caller can keep the log's lock short: [`prepare_produce`]
//! validates and recompresses without the log (CPU only, no disk), and
//! [`PreparedProduce::append_to`] takes the log for the append itself (a memcpy into the
//! mapped segment).
//!
//! Errors: validation failures are Kafka errors with messages and record errors
//! ([`ValidationError`], expected outcomes of a produce); a refused append (producer
//! state, I/O) is a [`LogError`].

use crate::compression::{self, Compression, CompressionError};
use crate::log::{AppendInfo, AppendOptions, Log, LogError};
use crate::validation::{
    self, KafkaErrorCode, ValidationConfig, ValidationError, ValidationSummary,
};

/// The topic's settings a produce append depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceConfig {
    pub validation: ValidationConfig,
    /// `compression.type` when it is not `producer`: every batch is stored with this
    /// codec (`Compression::None` for `uncompressed`).
    pub target_compression: Option<Compression>,
    /// `compression.gzip.level`, `compression.lz4.level` or `compression.zstd.level` of the
    /// target codec.
    pub compression_level: Option<i32>,
}

/// Where the bytes to append live after validation.
#[derive(Debug)]
enum Prepared {
    /// The request's own bytes (the first `len` of them): stamped in place.
    InPlace(usize),
    /// Up-converted or recompressed batches.
    Owned(Vec<u8>),
    /// Produce v0-2 with no whole batch: Kafka appends nothing and succeeds.
    Nothing,
}

/// A validated append, ready for the log.
#[derive(Debug)]
pub struct PreparedProduce {
    prepared: Prepared,
    pub record_count: i64,
}

impl PreparedProduce {
    /// Bytes the append will write.
    pub fn len(&self) -> usize {
        match &self.prepared {
            Prepared::InPlace(len) => *len,
            Prepared::Owned(bytes) => bytes.len(),
            Prepared::Nothing => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends to `log` as its leader; `records` must be the buffer given to
    /// [`prepare_produce`]. `None` when there was nothing to append.
    pub fn append_to(
        &mut self,
        log: &mut Log,
        records: &mut [u8],
        options: &AppendOptions,
    ) -> Result<Option<AppendInfo>, LogError> {
        match &mut self.prepared {
            Prepared::InPlace(len) => log.append(&mut records[..*len], options).map(Some),
            Prepared::Owned(bytes) => log.append(bytes, options).map(Some),
            Prepared::Nothing => Ok(None),
        }
    }
}

fn recompression_failed(error: CompressionError) -> ValidationError {
    match error {
        CompressionError::TooLarge { .. } => ValidationError::new(
            KafkaErrorCode::MessageTooLarge,
            format!("recompressing the batch failed: {error}"),
        ),
        other => ValidationError::new(
            KafkaErrorCode::CorruptMessage,
            format!("recompressing the batch failed: {other}"),
        ),
    }
}

/// Validates one partition's records (see [`crate::validation`]) and recompresses what the
/// topic's `compression.type` asks for. Reads `records`; writes nothing.
pub fn prepare_produce(
    records: &[u8],
    config: &ProduceConfig,
    now_ms: i64,
) -> Result<PreparedProduce, ValidationError> {
    let summary = validation::validate_produce_batches(records, &config.validation, now_ms)?;
    let ValidationSummary {
        batches,
        record_count,
        valid_bytes,
        converted,
        ..
    } = summary;
    if batches.is_empty() {
        return Ok(PreparedProduce {
            prepared: Prepared::Nothing,
            record_count: 0,
        });
    }
    let source: &[u8] = converted.as_deref().unwrap_or(&records[..valid_bytes]);
    let needs_recompression = config
        .target_compression
        .is_some_and(|target| batches.iter().any(|batch| batch.compression != target));
    let prepared = if needs_recompression {
        let target = config.target_compression.expect("checked");
        let mut out = Vec::with_capacity(source.len());
        for batch in &batches {
            let bytes = &source[batch.position..][..batch.size_bytes];
            if batch.compression == target {
                out.extend_from_slice(bytes);
                continue;
            }
            let rewritten = compression::recompress_batch(
                bytes,
                target,
                config.compression_level,
                config.validation.decompressed_bytes_max,
            )
            .map_err(recompression_failed)?;
            // Kafka checks the size of what it will store (RecordTooLargeException).
            if rewritten.len() > usize::try_from(config.validation.max_message_bytes).unwrap_or(0) {
                return Err(ValidationError::new(
                    KafkaErrorCode::MessageTooLarge,
                    format!(
                        "the batch is {} bytes after recompression with {}, larger than \
                         max.message.bytes {}",
                        rewritten.len(),
                        target.name(),
                        config.validation.max_message_bytes
                    ),
                ));
            }
            out.extend_from_slice(&rewritten);
        }
        Prepared::Owned(out)
    } else if let Some(converted) = converted {
        Prepared::Owned(converted)
    } else {
        Prepared::InPlace(valid_bytes)
    };
    Ok(PreparedProduce {
        prepared,
        record_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compression::{write_batch, BatchHeader};
    use crate::record_batch::RecordBatchView;
    use crate::validation::records::encode_record;

    const NOW: i64 = 1_700_000_000_000;

    /// One uncompressed batch v2 of `count` records with values `value-<i>`.
    fn batch(count: i32) -> Vec<u8> {
        let mut records = Vec::new();
        for index in 0..count {
            let value = format!("value-{index}").repeat(10);
            encode_record(&mut records, index, 0, None, Some(value.as_bytes()), &[]);
        }
        let header = BatchHeader {
            base_offset: 0,
            partition_leader_epoch: -1,
            attributes: 0,
            last_offset_delta: count - 1,
            base_timestamp: NOW,
            max_timestamp: NOW,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            records_count: count,
        };
        write_batch(&header, &records, Compression::None, None).unwrap()
    }

    fn config(target: Option<Compression>) -> ProduceConfig {
        ProduceConfig {
            validation: ValidationConfig::kafka_defaults(),
            target_compression: target,
            compression_level: None,
        }
    }

    #[test]
    fn producer_compression_appends_the_request_bytes_in_place() {
        let records = batch(3);
        let prepared = prepare_produce(&records, &config(None), NOW).unwrap();
        assert!(matches!(prepared.prepared, Prepared::InPlace(len) if len == records.len()));
        assert_eq!(prepared.record_count, 3);
    }

    #[test]
    fn a_topic_codec_recompresses_the_batch() {
        let records = batch(50);
        let prepared = prepare_produce(&records, &config(Some(Compression::Gzip)), NOW).unwrap();
        let Prepared::Owned(bytes) = &prepared.prepared else {
            panic!("expected a recompressed batch");
        };
        let view = RecordBatchView::new(bytes).unwrap();
        view.validate_crc().unwrap();
        assert_eq!(
            Compression::from_attributes(view.attributes()).unwrap(),
            Compression::Gzip
        );
        assert_eq!(view.records_count(), 50);
    }

    #[test]
    fn invalid_records_are_refused_before_any_append() {
        let mut records = batch(2);
        let last = records.len() - 1;
        records[last] ^= 0xff; // breaks the CRC
        let error = prepare_produce(&records, &config(None), NOW).unwrap_err();
        assert_eq!(error.error, KafkaErrorCode::CorruptMessage);
    }
}
