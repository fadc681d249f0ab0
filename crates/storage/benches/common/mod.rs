//! What the storage benches share: building uncompressed record batches v2 by hand, and
//! opening a log of partition `bench-<n>`.

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use sluice_storage::background::LogResources;
use sluice_storage::checkpoint::TopicPartition;
use sluice_storage::config::LogConfig;
use sluice_storage::log::{Log, OpenOptions};

pub const NOW_MS: i64 = 1_700_000_000_000;

/// Zigzag varint, as records encode their lengths and deltas.
pub fn put_varint(out: &mut Vec<u8>, value: i64) {
    let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
    while zigzag >= 0x80 {
        out.push((zigzag as u8) | 0x80);
        zigzag >>= 7;
    }
    out.push(zigzag as u8);
}

/// One record: offset delta `index`, the key (None: null), a value of `value_bytes` bytes.
pub fn put_record(body: &mut Vec<u8>, index: i32, key: Option<&[u8]>, value_bytes: usize) {
    let mut record = vec![0u8]; // attributes
    put_varint(&mut record, 0); // timestamp delta
    put_varint(&mut record, i64::from(index)); // offset delta
    match key {
        Some(key) => {
            put_varint(&mut record, key.len() as i64);
            record.extend_from_slice(key);
        }
        None => put_varint(&mut record, -1),
    }
    put_varint(&mut record, value_bytes as i64);
    record.resize(record.len() + value_bytes, b'v');
    put_varint(&mut record, 0); // no headers
    put_varint(body, record.len() as i64);
    body.extend_from_slice(&record);
}

/// The batch header (base offset 0, timestamps NOW_MS, no producer) over `count` records, with its CRC32C.
pub fn finish_batch(body: &[u8], count: i32) -> Vec<u8> {
    let mut out = Vec::with_capacity(61 + body.len());
    out.extend_from_slice(&0i64.to_be_bytes());
    out.extend_from_slice(&((49 + body.len()) as i32).to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    out.push(2);
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&0i16.to_be_bytes());
    out.extend_from_slice(&(count - 1).to_be_bytes());
    out.extend_from_slice(&NOW_MS.to_be_bytes());
    out.extend_from_slice(&NOW_MS.to_be_bytes());
    out.extend_from_slice(&(-1i64).to_be_bytes());
    out.extend_from_slice(&(-1i16).to_be_bytes());
    out.extend_from_slice(&(-1i32).to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(body);
    let crc = sluice_storage::crc32c::crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    out
}

/// Opens (or creates) partition `bench-<partition>` under `directory` with `segment_bytes` segments.
pub fn open_log(
    directory: &Path,
    partition: i32,
    segment_bytes: u32,
    resources: &Arc<LogResources>,
    options: OpenOptions,
) -> Log {
    let partition = TopicPartition::new("bench", partition);
    let config = LogConfig {
        segment_bytes,
        ..LogConfig::default()
    };
    Log::open(
        &directory.join(partition.directory_name()),
        partition,
        config,
        resources.clone(),
        options,
        &AtomicU64::new(0),
    )
    .unwrap()
    .0
}
