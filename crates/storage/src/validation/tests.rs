use super::records::{encode_record, write_varint};
use super::*;
use crate::compression::{compress, write_batch, BatchHeader};
use crate::record_batch::validate_record_batch_crc;

const NOW: i64 = 1_700_000_000_000;
const BASE_TIMESTAMP: i64 = NOW - 1_000;

fn config() -> ValidationConfig {
    ValidationConfig::kafka_defaults()
}

/// `count` records with keys, values, a header, and timestamps BASE_TIMESTAMP + index.
fn records(count: i32) -> Vec<u8> {
    let mut out = Vec::new();
    for index in 0..count {
        let key = format!("key-{index}");
        let value = format!("value-{index}").repeat(10);
        encode_record(
            &mut out,
            index,
            i64::from(index),
            Some(key.as_bytes()),
            Some(value.as_bytes()),
            &[(b"trace", Some(b"abc"))],
        );
    }
    out
}

fn header(count: i32) -> BatchHeader {
    BatchHeader {
        base_offset: 0,
        partition_leader_epoch: -1,
        attributes: 0,
        last_offset_delta: count - 1,
        base_timestamp: BASE_TIMESTAMP,
        max_timestamp: BASE_TIMESTAMP + i64::from(count - 1),
        producer_id: 7,
        producer_epoch: 1,
        base_sequence: 10,
        records_count: count,
    }
}

fn batch(count: i32, codec: Compression) -> Vec<u8> {
    write_batch(&header(count), &records(count), codec, None).unwrap()
}

fn custom(header: BatchHeader, records: &[u8], codec: Compression) -> Vec<u8> {
    write_batch(&header, records, codec, None).unwrap()
}

/// A copy of `batch` changed by `change`, with a CRC that matches again.
fn patched(batch: &[u8], change: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut copy = batch.to_vec();
    change(&mut copy);
    let crc = crate::crc32c::crc32c(&copy[21..]);
    copy[17..21].copy_from_slice(&crc.to_be_bytes());
    copy
}

fn rejected(bytes: &[u8], config: &ValidationConfig) -> ValidationError {
    validate_produce_batches(bytes, config, NOW).expect_err("validation should fail")
}

fn assert_rejected(bytes: &[u8], config: &ValidationConfig, code: KafkaErrorCode, text: &str) {
    let error = rejected(bytes, config);
    assert_eq!(error.error, code, "{error}");
    assert!(error.message.contains(text), "{error} lacks {text:?}");
}

#[test]
fn a_valid_batch_in_every_codec_is_summarized() {
    for codec in Compression::ALL {
        let bytes = batch(5, codec);
        let summary = validate_produce_batches(&bytes, &config(), NOW).unwrap();
        assert_eq!(summary.record_count, 5);
        assert_eq!(summary.valid_bytes, bytes.len());
        assert_eq!(summary.source_compression, codec);
        assert_eq!(summary.max_timestamp, BASE_TIMESTAMP + 4);
        assert_eq!(summary.max_timestamp_offset_delta, 4);
        assert_eq!(summary.converted, None);
        assert_eq!(
            summary.batches,
            [BatchSummary {
                position: 0,
                size_bytes: bytes.len(),
                magic: 2,
                compression: codec,
                record_count: 5,
                last_offset_delta: 4,
                producer_id: 7,
                producer_epoch: 1,
                base_sequence: 10,
                last_sequence: 14,
                is_transactional: false,
                is_control: false,
                timestamp_type: TimestampType::CreateTime,
                max_timestamp: BASE_TIMESTAMP + 4,
                max_timestamp_offset_delta: 4,
            }]
        );
    }
}

#[test]
fn a_transactional_batch_and_a_sequence_near_the_top_are_reported_as_kafka_does() {
    let mut header = header(3);
    header.attributes = TRANSACTIONAL_ATTRIBUTE;
    header.base_sequence = i32::MAX - 1;
    let summary = validate_produce_batches(
        &custom(header, &records(3), Compression::None),
        &config(),
        NOW,
    )
    .unwrap();
    assert!(summary.batches[0].is_transactional);
    // DefaultRecordBatch.incrementSequence wraps to 0 after i32::MAX.
    assert_eq!(summary.batches[0].last_sequence, 0);
    assert_eq!(last_sequence(-1, 5), -1);
    assert_eq!(last_sequence(5, 5), 10);
}

#[test]
fn produce_v3_and_later_need_exactly_one_batch_of_magic_2() {
    let config = config();
    assert_rejected(
        &[],
        &config,
        KafkaErrorCode::InvalidRecord,
        "must have at least one record batch",
    );
    let mut two = batch(2, Compression::None);
    two.extend(batch(2, Compression::None));
    assert_rejected(
        &two,
        &config,
        KafkaErrorCode::InvalidRecord,
        "exactly one record batch",
    );
    let magic_1 = legacy_entry(0, 1, 0, 5, Some(b"k"), Some(b"v"));
    assert_rejected(
        &magic_1,
        &config,
        KafkaErrorCode::InvalidRecord,
        "magic version 2",
    );
}

#[test]
fn zstd_needs_produce_v7() {
    let bytes = batch(2, Compression::Zstd);
    let v6 = ValidationConfig {
        produce_version: 6,
        ..config()
    };
    assert_rejected(
        &bytes,
        &v6,
        KafkaErrorCode::UnsupportedCompressionType,
        "ZStandard",
    );
    let v7 = ValidationConfig {
        produce_version: 7,
        ..config()
    };
    assert!(validate_produce_batches(&bytes, &v7, NOW).is_ok());
    assert!(validate_produce_batches(&batch(2, Compression::Lz4), &v6, NOW).is_ok());
}

#[test]
fn produce_v0_to_v2_with_no_records_appends_nothing() {
    let v2 = ValidationConfig {
        produce_version: 2,
        ..config()
    };
    let summary = validate_produce_batches(&[], &v2, NOW).unwrap();
    assert_eq!(summary.batches, []);
    assert_eq!(summary.record_count, 0);
    // Even old versions may carry only one batch of magic 2.
    let mut two = batch(2, Compression::None);
    two.extend(batch(2, Compression::None));
    assert_rejected(
        &two,
        &v2,
        KafkaErrorCode::InvalidRecord,
        "more than one batch",
    );
}

#[test]
fn a_size_field_below_14_or_a_magic_above_2_is_corrupt() {
    let bytes = batch(1, Compression::None);
    let mut small = bytes.clone();
    small[8..12].copy_from_slice(&13i32.to_be_bytes());
    assert_rejected(
        &small,
        &config(),
        KafkaErrorCode::CorruptMessage,
        "less than the minimum record overhead (14)",
    );
    let mut magic = bytes.clone();
    magic[16] = 3;
    assert_rejected(
        &magic,
        &config(),
        KafkaErrorCode::CorruptMessage,
        "Invalid magic found in record: 3",
    );
}

#[test]
fn a_trailing_partial_batch_is_left_out_as_kafka_does() {
    let whole = batch(3, Compression::None);
    let mut bytes = whole.clone();
    bytes.extend_from_slice(&whole[..40]);
    let summary = validate_produce_batches(&bytes, &config(), NOW).unwrap();
    assert_eq!(summary.valid_bytes, whole.len());
    assert_eq!(summary.batches.len(), 1);
    // Alone, a partial batch is no batch at all.
    assert_rejected(
        &whole[..whole.len() - 1],
        &config(),
        KafkaErrorCode::InvalidRecord,
        "at least one record batch",
    );
}

#[test]
fn the_base_offset_must_be_zero() {
    let bytes = patched(&batch(1, Compression::None), |b| {
        b[..8].copy_from_slice(&5i64.to_be_bytes())
    });
    assert_rejected(
        &bytes,
        &config(),
        KafkaErrorCode::InvalidRecord,
        "should be 0, but it is 5",
    );
}

#[test]
fn a_batch_over_max_message_bytes_is_too_large() {
    let bytes = batch(10, Compression::None);
    let exact = ValidationConfig {
        max_message_bytes: bytes.len() as i32,
        ..config()
    };
    assert!(validate_produce_batches(&bytes, &exact, NOW).is_ok());
    let smaller = ValidationConfig {
        max_message_bytes: bytes.len() as i32 - 1,
        ..config()
    };
    assert_rejected(
        &bytes,
        &smaller,
        KafkaErrorCode::MessageTooLarge,
        "exceeds the maximum configured value",
    );
}

#[test]
fn a_bad_crc_is_a_corrupt_message() {
    let mut bytes = batch(2, Compression::Gzip);
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    assert_rejected(
        &bytes,
        &config(),
        KafkaErrorCode::CorruptMessage,
        "Record is corrupt (stored crc =",
    );
    let short = patched(&batch(1, Compression::None)[..40], |b| {
        b[8..12].copy_from_slice(&28i32.to_be_bytes())
    });
    assert_rejected(
        &short,
        &config(),
        KafkaErrorCode::CorruptMessage,
        "too short",
    );
}

#[test]
fn an_unknown_codec_is_unsupported() {
    let bytes = patched(&batch(1, Compression::None), |b| b[22] |= 0x05);
    assert_rejected(
        &bytes,
        &config(),
        KafkaErrorCode::UnsupportedCompressionType,
        "unknown compression codec id 5",
    );
}

#[test]
fn count_and_last_offset_delta_must_agree_and_be_positive() {
    let base = batch(3, Compression::None);
    let delta = |value: i32| patched(&base, |b| b[23..27].copy_from_slice(&value.to_be_bytes()));
    let count = |value: i32| patched(&base, |b| b[57..61].copy_from_slice(&value.to_be_bytes()));
    assert_rejected(
        &delta(-1),
        &config(),
        KafkaErrorCode::InvalidRecord,
        "invalid offset range",
    );
    assert_rejected(
        &delta(3),
        &config(),
        KafkaErrorCode::InvalidRecord,
        "Inconsistent batch offset range [0, 3] and count of records 3",
    );
    assert_rejected(
        &count(0),
        &config(),
        KafkaErrorCode::InvalidRecord,
        "Invalid reported count for record batch: 0",
    );
    assert_rejected(
        &count(-4),
        &config(),
        KafkaErrorCode::InvalidRecord,
        "Invalid reported count",
    );
}

#[test]
fn producers_may_not_write_control_batches() {
    let bytes = patched(&batch(1, Compression::None), |b| {
        b[22] |= CONTROL_ATTRIBUTE as u8
    });
    assert_rejected(
        &bytes,
        &config(),
        KafkaErrorCode::InvalidRecord,
        "not allowed to write control records",
    );
}

#[test]
fn a_producer_id_needs_a_sequence() {
    let mut header = header(1);
    header.base_sequence = -1;
    assert_rejected(
        &custom(header, &records(1), Compression::None),
        &config(),
        KafkaErrorCode::InvalidRecord,
        "Invalid sequence number -1",
    );
    header.producer_id = -1;
    assert!(validate_produce_batches(
        &custom(header, &records(1), Compression::None),
        &config(),
        NOW
    )
    .is_ok());
}

/// Framing damage inside the records, checked in an uncompressed and a compressed batch.
fn assert_records_rejected(records: &[u8], count: i32, text: &str) {
    for codec in [Compression::None, Compression::Zstd, Compression::Snappy] {
        let bytes = custom(header(count), records, codec);
        let error = rejected(&bytes, &config());
        assert_eq!(
            error.error,
            KafkaErrorCode::InvalidRecord,
            "{codec}: {error}"
        );
        assert!(
            error.message.contains(text),
            "{codec}: {error} lacks {text:?}"
        );
        assert_eq!(
            error.record_errors,
            [],
            "framing errors fail the whole batch"
        );
    }
}

#[test]
fn fewer_records_than_declared_is_a_premature_end() {
    assert_records_rejected(&records(2), 3, "premature EOF");
}

#[test]
fn bytes_after_the_declared_records_are_rejected() {
    let mut bytes = records(2);
    bytes.push(0);
    assert_records_rejected(&bytes, 2, "records still remaining");
    assert_records_rejected(&records(3), 2, "records still remaining");
}

#[test]
fn a_varint_longer_than_five_bytes_is_invalid() {
    let mut bytes = vec![0x80, 0x80, 0x80, 0x80, 0x80, 0x01];
    bytes.extend(records(1));
    assert_records_rejected(&bytes, 1, "varint is too long");
}

#[test]
fn a_record_whose_fields_do_not_fill_its_length_is_invalid() {
    let mut one = Vec::new();
    encode_record(
        &mut one,
        0,
        0,
        Some(b"k"),
        Some(b"v"),
        &[(b"h", Some(b"x"))],
    );
    // Declared length one byte longer, with a spare byte at the end.
    let mut longer = Vec::new();
    write_varint(&mut longer, one[0] as i32 / 2 + 1);
    longer.extend_from_slice(&one[1..]);
    longer.push(0);
    assert_records_rejected(&longer, 1, "Invalid record size: expected to read");
    // Declared length one byte shorter: the header's value runs past it.
    let mut shorter = Vec::new();
    write_varint(&mut shorter, one[0] as i32 / 2 - 1);
    shorter.extend_from_slice(&one[1..]);
    assert_records_rejected(&shorter, 1, "runs past the record's declared length");
    let mut negative = Vec::new();
    write_varint(&mut negative, -3);
    assert_records_rejected(&negative, 1, "Invalid record size");
}

/// One record body (attributes .. headers) framed by its length.
fn framed_record(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_varint(&mut out, body.len() as i32);
    out.extend_from_slice(body);
    out
}

#[test]
fn header_counts_and_header_keys_cannot_be_negative() {
    // attributes, timestamp delta 0, offset delta 0, null key, null value, header count -1
    let negative_count = framed_record(&[0, 0, 0, 1, 1, 1]);
    assert_records_rejected(&negative_count, 1, "invalid number of record headers -1");
    let too_many = framed_record(&[0, 0, 0, 1, 1, 20, 0]);
    assert_records_rejected(&too_many, 1, "larger than the remaining size");
    // one header whose key length is -1
    let null_key = framed_record(&[0, 0, 0, 1, 1, 2, 1, 1]);
    assert_records_rejected(&null_key, 1, "Invalid negative header key size -1");
}

#[test]
fn out_of_order_offset_deltas_are_record_errors() {
    let mut bytes = Vec::new();
    for delta in [0, 2, 1] {
        encode_record(&mut bytes, delta, 0, Some(b"k"), Some(b"v"), &[]);
    }
    let error = rejected(&custom(header(3), &bytes, Compression::Lz4), &config());
    assert_eq!(error.error, KafkaErrorCode::InvalidRecord);
    let indexes: Vec<i32> = error
        .record_errors
        .iter()
        .map(|record| record.record_index)
        .collect();
    assert_eq!(indexes, [1, 2]);
    assert!(error.record_errors[0]
        .message
        .contains("offset delta 2, expected 1"));
}

fn keyless(count: i32, missing: &[i32], timestamp_delta: impl Fn(i32) -> i64) -> Vec<u8> {
    let mut bytes = Vec::new();
    for index in 0..count {
        let key: Option<&[u8]> = if missing.contains(&index) {
            None
        } else {
            Some(b"")
        };
        encode_record(
            &mut bytes,
            index,
            timestamp_delta(index),
            key,
            Some(b"v"),
            &[],
        );
    }
    bytes
}

#[test]
fn compacted_topics_reject_each_record_without_a_key_and_accept_empty_keys() {
    let compacted = ValidationConfig {
        compacted: true,
        ..config()
    };
    for codec in [Compression::None, Compression::Gzip] {
        let bytes = custom(header(5), &keyless(5, &[1, 3], |_| 0), codec);
        let error = rejected(&bytes, &compacted);
        assert_eq!(error.error, KafkaErrorCode::InvalidRecord);
        assert!(
            error.message.starts_with(
                "One or more records have been rejected due to 2 record errors in total"
            ),
            "{error}"
        );
        assert_eq!(
            error.record_errors,
            [1, 3].map(|index| RecordError {
                batch_index: 0,
                record_index: index,
                message: "Compacted topic cannot accept message without key in topic partition"
                    .to_string(),
            })
        );
        assert!(validate_produce_batches(&bytes, &config(), NOW).is_ok());
    }
    let keyed = custom(header(3), &keyless(3, &[], |_| 0), Compression::None);
    assert!(validate_produce_batches(&keyed, &compacted, NOW).is_ok());
}

#[test]
fn create_time_timestamps_must_be_within_the_topic_bounds() {
    let bounded = ValidationConfig {
        timestamp_before_max_ms: 10_000,
        timestamp_after_max_ms: 5_000,
        ..config()
    };
    // Record timestamps: NOW - 10_000 (ok), NOW - 10_001 (too old), NOW + 5_000 (ok),
    // NOW + 5_001 (too new), and -1 (no timestamp: not checked).
    let timestamps = [NOW - 10_000, NOW - 10_001, NOW + 5_000, NOW + 5_001];
    let mut bytes = Vec::new();
    for (index, timestamp) in timestamps.iter().enumerate() {
        encode_record(
            &mut bytes,
            index as i32,
            timestamp - BASE_TIMESTAMP,
            None,
            Some(b"v"),
            &[],
        );
    }
    let error = rejected(&custom(header(4), &bytes, Compression::Snappy), &bounded);
    assert_eq!(error.error, KafkaErrorCode::InvalidTimestamp);
    assert_eq!(
        error.message,
        "One or more records have been rejected due to invalid timestamp"
    );
    let indexes: Vec<i32> = error
        .record_errors
        .iter()
        .map(|record| record.record_index)
        .collect();
    assert_eq!(indexes, [1, 3]);
    assert!(error.record_errors[0].message.contains(&format!(
        "[{}, {}]",
        NOW - 10_000,
        NOW + 5_000
    )));

    let mut no_timestamp_header = header(1);
    no_timestamp_header.base_timestamp = -1;
    let mut none = Vec::new();
    encode_record(&mut none, 0, 0, None, None, &[]);
    assert!(validate_produce_batches(
        &custom(no_timestamp_header, &none, Compression::None),
        &bounded,
        NOW
    )
    .is_ok());
}

#[test]
fn timestamp_errors_win_over_key_errors_and_all_are_listed() {
    let strict = ValidationConfig {
        compacted: true,
        timestamp_after_max_ms: 0,
        ..config()
    };
    let bytes = custom(
        header(3),
        &keyless(3, &[0], |index| if index == 2 { 2_000 } else { 0 }),
        Compression::None,
    );
    let error = rejected(&bytes, &strict);
    assert_eq!(error.error, KafkaErrorCode::InvalidTimestamp);
    assert_eq!(error.record_errors.len(), 2);
    assert!(error.record_errors[0].message.contains("without key"));
    assert!(error.record_errors[1].message.contains("out of range"));
}

#[test]
fn producers_may_not_send_log_append_time() {
    let mut header = header(2);
    header.attributes = TIMESTAMP_TYPE_ATTRIBUTE;
    header.base_timestamp = -1;
    header.max_timestamp = -1;
    let bytes = custom(header, &keyless(2, &[], |_| 0), Compression::None);
    let error = rejected(&bytes, &config());
    assert_eq!(error.error, KafkaErrorCode::InvalidTimestamp);
    assert!(error.record_errors[0]
        .message
        .contains("should not set timestamp type to LogAppendTime"));
    // Kafka's quirk: with a CreateTime topic and a real timestamp, the range check runs instead.
    let mut stamped = header;
    stamped.max_timestamp = NOW;
    assert!(validate_produce_batches(
        &custom(stamped, &keyless(2, &[], |_| 0), Compression::None),
        &config(),
        NOW
    )
    .is_ok());
}

#[test]
fn log_append_time_topics_skip_timestamp_checks_and_report_now() {
    let log_append = ValidationConfig {
        timestamp_type: TimestampType::LogAppendTime,
        timestamp_before_max_ms: 0,
        timestamp_after_max_ms: 0,
        ..config()
    };
    let summary = validate_produce_batches(&batch(4, Compression::Gzip), &log_append, NOW).unwrap();
    assert_eq!(summary.max_timestamp, NOW);
    assert_eq!(summary.max_timestamp_offset_delta, 3);
    assert_eq!(summary.batches[0].max_timestamp, BASE_TIMESTAMP + 3);
}

#[test]
fn an_append_over_segment_bytes_is_a_record_list_too_large() {
    let bytes = batch(10, Compression::None);
    let small = ValidationConfig {
        segment_bytes: bytes.len() as i32 - 1,
        ..config()
    };
    assert_rejected(
        &bytes,
        &small,
        KafkaErrorCode::RecordListTooLarge,
        "maximum configured segment size",
    );
}

#[test]
fn a_batch_that_decompresses_past_the_limit_is_too_large_with_bounded_work() {
    // 200 records of 1 MiB of zeros each: 200 MiB decompressed, a few kilobytes compressed.
    let zeros = vec![0u8; 1 << 20];
    let mut bytes = Vec::new();
    for index in 0..200 {
        encode_record(&mut bytes, index, 0, Some(b"k"), Some(&zeros), &[]);
    }
    let limited = ValidationConfig {
        decompressed_bytes_max: 16 << 20,
        ..config()
    };
    for codec in [Compression::Gzip, Compression::Zstd, Compression::Lz4] {
        let compressed = custom(header(200), &bytes, codec);
        assert!(compressed.len() < 1 << 20, "{codec}: {}", compressed.len());
        assert_rejected(
            &compressed,
            &limited,
            KafkaErrorCode::MessageTooLarge,
            "exceed the limit of 16777216 bytes",
        );
    }
}

#[test]
fn compressed_bytes_that_do_not_decompress_are_corrupt() {
    let mut header = header(1);
    header.attributes = 4; // zstd, written uncompressed below
    let garbage = custom(header, b"not a zstd frame at all", Compression::None);
    let garbage = patched(&garbage, |b| b[22] = 4);
    assert_rejected(
        &garbage,
        &config(),
        KafkaErrorCode::CorruptMessage,
        "invalid zstd data",
    );
    let mut truncated_records = compress(Compression::Gzip, &records(3), None).unwrap();
    truncated_records.truncate(truncated_records.len() / 2);
    let truncated = patched(
        &custom(self::header(3), &truncated_records, Compression::None),
        |b| b[22] = 1,
    );
    assert_rejected(
        &truncated,
        &config(),
        KafkaErrorCode::CorruptMessage,
        "invalid gzip data",
    );
}

#[test]
fn damage_anywhere_in_a_compressed_batch_never_panics() {
    for codec in Compression::ALL {
        let bytes = batch(4, codec);
        for position in 61..bytes.len() {
            for flip in [0x01, 0x80, 0xFF] {
                let damaged = patched(&bytes, |b| b[position] ^= flip);
                let _ = validate_produce_batches(&damaged, &config(), NOW);
            }
        }
        for length in 61..bytes.len() {
            let cut = patched(&bytes[..length], |b| {
                let size = (b.len() - 12) as i32;
                b[8..12].copy_from_slice(&size.to_be_bytes());
            });
            assert!(
                validate_produce_batches(&cut, &config(), NOW).is_err(),
                "{codec} cut at {length}"
            );
        }
    }
}

#[test]
fn error_codes_and_names_are_kafkas() {
    let table = [
        (KafkaErrorCode::CorruptMessage, 2, "CORRUPT_MESSAGE"),
        (KafkaErrorCode::MessageTooLarge, 10, "MESSAGE_TOO_LARGE"),
        (
            KafkaErrorCode::RecordListTooLarge,
            18,
            "RECORD_LIST_TOO_LARGE",
        ),
        (KafkaErrorCode::InvalidTimestamp, 32, "INVALID_TIMESTAMP"),
        (
            KafkaErrorCode::UnsupportedForMessageFormat,
            43,
            "UNSUPPORTED_FOR_MESSAGE_FORMAT",
        ),
        (
            KafkaErrorCode::UnsupportedCompressionType,
            76,
            "UNSUPPORTED_COMPRESSION_TYPE",
        ),
        (KafkaErrorCode::InvalidRecord, 87, "INVALID_RECORD"),
    ];
    for (error, code, name) in table {
        assert_eq!((error.code(), error.name()), (code, name));
    }
}

// --- magic 0 and 1 ----------------------------------------------------------------------

/// One legacy entry: offset, size, CRC-32, magic, attributes, [timestamp], key, value.
fn legacy_entry(
    offset: i64,
    magic: i8,
    attributes: u8,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Vec<u8> {
    let mut message = vec![magic as u8, attributes];
    if magic >= 1 {
        message.extend_from_slice(&timestamp.to_be_bytes());
    }
    for field in [key, value] {
        match field {
            None => message.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(bytes) => {
                message.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                message.extend_from_slice(bytes);
            }
        }
    }
    let mut crc = flate2::Crc::new();
    crc.update(&message);
    let mut entry = offset.to_be_bytes().to_vec();
    entry.extend_from_slice(&((message.len() + 4) as i32).to_be_bytes());
    entry.extend_from_slice(&crc.sum().to_be_bytes());
    entry.extend_from_slice(&message);
    entry
}

/// A decoded record: timestamp, key, value.
type Decoded = (i64, Option<Vec<u8>>, Option<Vec<u8>>);

fn v2_of(summary: &ValidationSummary) -> Vec<Decoded> {
    let converted = summary.converted.as_ref().expect("a converted batch");
    assert_eq!(validate_record_batch_crc(converted), Ok(()));
    // The converted batch is itself a valid produce of today.
    let again = validate_produce_batches(converted, &config(), NOW).unwrap();
    assert_eq!(again.record_count, summary.record_count);
    let view = RecordBatchView::new(converted).unwrap();
    let records = crate::compression::decompress_records(&view, u64::MAX).unwrap();
    let mut out = Vec::new();
    let mut rest = &records[..];
    while !rest.is_empty() {
        let (record, next) = decode_record_for_test(rest, view.base_timestamp());
        out.push(record);
        rest = next;
    }
    out
}

/// Decodes one record fully (test only): (timestamp, key, value).
#[allow(clippy::type_complexity)]
fn decode_record_for_test(
    bytes: &[u8],
    base_timestamp: i64,
) -> ((i64, Option<Vec<u8>>, Option<Vec<u8>>), &[u8]) {
    fn varint(bytes: &mut &[u8]) -> i64 {
        let mut value = 0u64;
        let mut shift = 0;
        loop {
            let byte = bytes[0];
            *bytes = &bytes[1..];
            value |= u64::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                return ((value >> 1) as i64) ^ -((value & 1) as i64);
            }
            shift += 7;
        }
    }
    fn field(bytes: &mut &[u8]) -> Option<Vec<u8>> {
        let length = varint(bytes);
        if length < 0 {
            return None;
        }
        let (field, rest) = bytes.split_at(length as usize);
        *bytes = rest;
        Some(field.to_vec())
    }
    let mut cursor = bytes;
    let length = varint(&mut cursor) as usize;
    let rest = &cursor[length..];
    cursor = &cursor[1..]; // attributes
    let timestamp = base_timestamp + varint(&mut cursor);
    let _offset_delta = varint(&mut cursor);
    let key = field(&mut cursor);
    let value = field(&mut cursor);
    ((timestamp, key, value), rest)
}

#[test]
fn uncompressed_magic_0_and_1_message_sets_are_converted_to_one_batch_v2() {
    let v2 = ValidationConfig {
        produce_version: 2,
        ..config()
    };
    let mut set = Vec::new();
    set.extend(legacy_entry(0, 1, 0, NOW - 5, Some(b"a"), Some(b"one")));
    set.extend(legacy_entry(1, 1, 0, NOW - 9, None, Some(b"two")));
    set.extend(legacy_entry(2, 1, 0, NOW - 1, Some(b"c"), None));
    let summary = validate_produce_batches(&set, &v2, NOW).unwrap();
    assert_eq!(summary.record_count, 3);
    assert_eq!(summary.valid_bytes, set.len());
    assert_eq!(summary.max_timestamp, NOW - 1);
    assert_eq!(summary.max_timestamp_offset_delta, 2);
    assert_eq!(summary.batches[0].producer_id, -1);
    assert_eq!(
        v2_of(&summary),
        [
            (NOW - 5, Some(b"a".to_vec()), Some(b"one".to_vec())),
            (NOW - 9, None, Some(b"two".to_vec())),
            (NOW - 1, Some(b"c".to_vec()), None),
        ]
    );
    let magic_0 = legacy_entry(0, 0, 0, 0, Some(b"k"), Some(b"v"));
    let summary = validate_produce_batches(&magic_0, &v2, NOW).unwrap();
    assert_eq!(
        v2_of(&summary),
        [(-1, Some(b"k".to_vec()), Some(b"v".to_vec()))]
    );
}

#[test]
fn compressed_legacy_wrappers_are_converted_keeping_their_codec() {
    let v1 = ValidationConfig {
        produce_version: 1,
        ..config()
    };
    for (codec, magic) in [
        (Compression::Gzip, 1),
        (Compression::Snappy, 1),
        (Compression::Lz4, 1),
        (Compression::Gzip, 0),
    ] {
        let mut inner = Vec::new();
        for index in 0..3i64 {
            inner.extend(legacy_entry(
                index,
                magic,
                0,
                NOW - index,
                Some(b"k"),
                Some(format!("v{index}").as_bytes()),
            ));
        }
        let compressed = compress(codec, &inner, None).unwrap();
        let wrapper = legacy_entry(2, magic, codec.id(), NOW, None, Some(&compressed));
        let summary = validate_produce_batches(&wrapper, &v1, NOW).unwrap();
        assert_eq!(summary.source_compression, codec);
        assert_eq!(summary.batches[0].compression, codec);
        let timestamp = |index: i64| if magic == 0 { -1 } else { NOW - index };
        assert_eq!(
            v2_of(&summary),
            (0..3)
                .map(|index| (
                    timestamp(index),
                    Some(b"k".to_vec()),
                    Some(format!("v{index}").into_bytes())
                ))
                .collect::<Vec<_>>(),
            "{codec} magic {magic}"
        );
    }
}

#[test]
fn legacy_messages_are_checked_like_kafka_does() {
    let v2 = ValidationConfig {
        produce_version: 2,
        ..config()
    };
    let mut bad_crc = legacy_entry(0, 1, 0, NOW, Some(b"k"), Some(b"v"));
    let last = bad_crc.len() - 1;
    bad_crc[last] ^= 1;
    assert_rejected(
        &bad_crc,
        &v2,
        KafkaErrorCode::CorruptMessage,
        "Record is corrupt",
    );

    let compacted = ValidationConfig {
        compacted: true,
        ..v2.clone()
    };
    let mut set = legacy_entry(0, 1, 0, NOW, Some(b"k"), Some(b"v"));
    set.extend(legacy_entry(1, 1, 0, NOW, None, Some(b"v")));
    let error = rejected(&set, &compacted);
    assert_eq!(error.error, KafkaErrorCode::InvalidRecord);
    assert_eq!(error.record_errors[0].batch_index, 1);

    let mut mixed = legacy_entry(0, 0, 0, 0, Some(b"k"), Some(b"v"));
    mixed.extend(legacy_entry(1, 1, 0, NOW, Some(b"k"), Some(b"v")));
    assert_rejected(
        &mixed,
        &v2,
        KafkaErrorCode::InvalidRecord,
        "not the same as the first batch's magic",
    );

    let nested = legacy_entry(
        0,
        1,
        1,
        NOW,
        None,
        Some(&compress(Compression::Gzip, b"x", None).unwrap()),
    );
    let inner_compressed = compress(Compression::Gzip, &nested, None).unwrap();
    let wrapper = legacy_entry(0, 1, 1, NOW, None, Some(&inner_compressed));
    let error = rejected(&wrapper, &v2);
    assert!(
        error.record_errors[0]
            .message
            .contains("should not have an inner record with a compression attribute"),
        "{error}"
    );

    let zstd = legacy_entry(0, 1, 4, NOW, None, Some(b"anything"));
    assert_rejected(
        &zstd,
        &v2,
        KafkaErrorCode::UnsupportedCompressionType,
        "ZStandard",
    );
    let null_wrapper = legacy_entry(0, 1, 1, NOW, None, None);
    assert_rejected(
        &null_wrapper,
        &v2,
        KafkaErrorCode::InvalidRecord,
        "null value",
    );
    let empty = legacy_entry(
        0,
        1,
        1,
        NOW,
        None,
        Some(&compress(Compression::Gzip, b"", None).unwrap()),
    );
    assert_rejected(
        &empty,
        &v2,
        KafkaErrorCode::InvalidRecord,
        "no inner records",
    );
}

#[test]
fn a_converted_batch_over_max_message_bytes_is_too_large() {
    let v2 = ValidationConfig {
        produce_version: 2,
        max_message_bytes: 60,
        ..config()
    };
    let entry = legacy_entry(0, 1, 0, NOW, Some(b"k"), Some(b"v"));
    assert!(entry.len() <= 60);
    assert_rejected(
        &entry,
        &v2,
        KafkaErrorCode::MessageTooLarge,
        "Message batch size is",
    );
}
