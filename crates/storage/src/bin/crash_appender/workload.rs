//! What `crash_appender` writes and how `tests/crash.rs` checks it: the log configuration,
//! the command line, and records whose every byte follows from their offset.
//!
//! Shared by the binary and the test (the test includes this file with `#[path]`), so the
//! two cannot disagree on the configuration or on the expected bytes.
//!
//! A record at offset `o` (batch format v2, uncompressed, no headers):
//!
//! ```text
//! timestamp   FIRST_TIMESTAMP_MS + o
//! key         o as 8 bytes big-endian
//! value       value_len(o) bytes, byte i = value_byte(o, i)
//! ```
//!
//! The progress file holds two big-endian i64s, rewritten by one `pwrite` each: the log end
//! offset the append in flight will reach, and the log end offset of the last append that
//! returned. It lives in the page cache, which a SIGKILL does not lose.
#![allow(dead_code)]

use std::collections::HashMap;

use sluice_storage::checkpoint::TopicPartition;
use sluice_storage::config::LogConfig;
use sluice_storage::crc32c::crc32c;
use sluice_storage::record_batch::RecordBatchView;

pub const TOPIC: &str = "crash";
/// The timestamp of offset 0.
pub const FIRST_TIMESTAMP_MS: i64 = 1_700_000_000_000;
/// Records stop being added to a batch once its records pass this many bytes.
pub const MAX_BATCH_RECORD_BYTES: usize = 48 * 1024;
pub const MAX_RECORDS_PER_BATCH: u64 = 64;

pub fn partition() -> TopicPartition {
    TopicPartition::new(TOPIC, 0)
}

/// One run of the appender: where, how the log is configured, and how it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// The log directory (`log.dirs` entry); the partition is `<dir>/crash-0`.
    pub dir: String,
    /// The progress file (see the module comment).
    pub progress: String,
    pub seed: u64,
    /// Stamped on every batch: the test bumps it per run, as a new leader would.
    pub leader_epoch: i32,
    /// `Log::flush` after this many batches.
    pub flush_every: u64,
    /// Delete segments over `retention.bytes` and write the log-dir checkpoints after
    /// every this many flushes.
    pub checkpoint_every: u64,
    pub segment_bytes: u32,
    pub segment_index_bytes: u32,
    pub index_interval_bytes: u32,
    pub retention_bytes: i64,
    pub preallocate_chunk_bytes: u32,
}

impl Params {
    pub fn new(dir: String, progress: String) -> Self {
        Self {
            dir,
            progress,
            seed: 1,
            leader_epoch: 0,
            flush_every: 16,
            checkpoint_every: 4,
            segment_bytes: 256 * 1024,
            // 256 offset / 170 time index entries: some segments roll on a full index.
            segment_index_bytes: 2048,
            index_interval_bytes: 1024,
            retention_bytes: 1024 * 1024,
            preallocate_chunk_bytes: 64 * 1024,
        }
    }

    pub fn config(&self) -> LogConfig {
        LogConfig {
            segment_bytes: self.segment_bytes,
            segment_index_bytes: self.segment_index_bytes,
            index_interval_bytes: self.index_interval_bytes,
            retention_bytes: self.retention_bytes,
            preallocate_chunk_bytes: self.preallocate_chunk_bytes,
            ..LogConfig::default()
        }
    }

    pub fn to_args(&self) -> Vec<String> {
        let pairs: [(&str, String); 11] = [
            ("dir", self.dir.clone()),
            ("progress", self.progress.clone()),
            ("seed", self.seed.to_string()),
            ("leader-epoch", self.leader_epoch.to_string()),
            ("flush-every", self.flush_every.to_string()),
            ("checkpoint-every", self.checkpoint_every.to_string()),
            ("segment-bytes", self.segment_bytes.to_string()),
            ("segment-index-bytes", self.segment_index_bytes.to_string()),
            (
                "index-interval-bytes",
                self.index_interval_bytes.to_string(),
            ),
            ("retention-bytes", self.retention_bytes.to_string()),
            (
                "preallocate-chunk-bytes",
                self.preallocate_chunk_bytes.to_string(),
            ),
        ];
        pairs
            .into_iter()
            .flat_map(|(key, value)| [format!("--{key}"), value])
            .collect()
    }

    pub fn from_args(args: &[String]) -> Result<Self, String> {
        if !args.len().is_multiple_of(2) {
            return Err("arguments come in --key value pairs".into());
        }
        let mut map = HashMap::new();
        for pair in args.chunks(2) {
            let key = pair[0]
                .strip_prefix("--")
                .ok_or_else(|| format!("expected --key, got {}", pair[0]))?;
            map.insert(key.to_string(), pair[1].clone());
        }
        let text = |key: &str| {
            map.get(key)
                .cloned()
                .ok_or_else(|| format!("missing --{key}"))
        };
        fn number<T: std::str::FromStr>(key: &str, value: String) -> Result<T, String> {
            value
                .parse()
                .map_err(|_| format!("--{key}: not a number: {value}"))
        }
        let mut params = Self::new(text("dir")?, text("progress")?);
        params.seed = number("seed", text("seed")?)?;
        params.leader_epoch = number("leader-epoch", text("leader-epoch")?)?;
        params.flush_every = number("flush-every", text("flush-every")?)?;
        params.checkpoint_every = number("checkpoint-every", text("checkpoint-every")?)?;
        params.segment_bytes = number("segment-bytes", text("segment-bytes")?)?;
        params.segment_index_bytes = number("segment-index-bytes", text("segment-index-bytes")?)?;
        params.index_interval_bytes =
            number("index-interval-bytes", text("index-interval-bytes")?)?;
        params.retention_bytes = number("retention-bytes", text("retention-bytes")?)?;
        params.preallocate_chunk_bytes =
            number("preallocate-chunk-bytes", text("preallocate-chunk-bytes")?)?;
        if params.flush_every == 0 || params.checkpoint_every == 0 {
            return Err("--flush-every and --checkpoint-every must be positive".into());
        }
        Ok(params)
    }
}

/// SplitMix64: a tiny deterministic generator (no `rand` dependency).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `[low, high]`.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low + 1)
    }

    /// True with probability `1 / n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.next_u64().is_multiple_of(n)
    }
}

fn mix(seed: u64) -> u64 {
    let mut z = seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn offset_hash(offset: i64) -> u64 {
    mix((offset as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5EED_CAFE)
}

/// Value length of the record at `offset`: mostly 0..300 bytes, one in 16 1000..4000.
pub fn value_len(offset: i64) -> usize {
    let hash = offset_hash(offset);
    if hash.is_multiple_of(16) {
        1000 + ((hash >> 8) % 3000) as usize
    } else {
        ((hash >> 8) % 300) as usize
    }
}

pub fn value_byte(offset: i64, index: usize) -> u8 {
    (offset_hash(offset).rotate_left((index % 64) as u32) as u8) ^ (index as u8)
}

pub fn timestamp_of(offset: i64) -> i64 {
    FIRST_TIMESTAMP_MS + offset
}

fn put_varint(out: &mut Vec<u8>, value: i64) {
    let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
    while zigzag >= 0x80 {
        out.push((zigzag as u8) | 0x80);
        zigzag >>= 7;
    }
    out.push(zigzag as u8);
}

fn read_varint(bytes: &[u8], at: &mut usize) -> Result<i64, String> {
    let mut value: u64 = 0;
    let mut shift = 0;
    loop {
        let byte = *bytes
            .get(*at)
            .ok_or_else(|| format!("varint runs past the records at {at}"))?;
        *at += 1;
        value |= u64::from(byte & 0x7F) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return Err("varint too long".into());
        }
    }
    Ok((value >> 1) as i64 ^ -((value & 1) as i64))
}

/// Appends to `out` one batch holding the records of offsets `base..base + n`, where `n`
/// is at most `max_records` (fewer if the records pass [`MAX_BATCH_RECORD_BYTES`]);
/// returns `n`.
pub fn build_batch(base: i64, max_records: u64, out: &mut Vec<u8>) -> i64 {
    let mut body = Vec::new();
    let mut count: i64 = 0;
    let mut record = Vec::new();
    while (count as u64) < max_records.max(1) && body.len() < MAX_BATCH_RECORD_BYTES {
        let offset = base + count;
        record.clear();
        record.push(0); // attributes
        put_varint(&mut record, count); // timestamp delta
        put_varint(&mut record, count); // offset delta
        put_varint(&mut record, 8);
        record.extend_from_slice(&offset.to_be_bytes());
        let length = value_len(offset);
        put_varint(&mut record, length as i64);
        record.extend((0..length).map(|index| value_byte(offset, index)));
        put_varint(&mut record, 0); // no headers
        put_varint(&mut body, record.len() as i64);
        body.extend_from_slice(&record);
        count += 1;
    }
    let start = out.len();
    let batch_length = (61 - 12 + body.len()) as i32;
    out.extend_from_slice(&base.to_be_bytes());
    out.extend_from_slice(&batch_length.to_be_bytes());
    out.extend_from_slice(&(-1i32).to_be_bytes()); // partition leader epoch (the log sets it)
    out.push(2); // magic
    out.extend_from_slice(&0u32.to_be_bytes()); // crc, below
    out.extend_from_slice(&0i16.to_be_bytes()); // attributes: CreateTime, uncompressed
    out.extend_from_slice(&((count - 1) as i32).to_be_bytes());
    out.extend_from_slice(&timestamp_of(base).to_be_bytes());
    out.extend_from_slice(&timestamp_of(base + count - 1).to_be_bytes());
    out.extend_from_slice(&(-1i64).to_be_bytes()); // producer id
    out.extend_from_slice(&(-1i16).to_be_bytes()); // producer epoch
    out.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    out.extend_from_slice(&(count as i32).to_be_bytes());
    out.extend_from_slice(&body);
    let crc = crc32c(&out[start + 21..]);
    out[start + 17..start + 21].copy_from_slice(&crc.to_be_bytes());
    count
}

/// Checks one whole batch as read back from the log: framing, CRC, header fields and every
/// byte of every record. Returns `(base offset, last offset, partition leader epoch)`.
pub fn check_batch(bytes: &[u8]) -> Result<(i64, i64, i32), String> {
    let view = RecordBatchView::new(bytes).map_err(|error| error.to_string())?;
    view.validate_crc().map_err(|error| error.to_string())?;
    let base = view.base_offset();
    let last = base + i64::from(view.last_offset_delta());
    let context = |what: String| format!("batch at offset {base}: {what}");
    if view.attributes() != 0 {
        return Err(context(format!("attributes {}", view.attributes())));
    }
    if i64::from(view.records_count()) != last - base + 1 {
        return Err(context(format!(
            "{} records for last offset delta {}",
            view.records_count(),
            view.last_offset_delta()
        )));
    }
    if view.base_timestamp() != timestamp_of(base) || view.max_timestamp() != timestamp_of(last) {
        return Err(context(format!(
            "timestamps {} / {}",
            view.base_timestamp(),
            view.max_timestamp()
        )));
    }
    if view.producer_id() != -1 || view.producer_epoch() != -1 || view.base_sequence() != -1 {
        return Err(context("producer fields".into()));
    }
    let records = view.records_bytes();
    let mut at = 0usize;
    for delta in 0..=(last - base) {
        let offset = base + delta;
        let length = read_varint(records, &mut at)?;
        let start = at;
        let record_context = |what: &str| context(format!("record {offset}: {what}"));
        if records.get(at) != Some(&0) {
            return Err(record_context("attributes"));
        }
        at += 1;
        if read_varint(records, &mut at)? != delta || read_varint(records, &mut at)? != delta {
            return Err(record_context("timestamp or offset delta"));
        }
        if read_varint(records, &mut at)? != 8
            || records.get(at..at + 8) != Some(&offset.to_be_bytes()[..])
        {
            return Err(record_context("key"));
        }
        at += 8;
        let value_length = read_varint(records, &mut at)?;
        if value_length != value_len(offset) as i64 {
            return Err(record_context("value length"));
        }
        let value = records
            .get(at..at + value_length as usize)
            .ok_or_else(|| record_context("value runs past the batch"))?;
        if value
            .iter()
            .enumerate()
            .any(|(index, &byte)| byte != value_byte(offset, index))
        {
            return Err(record_context("value bytes"));
        }
        at += value_length as usize;
        if read_varint(records, &mut at)? != 0 {
            return Err(record_context("headers"));
        }
        if at - start != length as usize {
            return Err(record_context("record length"));
        }
    }
    if at != records.len() {
        return Err(context("bytes after the last record".into()));
    }
    Ok((base, last, view.partition_leader_epoch()))
}

/// Encodes the progress file: `(in-flight end, acknowledged end)`.
pub fn encode_progress(pending: i64, acked: i64) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&pending.to_be_bytes());
    bytes[8..].copy_from_slice(&acked.to_be_bytes());
    bytes
}

pub fn decode_progress(bytes: &[u8]) -> Option<(i64, i64)> {
    let pending = i64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
    let acked = i64::from_be_bytes(bytes.get(8..16)?.try_into().ok()?);
    Some((pending, acked))
}
