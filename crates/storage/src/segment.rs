//! One segment of a partition log: `<20-digit base offset>.log` with its `.index`,
//! `.timeindex` and, once it holds an aborted transaction, `.txnindex` (formats in
//! `offset_index.rs`, `time_index.rs` and `transaction_index.rs`).
//!
//! ```text
//! <base offset>.log   record batches v2, back to back, exactly the bytes that were
//!                     appended (offsets assigned in place); nothing else: no header,
//!                     no footer. The name is the base offset, zero-padded to 20 digits.
//! ```
//!
//! The active (last) segment's `.log` is written with `pwrite` at its end. The file is reserved
//! on disk (`fallocate`) a chunk ahead of the write position, so an append cannot fail for lack
//! of space; its indexes are preallocated to `segment.index.bytes` and written through maps.
//! The log itself is not mapped: a store into a mapped page the file has not written yet
//! faults, and the kernel first reads the page in — zero-filling it and its readahead window
//! (`ext4_mpage_readpages` → `memset`) — before the copy overwrites it. Under ProducerPerformance
//! on 16 partitions that zeroing and the faults were ~45% of the broker's CPU (perf, 2026-12-05);
//! `pwrite` copies straight into fresh page-cache pages, and written bytes never count in the
//! broker's RSS. Reads never used the map (sendfile and pread read the page cache).
//! When the segment is closed (rolled, or the log shut down) the final time index entry
//! is written and all three files are trimmed to their real size, so a closed segment is
//! byte-for-byte what Kafka would have written and Kafka's tools read it.
//!
//! Files are shared through [`SegmentFile`] (an `Arc`'d descriptor): a [`FileSlice`] handed
//! to the network for `sendfile` keeps its file alive. Deleting a segment renames its files
//! to `.deleted` and the `.log` is unlinked when its last reference drops; truncating a
//! segment that has slices outstanding writes the kept prefix to a new file instead of
//! cutting the old one under the reader.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use memmap2::{MmapMut, MmapOptions};

use crate::config::LogConfig;
use crate::crc32c::crc32c;
use crate::end_txn_marker::EndTransactionMarker;
use crate::leader_epoch::LeaderEpochCache;
use crate::map_budget::{Evict, MapBudget};
use crate::offset_index::{self, relative_offset, OffsetIndexView, OffsetPosition};
use crate::producer_state::{ProducerBatch, ProducerStateManager};
use crate::record_batch::{
    RecordBatchView, ATTRIBUTES_OFFSET, BASE_OFFSET_OFFSET, BASE_SEQUENCE_OFFSET,
    BASE_TIMESTAMP_OFFSET, BATCH_LENGTH_OFFSET, COMPRESSION_ATTRIBUTE_MASK, CONTROL_ATTRIBUTE,
    CRC_OFFSET, HEADER_BYTES, LAST_OFFSET_DELTA_OFFSET, LOG_OVERHEAD_BYTES, MAGIC_OFFSET, MAGIC_V2,
    MAX_TIMESTAMP_OFFSET, PARTITION_LEADER_EPOCH_OFFSET, PRODUCER_EPOCH_OFFSET, PRODUCER_ID_OFFSET,
    TIMESTAMP_TYPE_ATTRIBUTE, TRANSACTIONAL_ATTRIBUTE,
};
use crate::time_index::{self, TimeIndexView, TimestampOffset, NO_TIMESTAMP};
use crate::transaction_index::{AbortedTxn, TransactionIndex, TXN_INDEX_SUFFIX};

pub const LOG_SUFFIX: &str = ".log";
pub const INDEX_SUFFIX: &str = ".index";
pub const TIME_INDEX_SUFFIX: &str = ".timeindex";
pub const DELETED_SUFFIX: &str = ".deleted";

/// `<base offset, 20 digits><suffix>`, Kafka's file naming.
pub fn segment_file_name(base_offset: i64, suffix: &str) -> String {
    format!("{base_offset:020}{suffix}")
}

// Field positions of the record batch v2 header (see record_batch.rs).

/// The header fields the log needs, read without touching the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Byte position of the batch in its segment.
    pub position: u32,
    /// Whole batch size: 12 + batchLength.
    pub size: u32,
    pub base_offset: i64,
    pub last_offset: i64,
    pub partition_leader_epoch: i32,
    pub attributes: i16,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    /// -1 for a batch without idempotence.
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// -1 without a sequence.
    pub base_sequence: i32,
}

impl BatchHeader {
    /// Parses the first `HEADER_BYTES` of `bytes`. `None` if they cannot start a v2 batch
    /// (wrong magic, a length shorter than a header, a negative last offset delta).
    pub fn parse(bytes: &[u8], position: u32) -> Option<Self> {
        if bytes.len() < HEADER_BYTES || bytes[MAGIC_OFFSET] as i8 != MAGIC_V2 {
            return None;
        }
        let read_i64 = |at: usize| i64::from_be_bytes(bytes[at..at + 8].try_into().unwrap());
        let read_i32 = |at: usize| i32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        let batch_length = read_i32(BATCH_LENGTH_OFFSET);
        if batch_length < (HEADER_BYTES - LOG_OVERHEAD_BYTES) as i32 {
            return None;
        }
        let last_offset_delta = read_i32(LAST_OFFSET_DELTA_OFFSET);
        if last_offset_delta < 0 {
            return None;
        }
        let base_offset = read_i64(BASE_OFFSET_OFFSET);
        Some(Self {
            position,
            size: (batch_length as u32).checked_add(LOG_OVERHEAD_BYTES as u32)?,
            base_offset,
            last_offset: base_offset.checked_add(i64::from(last_offset_delta))?,
            partition_leader_epoch: read_i32(PARTITION_LEADER_EPOCH_OFFSET),
            attributes: i16::from_be_bytes(
                bytes[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2]
                    .try_into()
                    .unwrap(),
            ),
            base_timestamp: read_i64(BASE_TIMESTAMP_OFFSET),
            max_timestamp: read_i64(MAX_TIMESTAMP_OFFSET),
            producer_id: read_i64(PRODUCER_ID_OFFSET),
            producer_epoch: i16::from_be_bytes(
                bytes[PRODUCER_EPOCH_OFFSET..PRODUCER_EPOCH_OFFSET + 2]
                    .try_into()
                    .unwrap(),
            ),
            base_sequence: read_i32(BASE_SEQUENCE_OFFSET),
        })
    }

    /// The header's last offset delta (last offset minus base offset).
    pub fn last_offset_delta(&self) -> i32 {
        (self.last_offset - self.base_offset) as i32
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_ATTRIBUTE != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_ATTRIBUTE != 0
    }

    pub fn end(&self) -> u64 {
        u64::from(self.position) + u64::from(self.size)
    }

    pub fn is_log_append_time(&self) -> bool {
        self.attributes & TIMESTAMP_TYPE_ATTRIBUTE != 0
    }

    pub fn compression(&self) -> i16 {
        self.attributes & COMPRESSION_ATTRIBUTE_MASK
    }

    /// What the producer state needs of this batch as it lies in the log; `batch` is its
    /// bytes, read for the marker of a control batch (`None`: not read, or no marker).
    pub fn producer_batch(&self, batch: Option<&[u8]>) -> ProducerBatch {
        ProducerBatch {
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            base_sequence: self.base_sequence,
            first_offset: self.base_offset,
            last_offset: self.last_offset,
            last_offset_delta: self.last_offset_delta(),
            max_timestamp: self.max_timestamp,
            is_transactional: self.is_transactional(),
            is_control: self.is_control(),
            end_txn_marker: if self.is_control() {
                batch.and_then(EndTransactionMarker::from_batch)
            } else {
                None
            },
        }
    }
}

/// Reads batch headers from a file through a small buffer: one `pread` covers every
/// header in the next 16 KiB.
pub(crate) struct HeaderReader<'a> {
    file: &'a File,
    buffer: Vec<u8>,
    buffer_position: u64,
}

const HEADER_READ_CHUNK_BYTES: u64 = 16 * 1024;

impl<'a> HeaderReader<'a> {
    pub fn new(file: &'a File) -> Self {
        Self {
            file,
            buffer: Vec::new(),
            buffer_position: 0,
        }
    }

    /// The header of the batch at `position`, if a whole plausible batch lies before `end`.
    pub fn header_at(&mut self, position: u64, end: u64) -> io::Result<Option<BatchHeader>> {
        let header_bytes = HEADER_BYTES as u64;
        if position + header_bytes > end {
            return Ok(None);
        }
        let buffered_end = self.buffer_position + self.buffer.len() as u64;
        if position < self.buffer_position || position + header_bytes > buffered_end {
            let length = HEADER_READ_CHUNK_BYTES.min(end - position) as usize;
            self.buffer.resize(length, 0);
            self.file.read_exact_at(&mut self.buffer, position)?;
            self.buffer_position = position;
        }
        let at = (position - self.buffer_position) as usize;
        let header = BatchHeader::parse(&self.buffer[at..at + HEADER_BYTES], position as u32);
        Ok(header.filter(|header| header.end() <= end))
    }
}

/// An open segment file shared by the log, the background thread and outstanding slices.
#[derive(Debug)]
pub struct SegmentFile {
    file: File,
    path: Mutex<PathBuf>,
    delete_when_dropped: AtomicBool,
    /// Bytes allocated on disk (the file length) while the segment is active.
    reserved_bytes: AtomicU64,
    /// Live [`FileSlice`]s of this file: truncation must not cut bytes under them.
    slices: AtomicUsize,
    /// Whether background reservations may still grow the file. Held while resizing, so a
    /// late reservation cannot grow a segment that was just trimmed and closed.
    accepts_reservations: Mutex<bool>,
}

impl SegmentFile {
    pub(crate) fn new(file: File, path: PathBuf) -> Self {
        let length = file.metadata().map(|metadata| metadata.len()).unwrap_or(0);
        Self {
            file,
            path: Mutex::new(path),
            delete_when_dropped: AtomicBool::new(false),
            reserved_bytes: AtomicU64::new(length),
            slices: AtomicUsize::new(0),
            accepts_reservations: Mutex::new(true),
        }
    }

    pub(crate) fn open(path: &Path, create: bool) -> io::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(path)?;
        Ok(Self::new(file, path.to_path_buf()))
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    pub fn path(&self) -> PathBuf {
        self.path.lock().unwrap().clone()
    }

    pub(crate) fn rename(&self, to: PathBuf) -> io::Result<()> {
        let mut path = self.path.lock().unwrap();
        fs::rename(&*path, &to)?;
        *path = to;
        Ok(())
    }

    /// Unlink the file when the last reference goes.
    pub(crate) fn delete_when_dropped(&self) {
        self.delete_when_dropped.store(true, Ordering::Release);
    }

    pub(crate) fn outstanding_slices(&self) -> usize {
        self.slices.load(Ordering::Acquire)
    }

    pub(crate) fn reserved_bytes(&self) -> u64 {
        self.reserved_bytes.load(Ordering::Acquire)
    }

    /// Allocates the file on disk up to `length` bytes (growing it), so that writes through
    /// a map below `length` cannot fail for lack of space.
    pub(crate) fn reserve(&self, length: u64) -> io::Result<()> {
        let accepts = self.accepts_reservations.lock().unwrap();
        if !*accepts || length <= self.reserved_bytes() {
            return Ok(());
        }
        // SAFETY: fallocate on an open descriptor; the range is in bounds of i64.
        let result = unsafe { libc::fallocate(self.file.as_raw_fd(), 0, 0, length as libc::off_t) };
        if result != 0 {
            let error = io::Error::last_os_error();
            if error.raw_os_error() != Some(libc::EOPNOTSUPP) {
                return Err(error);
            }
            // No fallocate on this filesystem: a sparse file, as Kafka's preallocate makes.
            if self.file.metadata()?.len() < length {
                self.file.set_len(length)?;
            }
        }
        self.reserved_bytes.fetch_max(length, Ordering::AcqRel);
        Ok(())
    }

    pub(crate) fn set_len(&self, length: u64) -> io::Result<()> {
        let _resizing = self.accepts_reservations.lock().unwrap();
        self.file.set_len(length)?;
        self.reserved_bytes.store(length, Ordering::Release);
        Ok(())
    }

    /// Trims the file to `length` and refuses later reservations (a closed segment).
    pub(crate) fn close_at(&self, length: u64) -> io::Result<()> {
        let mut accepts = self.accepts_reservations.lock().unwrap();
        *accepts = false;
        self.file.set_len(length)?;
        self.reserved_bytes.store(length, Ordering::Release);
        Ok(())
    }

    /// Accepts reservations again (a closed segment made active by truncation).
    pub(crate) fn reopen_at(&self, length: u64) -> io::Result<()> {
        let mut accepts = self.accepts_reservations.lock().unwrap();
        *accepts = true;
        self.file.set_len(length)?;
        self.reserved_bytes.store(length, Ordering::Release);
        Ok(())
    }
}

impl Drop for SegmentFile {
    fn drop(&mut self) {
        if self.delete_when_dropped.load(Ordering::Acquire) {
            let _ = fs::remove_file(self.path.get_mut().unwrap());
        }
    }
}

/// A range of whole batches in a segment file: what a Fetch response sends with
/// `sendfile(socket, file, position, length)`. Holding it keeps the file's bytes readable
/// even if the segment is deleted or truncated meanwhile.
#[derive(Debug)]
pub struct FileSlice {
    file: Arc<SegmentFile>,
    position: u64,
    length: u64,
}

impl FileSlice {
    fn new(file: Arc<SegmentFile>, position: u64, length: u64) -> Self {
        file.slices.fetch_add(1, Ordering::AcqRel);
        Self {
            file,
            position,
            length,
        }
    }
}

impl Clone for FileSlice {
    fn clone(&self) -> Self {
        Self::new(self.file.clone(), self.position, self.length)
    }
}

impl Drop for FileSlice {
    fn drop(&mut self) {
        self.file.slices.fetch_sub(1, Ordering::AcqRel);
    }
}

impl FileSlice {
    pub fn file(&self) -> &File {
        self.file.file()
    }

    pub fn raw_fd(&self) -> i32 {
        self.file.file().as_raw_fd()
    }

    pub fn position(&self) -> u64 {
        self.position
    }

    pub fn len(&self) -> u64 {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Copies the slice's bytes.
    pub fn to_vec(&self) -> io::Result<Vec<u8>> {
        let mut bytes = vec![0u8; self.length as usize];
        self.read_into(&mut bytes)?;
        Ok(bytes)
    }

    /// Copies the slice's bytes into `target`, which must be exactly `len()` long.
    pub fn read_into(&self, target: &mut [u8]) -> io::Result<()> {
        assert_eq!(
            target.len() as u64,
            self.length,
            "target is the slice's length"
        );
        self.file.file().read_exact_at(target, self.position)
    }
}

/// The files a segment keeps open and sized for appends while it is the active one.
struct ActiveFiles {
    offset_index: Arc<SegmentFile>,
    time_index: Arc<SegmentFile>,
}

/// The index maps of one segment; dropped (unmapped) by the map budget when idle.
pub(crate) struct SegmentMaps {
    offset_index: Option<MmapMut>,
    time_index: Option<MmapMut>,
}

impl SegmentMaps {
    fn count(&self) -> usize {
        usize::from(self.offset_index.is_some()) + usize::from(self.time_index.is_some())
    }

    fn offset_index_bytes(&self) -> &[u8] {
        self.offset_index.as_deref().unwrap_or(&[])
    }

    fn time_index_bytes(&self) -> &[u8] {
        self.time_index.as_deref().unwrap_or(&[])
    }
}

pub(crate) struct MapSlot {
    id: u64,
    budget: Arc<MapBudget>,
    stamp: AtomicU64,
    maps: Mutex<Option<SegmentMaps>>,
}

impl Evict for MapSlot {
    fn try_unmap(&self) -> bool {
        match self.maps.try_lock() {
            Ok(mut maps) => {
                *maps = None;
                true
            }
            Err(_) => false,
        }
    }
}

impl Drop for MapSlot {
    fn drop(&mut self) {
        self.budget.forget(self.id);
    }
}

/// One batch of an append: where it sits in the caller's buffer and what the indexes need.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AppendBatch {
    pub offset_in_buffer: u32,
    pub size: u32,
    pub last_offset: i64,
    pub max_timestamp: i64,
}

/// What a segment scan learned: used by recovery.
#[derive(Debug, Default, Clone, Copy)]
pub struct RecoveredSegment {
    pub valid_bytes: u64,
    pub truncated_bytes: u64,
    pub next_offset: Option<i64>,
}

pub(crate) struct Segment {
    base_offset: i64,
    directory: PathBuf,
    log: Arc<SegmentFile>,
    active: Option<ActiveFiles>,
    slot: Arc<MapSlot>,
    size: u32,
    offset_index_entries: usize,
    time_index_entries: usize,
    last_time_entry: TimestampOffset,
    /// Largest batch max timestamp and the last offset of its batch; `None` until loaded.
    max_timestamp_so_far: Option<TimestampOffset>,
    bytes_since_last_index_entry: u32,
    /// Max timestamp of the first batch, for time-based rolling; `None` until loaded.
    rolling_based_timestamp: Option<i64>,
    /// Aborted transactions whose marker is in this segment (`.txnindex`).
    txn_index: TransactionIndex,
    created_ms: i64,
    roll_jitter_ms: i64,
    index_interval_bytes: u32,
}

fn map_file(file: &File, length: usize) -> io::Result<Option<MmapMut>> {
    if length == 0 {
        return Ok(None);
    }
    // SAFETY: the file is owned by this process's storage layer; writers go only through
    // the log's own single writer, and nothing truncates a mapped file below its mapped
    // writes (maps are dropped before any truncation).
    let map = unsafe { MmapOptions::new().len(length).map_mut(file)? };
    // Index pages are touched one at a time (appends at the end, binary searches). Without this
    // the first touch of a page reads ahead a large window of the (unwritten) file, zero-filling
    // every page of it: with 1,000 partitions that was 80% of the broker's CPU
    // (docs/performance.md). Advice only; a kernel that refuses it just reads ahead.
    let _ = map.advise(memmap2::Advice::Random);
    Ok(Some(map))
}

fn index_max_bytes(config: &LogConfig, entry_bytes: usize) -> u64 {
    let entries = (config.segment_index_bytes as usize / entry_bytes).max(2);
    (entries * entry_bytes) as u64
}

impl Segment {
    fn new_with(
        directory: &Path,
        base_offset: i64,
        log: Arc<SegmentFile>,
        size: u32,
        config: &LogConfig,
        budget: &Arc<MapBudget>,
        now_ms: i64,
    ) -> Self {
        let seed = base_offset as u64 ^ (now_ms as u64).rotate_left(17);
        Self {
            base_offset,
            directory: directory.to_path_buf(),
            log,
            active: None,
            slot: Arc::new(MapSlot {
                id: budget.new_slot_id(),
                budget: budget.clone(),
                stamp: AtomicU64::new(0),
                maps: Mutex::new(None),
            }),
            size,
            offset_index_entries: 0,
            time_index_entries: 0,
            last_time_entry: TimestampOffset {
                timestamp: NO_TIMESTAMP,
                offset: base_offset,
            },
            max_timestamp_so_far: None,
            bytes_since_last_index_entry: 0,
            rolling_based_timestamp: None,
            txn_index: TransactionIndex::new(
                directory.join(segment_file_name(base_offset, TXN_INDEX_SUFFIX)),
                base_offset,
            ),
            created_ms: now_ms,
            roll_jitter_ms: config.random_segment_jitter_ms(seed),
            index_interval_bytes: config.index_interval_bytes,
        }
    }

    /// Creates a new, empty, active segment. `prepared` are files made ahead of time by
    /// the background thread (renamed into place here), if any.
    pub fn create(
        directory: &Path,
        base_offset: i64,
        config: &LogConfig,
        budget: &Arc<MapBudget>,
        now_ms: i64,
        prepared: Option<PreparedSegment>,
    ) -> io::Result<Self> {
        let log_path = directory.join(segment_file_name(base_offset, LOG_SUFFIX));
        let (log, offset_index, time_index) = match prepared {
            Some(prepared) => {
                prepared.log.rename(log_path)?;
                prepared
                    .offset_index
                    .rename(directory.join(segment_file_name(base_offset, INDEX_SUFFIX)))?;
                prepared
                    .time_index
                    .rename(directory.join(segment_file_name(base_offset, TIME_INDEX_SUFFIX)))?;
                (prepared.log, prepared.offset_index, prepared.time_index)
            }
            None => {
                let prepared = PreparedSegment::create_files(
                    &log_path,
                    &directory.join(segment_file_name(base_offset, INDEX_SUFFIX)),
                    &directory.join(segment_file_name(base_offset, TIME_INDEX_SUFFIX)),
                    config,
                )?;
                (prepared.log, prepared.offset_index, prepared.time_index)
            }
        };
        let mut segment = Self::new_with(directory, base_offset, log, 0, config, budget, now_ms);
        // A leftover of an earlier segment at this offset (Kafka's roll deletes it too).
        match fs::remove_file(segment.txn_index.path()) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
        segment.active = Some(ActiveFiles {
            offset_index,
            time_index,
        });
        segment.max_timestamp_so_far = Some(segment.last_time_entry);
        Ok(segment)
    }

    /// Opens an existing segment without reading its batches. Index entry counts come
    /// from the index file lengths (closed segments have trimmed indexes); a missing index
    /// reads as `Err(NotFound)` so the caller can rebuild it.
    pub fn open(
        directory: &Path,
        base_offset: i64,
        config: &LogConfig,
        budget: &Arc<MapBudget>,
        now_ms: i64,
    ) -> io::Result<Self> {
        let log_path = directory.join(segment_file_name(base_offset, LOG_SUFFIX));
        let log = Arc::new(SegmentFile::open(&log_path, false)?);
        let length = log.file().metadata()?.len();
        let size = u32::try_from(length).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is larger than 4 GiB", log_path.display()),
            )
        })?;
        let mut segment = Self::new_with(directory, base_offset, log, size, config, budget, now_ms);
        segment.created_ms = file_modified_ms(&log_path).unwrap_or(now_ms);
        segment.txn_index = TransactionIndex::open(segment.path(TXN_INDEX_SUFFIX), base_offset)?;
        Ok(segment)
    }

    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    pub fn size(&self) -> u32 {
        self.size
    }

    pub fn log_file(&self) -> &Arc<SegmentFile> {
        &self.log
    }

    pub fn path(&self, suffix: &str) -> PathBuf {
        self.directory
            .join(segment_file_name(self.base_offset, suffix))
    }

    /// The log and index files a flush must fsync.
    pub fn files_to_flush(&self) -> Vec<Arc<SegmentFile>> {
        let mut files = vec![self.log.clone()];
        if let Some(active) = &self.active {
            files.push(active.offset_index.clone());
            files.push(active.time_index.clone());
        }
        if let Some(txn_index) = self.txn_index.file() {
            files.push(txn_index.clone());
        }
        files
    }

    /// Reads the index files' entry counts and checks them (the `.txnindex` too, Kafka's
    /// `sanityCheck`); `Err` means rebuild.
    pub fn load_indexes(&mut self, next_segment_base_offset: Option<i64>) -> io::Result<()> {
        self.txn_index.sanity_check()?;
        let offset_bytes = fs::metadata(self.path(INDEX_SUFFIX))?.len();
        let time_bytes = fs::metadata(self.path(TIME_INDEX_SUFFIX))?.len();
        self.offset_index_entries = (offset_bytes / offset_index::ENTRY_BYTES as u64) as usize;
        self.time_index_entries = (time_bytes / time_index::ENTRY_BYTES as u64) as usize;
        let size = u64::from(self.size);
        let checked = self.with_maps(|maps| {
            let offsets = OffsetIndexView::new(
                maps.offset_index_bytes(),
                self.offset_index_entries,
                self.base_offset,
            );
            offset_index::sanity_check(offset_bytes, &offsets, size, next_segment_base_offset)?;
            let times = TimeIndexView::new(
                maps.time_index_bytes(),
                self.time_index_entries,
                self.base_offset,
            );
            time_index::sanity_check(time_bytes, &times, next_segment_base_offset)?;
            Ok::<_, offset_index::CorruptIndex>(times.last_entry())
        })?;
        self.last_time_entry =
            checked.map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
        Ok(())
    }

    fn map_files(&self) -> io::Result<SegmentMaps> {
        if let Some(active) = &self.active {
            return Ok(SegmentMaps {
                offset_index: map_file(
                    active.offset_index.file(),
                    active.offset_index.file().metadata()?.len() as usize,
                )?,
                time_index: map_file(
                    active.time_index.file(),
                    active.time_index.file().metadata()?.len() as usize,
                )?,
            });
        }
        let map_index = |suffix: &str, entries: usize, entry_bytes: usize| {
            if entries == 0 {
                return Ok(None);
            }
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(self.path(suffix))?;
            map_file(&file, entries * entry_bytes)
        };
        Ok(SegmentMaps {
            offset_index: map_index(
                INDEX_SUFFIX,
                self.offset_index_entries,
                offset_index::ENTRY_BYTES,
            )?,
            time_index: map_index(
                TIME_INDEX_SUFFIX,
                self.time_index_entries,
                time_index::ENTRY_BYTES,
            )?,
        })
    }

    /// Runs `action` with this segment's maps, mapping them first (within the budget) if
    /// they were dropped.
    fn with_maps<R>(&self, action: impl FnOnce(&mut SegmentMaps) -> R) -> io::Result<R> {
        let mut guard = self.slot.maps.lock().unwrap();
        if guard.is_none() {
            let maps = self.map_files()?;
            let cost = maps.count();
            if cost > 0 {
                let weak: Weak<MapSlot> = Arc::downgrade(&self.slot);
                self.slot
                    .budget
                    .admit(self.slot.id, cost, weak, &self.slot.stamp);
            }
            *guard = Some(maps);
        } else {
            self.slot.budget.touch(self.slot.id, &self.slot.stamp);
        }
        Ok(action(guard.as_mut().expect("mapped above")))
    }

    fn unmap(&self) {
        let mut guard = self.slot.maps.lock().unwrap();
        if guard.take().is_some() {
            self.slot.budget.forget(self.slot.id);
        }
    }

    pub fn offset_index_entries(&self) -> usize {
        self.offset_index_entries
    }

    pub fn time_index_entries(&self) -> usize {
        self.time_index_entries
    }

    fn offset_index_capacity(&self) -> usize {
        self.active.as_ref().map_or(0, |active| {
            (active.offset_index.reserved_bytes() / offset_index::ENTRY_BYTES as u64) as usize
        })
    }

    fn time_index_capacity(&self) -> usize {
        self.active.as_ref().map_or(0, |active| {
            (active.time_index.reserved_bytes() / time_index::ENTRY_BYTES as u64) as usize
        })
    }

    /// Kafka's `isFull` of either index (the time index keeps its last slot for the entry
    /// written at close).
    pub fn index_is_full(&self) -> bool {
        self.offset_index_entries >= self.offset_index_capacity()
            || self.time_index_entries + 1 >= self.time_index_capacity()
    }

    /// The offset index entry at or below `target` (or the segment start).
    pub fn lookup_offset(&self, target: i64) -> io::Result<OffsetPosition> {
        self.with_maps(|maps| {
            OffsetIndexView::new(
                maps.offset_index_bytes(),
                self.offset_index_entries,
                self.base_offset,
            )
            .lookup(target)
        })
    }

    fn lookup_position(&self, position: u32) -> io::Result<Option<OffsetPosition>> {
        self.with_maps(|maps| {
            OffsetIndexView::new(
                maps.offset_index_bytes(),
                self.offset_index_entries,
                self.base_offset,
            )
            .lookup_by_position(position)
        })
    }

    pub fn lookup_timestamp(&self, target: i64) -> io::Result<TimestampOffset> {
        self.with_maps(|maps| {
            TimeIndexView::new(
                maps.time_index_bytes(),
                self.time_index_entries,
                self.base_offset,
            )
            .lookup(target)
        })
    }

    /// The first batch whose last offset is at least `target`, scanning headers from the
    /// index floor; `None` if every batch in the segment is below it.
    pub fn translate_offset(&self, target: i64) -> io::Result<Option<BatchHeader>> {
        let floor = self.lookup_offset(target)?;
        self.first_batch_from(u64::from(floor.position), |header| {
            header.last_offset >= target
        })
    }

    fn first_batch_from(
        &self,
        mut position: u64,
        wanted: impl Fn(&BatchHeader) -> bool,
    ) -> io::Result<Option<BatchHeader>> {
        let mut reader = HeaderReader::new(self.log.file());
        let end = u64::from(self.size);
        while let Some(header) = reader.header_at(position, end)? {
            if wanted(&header) {
                return Ok(Some(header));
            }
            position = header.end();
        }
        Ok(None)
    }

    /// The end position and next offset of the longest run of whole batches starting with
    /// `first` and ending at or before `limit`; the first batch always counts, however large.
    pub fn extent_from(&self, first: BatchHeader, limit: u64) -> io::Result<(u64, i64)> {
        let mut end = first.end();
        let mut next_offset = first.last_offset + 1;
        if end >= limit {
            return Ok((end, next_offset));
        }
        // Jump with the index to the last indexed batch start at or below the limit: every
        // batch before it lies whole below the limit, so the read extends at least to it.
        let mut position = end;
        let mut jumped = false;
        if let Some(entry) = self.lookup_position(limit.min(u64::from(u32::MAX)) as u32)? {
            if u64::from(entry.position) > position {
                position = u64::from(entry.position);
                jumped = true;
            }
        }
        let mut reader = HeaderReader::new(self.log.file());
        while let Some(header) = reader.header_at(position, u64::from(self.size))? {
            if jumped {
                end = position;
                next_offset = header.base_offset;
                jumped = false;
            }
            if header.end() > limit {
                break;
            }
            end = header.end();
            next_offset = header.last_offset + 1;
            position = end;
        }
        Ok((end, next_offset))
    }

    pub fn slice(&self, position: u64, length: u64) -> FileSlice {
        FileSlice::new(self.log.clone(), position, length)
    }

    /// The offset after the last batch (Kafka's `readNextOffset`), from the last index entry.
    pub fn read_next_offset(&self) -> io::Result<i64> {
        let floor = self.lookup_offset(i64::MAX)?;
        let mut reader = HeaderReader::new(self.log.file());
        let mut position = u64::from(floor.position);
        let mut next = self.base_offset;
        while let Some(header) = reader.header_at(position, u64::from(self.size))? {
            next = header.last_offset + 1;
            position = header.end();
        }
        Ok(next)
    }

    /// Largest batch max timestamp and its batch's last offset, loading it on first use:
    /// the time index's last entry, then (for an active segment) a scan of the batches
    /// after it, as Kafka's `readLargestTimestamp`.
    pub fn max_timestamp_so_far(&mut self) -> io::Result<TimestampOffset> {
        if let Some(known) = self.max_timestamp_so_far {
            return Ok(known);
        }
        let mut largest = self.last_time_entry;
        let floor = self.lookup_offset(largest.offset)?;
        let mut reader = HeaderReader::new(self.log.file());
        let mut position = u64::from(floor.position);
        while let Some(header) = reader.header_at(position, u64::from(self.size))? {
            if header.max_timestamp > largest.timestamp {
                largest = TimestampOffset {
                    timestamp: header.max_timestamp,
                    offset: header.last_offset,
                };
            }
            position = header.end();
        }
        self.max_timestamp_so_far = Some(largest);
        Ok(largest)
    }

    /// Kafka's `largestTimestamp`: the max timestamp, or the file's modification time if
    /// no batch has a timestamp.
    pub fn largest_timestamp(&mut self) -> io::Result<i64> {
        let largest = self.max_timestamp_so_far()?.timestamp;
        if largest >= 0 {
            return Ok(largest);
        }
        Ok(file_modified_ms(&self.log.path()).unwrap_or(0))
    }

    /// How long this segment has waited to be rolled (Kafka's `timeWaitedForRoll`): by the
    /// incoming batch's timestamp against the first batch's, or by the wall clock.
    pub fn time_waited_for_roll(
        &mut self,
        now_ms: i64,
        incoming_max_timestamp: i64,
    ) -> io::Result<i64> {
        if self.rolling_based_timestamp.is_none() && self.size > 0 {
            let first = self.first_batch_from(0, |_| true)?;
            self.rolling_based_timestamp = first.map(|header| header.max_timestamp);
        }
        match self.rolling_based_timestamp {
            Some(first) if first >= 0 => Ok(incoming_max_timestamp.saturating_sub(first)),
            _ => Ok(now_ms - self.created_ms),
        }
    }

    /// Kafka's `getFirstBatchTimestamp`: the first batch's max timestamp (`i64::MAX` for an
    /// empty segment), read once and kept (it is also the time-based roll's reference).
    pub fn first_batch_timestamp(&mut self) -> io::Result<i64> {
        if self.rolling_based_timestamp.is_none() && self.size > 0 {
            let first = self.first_batch_from(0, |_| true)?;
            self.rolling_based_timestamp = first.map(|header| header.max_timestamp);
        }
        Ok(self.rolling_based_timestamp.unwrap_or(i64::MAX))
    }

    /// The `.log` file's modification time (Kafka's `lastModified`).
    pub fn last_modified(&self) -> Option<std::time::SystemTime> {
        self.log
            .file()
            .metadata()
            .and_then(|metadata| metadata.modified())
            .ok()
    }

    pub fn roll_jitter_ms(&self) -> i64 {
        self.roll_jitter_ms
    }

    /// Appends `bytes` (whole batches with offsets assigned) at the end of the segment and
    /// adds index entries by Kafka's rule. Either all of `bytes` lands or the segment is
    /// unchanged.
    pub fn append(
        &mut self,
        bytes: &[u8],
        batches: &[AppendBatch],
        chunk_bytes: u64,
    ) -> io::Result<()> {
        let position = u64::from(self.size);
        let end = position + bytes.len() as u64;
        let new_size = u32::try_from(end)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "segment would pass 4 GiB"))?;
        if end > self.log.reserved_bytes() {
            // The background thread normally keeps a chunk reserved ahead; this is the
            // fallback when appends outran it.
            self.log.reserve(end + chunk_bytes)?;
        }
        if position == 0 {
            self.rolling_based_timestamp = batches.iter().map(|batch| batch.max_timestamp).max();
        }
        let mut max_timestamp = self.max_timestamp_so_far()?;
        let offset_capacity = self.offset_index_capacity();
        let time_capacity = self.time_index_capacity();
        let base_offset = self.base_offset;
        let interval = self.index_interval_bytes;
        let mut offset_entries = self.offset_index_entries;
        let mut time_entries = self.time_index_entries;
        let mut last_time_entry = self.last_time_entry;
        let mut bytes_since = self.bytes_since_last_index_entry;
        self.log.file().write_all_at(bytes, position)?;
        self.with_maps(|maps| -> io::Result<()> {
            for batch in batches {
                if batch.max_timestamp > max_timestamp.timestamp {
                    max_timestamp = TimestampOffset {
                        timestamp: batch.max_timestamp,
                        offset: batch.last_offset,
                    };
                }
                if bytes_since > interval && offset_entries < offset_capacity {
                    let batch_position = position as u32 + batch.offset_in_buffer;
                    let map = maps.offset_index.as_mut().expect("active index is mapped");
                    offset_index::write_entry(
                        map,
                        offset_entries,
                        base_offset,
                        OffsetPosition {
                            offset: batch.last_offset,
                            position: batch_position,
                        },
                    );
                    offset_entries += 1;
                    if time_index::should_append(last_time_entry, max_timestamp.timestamp)
                        && time_entries + 1 < time_capacity
                    {
                        let map = maps.time_index.as_mut().expect("active index is mapped");
                        time_index::write_entry(map, time_entries, base_offset, max_timestamp);
                        time_entries += 1;
                        last_time_entry = max_timestamp;
                    }
                    bytes_since = 0;
                }
                bytes_since = bytes_since.saturating_add(batch.size);
            }
            Ok(())
        })??;
        self.size = new_size;
        self.offset_index_entries = offset_entries;
        self.time_index_entries = time_entries;
        self.last_time_entry = last_time_entry;
        self.bytes_since_last_index_entry = bytes_since;
        self.max_timestamp_so_far = Some(max_timestamp);
        Ok(())
    }

    /// Tops up the on-disk reservation ahead of the write position; `Some(target)` when
    /// the caller should ask the background thread to reserve up to `target`.
    pub fn reservation_wanted(&self, chunk_bytes: u64) -> Option<u64> {
        self.active.as_ref()?;
        let end = u64::from(self.size);
        (self.log.reserved_bytes() < end + chunk_bytes / 2).then_some(end + chunk_bytes)
    }

    /// Writes the closing time index entry and trims the three files to their content:
    /// the segment is no longer written to (Kafka's `onBecomeInactiveSegment`).
    pub fn close_for_appends(&mut self) -> io::Result<()> {
        if self.active.is_none() {
            return Ok(());
        }
        let largest = self.max_timestamp_so_far()?;
        if time_index::should_append(self.last_time_entry, largest.timestamp)
            && self.time_index_entries < self.time_index_capacity()
        {
            let (slot, base) = (self.time_index_entries, self.base_offset);
            self.with_maps(|maps| {
                let map = maps.time_index.as_mut().expect("active index is mapped");
                time_index::write_entry(map, slot, base, largest);
            })?;
            self.time_index_entries += 1;
            self.last_time_entry = largest;
        }
        self.unmap();
        let active = self.active.take().expect("checked above");
        active
            .offset_index
            .set_len((self.offset_index_entries * offset_index::ENTRY_BYTES) as u64)?;
        active
            .time_index
            .set_len((self.time_index_entries * time_index::ENTRY_BYTES) as u64)?;
        self.log.close_at(u64::from(self.size))?;
        Ok(())
    }

    /// Makes this segment the active one again (after open or truncation): indexes grown
    /// to `segment.index.bytes`, the log reserved ahead, maps rebuilt on next use.
    pub fn reopen_for_appends(&mut self, config: &LogConfig) -> io::Result<()> {
        if self.active.is_some() {
            return Ok(());
        }
        self.unmap();
        let offset_index = Arc::new(SegmentFile::open(&self.path(INDEX_SUFFIX), true)?);
        let time_index = Arc::new(SegmentFile::open(&self.path(TIME_INDEX_SUFFIX), true)?);
        offset_index.set_len(index_max_bytes(config, offset_index::ENTRY_BYTES))?;
        time_index.set_len(index_max_bytes(config, time_index::ENTRY_BYTES))?;
        self.log.reopen_at(u64::from(self.size))?;
        self.log
            .reserve(u64::from(self.size) + u64::from(config.preallocate_chunk_bytes))?;
        self.active = Some(ActiveFiles {
            offset_index,
            time_index,
        });
        Ok(())
    }

    /// Removes batches at and above `offset` and their index entries; returns the bytes
    /// cut from the log. If slices of this file are outstanding, the kept prefix is copied
    /// to a fresh file that atomically replaces the old name, so readers keep their bytes.
    pub fn truncate_to(&mut self, offset: i64) -> io::Result<u64> {
        let cut = self.translate_offset(offset)?;
        let (offset_entries, time_entries) = self.with_maps(|maps| {
            (
                OffsetIndexView::new(
                    maps.offset_index_bytes(),
                    self.offset_index_entries,
                    self.base_offset,
                )
                .entries_below(offset),
                TimeIndexView::new(
                    maps.time_index_bytes(),
                    self.time_index_entries,
                    self.base_offset,
                )
                .entries_below(offset),
            )
        })?;
        let last_time_entry = self.with_maps(|maps| {
            TimeIndexView::new(maps.time_index_bytes(), time_entries, self.base_offset).last_entry()
        })?;
        self.unmap();
        self.offset_index_entries = offset_entries;
        self.time_index_entries = time_entries;
        self.last_time_entry = last_time_entry;
        self.bytes_since_last_index_entry = 0;
        self.max_timestamp_so_far = None;
        self.txn_index.truncate_to(offset)?;
        let Some(cut) = cut else {
            return Ok(0);
        };
        let new_size = cut.position;
        let truncated = u64::from(self.size - new_size);
        if self.log.outstanding_slices() > 0 {
            self.copy_prefix_to_new_file(u64::from(new_size))?;
        } else {
            self.log.set_len(u64::from(new_size))?;
        }
        self.size = new_size;
        if self.size == 0 {
            self.rolling_based_timestamp = None;
        }
        Ok(truncated)
    }

    fn copy_prefix_to_new_file(&mut self, length: u64) -> io::Result<()> {
        let path = self.path(LOG_SUFFIX);
        let temporary = self.path(".log.truncated.tmp");
        let target = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temporary)?;
        let mut buffer = vec![0u8; (1 << 20).min(length as usize)];
        let mut copied = 0u64;
        while copied < length {
            let chunk = (length - copied).min(buffer.len() as u64) as usize;
            self.log
                .file()
                .read_exact_at(&mut buffer[..chunk], copied)?;
            target.write_all_at(&buffer[..chunk], copied)?;
            copied += chunk as u64;
        }
        target.sync_data()?;
        // The old inode stays alive for the slices that hold it; the name moves on.
        fs::rename(&temporary, &path)?;
        let replacement = Arc::new(SegmentFile::new(target, path));
        if self.active.is_some() {
            replacement.reserve(length)?;
        }
        self.log = replacement;
        Ok(())
    }

    /// Renames the segment's files to `<name>.deleted`; the `.log` is unlinked when its last
    /// reference (the log's, or a reader's slice) goes, the indexes at once.
    pub fn delete(mut self) -> io::Result<Arc<SegmentFile>> {
        self.unmap();
        self.active = None;
        let log_path = self.log.path();
        let mut deleted_name = log_path.file_name().unwrap_or_default().to_os_string();
        deleted_name.push(DELETED_SUFFIX);
        self.log.rename(log_path.with_file_name(deleted_name))?;
        self.log.delete_when_dropped();
        for suffix in [INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
            match fs::remove_file(self.path(suffix)) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
                _ => {}
            }
        }
        self.txn_index.delete()?;
        Ok(self.log.clone())
    }

    /// Writes an aborted transaction whose marker is in this segment to its `.txnindex`
    /// (Kafka's `updateTxnIndex`). Returns the file when this created it.
    pub fn append_aborted_txn(&mut self, txn: &AbortedTxn) -> io::Result<Option<Arc<SegmentFile>>> {
        self.txn_index.append(txn)
    }

    /// Entries of the `.txnindex` (0 without the file).
    pub fn txn_index_entries(&self) -> usize {
        self.txn_index.entries()
    }

    /// Kafka's `collectAbortedTxns`, see [`TransactionIndex::collect_aborted_txns`].
    pub fn collect_aborted_txns(
        &self,
        fetch_offset: i64,
        upper_bound: i64,
        out: &mut Vec<AbortedTxn>,
    ) -> io::Result<bool> {
        self.txn_index
            .collect_aborted_txns(fetch_offset, upper_bound, out)
    }

    /// Every entry of the `.txnindex`.
    pub fn all_aborted_txns(&self) -> io::Result<Vec<AbortedTxn>> {
        self.txn_index.all_aborted_txns()
    }

    /// Rebuilds this segment's indexes from its batches, checking framing and CRC32C of
    /// each; the log is cut at the first batch that fails (a torn write, garbage, or the
    /// zeros of a preallocated tail). Kafka's `LogSegment.recover`: with `producer_state`
    /// (the state as of this segment's base offset) each batch also updates it, and the
    /// `.txnindex` is rebuilt from the ABORT markers found.
    pub fn recover(
        &mut self,
        mut leader_epochs: Option<&mut LeaderEpochCache>,
        mut producer_state: Option<&mut ProducerStateManager>,
        bytes_scanned: &AtomicU64,
    ) -> io::Result<RecoveredSegment> {
        self.unmap();
        let mut aborted: Vec<AbortedTxn> = Vec::new();
        let file_length = self.log.file().metadata()?.len();
        let mut offset_entries: Vec<u8> = Vec::new();
        let mut time_entries: Vec<u8> = Vec::new();
        let mut last_time_entry = TimestampOffset {
            timestamp: NO_TIMESTAMP,
            offset: self.base_offset,
        };
        let mut max_timestamp = last_time_entry;
        let mut last_index_position: u64 = 0;
        let mut previous_last_offset: Option<i64> = None;
        let mut first_max_timestamp = None;
        let interval = u64::from(self.index_interval_bytes);
        let base_offset = self.base_offset;
        let valid_bytes = scan_valid_batches(
            self.log.file(),
            file_length,
            bytes_scanned,
            |header, bytes| {
                if relative_offset(base_offset, header.last_offset).is_none()
                    || header.base_offset < base_offset
                    || previous_last_offset.is_some_and(|previous| header.base_offset <= previous)
                {
                    return false;
                }
                previous_last_offset = Some(header.last_offset);
                first_max_timestamp.get_or_insert(header.max_timestamp);
                if header.max_timestamp > max_timestamp.timestamp {
                    max_timestamp = TimestampOffset {
                        timestamp: header.max_timestamp,
                        offset: header.last_offset,
                    };
                }
                let position = u64::from(header.position);
                if position - last_index_position > interval {
                    let relative = relative_offset(base_offset, header.last_offset).unwrap();
                    offset_entries.extend_from_slice(&relative.to_be_bytes());
                    offset_entries.extend_from_slice(&header.position.to_be_bytes());
                    if time_index::should_append(last_time_entry, max_timestamp.timestamp) {
                        push_time_entry(&mut time_entries, base_offset, max_timestamp);
                        last_time_entry = max_timestamp;
                    }
                    last_index_position = position;
                }
                if let Some(cache) = leader_epochs.as_deref_mut() {
                    if header.partition_leader_epoch >= 0
                        && cache
                            .latest_epoch()
                            .is_none_or(|latest| header.partition_leader_epoch > latest)
                    {
                        cache.assign(header.partition_leader_epoch, header.base_offset);
                    }
                }
                if let Some(state) = producer_state.as_deref_mut() {
                    if let Some((txn, last_stable_offset)) =
                        state.load_batch(&header.producer_batch(Some(bytes)))
                    {
                        if txn.is_aborted {
                            aborted.push(AbortedTxn {
                                producer_id: txn.producer_id,
                                first_offset: txn.first_offset,
                                last_offset: txn.last_offset,
                                last_stable_offset,
                            });
                        }
                    }
                    state.update_map_end_offset(header.last_offset + 1);
                }
                true
            },
        )?;
        self.txn_index.reset()?;
        for txn in &aborted {
            self.txn_index.append(txn)?;
        }
        if time_index::should_append(last_time_entry, max_timestamp.timestamp) {
            push_time_entry(&mut time_entries, base_offset, max_timestamp);
            last_time_entry = max_timestamp;
        }
        self.active = None;
        self.log.close_at(valid_bytes)?;
        fs::write(self.path(INDEX_SUFFIX), &offset_entries)?;
        fs::write(self.path(TIME_INDEX_SUFFIX), &time_entries)?;
        self.size = valid_bytes as u32;
        self.offset_index_entries = offset_entries.len() / offset_index::ENTRY_BYTES;
        self.time_index_entries = time_entries.len() / time_index::ENTRY_BYTES;
        self.last_time_entry = last_time_entry;
        self.max_timestamp_so_far = Some(max_timestamp);
        self.rolling_based_timestamp = first_max_timestamp;
        self.bytes_since_last_index_entry = (valid_bytes - last_index_position) as u32;
        Ok(RecoveredSegment {
            valid_bytes,
            truncated_bytes: file_length - valid_bytes,
            next_offset: previous_last_offset.map(|last| last + 1),
        })
    }

    /// Reads one whole batch.
    pub fn read_batch(&self, header: &BatchHeader) -> io::Result<Vec<u8>> {
        let mut bytes = vec![0u8; header.size as usize];
        self.log
            .file()
            .read_exact_at(&mut bytes, u64::from(header.position))?;
        Ok(bytes)
    }

    /// Calls `visit` with each batch header from `position` to the end until it returns
    /// `false`.
    pub fn for_each_batch_from(
        &self,
        mut position: u64,
        mut visit: impl FnMut(&BatchHeader) -> io::Result<bool>,
    ) -> io::Result<()> {
        let mut reader = HeaderReader::new(self.log.file());
        while let Some(header) = reader.header_at(position, u64::from(self.size))? {
            if !visit(&header)? {
                break;
            }
            position = header.end();
        }
        Ok(())
    }
}

fn push_time_entry(entries: &mut Vec<u8>, base_offset: i64, entry: TimestampOffset) {
    let relative = relative_offset(base_offset, entry.offset).expect("offset fits the index");
    entries.extend_from_slice(&entry.timestamp.to_be_bytes());
    entries.extend_from_slice(&relative.to_be_bytes());
}

/// Walks the batches of `file` from position 0, checking framing and CRC32C, while
/// `accept` agrees; returns the length of the valid prefix.
pub(crate) fn scan_valid_batches(
    file: &File,
    file_length: u64,
    bytes_scanned: &AtomicU64,
    mut accept: impl FnMut(&BatchHeader, &[u8]) -> bool,
) -> io::Result<u64> {
    if file_length < HEADER_BYTES as u64 {
        return Ok(0);
    }
    // Read through a map of the file: recovery reads every byte after the recovery point (to
    // check CRCs), and copying it out of the page cache with pread was 70% of a restart's time
    // after kill -9 (docs/performance.md). Nothing else touches a segment while it recovers.
    // SAFETY: the segment file is not truncated or written while it is scanned (its log is
    // being opened and is not yet visible to any other thread); the map is dropped before return.
    let map = unsafe {
        MmapOptions::new()
            .len(file_length as usize)
            .populate()
            .map(file)?
    };
    let mut position: u64 = 0;
    loop {
        let header_end = position + HEADER_BYTES as u64;
        if header_end > file_length {
            return Ok(position);
        }
        let at = position as usize;
        let Some(header) = BatchHeader::parse(&map[at..at + HEADER_BYTES], position as u32) else {
            return Ok(position);
        };
        if header.end() > file_length || position > u64::from(u32::MAX) {
            return Ok(position);
        }
        let batch_bytes = &map[at..at + header.size as usize];
        let valid = RecordBatchView::new(batch_bytes).is_ok_and(|view| view.validate_crc().is_ok());
        if !valid || !accept(&header, batch_bytes) {
            return Ok(position);
        }
        bytes_scanned.fetch_add(u64::from(header.size), Ordering::Relaxed);
        position = header.end();
    }
}

/// Files for a future segment, created and reserved ahead of a roll by the background
/// thread under temporary names (`*.tmp`, which Kafka's loader ignores and ours deletes).
#[derive(Debug)]
pub struct PreparedSegment {
    pub(crate) log: Arc<SegmentFile>,
    pub(crate) offset_index: Arc<SegmentFile>,
    pub(crate) time_index: Arc<SegmentFile>,
}

pub const PREPARED_LOG_NAME: &str = "next-segment.log.tmp";
pub const PREPARED_INDEX_NAME: &str = "next-segment.index.tmp";
pub const PREPARED_TIME_INDEX_NAME: &str = "next-segment.timeindex.tmp";

impl PreparedSegment {
    pub fn prepare(directory: &Path, config: &LogConfig) -> io::Result<Self> {
        Self::create_files(
            &directory.join(PREPARED_LOG_NAME),
            &directory.join(PREPARED_INDEX_NAME),
            &directory.join(PREPARED_TIME_INDEX_NAME),
            config,
        )
    }

    fn create_files(
        log_path: &Path,
        index_path: &Path,
        time_index_path: &Path,
        config: &LogConfig,
    ) -> io::Result<Self> {
        let create = |path: &Path| -> io::Result<Arc<SegmentFile>> {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(path)?;
            Ok(Arc::new(SegmentFile::new(file, path.to_path_buf())))
        };
        let log = create(log_path)?;
        log.reserve(u64::from(
            config.preallocate_chunk_bytes.min(config.segment_bytes),
        ))?;
        let offset_index = create(index_path)?;
        offset_index.set_len(index_max_bytes(config, offset_index::ENTRY_BYTES))?;
        let time_index = create(time_index_path)?;
        time_index.set_len(index_max_bytes(config, time_index::ENTRY_BYTES))?;
        Ok(Self {
            log,
            offset_index,
            time_index,
        })
    }

    /// Removes the files (an unused preparation at shutdown).
    pub fn discard(self) {
        for file in [self.log, self.offset_index, self.time_index] {
            file.delete_when_dropped();
        }
    }
}

fn file_modified_ms(path: &Path) -> Option<i64> {
    let modified = fs::metadata(path).ok()?.modified().ok()?;
    let since_epoch = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(since_epoch.as_millis() as i64)
}

/// Stamps a batch's max timestamp with the log append time, sets the timestamp type
/// attribute and recomputes the CRC (Kafka's `setMaxTimestamp(LOG_APPEND_TIME, now)`).
pub(crate) fn set_log_append_time(batch: &mut [u8], now_ms: i64) {
    let attributes = i16::from_be_bytes(
        batch[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2]
            .try_into()
            .unwrap(),
    );
    batch[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2]
        .copy_from_slice(&(attributes | TIMESTAMP_TYPE_ATTRIBUTE).to_be_bytes());
    batch[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8].copy_from_slice(&now_ms.to_be_bytes());
    let crc = crc32c(&batch[ATTRIBUTES_OFFSET..]);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}

pub(crate) fn set_base_offset(batch: &mut [u8], base_offset: i64) {
    batch[BASE_OFFSET_OFFSET..BASE_OFFSET_OFFSET + 8].copy_from_slice(&base_offset.to_be_bytes());
}

pub(crate) fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) {
    batch[PARTITION_LEADER_EPOCH_OFFSET..PARTITION_LEADER_EPOCH_OFFSET + 4]
        .copy_from_slice(&epoch.to_be_bytes());
}
