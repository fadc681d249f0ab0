//! Test helpers: record batches built field by field, small log configs, temp logs.
#![allow(dead_code)]

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use sluice_storage::background::LogResources;
use sluice_storage::checkpoint::TopicPartition;
use sluice_storage::config::LogConfig;
use sluice_storage::crc32c::crc32c;
use sluice_storage::log::{AppendInfo, AppendOptions, Log, OpenOptions, OpenReport};

pub const NOW_MS: i64 = 1_700_000_000_000;

fn put_varint(out: &mut Vec<u8>, value: i64) {
    let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
    while zigzag >= 0x80 {
        out.push((zigzag as u8) | 0x80);
        zigzag >>= 7;
    }
    out.push(zigzag as u8);
}

/// An uncompressed v2 batch of records `(timestamp, value)`, base offset 0, CreateTime.
pub fn batch(records: &[(i64, Vec<u8>)]) -> Vec<u8> {
    assert!(!records.is_empty());
    let base_timestamp = records[0].0;
    let max_timestamp = records.iter().map(|record| record.0).max().unwrap();
    let mut body = Vec::new();
    for (delta, (timestamp, value)) in records.iter().enumerate() {
        let mut record = vec![0u8]; // attributes
        put_varint(&mut record, timestamp - base_timestamp);
        put_varint(&mut record, delta as i64);
        put_varint(&mut record, -1); // null key
        put_varint(&mut record, value.len() as i64);
        record.extend_from_slice(value);
        put_varint(&mut record, 0); // no headers
        put_varint(&mut body, record.len() as i64);
        body.extend_from_slice(&record);
    }
    let batch_length = (61 - 12 + body.len()) as i32;
    let mut out = Vec::with_capacity(61 + body.len());
    out.extend_from_slice(&0i64.to_be_bytes());
    out.extend_from_slice(&batch_length.to_be_bytes());
    out.extend_from_slice(&(-1i32).to_be_bytes()); // partition leader epoch
    out.push(2);
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&0i16.to_be_bytes());
    out.extend_from_slice(&((records.len() - 1) as i32).to_be_bytes());
    out.extend_from_slice(&base_timestamp.to_be_bytes());
    out.extend_from_slice(&max_timestamp.to_be_bytes());
    out.extend_from_slice(&(-1i64).to_be_bytes());
    out.extend_from_slice(&(-1i16).to_be_bytes());
    out.extend_from_slice(&(-1i32).to_be_bytes());
    out.extend_from_slice(&(records.len() as i32).to_be_bytes());
    out.extend_from_slice(&body);
    let crc = crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    out
}

/// A batch of `count` records of `value_bytes` each, all at `timestamp`.
pub fn batch_of(count: usize, value_bytes: usize, timestamp: i64) -> Vec<u8> {
    let records: Vec<(i64, Vec<u8>)> = (0..count)
        .map(|index| (timestamp, vec![(index % 251) as u8; value_bytes]))
        .collect();
    batch(&records)
}

pub fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 64 * 1024,
        segment_index_bytes: 4096,
        index_interval_bytes: 512,
        preallocate_chunk_bytes: 16 * 1024,
        ..LogConfig::default()
    }
}

pub fn partition() -> TopicPartition {
    TopicPartition::new("orders", 0)
}

pub fn open(directory: &Path, config: LogConfig, options: OpenOptions) -> (Log, OpenReport) {
    open_with(directory, config, options, LogResources::with_defaults())
}

pub fn open_with(
    directory: &Path,
    config: LogConfig,
    options: OpenOptions,
    resources: Arc<LogResources>,
) -> (Log, OpenReport) {
    Log::open(
        directory,
        partition(),
        config,
        resources,
        options,
        &AtomicU64::new(0),
    )
    .unwrap()
}

pub fn fresh(directory: &Path, config: LogConfig) -> Log {
    open(directory, config, OpenOptions::fresh(NOW_MS)).0
}

pub fn clean(recovery_point: i64, log_start_offset: i64) -> OpenOptions {
    OpenOptions {
        recovery_point,
        log_start_offset,
        had_clean_shutdown: true,
        now_ms: NOW_MS,
    }
}

pub fn unclean(recovery_point: i64) -> OpenOptions {
    OpenOptions {
        recovery_point,
        log_start_offset: 0,
        had_clean_shutdown: false,
        now_ms: NOW_MS,
    }
}

pub fn append(log: &mut Log, batch: &[u8]) -> AppendInfo {
    let mut bytes = batch.to_vec();
    log.append(&mut bytes, &AppendOptions::leader(NOW_MS, 0))
        .unwrap()
}

/// Base offsets and record counts of the batches in `bytes`.
pub fn batch_offsets(bytes: &[u8]) -> Vec<(i64, i64)> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < bytes.len() {
        let base = i64::from_be_bytes(bytes[at..at + 8].try_into().unwrap());
        let length = i32::from_be_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        let delta = i32::from_be_bytes(bytes[at + 23..at + 27].try_into().unwrap());
        out.push((base, base + i64::from(delta)));
        at += 12 + length;
    }
    assert_eq!(at, bytes.len(), "whole batches only");
    out
}

/// `batch_of(count, value_bytes, timestamp)` from an idempotent producer: producer id,
/// epoch and base sequence set (CRC recomputed).
pub fn producer_batch(
    producer_id: i64,
    epoch: i16,
    base_sequence: i32,
    count: usize,
    timestamp: i64,
) -> Vec<u8> {
    let mut out = batch_of(count, 20, timestamp);
    out[43..51].copy_from_slice(&producer_id.to_be_bytes());
    out[51..53].copy_from_slice(&epoch.to_be_bytes());
    out[53..57].copy_from_slice(&base_sequence.to_be_bytes());
    let crc = crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    out
}
