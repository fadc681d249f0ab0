//! The log cleaner: compaction of `cleanup.policy=compact` logs, after Kafka 4.x's
//! `Cleaner`, `LogCleanerManager.cleanableOffsets`, `LogToClean`, `SkimpyOffsetMap`,
//! `CleanedTransactionMetadata` and `MemoryRecords.filterTo`.
//!
//! A clean has three steps, so the log's lock (`Mutex<Option<Log>>` in the binding) is only
//! held for short critical sections and never across the clean's I/O:
//!
//! 1. [`Log::cleanable`](crate::log::Log::cleanable) (under the lock, in-memory segment
//!    metadata): the dirty range `[first dirty, first uncleanable)`, its bytes and dirty
//!    ratio, whether `max.compaction.lag.ms` forces a clean. The scheduler picks the
//!    dirtiest log.
//! 2. [`Log::prepare_clean`](crate::log::Log::prepare_clean) (under the lock): a
//!    [`CleanPlan`] holding file slices of every segment below the first uncleanable
//!    offset (a slice keeps its bytes readable whatever retention or truncation does), the
//!    aborted transactions of the range and each producer's last offsets.
//!    [`clean`] (no lock): builds the offset map of the dirty range, then rewrites the
//!    segments in groups of at most `segment.bytes` into `<base>.{log,index,timeindex,
//!    txnindex}.cleaned`, fsynced.
//! 3. [`Log::commit_clean`](crate::log::Log::commit_clean) (under the lock): checks the
//!    replaced segments are still the ones the plan read (else abandons the clean and
//!    deletes its files), renames `.cleaned` → `.swap`, retires the old segments
//!    (`.deleted`, as retention does: readers' slices keep reading), renames `.swap` → the
//!    final names and puts the new segments in the map.
//!
//! ```text
//! <topic>-<partition>/
//!   <base>.log.cleaned, .index.cleaned, .timeindex.cleaned, .txnindex.cleaned
//!                          a clean in progress; deleted on open (Kafka's LogLoader too)
//!   <base>.log.swap, …     a committed clean not finished by a crash: on open the
//!                          segments in [base, next offset of the swap) are deleted and
//!                          the .log.swap renamed .log; index .swap files are deleted and
//!                          rebuilt from the log (Kafka's LogLoader rules)
//! <log.dir>/cleaner-offset-checkpoint   0\n<count>\n<topic> <partition> <first dirty offset>\n…
//! ```
//!
//! Retention rules (`Cleaner.cleanInto`, `shouldRetainRecord`, `MemoryRecords.filterTo`):
//! a record is kept when its offset is past the map's last offset, or its key's latest
//! offset in the map is not above it (a key missing from the map counts as -1); a null
//! key below the map's last offset is an invalid message and dropped. A tombstone (null
//! value) or a marker of a transaction with no data left is kept until its batch's delete
//! horizon (KIP-534): the first clean that keeps one rewrites its batch with the
//! delete-horizon attribute bit and `baseTimestamp = now + delete.retention.ms`; a later
//! clean at or after that time drops it. Records of aborted transactions are dropped;
//! markers go once their transaction has no batch left (`CleanedTransactionMetadata`).
//! A batch keeping every record is copied byte for byte; otherwise it is rebuilt with the
//! same base offset, last offset delta (so the producer's last sequence survives), producer
//! fields, leader epoch, attributes and codec. A batch holding the last data of a live
//! idempotent producer, or the last batch before the first uncleanable offset, is kept even
//! when empty (a 61-byte batch with no record).

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::checkpoint::{read_offset_checkpoint, write_offset_checkpoint, TopicPartition};
use crate::compression::{self, Compression};
use crate::end_txn_marker::EndTransactionMarker;
use crate::log::LogError;
use crate::offset_index::relative_offset;
use crate::record_batch::{RecordBatchView, HEADER_BYTES, TIMESTAMP_TYPE_ATTRIBUTE};
use crate::segment::{
    segment_file_name, BatchHeader, FileSlice, SegmentFile, INDEX_SUFFIX, LOG_SUFFIX,
    TIME_INDEX_SUFFIX,
};
use crate::transaction_index::{AbortedTxn, TXN_INDEX_SUFFIX};

/// Suffix of a segment's files while a clean writes them (Kafka's `CleanedFileSuffix`).
pub const CLEANED_SUFFIX: &str = ".cleaned";
/// Suffix of a cleaned segment's files between commit and rename (Kafka's `SwapFileSuffix`).
pub const SWAP_SUFFIX: &str = ".swap";
/// The log directory's checkpoint of each partition's first dirty offset.
pub const CLEANER_OFFSET_CHECKPOINT: &str = "cleaner-offset-checkpoint";
/// Attribute bit 6: `baseTimestamp` is the batch's delete horizon (KIP-534).
pub const DELETE_HORIZON_ATTRIBUTE: i16 = 0x40;
/// Kafka's `log.cleaner.io.buffer.load.factor`: the offset map is full at 90% of its slots.
pub const OFFSET_MAP_LOAD_FACTOR: f64 = 0.9;
/// Bytes per offset map slot: a 16-byte key hash and an 8-byte offset (SkimpyOffsetMap with
/// MD5's 16 bytes).
pub const OFFSET_MAP_SLOT_BYTES: usize = 24;

/// A topic's compaction settings (Kafka's topic configs of the same names).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompactionConfig {
    /// `min.cleanable.dirty.ratio`: clean when dirty bytes / total bytes pass this. 0.5.
    pub min_cleanable_dirty_ratio: f64,
    /// `min.compaction.lag.ms`: a segment with a record newer than this is not cleaned. 0.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`: a dirty segment older than this forces a clean. Long.MAX.
    pub max_compaction_lag_ms: i64,
    /// `delete.retention.ms`: how long tombstones and empty transactions' markers stay
    /// after the clean that first kept them. 1 day.
    pub delete_retention_ms: i64,
}

impl Default for CompactionConfig {
    fn default() -> Self {
        Self {
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            delete_retention_ms: 86_400_000,
        }
    }
}

/// Settings of one clean (Kafka's `log.cleaner.*` broker configs, per cleaner thread).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CleanerOptions {
    /// `log.cleaner.dedupe.buffer.size` / `log.cleaner.threads`: bytes of the offset map
    /// (128 MiB / 1 in Kafka). Each key costs [`OFFSET_MAP_SLOT_BYTES`].
    pub dedupe_buffer_bytes: usize,
    /// `log.cleaner.io.max.bytes.per.second`: read plus write rate; `f64::INFINITY` for none.
    pub io_max_bytes_per_second: f64,
    /// `delete.retention.ms` of the topic (see [`CompactionConfig`]).
    pub delete_retention_ms: i64,
    /// The most a compressed batch may decompress to (Kafka bounds it by the topic's
    /// message size); a larger one fails the clean rather than exhausting memory.
    pub decompressed_batch_bytes_max: u64,
}

impl Default for CleanerOptions {
    fn default() -> Self {
        Self {
            dedupe_buffer_bytes: 128 * 1024 * 1024,
            io_max_bytes_per_second: f64::INFINITY,
            delete_retention_ms: 86_400_000,
            decompressed_batch_bytes_max: 64 * 1024 * 1024,
        }
    }
}

/// What `Log::cleanable` found (Kafka's `OffsetsToClean` and `LogToClean`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CleanableInfo {
    /// Where cleaning starts: the checkpoint, or the log start offset if the checkpoint is
    /// missing or out of range.
    pub first_dirty_offset: i64,
    /// The base offset of the first segment that cannot be cleaned (the active one, the
    /// one holding the last stable offset, or the first too young for the compaction lag).
    pub first_uncleanable_offset: i64,
    /// The checkpoint was out of range and should be rewritten.
    pub force_checkpoint_update: bool,
    /// Bytes of the segments below the first dirty offset.
    pub clean_bytes: u64,
    /// Bytes of the segments in the dirty range.
    pub cleanable_bytes: u64,
    /// `cleanable_bytes / (clean_bytes + cleanable_bytes)`.
    pub cleanable_ratio: f64,
    /// Kafka's `maxCompactionDelay`: how far past `max.compaction.lag.ms` the oldest dirty
    /// segment is (0 when none is).
    pub max_compaction_delay_ms: i64,
}

impl CleanableInfo {
    /// Kafka's `grabFilthiestCompactedLog` test: something to clean, and either the ratio
    /// passes `min.cleanable.dirty.ratio` or `max.compaction.lag.ms` forces it.
    pub fn needs_cleaning(&self, config: &CompactionConfig) -> bool {
        self.cleanable_bytes > 0
            && (self.max_compaction_delay_ms > 0
                || self.cleanable_ratio > config.min_cleanable_dirty_ratio)
    }
}

/// Kafka's `LastRecord`: a live producer's last data offset (if any) and its epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LastRecord {
    pub last_data_offset: Option<i64>,
    pub producer_epoch: i16,
}

/// One segment a clean reads: a slice over its whole file keeps the bytes readable (a
/// truncation writes a new file rather than cutting one with slices outstanding).
pub(crate) struct PlannedSegment {
    pub base_offset: i64,
    /// The next segment's base offset, or the first uncleanable offset for the last one.
    pub next_offset: i64,
    pub file: Arc<SegmentFile>,
    pub slice: FileSlice,
    pub size: u32,
    pub offset_index_bytes: u64,
    pub time_index_bytes: u64,
    /// Where the offset map starts reading (the first dirty offset's batch).
    pub map_start_position: u32,
    pub last_modified: Option<SystemTime>,
}

/// Everything a clean needs, taken under the log's lock by `Log::prepare_clean`.
pub struct CleanPlan {
    pub(crate) directory: PathBuf,
    pub(crate) first_dirty_offset: i64,
    pub(crate) first_uncleanable_offset: i64,
    pub(crate) segments: Vec<PlannedSegment>,
    pub(crate) aborted_txns: Vec<AbortedTxn>,
    pub(crate) last_records: HashMap<i64, LastRecord>,
    pub(crate) segment_bytes: u32,
    pub(crate) segment_index_bytes: u32,
    pub(crate) index_interval_bytes: u32,
}

impl CleanPlan {
    pub fn first_dirty_offset(&self) -> i64 {
        self.first_dirty_offset
    }

    pub fn first_uncleanable_offset(&self) -> i64 {
        self.first_uncleanable_offset
    }
}

/// Kafka's `CleanerStats`, for the cleaner's log line and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CleanStats {
    pub first_dirty_offset: i64,
    /// The first offset not cleaned: the next clean's first dirty offset (the checkpoint).
    pub end_offset: i64,
    pub map_bytes_read: u64,
    pub map_messages_read: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub messages_read: u64,
    pub messages_written: u64,
    /// Records without a key dropped (they cannot be compacted).
    pub invalid_messages: u64,
    pub segments_read: usize,
    pub segments_written: usize,
    /// Share of the offset map's slots used.
    pub buffer_utilization: f64,
    pub map_duration: Duration,
    pub duration: Duration,
}

/// A cleaned segment waiting for `Log::commit_clean`.
#[derive(Clone)]
pub(crate) struct CleanedGroup {
    pub base_offset: i64,
    /// `(base offset, file, size)` of the segments it replaces, as the plan saw them.
    pub replaced: Vec<(i64, Arc<SegmentFile>, u32)>,
    pub has_txn_index: bool,
}

impl CleanedGroup {
    pub fn file_names(&self, suffix: &str) -> Vec<(String, String)> {
        let mut names = vec![LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX];
        if self.has_txn_index {
            names.push(TXN_INDEX_SUFFIX);
        }
        names
            .into_iter()
            .map(|kind| {
                let name = segment_file_name(self.base_offset, kind);
                (format!("{name}{suffix}"), name)
            })
            .collect()
    }
}

/// The result of [`clean`]: `.cleaned` files on disk, fsynced. Dropping it without
/// `Log::commit_clean` deletes them.
pub struct CleanOutput {
    pub(crate) directory: PathBuf,
    pub(crate) groups: Vec<CleanedGroup>,
    pub(crate) stats: CleanStats,
    pub(crate) committed: bool,
}

impl CleanOutput {
    pub fn stats(&self) -> &CleanStats {
        &self.stats
    }

    /// Deletes whatever `.cleaned` files are left (an abandoned clean).
    pub(crate) fn discard_files(&self) {
        for group in &self.groups {
            for (cleaned, _) in group.file_names(CLEANED_SUFFIX) {
                let _ = fs::remove_file(self.directory.join(cleaned));
            }
        }
    }
}

impl Drop for CleanOutput {
    fn drop(&mut self) {
        if !self.committed {
            self.discard_files();
        }
    }
}

/// What `Log::commit_clean` did.
#[derive(Debug, Clone, PartialEq)]
pub enum CleanCommit {
    /// The cleaned segments replaced the old ones; checkpoint `stats.end_offset`.
    Committed(CleanStats),
    /// A replaced segment changed meanwhile (retention, truncation, DeleteRecords): the
    /// clean was dropped and its files deleted. Kafka aborts such a clean too.
    Abandoned { reason: String },
}

// ---------------------------------------------------------------------------------------
// Offset map

/// Kafka's `SkimpyOffsetMap`: key hash → latest offset in a fixed budget of memory, open
/// addressing with linear probing, full at [`OFFSET_MAP_LOAD_FACTOR`] of its slots.
///
/// Keys are hashed to 128 bits with xxh3-128 seeded randomly per map, where Kafka uses MD5:
/// both are 16 bytes, so the slot budget matches Kafka's `dedupe.buffer.size` figures, and
/// an accidental collision (which would drop a record of the colliding key) needs ~2^64
/// keys. MD5 costs ~5x more CPU and is no defence either (chosen-prefix collisions are
/// practical); a random seed per clean keeps a producer from precomputing colliding keys
/// against Sluice, since it cannot know the seed.
pub struct OffsetMap {
    hashes: Vec<u128>,
    offsets: Vec<i64>,
    entries: usize,
    latest_offset: i64,
    seed: u64,
}

impl OffsetMap {
    /// A map of `memory_bytes / 24` slots (at least 2).
    pub fn with_memory(memory_bytes: usize) -> Self {
        let slots = (memory_bytes / OFFSET_MAP_SLOT_BYTES).max(2);
        Self {
            hashes: vec![0; slots],
            offsets: vec![0; slots],
            entries: 0,
            latest_offset: -1,
            seed: random_seed(),
        }
    }

    pub fn slots(&self) -> usize {
        self.hashes.len()
    }

    pub fn len(&self) -> usize {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Whether another key may be added (Kafka's `map.size() < maxDesiredMapSize`).
    pub fn has_room(&self) -> bool {
        (self.entries as f64) < (self.slots() as f64 * OFFSET_MAP_LOAD_FACTOR).floor()
    }

    /// The last offset the map covers (-1 when empty).
    pub fn latest_offset(&self) -> i64 {
        self.latest_offset
    }

    pub fn update_latest_offset(&mut self, offset: i64) {
        self.latest_offset = offset;
    }

    pub fn utilization(&self) -> f64 {
        self.entries as f64 / self.slots() as f64
    }

    fn hash(&self, key: &[u8]) -> u128 {
        // 0 marks an empty slot; a key hashing to 0 takes 1 (one more 2^-128 collision).
        twox_hash::XxHash3_128::oneshot_with_seed(self.seed, key).max(1)
    }

    fn slot_of(&self, hash: u128) -> usize {
        let slots = self.slots();
        let mut slot = (hash as u64 % slots as u64) as usize;
        loop {
            let stored = self.hashes[slot];
            if stored == 0 || stored == hash {
                return slot;
            }
            slot += 1;
            if slot == slots {
                slot = 0;
            }
        }
    }

    /// Records `offset` as the latest for `key` (the caller checks [`Self::has_room`]; the
    /// load factor keeps an empty slot for every probe).
    pub fn put(&mut self, key: &[u8], offset: i64) {
        let hash = self.hash(key);
        let slot = self.slot_of(hash);
        if self.hashes[slot] == 0 {
            self.hashes[slot] = hash;
            self.entries += 1;
        }
        self.offsets[slot] = offset;
        self.latest_offset = offset;
    }

    /// The latest offset of `key`, -1 when absent (Kafka's `get`).
    pub fn get(&self, key: &[u8]) -> i64 {
        let hash = self.hash(key);
        let slot = self.slot_of(hash);
        if self.hashes[slot] == hash {
            self.offsets[slot]
        } else {
            -1
        }
    }
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos()),
    );
    hasher.finish()
}

// ---------------------------------------------------------------------------------------
// Throttling

/// Kafka's `Throttler` as a token bucket: after each chunk of I/O, sleeps as long as the
/// bytes so far are ahead of `bytes_per_second`.
pub(crate) struct Throttler {
    bytes_per_second: f64,
    started: Instant,
    bytes: f64,
}

impl Throttler {
    pub fn new(bytes_per_second: f64) -> Self {
        Self {
            bytes_per_second,
            started: Instant::now(),
            bytes: 0.0,
        }
    }

    pub fn maybe_throttle(&mut self, bytes: u64) {
        if !(self.bytes_per_second.is_finite() && self.bytes_per_second > 0.0) {
            return;
        }
        self.bytes += bytes as f64;
        let due = Duration::from_secs_f64(self.bytes / self.bytes_per_second);
        let elapsed = self.started.elapsed();
        if due > elapsed {
            std::thread::sleep(due - elapsed);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Records

fn corrupt(what: impl Into<String>) -> LogError {
    LogError::Io(io::Error::new(io::ErrorKind::InvalidData, what.into()))
}

fn read_unsigned_varint(bytes: &[u8], at: &mut usize, max_bytes: usize) -> Option<u64> {
    let mut value = 0u64;
    for index in 0..max_bytes {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn read_varint(bytes: &[u8], at: &mut usize) -> Option<i32> {
    let raw = read_unsigned_varint(bytes, at, 5)? as u32;
    Some(((raw >> 1) as i32) ^ -((raw & 1) as i32))
}

fn read_varlong(bytes: &[u8], at: &mut usize) -> Option<i64> {
    let raw = read_unsigned_varint(bytes, at, 10)?;
    Some(((raw >> 1) as i64) ^ -((raw & 1) as i64))
}

/// One record of a batch, its fields as slices of the (decompressed) records section.
#[derive(Debug, Clone, Copy)]
struct RecordView<'a> {
    attributes: u8,
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    /// The header count varint and the headers, copied as they are.
    headers: &'a [u8],
}

fn read_nullable<'a>(body: &'a [u8], at: &mut usize) -> Option<Option<&'a [u8]>> {
    let length = read_varint(body, at)?;
    if length < 0 {
        return Some(None);
    }
    let end = at.checked_add(length as usize)?;
    let bytes = body.get(*at..end)?;
    *at = end;
    Some(Some(bytes))
}

/// Reads the record at `*at`, moving `*at` past it; `None` if it is not a record.
fn read_record<'a>(records: &'a [u8], at: &mut usize) -> Option<RecordView<'a>> {
    let length = usize::try_from(read_varint(records, at)?).ok()?;
    let end = at.checked_add(length)?;
    let body = records.get(*at..end)?;
    *at = end;
    let mut position = 0usize;
    let attributes = *body.first()?;
    position += 1;
    let timestamp_delta = read_varlong(body, &mut position)?;
    let offset_delta = read_varint(body, &mut position)?;
    let key = read_nullable(body, &mut position)?;
    let value = read_nullable(body, &mut position)?;
    Some(RecordView {
        attributes,
        timestamp_delta,
        offset_delta,
        key,
        value,
        headers: &body[position..],
    })
}

fn write_nullable(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => crate::validation::records::write_varint(out, -1),
        Some(bytes) => {
            crate::validation::records::write_varint(out, bytes.len() as i32);
            out.extend_from_slice(bytes);
        }
    }
}

/// Appends `record` with a new timestamp delta; the offset delta is unchanged (the
/// rebuilt batch keeps its base offset, so every record keeps its absolute offset).
fn write_record(out: &mut Vec<u8>, record: &RecordView<'_>, timestamp_delta: i64) {
    use crate::validation::records::{write_varint, write_varlong};
    let mut body = Vec::with_capacity(
        16 + record.key.map_or(0, <[u8]>::len)
            + record.value.map_or(0, <[u8]>::len)
            + record.headers.len(),
    );
    body.push(record.attributes);
    write_varlong(&mut body, timestamp_delta);
    write_varint(&mut body, record.offset_delta);
    write_nullable(&mut body, record.key);
    write_nullable(&mut body, record.value);
    body.extend_from_slice(record.headers);
    write_varint(out, body.len() as i32);
    out.extend_from_slice(&body);
}

/// The batch's records section, decompressed when its attributes name a codec.
fn records_section<'a>(
    batch: &'a [u8],
    header: &BatchHeader,
    decompressed_bytes_max: u64,
) -> Result<std::borrow::Cow<'a, [u8]>, LogError> {
    let view = RecordBatchView::new(batch).map_err(LogError::InvalidBatch)?;
    let _ = header;
    compression::decompress_records(&view, decompressed_bytes_max)
        .map_err(|error| corrupt(format!("batch at offset {}: {error}", header.base_offset)))
}

fn delete_horizon(header: &BatchHeader) -> Option<i64> {
    (header.attributes & DELETE_HORIZON_ATTRIBUTE != 0).then_some(header.base_timestamp)
}

// ---------------------------------------------------------------------------------------
// Transactions

/// Kafka's `CleanedTransactionMetadata`: which batches belong to aborted transactions, and
/// when a marker may go. Aborted transactions are consumed in first-offset order.
pub(crate) struct TransactionMetadata<'a> {
    aborted: &'a [AbortedTxn],
    next_aborted: usize,
    ongoing_committed: std::collections::HashSet<i64>,
    /// Producer id → (its aborted transaction, whether a batch of it was seen).
    ongoing_aborted: HashMap<i64, (AbortedTxn, bool)>,
    /// Aborted transactions whose marker is kept: the cleaned segment's `.txnindex`.
    pub retained_aborted: Vec<AbortedTxn>,
}

impl<'a> TransactionMetadata<'a> {
    /// `aborted` sorted by first offset.
    pub fn new(aborted: &'a [AbortedTxn]) -> Self {
        Self {
            aborted,
            next_aborted: 0,
            ongoing_committed: Default::default(),
            ongoing_aborted: HashMap::new(),
            retained_aborted: Vec::new(),
        }
    }

    fn consume_aborted_up_to(&mut self, offset: i64) {
        while let Some(txn) = self.aborted.get(self.next_aborted) {
            if txn.first_offset > offset {
                break;
            }
            self.ongoing_aborted
                .entry(txn.producer_id)
                .or_insert((*txn, false));
            self.next_aborted += 1;
        }
    }

    /// A data batch: true when it belongs to an aborted transaction (discard it).
    pub fn on_batch_read(&mut self, header: &BatchHeader) -> bool {
        self.consume_aborted_up_to(header.last_offset);
        if !header.is_transactional() {
            return false;
        }
        if let Some((_, seen)) = self.ongoing_aborted.get_mut(&header.producer_id) {
            *seen = true;
            return true;
        }
        self.ongoing_committed.insert(header.producer_id);
        false
    }

    /// A control batch: true when it may be discarded (its transaction has no batch left).
    pub fn on_control_batch_read(&mut self, header: &BatchHeader, batch: &[u8]) -> bool {
        self.consume_aborted_up_to(header.last_offset);
        if batch.len() >= HEADER_BYTES && i32::from_be_bytes(batch[57..61].try_into().unwrap()) == 0
        {
            // An empty control batch was cleaned before: safe to discard.
            return true;
        }
        let Some(marker) = EndTransactionMarker::from_batch(batch) else {
            return false;
        };
        if marker.is_abort() {
            match self.ongoing_aborted.remove(&header.producer_id) {
                Some((txn, true)) => {
                    // Keep the marker until every batch of the transaction is gone.
                    self.retained_aborted.push(txn);
                    false
                }
                _ => true,
            }
        } else {
            !self.ongoing_committed.remove(&header.producer_id)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Reading batches

/// Reads whole batches of a planned segment through a bounded buffer.
struct BatchReader<'a> {
    file: &'a File,
    end: u64,
    position: u64,
    buffer: Vec<u8>,
}

const READ_CHUNK_BYTES: usize = 1024 * 1024;

impl<'a> BatchReader<'a> {
    fn new(segment: &'a PlannedSegment, position: u32) -> Self {
        Self {
            file: segment.slice.file(),
            end: u64::from(segment.size),
            position: u64::from(position),
            buffer: Vec::new(),
        }
    }

    /// The next batch: its header and bytes. `None` at the end of the segment.
    fn next(&mut self) -> Result<Option<(BatchHeader, &[u8])>, LogError> {
        if self.position + HEADER_BYTES as u64 > self.end {
            return Ok(None);
        }
        let mut head = [0u8; HEADER_BYTES];
        self.file.read_exact_at(&mut head, self.position)?;
        let header = BatchHeader::parse(&head, self.position as u32)
            .filter(|header| header.end() <= self.end)
            .ok_or_else(|| corrupt(format!("no batch at position {}", self.position)))?;
        self.buffer.clear();
        self.buffer.resize(header.size as usize, 0);
        self.file.read_exact_at(&mut self.buffer, self.position)?;
        self.position = header.end();
        if self.buffer.capacity() > 4 * READ_CHUNK_BYTES && header.size as usize <= READ_CHUNK_BYTES
        {
            self.buffer.shrink_to(READ_CHUNK_BYTES);
        }
        Ok(Some((header, &self.buffer)))
    }
}

// ---------------------------------------------------------------------------------------
// Building the offset map

fn build_offset_map(
    plan: &CleanPlan,
    map: &mut OffsetMap,
    options: &CleanerOptions,
    throttler: &mut Throttler,
    stats: &mut CleanStats,
) -> Result<(), LogError> {
    let start = plan.first_dirty_offset;
    let mut transactions = TransactionMetadata::new(&plan.aborted_txns);
    for segment in &plan.segments {
        if segment.next_offset <= start {
            continue;
        }
        let mut reader = BatchReader::new(segment, segment.map_start_position);
        while let Some((header, batch)) = reader.next()? {
            throttler.maybe_throttle(u64::from(header.size));
            stats.map_bytes_read += u64::from(header.size);
            if header.is_control() {
                transactions.on_control_batch_read(&header, batch);
                stats.map_messages_read += 1;
            } else if transactions.on_batch_read(&header) {
                stats.map_messages_read += u64::from(header.last_offset_delta() as u32) + 1;
            } else {
                let records =
                    records_section(batch, &header, options.decompressed_batch_bytes_max)?;
                let mut at = 0;
                while at < records.len() {
                    let record = read_record(&records, &mut at).ok_or_else(|| {
                        corrupt(format!("bad record in batch {}", header.base_offset))
                    })?;
                    let offset = header.base_offset + i64::from(record.offset_delta);
                    if let Some(key) = record.key {
                        if offset >= start {
                            if !map.has_room() {
                                // Full: this clean goes up to the offsets mapped so far.
                                return Ok(());
                            }
                            map.put(key, offset);
                        }
                    }
                    stats.map_messages_read += 1;
                }
            }
            if header.last_offset >= start {
                map.update_latest_offset(header.last_offset);
            }
        }
        // Offsets may have gaps (an earlier clean): the map covers the whole segment.
        map.update_latest_offset(segment.next_offset - 1);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Grouping

/// Kafka's `groupSegmentsBySize`: consecutive segments whose total log bytes stay within
/// `segment.bytes` and index bytes within `segment.index.bytes`, and whose offsets fit a
/// relative (u32) offset from the group's base.
fn group_segments(plan: &CleanPlan, end_offset: i64) -> Vec<std::ops::Range<usize>> {
    let count = plan
        .segments
        .iter()
        .take_while(|segment| segment.base_offset < end_offset)
        .count();
    let max_size = u64::from(plan.segment_bytes);
    let max_index = u64::from(plan.segment_index_bytes);
    let mut groups = Vec::new();
    let mut first = 0;
    while first < count {
        let head = &plan.segments[first];
        let mut log_size = u64::from(head.size);
        let mut index_size = head.offset_index_bytes;
        let mut time_size = head.time_index_bytes;
        let mut last = first + 1;
        while last < count {
            let next = &plan.segments[last];
            let fits = log_size + u64::from(next.size) <= max_size
                && index_size + next.offset_index_bytes <= max_index
                && time_size + next.time_index_bytes <= max_index
                && (next.size == 0
                    || next.next_offset - 1 - head.base_offset <= i64::from(i32::MAX));
            if !fits {
                break;
            }
            log_size += u64::from(next.size);
            index_size += next.offset_index_bytes;
            time_size += next.time_index_bytes;
            last += 1;
        }
        groups.push(first..last);
        first = last;
    }
    groups
}

// ---------------------------------------------------------------------------------------
// Writing a cleaned segment

/// The `.cleaned` files of one group, with Kafka's index rule as batches are written.
struct CleanedWriter {
    base_offset: i64,
    log: BufWriter<File>,
    offset_index: BufWriter<File>,
    time_index: BufWriter<File>,
    position: u64,
    bytes_since_index_entry: u64,
    index_interval_bytes: u64,
    offset_entries_left: usize,
    time_entries_left: usize,
    last_time_entry: i64,
    max_timestamp: (i64, i64),
}

fn create_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

impl CleanedWriter {
    fn create(plan: &CleanPlan, base_offset: i64) -> io::Result<Self> {
        let path = |suffix: &str| {
            plan.directory.join(format!(
                "{}{CLEANED_SUFFIX}",
                segment_file_name(base_offset, suffix)
            ))
        };
        let index_entries = plan.segment_index_bytes as usize;
        Ok(Self {
            base_offset,
            log: BufWriter::with_capacity(READ_CHUNK_BYTES, create_file(&path(LOG_SUFFIX))?),
            offset_index: BufWriter::new(create_file(&path(INDEX_SUFFIX))?),
            time_index: BufWriter::new(create_file(&path(TIME_INDEX_SUFFIX))?),
            position: 0,
            bytes_since_index_entry: 0,
            index_interval_bytes: u64::from(plan.index_interval_bytes),
            offset_entries_left: (index_entries / crate::offset_index::ENTRY_BYTES).max(2),
            time_entries_left: (index_entries / crate::time_index::ENTRY_BYTES).max(2),
            last_time_entry: -1,
            max_timestamp: (-1, base_offset),
        })
    }

    fn write_time_entry(&mut self) -> io::Result<()> {
        let (timestamp, offset) = self.max_timestamp;
        if timestamp > self.last_time_entry && self.time_entries_left > 0 {
            let relative = relative_offset(self.base_offset, offset).unwrap_or(0);
            self.time_index.write_all(&timestamp.to_be_bytes())?;
            self.time_index.write_all(&relative.to_be_bytes())?;
            self.last_time_entry = timestamp;
            self.time_entries_left -= 1;
        }
        Ok(())
    }

    fn append(
        &mut self,
        batch: &[u8],
        last_offset: i64,
        max_timestamp: i64,
    ) -> Result<(), LogError> {
        let relative = relative_offset(self.base_offset, last_offset)
            .ok_or_else(|| corrupt(format!("offset {last_offset} does not fit the segment")))?;
        if self.position + batch.len() as u64 > u64::from(u32::MAX) {
            return Err(corrupt("cleaned segment would pass 4 GiB"));
        }
        if max_timestamp > self.max_timestamp.0 {
            self.max_timestamp = (max_timestamp, last_offset);
        }
        if self.bytes_since_index_entry > self.index_interval_bytes && self.offset_entries_left > 0
        {
            self.offset_index.write_all(&relative.to_be_bytes())?;
            self.offset_index
                .write_all(&(self.position as u32).to_be_bytes())?;
            self.offset_entries_left -= 1;
            self.write_time_entry()?;
            self.bytes_since_index_entry = 0;
        }
        self.log.write_all(batch)?;
        self.position += batch.len() as u64;
        self.bytes_since_index_entry += batch.len() as u64;
        Ok(())
    }

    /// Closes the segment like a roll (the final time index entry) and fsyncs the files.
    fn finish(mut self, last_modified: Option<SystemTime>) -> io::Result<u64> {
        self.write_time_entry()?;
        for writer in [&mut self.log, &mut self.offset_index, &mut self.time_index] {
            writer.flush()?;
            writer.get_ref().sync_all()?;
        }
        if let Some(modified) = last_modified {
            // Kafka keeps the last replaced segment's modification time.
            self.log.get_ref().set_modified(modified)?;
        }
        Ok(self.position)
    }
}

// ---------------------------------------------------------------------------------------
// Filtering batches

/// Kafka's `BatchRetention`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BatchRetention {
    Delete,
    DeleteEmpty,
    RetainEmpty,
}

struct FilterContext<'a> {
    map: &'a OffsetMap,
    last_records: &'a HashMap<i64, LastRecord>,
    upper_bound_offset: i64,
    now_ms: i64,
    delete_retention_ms: i64,
    decompressed_bytes_max: u64,
}

/// Kafka's `Cleaner.shouldRetainRecord` for a v2 batch.
fn should_retain_record(
    context: &FilterContext<'_>,
    header: &BatchHeader,
    record: &RecordView<'_>,
    offset: i64,
    stats: &mut CleanStats,
) -> bool {
    if offset > context.map.latest_offset() {
        return true;
    }
    let Some(key) = record.key else {
        stats.invalid_messages += 1;
        return false;
    };
    let latest_for_key = offset >= context.map.get(key);
    let retain_deletes = delete_horizon(header).is_none_or(|horizon| context.now_ms < horizon);
    latest_for_key && (record.value.is_some() || retain_deletes)
}

/// Kafka's `MemoryRecords.filterTo` for one batch, with the cleaner's filter: writes what
/// is kept of `batch` to `out` (nothing, the batch as it is, a rebuilt batch or an empty
/// one). Returns the retained record count.
fn filter_batch(
    context: &FilterContext<'_>,
    transactions: &mut TransactionMetadata<'_>,
    header: &BatchHeader,
    batch: &[u8],
    out: &mut Vec<u8>,
    stats: &mut CleanStats,
) -> Result<u64, LogError> {
    // Markers piggy-back on the tombstone rules: never deleted before their transaction's
    // records are gone, then kept until the delete horizon.
    let can_discard = if header.is_control() {
        transactions.on_control_batch_read(header, batch)
    } else {
        transactions.on_batch_read(header)
    };
    let discard_records = if header.is_control() {
        can_discard && delete_horizon(header).is_some_and(|horizon| horizon <= context.now_ms)
    } else {
        can_discard
    };
    // Keep the batch holding a live producer's last sequence (or, with no data, its last
    // marker, for the epoch): duplicate detection and fencing need it after cleaning.
    let last_of_producer = context
        .last_records
        .get(&header.producer_id)
        .is_some_and(|last| match last.last_data_offset {
            Some(offset) => header.last_offset == offset,
            None => header.is_control() && header.producer_epoch == last.producer_epoch,
        });
    let retention = if header.producer_id >= 0 && last_of_producer {
        BatchRetention::RetainEmpty
    } else if header.last_offset + 1 == context.upper_bound_offset {
        // The last batch of the round keeps the last offset even when emptied.
        BatchRetention::RetainEmpty
    } else if discard_records {
        BatchRetention::Delete
    } else {
        BatchRetention::DeleteEmpty
    };
    let marker_for_empty_txn = can_discard && header.is_control();
    if retention == BatchRetention::Delete {
        return Ok(0);
    }

    let records = records_section(batch, header, context.decompressed_bytes_max)?;
    let log_append_time = header.attributes & TIMESTAMP_TYPE_ATTRIBUTE != 0;
    let mut retained: Vec<(RecordView<'_>, i64)> = Vec::new();
    let mut write_original = true;
    let mut contains_tombstones = false;
    let mut at = 0;
    while at < records.len() {
        let record = read_record(&records, &mut at)
            .ok_or_else(|| corrupt(format!("bad record in batch {}", header.base_offset)))?;
        stats.messages_read += 1;
        let offset = header.base_offset + i64::from(record.offset_delta);
        let keep = if discard_records {
            false
        } else if header.is_control() {
            true
        } else {
            should_retain_record(context, header, &record, offset, stats)
        };
        if keep {
            contains_tombstones |= record.value.is_none();
            // A LogAppendTime batch's records all carry its max timestamp (Kafka reads them so).
            let timestamp = if log_append_time {
                header.max_timestamp
            } else {
                header.base_timestamp.wrapping_add(record.timestamp_delta)
            };
            retained.push((record, timestamp));
        } else {
            write_original = false;
        }
    }

    if !retained.is_empty() {
        let set_horizon =
            (contains_tombstones || marker_for_empty_txn) && delete_horizon(header).is_none();
        if write_original && !set_horizon {
            out.extend_from_slice(batch);
            return Ok(retained.len() as u64);
        }
        let horizon = if set_horizon {
            Some(context.now_ms.saturating_add(context.delete_retention_ms))
        } else {
            delete_horizon(header)
        };
        // Kafka's MemoryRecordsBuilder: the base timestamp is the delete horizon when there
        // is one, else the first record's timestamp; deltas are taken from it.
        let base_timestamp = horizon.unwrap_or(retained[0].1);
        let max_timestamp = if log_append_time {
            header.max_timestamp
        } else {
            retained
                .iter()
                .map(|(_, timestamp)| *timestamp)
                .max()
                .unwrap_or(-1)
        };
        let mut body = Vec::with_capacity(records.len());
        for (record, timestamp) in &retained {
            write_record(&mut body, record, timestamp.wrapping_sub(base_timestamp));
        }
        let mut attributes = header.attributes;
        if horizon.is_some() {
            attributes |= DELETE_HORIZON_ATTRIBUTE;
        }
        let codec = Compression::from_attributes(header.attributes)
            .map_err(|error| corrupt(error.to_string()))?;
        let rebuilt = compression::write_batch(
            &compression::BatchHeader {
                base_offset: header.base_offset,
                partition_leader_epoch: header.partition_leader_epoch,
                attributes,
                // Kafka's overrideLastOffset: the producer's last sequence survives.
                last_offset_delta: header.last_offset_delta(),
                base_timestamp,
                max_timestamp,
                producer_id: header.producer_id,
                producer_epoch: header.producer_epoch,
                base_sequence: header.base_sequence,
                records_count: retained.len() as i32,
            },
            &body,
            codec,
            None,
        )
        .map_err(|error| corrupt(error.to_string()))?;
        out.extend_from_slice(&rebuilt);
        Ok(retained.len() as u64)
    } else if retention == BatchRetention::RetainEmpty {
        // Kafka's DefaultRecordBatch.writeEmptyHeader: no codec, no horizon, both
        // timestamps the batch's max timestamp.
        let attributes = header.attributes
            & (TIMESTAMP_TYPE_ATTRIBUTE
                | crate::record_batch::TRANSACTIONAL_ATTRIBUTE
                | crate::record_batch::CONTROL_ATTRIBUTE);
        let empty = compression::write_batch(
            &compression::BatchHeader {
                base_offset: header.base_offset,
                partition_leader_epoch: header.partition_leader_epoch,
                attributes,
                last_offset_delta: header.last_offset_delta(),
                base_timestamp: header.max_timestamp,
                max_timestamp: header.max_timestamp,
                producer_id: header.producer_id,
                producer_epoch: header.producer_epoch,
                base_sequence: header.base_sequence,
                records_count: 0,
            },
            &[],
            Compression::None,
            None,
        )
        .map_err(|error| corrupt(error.to_string()))?;
        out.extend_from_slice(&empty);
        Ok(0)
    } else {
        Ok(0)
    }
}

// ---------------------------------------------------------------------------------------
// The clean

/// Cleans the log described by `plan` without its lock (Kafka's `Cleaner.doClean`): builds
/// the offset map of the dirty range, then writes each group of segments up to the map's
/// last offset into `.cleaned` files, fsynced. `Log::commit_clean` swaps them in.
///
/// Memory: the offset map (`dedupe_buffer_bytes`), one batch read at a time, its
/// decompressed records (at most `decompressed_batch_bytes_max`) and a 1 MiB write buffer.
pub fn clean(
    plan: CleanPlan,
    options: &CleanerOptions,
    now_ms: i64,
) -> Result<CleanOutput, LogError> {
    let started = Instant::now();
    let mut stats = CleanStats {
        first_dirty_offset: plan.first_dirty_offset,
        ..CleanStats::default()
    };
    let mut throttler = Throttler::new(options.io_max_bytes_per_second);
    let mut map = OffsetMap::with_memory(options.dedupe_buffer_bytes);
    build_offset_map(&plan, &mut map, options, &mut throttler, &mut stats)?;
    let end_offset = if map.latest_offset() < 0 {
        plan.first_dirty_offset
    } else {
        map.latest_offset() + 1
    };
    stats.end_offset = end_offset.max(plan.first_dirty_offset);
    stats.map_duration = started.elapsed();
    stats.buffer_utilization = map.utilization();

    let mut output = CleanOutput {
        directory: plan.directory.clone(),
        groups: Vec::new(),
        stats,
        committed: false,
    };
    let context = FilterContext {
        map: &map,
        last_records: &plan.last_records,
        upper_bound_offset: plan.first_uncleanable_offset,
        now_ms,
        delete_retention_ms: options.delete_retention_ms,
        decompressed_bytes_max: options.decompressed_batch_bytes_max,
    };
    if map.latest_offset() >= 0 {
        let mut transactions = TransactionMetadata::new(&plan.aborted_txns);
        let mut out = Vec::new();
        for range in group_segments(&plan, end_offset) {
            let group = &plan.segments[range];
            let base_offset = group[0].base_offset;
            // Registered before writing, so an error or a drop deletes partial files.
            output.groups.push(CleanedGroup {
                base_offset,
                replaced: group
                    .iter()
                    .map(|segment| (segment.base_offset, segment.file.clone(), segment.size))
                    .collect(),
                has_txn_index: true,
            });
            let mut writer = CleanedWriter::create(&plan, base_offset)?;
            transactions.retained_aborted.clear();
            for segment in group {
                let mut reader = BatchReader::new(segment, 0);
                while let Some((header, batch)) = reader.next()? {
                    throttler.maybe_throttle(u64::from(header.size));
                    output.stats.bytes_read += u64::from(header.size);
                    out.clear();
                    let kept = filter_batch(
                        &context,
                        &mut transactions,
                        &header,
                        batch,
                        &mut out,
                        &mut output.stats,
                    )?;
                    if !out.is_empty() {
                        let max_timestamp = i64::from_be_bytes(out[35..43].try_into().unwrap());
                        writer.append(&out, header.last_offset, max_timestamp)?;
                        throttler.maybe_throttle(out.len() as u64);
                        output.stats.bytes_written += out.len() as u64;
                        output.stats.messages_written += kept;
                    }
                }
                output.stats.segments_read += 1;
            }
            let last_modified = group.last().and_then(|segment| segment.last_modified);
            writer.finish(last_modified)?;
            write_txn_index(&plan.directory, base_offset, &transactions.retained_aborted)?;
            let cleaned = output.groups.last_mut().expect("pushed above");
            cleaned.has_txn_index = !transactions.retained_aborted.is_empty();
            output.stats.segments_written += 1;
        }
    }
    output.stats.duration = started.elapsed();
    Ok(output)
}

/// The cleaned segment's `.txnindex.cleaned`: the aborted transactions whose marker it
/// keeps (Kafka's cleaned index), fsynced; none when there are none.
fn write_txn_index(directory: &Path, base_offset: i64, aborted: &[AbortedTxn]) -> io::Result<()> {
    let path = directory.join(format!(
        "{}{CLEANED_SUFFIX}",
        segment_file_name(base_offset, TXN_INDEX_SUFFIX)
    ));
    if aborted.is_empty() {
        return match fs::remove_file(&path) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        };
    }
    let mut bytes = Vec::with_capacity(aborted.len() * crate::transaction_index::ABORTED_TXN_BYTES);
    for txn in aborted {
        bytes.extend_from_slice(&txn.encode());
    }
    let file = create_file(&path)?;
    file.write_all_at(&bytes, 0)?;
    file.sync_all()
}

// ---------------------------------------------------------------------------------------
// Recovery of interrupted swaps

/// Kafka's `LogLoader` rules for a clean interrupted by a crash, run before the segments
/// are listed: `.cleaned` files are removed (by the caller's sweep); index `.swap` files
/// are deleted (rebuilt from the log later); for each `<base>.log.swap` the segments whose
/// base offsets lie in `[smallest swap base, largest swap next offset)` are deleted and the
/// swap renamed `.log`, its indexes left to be rebuilt. Returns how many were completed.
pub(crate) fn complete_interrupted_swaps(directory: &Path) -> io::Result<usize> {
    let mut log_swaps = Vec::new();
    for entry in fs::read_dir(directory)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(SWAP_SUFFIX) else {
            continue;
        };
        match parse_segment_file(stem) {
            Some((base, LOG_SUFFIX)) => log_swaps.push((base, entry.path())),
            Some(_) => fs::remove_file(entry.path())?,
            None => {}
        }
    }
    if log_swaps.is_empty() {
        return Ok(0);
    }
    let mut min_base = i64::MAX;
    let mut max_next = i64::MIN;
    for (base, path) in &log_swaps {
        min_base = min_base.min(*base);
        max_next = max_next.max(next_offset_of(path, *base)?);
    }
    for entry in fs::read_dir(directory)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some((base, _)) = parse_segment_file(&name) {
            if base >= min_base && base < max_next {
                fs::remove_file(entry.path())?;
            }
        }
    }
    for (base, path) in &log_swaps {
        fs::rename(path, directory.join(segment_file_name(*base, LOG_SUFFIX)))?;
    }
    crate::checkpoint::sync_directory(directory)?;
    Ok(log_swaps.len())
}

/// `(base offset, suffix)` of a segment file name (`.log`, `.index`, `.timeindex`,
/// `.txnindex`).
fn parse_segment_file(name: &str) -> Option<(i64, &'static str)> {
    for suffix in [
        LOG_SUFFIX,
        INDEX_SUFFIX,
        TIME_INDEX_SUFFIX,
        TXN_INDEX_SUFFIX,
    ] {
        if let Some(stem) = name.strip_suffix(suffix) {
            if stem.len() == 20 && stem.bytes().all(|byte| byte.is_ascii_digit()) {
                return stem.parse().ok().map(|base| (base, suffix));
            }
        }
    }
    None
}

/// The offset after the last whole batch of a segment file (Kafka's `readNextOffset`).
fn next_offset_of(path: &Path, base_offset: i64) -> io::Result<i64> {
    let file = File::open(path)?;
    let length = file.metadata()?.len();
    let mut reader = crate::segment::HeaderReader::new(&file);
    let mut position = 0u64;
    let mut next = base_offset;
    while let Some(header) = reader.header_at(position, length)? {
        next = header.last_offset + 1;
        position = header.end();
    }
    Ok(next)
}

// ---------------------------------------------------------------------------------------
// cleaner-offset-checkpoint

/// `<log.dir>/cleaner-offset-checkpoint` (Kafka's `LogCleanerManager.checkpoints`): each
/// partition's first dirty offset, kept in memory and rewritten whole (tmp, fsync, rename)
/// on every update. Shared by the cleaner threads of one log directory.
pub struct CleanerCheckpoints {
    path: PathBuf,
    offsets: Mutex<BTreeMap<TopicPartition, i64>>,
}

impl CleanerCheckpoints {
    /// Reads the file of `log_directory` (none yet reads as empty).
    pub fn open(log_directory: &Path) -> io::Result<Self> {
        let path = log_directory.join(CLEANER_OFFSET_CHECKPOINT);
        let offsets = read_offset_checkpoint(&path)?.into_iter().collect();
        Ok(Self {
            path,
            offsets: Mutex::new(offsets),
        })
    }

    pub fn get(&self, partition: &TopicPartition) -> Option<i64> {
        self.offsets.lock().unwrap().get(partition).copied()
    }

    /// Records `offset` for `partition` and rewrites the file.
    pub fn update(&self, partition: &TopicPartition, offset: i64) -> io::Result<()> {
        let mut offsets = self.offsets.lock().unwrap();
        offsets.insert(partition.clone(), offset);
        self.write(&offsets)
    }

    /// Forgets `partition` (deleted, or moved away) and rewrites the file.
    pub fn remove(&self, partition: &TopicPartition) -> io::Result<()> {
        let mut offsets = self.offsets.lock().unwrap();
        if offsets.remove(partition).is_some() {
            self.write(&offsets)?;
        }
        Ok(())
    }

    fn write(&self, offsets: &BTreeMap<TopicPartition, i64>) -> io::Result<()> {
        let entries: Vec<(TopicPartition, i64)> = offsets
            .iter()
            .map(|(partition, offset)| (partition.clone(), *offset))
            .collect();
        write_offset_checkpoint(&self.path, &entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_map_keeps_the_latest_offset_per_key() {
        let mut map = OffsetMap::with_memory(24 * 100);
        map.put(b"a", 1);
        map.put(b"b", 2);
        map.put(b"a", 3);
        assert_eq!(map.get(b"a"), 3);
        assert_eq!(map.get(b"b"), 2);
        assert_eq!(map.get(b"c"), -1);
        assert_eq!(map.len(), 2);
        assert_eq!(map.latest_offset(), 3);
    }

    #[test]
    fn offset_map_is_full_at_the_load_factor() {
        let mut map = OffsetMap::with_memory(24 * 10);
        let mut added = 0;
        while map.has_room() {
            map.put(format!("key-{added}").as_bytes(), added);
            added += 1;
        }
        assert_eq!(added, 9);
        for key in 0..added {
            assert_eq!(map.get(format!("key-{key}").as_bytes()), key);
        }
    }

    #[test]
    fn records_round_trip_with_a_new_timestamp_delta() {
        let mut records = Vec::new();
        crate::validation::records::encode_record(
            &mut records,
            7,
            100,
            Some(b"key"),
            None,
            &[(b"h", Some(b"v"))],
        );
        let mut at = 0;
        let record = read_record(&records, &mut at).unwrap();
        assert_eq!(at, records.len());
        assert_eq!(record.offset_delta, 7);
        assert_eq!(record.key, Some(&b"key"[..]));
        assert_eq!(record.value, None);
        let mut rewritten = Vec::new();
        write_record(&mut rewritten, &record, -5);
        let mut at = 0;
        let again = read_record(&rewritten, &mut at).unwrap();
        assert_eq!(again.timestamp_delta, -5);
        assert_eq!(again.headers, record.headers);
    }

    #[test]
    fn throttler_without_a_limit_never_sleeps() {
        let mut throttler = Throttler::new(f64::INFINITY);
        let started = Instant::now();
        throttler.maybe_throttle(u64::MAX / 2);
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
