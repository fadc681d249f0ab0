//! A partition log: `<log.dir>/<topic>-<partition>/`, a sorted map of segments (see
//! `segment.rs` for the files), Kafka's `UnifiedLog` without tiered storage.
//!
//! ```text
//! <topic>-<partition>/
//!   00000000000000000000.log         closed segments: trimmed to their content
//!   00000000000000000000.index
//!   00000000000000000000.timeindex
//!   00000000000000368769.log         active segment: reserved ahead, written with pwrite
//!   00000000000000368769.index       preallocated to segment.index.bytes
//!   00000000000000368769.timeindex
//!   leader-epoch-checkpoint          see leader_epoch.rs
//!   partition.metadata               see partition_metadata.rs
//!   00000000000000368769.snapshot    producer state as of that offset, see producer_state.rs
//!   00000000000000368769.txnindex    aborted transactions of a segment that has any, see
//!                                    transaction_index.rs
//!   next-segment.{log,index,timeindex}.tmp   the next segment, prepared ahead of a roll
//!   <name>.deleted                   a deleted segment file still read by someone
//! ```
//!
//! One writer at a time (`&mut self`); reads take `&self` and return [`FileSlice`]s that
//! stay valid whatever happens to the log afterwards. The caller (the broker) owns the
//! high watermark and passes it where Kafka's log would read its own.
//!
//! Transactions (Kafka's `UnifiedLog` / `LocalLog` parts of them): the producer state keeps
//! the open transactions, so the first unstable offset — and the last stable offset, the
//! bound of read_committed reads — is a map lookup ([`Log::first_unstable_offset`]).
//! [`Log::append_end_txn_marker`] writes a coordinator's COMMIT or ABORT marker; an
//! aborted transaction goes to the `.txnindex` of the segment its marker lands in, which
//! [`Log::collect_aborted_transactions`] reads for a read_committed fetch.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::background::{FlushState, Job, LogResources, PreparedSlot};
use crate::checkpoint::TopicPartition;
use crate::cleaner::{
    CleanCommit, CleanOutput, CleanPlan, CleanableInfo, CompactionConfig, LastRecord,
    PlannedSegment, CLEANED_SUFFIX, SWAP_SUFFIX,
};
use crate::config::{LogConfig, TimestampType};
use crate::end_txn_marker::EndTransactionMarker;
use crate::leader_epoch::{LeaderEpochCache, LeaderEpochCheckpointFile};
use crate::offset_index::relative_offset;
use crate::producer_state::{
    BatchMetadata, ProducerBatch, ProducerOrigin, ProducerStateEntry, ProducerStateError,
    ProducerStateManager, TV_UNKNOWN,
};
use crate::record_batch::{RecordBatchError, RecordBatchView, LOG_OVERHEAD_BYTES};
use crate::segment::{
    self, AppendBatch, BatchHeader, FileSlice, Segment, DELETED_SUFFIX, INDEX_SUFFIX, LOG_SUFFIX,
    TIME_INDEX_SUFFIX,
};
use crate::time_index::NO_TIMESTAMP;
use crate::transaction_index::{AbortedTxn, TXN_INDEX_SUFFIX};

/// Why a log operation failed. `OffsetOutOfRange` maps to Kafka's OFFSET_OUT_OF_RANGE,
/// `InvalidBatch` to CORRUPT_MESSAGE, `Io` to KAFKA_STORAGE_ERROR.
#[derive(Debug)]
pub enum LogError {
    OffsetOutOfRange {
        offset: i64,
        log_start_offset: i64,
        log_end_offset: i64,
    },
    /// The append buffer is not a sequence of whole v2 batches.
    InvalidBatch(RecordBatchError),
    /// An append with no batches.
    EmptyAppend,
    /// A replica append whose first offset is below the log end offset, or whose batches
    /// do not increase (Kafka's UnexpectedAppendOffset / OffsetsOutOfOrder).
    UnexpectedAppendOffset {
        first_offset: i64,
        log_end_offset: i64,
    },
    /// Moving the log start offset past the high watermark.
    LogStartOffsetAboveHighWatermark {
        offset: i64,
        high_watermark: i64,
    },
    /// A producer's batch refused: OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH,
    /// INVALID_TXN_STATE or (a marker) TRANSACTION_COORDINATOR_FENCED
    /// (`ProducerStateError::kafka_error`).
    ProducerState(ProducerStateError),
    Io(io::Error),
}

impl fmt::Display for LogError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OffsetOutOfRange {
                offset,
                log_start_offset,
                log_end_offset,
            } => write!(
                formatter,
                "offset {offset} is out of range [{log_start_offset}, {log_end_offset}]"
            ),
            Self::InvalidBatch(error) => write!(formatter, "invalid record batch: {error}"),
            Self::EmptyAppend => formatter.write_str("append with no record batches"),
            Self::UnexpectedAppendOffset {
                first_offset,
                log_end_offset,
            } => write!(
                formatter,
                "replica append at offset {first_offset} does not follow log end offset \
                 {log_end_offset} in increasing order"
            ),
            Self::LogStartOffsetAboveHighWatermark {
                offset,
                high_watermark,
            } => write!(
                formatter,
                "log start offset {offset} would pass the high watermark {high_watermark}"
            ),
            Self::ProducerState(error) => write!(formatter, "{error}"),
            Self::Io(error) => write!(formatter, "log I/O error: {error}"),
        }
    }
}

impl std::error::Error for LogError {}

impl From<io::Error> for LogError {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

/// Who is appending: a leader assigns offsets; a follower copies the leader's. Also
/// decides the producer state checks (Kafka's `AppendOrigin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOrigin {
    /// A produce request from a client (Kafka's CLIENT): offsets assigned; idempotent
    /// batches checked for duplicates, epoch and sequence.
    Leader,
    /// The broker's own write as leader, e.g. a coordinator's (Kafka's COORDINATOR):
    /// offsets assigned; producer epochs checked, sequences not.
    Coordinator,
    /// A follower copying the leader (Kafka's REPLICATION): offsets kept; producer state
    /// updated, nothing refused.
    Replica,
}

impl AppendOrigin {
    /// Whether the log assigns offsets (and stamps the leader epoch).
    pub fn assigns_offsets(self) -> bool {
        self != Self::Replica
    }

    fn producer_origin(self) -> ProducerOrigin {
        match self {
            Self::Leader => ProducerOrigin::Client,
            Self::Coordinator => ProducerOrigin::Coordinator,
            Self::Replica => ProducerOrigin::Replication,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct AppendOptions {
    pub origin: AppendOrigin,
    /// The broker's clock, for LogAppendTime and time-based rolling.
    pub now_ms: i64,
    /// Stamped into each batch's `partitionLeaderEpoch` on a leader append.
    pub leader_epoch: Option<i32>,
    /// The transaction version of a coordinator's marker write (Kafka's
    /// `transactionVersion` argument), which decides the marker epoch rule;
    /// [`TV_UNKNOWN`] otherwise.
    pub transaction_version: i16,
}

impl AppendOptions {
    pub fn leader(now_ms: i64, leader_epoch: i32) -> Self {
        Self {
            origin: AppendOrigin::Leader,
            now_ms,
            leader_epoch: Some(leader_epoch),
            transaction_version: TV_UNKNOWN,
        }
    }

    pub fn coordinator(now_ms: i64, leader_epoch: i32) -> Self {
        Self {
            origin: AppendOrigin::Coordinator,
            now_ms,
            leader_epoch: Some(leader_epoch),
            transaction_version: TV_UNKNOWN,
        }
    }

    pub fn replica(now_ms: i64) -> Self {
        Self {
            origin: AppendOrigin::Replica,
            now_ms,
            leader_epoch: None,
            transaction_version: TV_UNKNOWN,
        }
    }
}

/// What a Produce response needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: i64,
    pub last_offset: i64,
    /// The stamped time for LogAppendTime topics, -1 otherwise. For a duplicate: the
    /// original batch's max timestamp, whatever the timestamp type (Kafka answers that).
    pub log_append_time_ms: i64,
    pub log_start_offset: i64,
    /// A client's idempotent batch that was already appended: nothing was written, and
    /// the offsets are the original batch's (Kafka answers NONE with them).
    pub duplicate: bool,
}

/// The result of a read: whole batches from one segment.
#[derive(Debug, Clone)]
pub struct ReadResult {
    /// `None` when there is nothing at or after the offset below the upper bound.
    pub slice: Option<FileSlice>,
    /// Base offset of the first batch returned (it may start before the offset asked for).
    pub first_batch_offset: i64,
    /// The offset after the last batch returned.
    pub next_offset: i64,
}

impl ReadResult {
    /// The slice's bytes (a copy), empty when nothing was read.
    pub fn to_vec(&self) -> io::Result<Vec<u8>> {
        self.slice
            .as_ref()
            .map_or(Ok(Vec::new()), FileSlice::to_vec)
    }
}

/// ListOffsets targets (Kafka's `ListOffsetsRequest` special timestamps and real ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// -2: the log start offset.
    Earliest,
    /// -1: the log end offset (the broker caps it at the high watermark or LSO).
    Latest,
    /// -3: the record with the largest timestamp.
    MaxTimestamp,
    /// -4: the local log start offset (the same here: no tiered storage).
    EarliestLocal,
    /// The first record whose timestamp is at least this.
    Timestamp(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampAndOffset {
    pub timestamp: i64,
    pub offset: i64,
    pub leader_epoch: Option<i32>,
}

/// A segment removed by retention, log start offset movement or truncation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeletedSegment {
    pub base_offset: i64,
    pub size_bytes: u32,
}

/// Where the log starts after opening, and what opening cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenReport {
    pub segments: usize,
    pub recovered_segments: usize,
    pub rebuilt_indexes: usize,
    pub truncated_bytes: u64,
    pub deleted_segments: usize,
    /// Producer state snapshots that failed their checks and were deleted (an older one,
    /// or the log, was used instead).
    pub corrupt_snapshots: usize,
    /// Batch headers read to rebuild the producer state past the newest snapshot.
    pub producer_state_batches_scanned: u64,
    /// Producers known after opening.
    pub producers: usize,
}

/// How to open a log: checkpointed offsets and whether the last shutdown was clean.
#[derive(Debug, Clone, Copy)]
pub struct OpenOptions {
    pub recovery_point: i64,
    pub log_start_offset: i64,
    pub had_clean_shutdown: bool,
    pub now_ms: i64,
}

impl OpenOptions {
    /// A new partition, or one with no checkpoints: recover everything.
    pub fn fresh(now_ms: i64) -> Self {
        Self {
            recovery_point: 0,
            log_start_offset: 0,
            had_clean_shutdown: false,
            now_ms,
        }
    }
}

pub struct Log {
    topic_partition: TopicPartition,
    directory: PathBuf,
    config: LogConfig,
    resources: Arc<LogResources>,
    segments: BTreeMap<i64, Segment>,
    log_start_offset: i64,
    log_end_offset: i64,
    leader_epochs: LeaderEpochCache,
    flush: Arc<FlushState>,
    prepared: Arc<PreparedSlot>,
    producer_state: ProducerStateManager,
}

/// Batches parsed from an append buffer.
struct ParsedAppend {
    batches: Vec<(usize, BatchHeader)>,
}

fn parse_append(buffer: &[u8]) -> Result<ParsedAppend, LogError> {
    let mut batches = Vec::new();
    let mut at = 0usize;
    while at < buffer.len() {
        let rest = &buffer[at..];
        if rest.len() < LOG_OVERHEAD_BYTES {
            return Err(LogError::InvalidBatch(RecordBatchError::TooShort {
                buffer_bytes: rest.len(),
            }));
        }
        let batch_length = i32::from_be_bytes(rest[8..12].try_into().unwrap());
        let size = usize::try_from(batch_length)
            .ok()
            .and_then(|length| length.checked_add(LOG_OVERHEAD_BYTES))
            .filter(|&size| size <= rest.len())
            .ok_or(LogError::InvalidBatch(RecordBatchError::LengthMismatch {
                batch_length,
                buffer_bytes: rest.len(),
            }))?;
        RecordBatchView::new(&rest[..size]).map_err(LogError::InvalidBatch)?;
        let header = BatchHeader::parse(&rest[..size], at as u32).ok_or(LogError::InvalidBatch(
            RecordBatchError::LengthMismatch {
                batch_length,
                buffer_bytes: size,
            },
        ))?;
        batches.push((at, header));
        at += size;
    }
    if batches.is_empty() {
        return Err(LogError::EmptyAppend);
    }
    Ok(ParsedAppend { batches })
}

impl Log {
    /// Opens (or creates) the log in `directory`. After an unclean shutdown the segments
    /// from the one holding the recovery point onwards are scanned and cut at the first
    /// bad batch; a missing or implausible index of any segment is rebuilt.
    pub fn open(
        directory: &Path,
        topic_partition: TopicPartition,
        config: LogConfig,
        resources: Arc<LogResources>,
        options: OpenOptions,
        bytes_scanned: &AtomicU64,
    ) -> Result<(Self, OpenReport), LogError> {
        fs::create_dir_all(directory)?;
        let base_offsets = clean_directory(directory)?;
        let mut report = OpenReport::default();
        let budget = &resources.budget;
        let now = options.now_ms;
        let mut segments = BTreeMap::new();
        for &base_offset in &base_offsets {
            segments.insert(
                base_offset,
                Segment::open(directory, base_offset, &config, budget, now)?,
            );
        }
        let epoch_file = LeaderEpochCheckpointFile::new(directory);
        let mut leader_epochs = LeaderEpochCache::from_entries(epoch_file.read()?);

        let recover_from = if options.had_clean_shutdown {
            i64::MAX
        } else {
            segments
                .range(..=options.recovery_point)
                .next_back()
                .map_or(i64::MIN, |(&base, _)| base)
        };
        if recover_from != i64::MAX {
            leader_epochs.truncate_from_end(recover_from.max(0));
        }
        let bases: Vec<i64> = segments.keys().copied().collect();
        let mut cut_at: Option<i64> = None;
        // Kafka's `LogLoader.recoverSegment`: a segment is recovered with the producer
        // state as of its base offset (a manager of its own, rebuilt from the snapshots
        // and the segments before), which the recovery moves on and so rebuilds the
        // segment's `.txnindex`; a snapshot at its end saves the next one the replay.
        let mut recovery_state: Option<ProducerStateManager> = None;
        for (index, &base) in bases.iter().enumerate() {
            let next_base = bases.get(index + 1).copied();
            let recover = base >= recover_from;
            if !recover
                && segments
                    .get_mut(&base)
                    .expect("listed")
                    .load_indexes(next_base)
                    .is_ok()
            {
                continue;
            }
            let state = match &mut recovery_state {
                Some(state) => state,
                None => recovery_state.insert(ProducerStateManager::new(
                    directory,
                    config.producer_id_expiration_ms,
                )?),
            };
            report.producer_state_batches_scanned +=
                rebuild_producer_state(state, &segments, options.log_start_offset, base, now)?;
            let segment = segments.get_mut(&base).expect("listed");
            let epochs = if recover {
                Some(&mut leader_epochs)
            } else {
                None
            };
            let recovered = segment.recover(epochs, Some(&mut *state), bytes_scanned)?;
            state.take_snapshot(true)?;
            if !recover {
                report.rebuilt_indexes += 1;
                continue;
            }
            report.recovered_segments += 1;
            report.truncated_bytes += recovered.truncated_bytes;
            if recovered.truncated_bytes > 0 && next_base.is_some() {
                // A bad batch mid-log: everything after it is suspect (Kafka's rule).
                cut_at = next_base;
                break;
            }
        }

        if let Some(cut) = cut_at {
            let doomed: Vec<i64> = segments.range(cut..).map(|(&base, _)| base).collect();
            for base in doomed {
                let segment = segments.remove(&base).expect("listed");
                drop(segment.delete()?);
                report.deleted_segments += 1;
            }
        }
        if segments.is_empty() {
            let base = options.log_start_offset.max(0);
            segments.insert(
                base,
                Segment::create(directory, base, &config, budget, now, None)?,
            );
        }
        let (&last_base, last) = segments.iter_mut().next_back().expect("one segment");
        let log_end_offset = last.read_next_offset()?.max(last_base);
        last.reopen_for_appends(&config)?;
        let first_base = *segments.keys().next().expect("one segment");
        let log_start_offset = options.log_start_offset.max(first_base).min(log_end_offset);
        leader_epochs.truncate_from_end(log_end_offset);
        leader_epochs.truncate_from_start(log_start_offset);
        let recovery_point = if options.had_clean_shutdown {
            log_end_offset
        } else {
            options.recovery_point.min(log_end_offset)
        };
        report.segments = segments.len();

        // When recovery went to the end of the log its state is the log's (Kafka loads it
        // back from the snapshot recovery took at the end; keeping it keeps the last 5
        // batches of each producer for duplicate detection, where a snapshot holds one).
        let mut producer_state = match recovery_state {
            Some(state) if state.map_end_offset() == log_end_offset => state,
            _ => ProducerStateManager::new(directory, config.producer_id_expiration_ms)?,
        };
        let bases: Vec<i64> = segments.keys().copied().collect();
        producer_state.remove_stray_snapshots(&bases)?;
        report.producer_state_batches_scanned += rebuild_producer_state(
            &mut producer_state,
            &segments,
            log_start_offset,
            log_end_offset,
            now,
        )?;
        report.corrupt_snapshots = producer_state.corrupt_snapshots();
        report.producers = producer_state.producer_id_count();

        let flush = Arc::new(FlushState::new(
            directory.to_path_buf(),
            config.flush_ms,
            recovery_point,
        ));
        {
            let mut pending = flush.pending.lock().unwrap();
            pending.log_end_offset = log_end_offset;
            let unflushed_from = segments
                .range(..=recovery_point)
                .next_back()
                .map_or(first_base, |(&base, _)| base);
            pending.segments = segments
                .range(unflushed_from..)
                .map(|(&base, segment)| (base, segment.files_to_flush()))
                .collect();
            pending.directory_version = 1;
            if report.recovered_segments > 0 {
                pending.epochs = Some(leader_epochs.entries().to_vec());
            }
        }
        if config.flush_ms < i64::MAX {
            resources
                .background
                .send(Job::Register(Arc::downgrade(&flush)));
        }
        Ok((
            Self {
                topic_partition,
                directory: directory.to_path_buf(),
                config,
                resources,
                segments,
                log_start_offset,
                log_end_offset,
                leader_epochs,
                flush,
                prepared: Arc::new(PreparedSlot::default()),
                producer_state,
            },
            report,
        ))
    }

    pub fn topic_partition(&self) -> &TopicPartition {
        &self.topic_partition
    }

    pub fn directory(&self) -> &Path {
        &self.directory
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Replaces the configuration (a topic config change); it applies from the next roll
    /// (`producer_id_expiration_ms` at once).
    pub fn set_config(&mut self, config: LogConfig) {
        self.producer_state
            .set_producer_id_expiration_ms(config.producer_id_expiration_ms);
        self.config = config;
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// The log end offset (LEO): the offset the next appended record gets.
    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset
    }

    /// Everything below this offset is on disk (fsynced).
    pub fn recovery_point(&self) -> i64 {
        self.flush
            .recovery_point
            .load(Ordering::Acquire)
            .min(self.log_end_offset)
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    pub fn segment_base_offsets(&self) -> Vec<i64> {
        self.segments.keys().copied().collect()
    }

    /// Total bytes of all segments.
    pub fn size_bytes(&self) -> u64 {
        self.segments
            .values()
            .map(|segment| u64::from(segment.size()))
            .sum()
    }

    pub fn leader_epochs(&self) -> &LeaderEpochCache {
        &self.leader_epochs
    }

    /// A new leader's epoch starts at the log end offset (Kafka's
    /// `maybeAssignEpochStartOffset` in `Partition.makeLeader`), so that a follower asking
    /// for the end of an older epoch learns where this leader's log diverged from it even
    /// before anything is appended in the new epoch. Nothing changes for an epoch not newer
    /// than the latest one. Returns whether it was assigned.
    pub fn assign_leader_epoch(&mut self, epoch: i32) -> bool {
        if epoch < 0
            || self
                .leader_epochs
                .latest_epoch()
                .is_some_and(|latest| epoch <= latest)
        {
            return false;
        }
        let start = self.log_end_offset;
        self.leader_epochs.assign(epoch, start);
        self.epochs_changed();
        true
    }

    /// Kafka's OffsetForLeaderEpoch answer: `(epoch, end offset)`.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        self.leader_epochs
            .end_offset_for(epoch, self.log_end_offset)
    }

    fn active(&mut self) -> &mut Segment {
        self.segments
            .values_mut()
            .next_back()
            .expect("a log always has a segment")
    }

    fn active_ref(&self) -> &Segment {
        self.segments
            .values()
            .next_back()
            .expect("a log always has a segment")
    }

    /// Appends one or more whole v2 batches (already validated by the caller: CRC,
    /// records). A leader append writes base offsets (and leader epoch, and for
    /// LogAppendTime topics the max timestamp and CRC) into `batches` in place. All
    /// batches land in one segment, or none does.
    ///
    /// Batches with a producer id go through the producer state first (Kafka's
    /// `analyzeAndValidateProducerState`), before anything is written: a client's batch
    /// that repeats one of the producer's last 5 answers with the original offsets and
    /// `duplicate: true` and writes nothing; an older epoch or a sequence out of order
    /// fails the whole append with `LogError::ProducerState`. The state changes only once
    /// the batches are in the segment.
    pub fn append(
        &mut self,
        batches: &mut [u8],
        options: &AppendOptions,
    ) -> Result<AppendInfo, LogError> {
        let parsed = parse_append(batches)?;
        let assigns_offsets = options.origin.assigns_offsets();
        let log_append_time =
            assigns_offsets && self.config.message_timestamp_type == TimestampType::LogAppendTime;
        // Where every batch goes, without touching the buffer yet.
        let mut next_offset = self.log_end_offset;
        let mut append_batches = Vec::with_capacity(parsed.batches.len());
        for (at, header) in &parsed.batches {
            let last_offset = if assigns_offsets {
                next_offset + (header.last_offset - header.base_offset)
            } else {
                // Increasing, from the log end offset on.
                if header.base_offset < next_offset {
                    return Err(LogError::UnexpectedAppendOffset {
                        first_offset: header.base_offset,
                        log_end_offset: self.log_end_offset,
                    });
                }
                header.last_offset
            };
            let max_timestamp = if log_append_time {
                options.now_ms
            } else {
                header.max_timestamp
            };
            next_offset = last_offset + 1;
            append_batches.push(AppendBatch {
                offset_in_buffer: *at as u32,
                size: header.size,
                last_offset,
                max_timestamp,
            });
        }
        let buffer: &[u8] = batches;
        let producer_batches =
            parsed
                .batches
                .iter()
                .zip(&append_batches)
                .map(|((at, header), placed)| ProducerBatch {
                    first_offset: placed.last_offset - (header.last_offset - header.base_offset),
                    last_offset: placed.last_offset,
                    max_timestamp: placed.max_timestamp,
                    ..header.producer_batch(
                        (header.is_control() && header.producer_id >= 0)
                            .then(|| &buffer[*at..*at + header.size as usize]),
                    )
                });
        let duplicate = self
            .producer_state
            .analyze_append(
                producer_batches,
                options.origin.producer_origin(),
                options.transaction_version,
            )
            .map_err(LogError::ProducerState)?;
        if let Some(original) = duplicate {
            return Ok(self.duplicate_info(&original));
        }

        for ((at, header), placed) in parsed.batches.iter().zip(&append_batches) {
            let batch = &mut batches[*at..*at + header.size as usize];
            if assigns_offsets {
                let base = placed.last_offset - (header.last_offset - header.base_offset);
                segment::set_base_offset(batch, base);
                if let Some(epoch) = options.leader_epoch {
                    segment::set_partition_leader_epoch(batch, epoch);
                }
            }
            if log_append_time {
                segment::set_log_append_time(batch, options.now_ms);
            }
        }
        let first_header = parsed.batches[0].1;
        let first_offset = if assigns_offsets {
            self.log_end_offset
        } else {
            first_header.base_offset
        };
        let last_offset = next_offset - 1;
        let max_timestamp = append_batches
            .iter()
            .map(|batch| batch.max_timestamp)
            .max()
            .unwrap_or(NO_TIMESTAMP);
        let written = self
            .maybe_roll(
                batches.len() as u64,
                max_timestamp,
                first_offset,
                last_offset,
                options.now_ms,
            )
            .and_then(|()| {
                let chunk = u64::from(self.config.preallocate_chunk_bytes);
                self.active().append(batches, &append_batches, chunk)
            });
        if let Err(error) = written {
            self.producer_state.abandon_append();
            return Err(error.into());
        }
        self.log_end_offset = next_offset;
        // Kafka moves the map end offset on every append, idempotent or not, so a snapshot
        // is always as of the log end. Transactions the append closed are completed; an
        // aborted one goes to the active segment's `.txnindex` (Kafka's `updateTxnIndex`).
        let txn_index_written = {
            let Self {
                segments,
                producer_state,
                flush,
                ..
            } = self;
            let (&active_base, active) = segments
                .iter_mut()
                .next_back()
                .expect("a log always has a segment");
            producer_state.commit_append(next_offset, |txn, last_stable_offset| {
                if !txn.is_aborted {
                    return Ok(());
                }
                let created = active.append_aborted_txn(&AbortedTxn {
                    producer_id: txn.producer_id,
                    first_offset: txn.first_offset,
                    last_offset: txn.last_offset,
                    last_stable_offset,
                })?;
                if let Some(file) = created {
                    let mut pending = flush.pending.lock().unwrap();
                    match pending
                        .segments
                        .iter_mut()
                        .find(|(base, _)| *base == active_base)
                    {
                        Some((_, files)) => files.push(file),
                        None => pending.segments.push((active_base, vec![file])),
                    }
                    pending.directory_version += 1;
                }
                Ok::<(), io::Error>(())
            })
        };
        for (_, header) in &parsed.batches {
            let epoch = match (assigns_offsets, options.leader_epoch) {
                (true, Some(epoch)) => epoch,
                _ => header.partition_leader_epoch,
            };
            if epoch >= 0
                && self
                    .leader_epochs
                    .latest_epoch()
                    .is_none_or(|latest| epoch > latest)
            {
                let start = if assigns_offsets {
                    first_offset
                } else {
                    header.base_offset
                };
                self.leader_epochs.assign(epoch, start);
                self.epochs_changed();
            }
        }
        self.after_append(options.now_ms);
        // The records are in the log whatever the `.txnindex` write did: its failure is a
        // storage error all the same (Kafka fails the log directory).
        txn_index_written?;
        Ok(AppendInfo {
            base_offset: first_offset,
            last_offset,
            log_append_time_ms: if log_append_time { options.now_ms } else { -1 },
            log_start_offset: self.log_start_offset,
            duplicate: false,
        })
    }

    /// Kafka's answer to a duplicate: the original batch's offsets, and its timestamp as
    /// the log append time.
    fn duplicate_info(&self, original: &BatchMetadata) -> AppendInfo {
        AppendInfo {
            base_offset: original.first_offset(),
            last_offset: original.last_offset,
            log_append_time_ms: original.timestamp,
            log_start_offset: self.log_start_offset,
            duplicate: true,
        }
    }

    /// Writes an end-transaction marker for `producer_id` (Kafka's WriteTxnMarkers append:
    /// `MemoryRecords.withEndTransactionMarker` appended as leader with coordinator
    /// origin): one control batch stamped `now_ms` and `leader_epoch`. Refused with
    /// INVALID_PRODUCER_EPOCH (an older epoch; under `transaction_version` 2 an equal one
    /// unless the transaction is already closed) or TRANSACTION_COORDINATOR_FENCED (an
    /// older coordinator epoch than the producer's last marker). A COMMIT or ABORT of a
    /// producer with no open transaction is written and changes only its epochs.
    pub fn append_end_txn_marker(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        marker: EndTransactionMarker,
        transaction_version: i16,
        now_ms: i64,
        leader_epoch: i32,
    ) -> Result<AppendInfo, LogError> {
        let mut batch = marker.to_batch(producer_id, producer_epoch, now_ms);
        let options = AppendOptions {
            transaction_version,
            ..AppendOptions::coordinator(now_ms, leader_epoch)
        };
        self.append(&mut batch, &options)
    }

    /// The first offset of the oldest open transaction, not below the log start offset
    /// (Kafka's `firstUnstableOffset`); `None` when no transaction is open.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.producer_state
            .first_undecided_offset()
            .map(|offset| offset.max(self.log_start_offset))
    }

    /// Kafka's `lastStableOffset`: the first unstable offset if it is below the high
    /// watermark, else the high watermark.
    pub fn last_stable_offset(&self, high_watermark: i64) -> i64 {
        match self.first_unstable_offset() {
            Some(offset) if offset < high_watermark => offset,
            _ => high_watermark,
        }
    }

    /// Kafka's `hasOngoingTransaction`: `producer_id` has a transaction open here, at
    /// `producer_epoch`.
    pub fn has_ongoing_transaction(&self, producer_id: i64, producer_epoch: i16) -> bool {
        self.producer_state
            .has_ongoing_transaction(producer_id, producer_epoch)
    }

    /// Open transactions as (first offset, producer id), oldest first.
    pub fn ongoing_transactions(&self) -> Vec<(i64, i64)> {
        self.producer_state.ongoing_transactions()
    }

    /// The aborted transactions a read_committed fetch from `fetch_offset` returning
    /// records below `upper_bound` must report (Kafka's `LocalLog.collectAbortedTransactions`
    /// as its fetch path runs it): from the segment holding `fetch_offset` on, every
    /// `.txnindex` entry whose transaction overlaps `[fetch_offset, upper_bound)`, until an
    /// entry's last stable offset reaches `upper_bound`. Added to `out` in log order;
    /// segments without aborted transactions cost nothing.
    pub fn collect_aborted_transactions(
        &self,
        fetch_offset: i64,
        upper_bound: i64,
        out: &mut Vec<AbortedTxn>,
    ) -> Result<(), LogError> {
        let Some((&floor, _)) = self.segments.range(..=fetch_offset).next_back() else {
            return Ok(());
        };
        for segment in self.segments.range(floor..).map(|(_, segment)| segment) {
            if segment.txn_index_entries() == 0 {
                continue;
            }
            if segment.collect_aborted_txns(fetch_offset, upper_bound, out)? {
                break;
            }
        }
        Ok(())
    }

    /// The `.txnindex` entries of the segment at `base_offset` (for tests and tools).
    pub fn aborted_txns_of_segment(&self, base_offset: i64) -> Result<Vec<AbortedTxn>, LogError> {
        match self.segments.get(&base_offset) {
            Some(segment) => Ok(segment.all_aborted_txns()?),
            None => Ok(Vec::new()),
        }
    }

    /// The state of every producer of this partition, by producer id (for
    /// DescribeProducers and tests).
    pub fn producer_states(&self) -> Vec<ProducerStateEntry> {
        self.producer_state.active_producers()
    }

    /// The state of one producer, if the partition has any.
    pub fn producer_state(&self, producer_id: i64) -> Option<ProducerStateEntry> {
        self.producer_state.last_entry(producer_id).copied()
    }

    /// The last sequence `producer_id` wrote here (-1 if none is known).
    pub fn last_sequence_for(&self, producer_id: i64) -> i32 {
        self.producer_state.last_entry(producer_id).map_or(
            crate::producer_state::NO_SEQUENCE,
            ProducerStateEntry::last_sequence,
        )
    }

    /// Offsets of the producer state `.snapshot` files.
    pub fn producer_snapshot_offsets(&self) -> Vec<i64> {
        self.producer_state.snapshot_offsets()
    }

    /// Forgets producers idle longer than `producer_id_expiration_ms` (Kafka runs this
    /// every `producer.id.expiration.check.interval.ms`, 10 minutes). Returns how many.
    pub fn remove_expired_producers(&mut self, now_ms: i64) -> usize {
        self.producer_state.remove_expired_producers(now_ms)
    }

    /// Writes a producer state snapshot at the log end offset (fsynced) if none is there.
    pub fn take_producer_snapshot(&mut self) -> Result<(), LogError> {
        self.producer_state
            .update_map_end_offset(self.log_end_offset);
        self.producer_state.take_snapshot(true)?;
        Ok(())
    }

    /// Kafka's `minSnapshotsOffsetToRetain`: snapshots from the segment before the active
    /// one, and from the segment before the one holding the recovery point, are kept.
    fn min_snapshots_offset_to_retain(&self) -> i64 {
        let active_base = self.active_ref().base_offset();
        let two_segments_min = self
            .segments
            .range(..active_base)
            .next_back()
            .map_or(active_base, |(&base, _)| base);
        let recovery_point = self.recovery_point();
        let recovery_point_offset = self
            .segments
            .range(..recovery_point)
            .next_back()
            .map_or(recovery_point, |(&base, _)| base);
        recovery_point_offset.min(two_segments_min)
    }

    fn epochs_changed(&self) {
        self.flush.pending.lock().unwrap().epochs = Some(self.leader_epochs.entries().to_vec());
        self.schedule_flush_job();
    }

    fn schedule_flush_job(&self) {
        if !self.flush.scheduled.swap(true, Ordering::AcqRel) {
            self.resources
                .background
                .send(Job::Flush(self.flush.clone()));
        }
    }

    /// Publishes the new end offset for flushing and asks the background thread for what
    /// the next appends will need: disk reserved ahead, the next segment's files, a flush.
    fn after_append(&mut self, now_ms: i64) {
        let log_end_offset = self.log_end_offset;
        self.flush.pending.lock().unwrap().log_end_offset = log_end_offset;
        let unflushed = log_end_offset - self.flush.recovery_point.load(Ordering::Acquire);
        if unflushed >= self.config.flush_messages {
            self.schedule_flush_job();
        }
        let chunk = u64::from(self.config.preallocate_chunk_bytes);
        let config = self.config.clone();
        let active = self.active();
        if let Some(target) = active.reservation_wanted(chunk) {
            let file = active.log_file().clone();
            self.resources.background.send(Job::Reserve(file, target));
        }
        let active = self.active();
        let nearly_full = u64::from(active.size()) * 4 >= u64::from(config.segment_bytes) * 3;
        let nearly_old = active
            .time_waited_for_roll(now_ms, now_ms)
            .is_ok_and(|waited| waited * 4 >= (config.segment_ms - active.roll_jitter_ms()) * 3);
        if (nearly_full || nearly_old) && !self.prepared.requested.swap(true, Ordering::AcqRel) {
            self.resources.background.send(Job::Prepare {
                directory: self.directory.clone(),
                config,
                slot: self.prepared.clone(),
            });
        }
    }

    /// Kafka's `shouldRoll`: the batches would pass `segment.bytes`, the first batch is older
    /// than `segment.ms` minus jitter, an index is full, or an offset would not fit.
    fn maybe_roll(
        &mut self,
        append_bytes: u64,
        max_timestamp: i64,
        first_offset: i64,
        last_offset: i64,
        now_ms: i64,
    ) -> io::Result<()> {
        let segment_bytes = u64::from(self.config.segment_bytes);
        let segment_ms = self.config.segment_ms;
        let active = self.active();
        let size = u64::from(active.size());
        if size == 0 {
            return Ok(());
        }
        let waited = active.time_waited_for_roll(now_ms, max_timestamp)?;
        let should_roll = size + append_bytes > segment_bytes
            || waited > segment_ms - active.roll_jitter_ms()
            || active.index_is_full()
            || relative_offset(active.base_offset(), last_offset).is_none();
        if should_roll {
            self.roll(first_offset.max(self.log_end_offset), now_ms)?;
        }
        Ok(())
    }

    /// Closes the active segment and starts a new one at `base_offset`.
    fn roll(&mut self, base_offset: i64, now_ms: i64) -> io::Result<()> {
        self.active().close_for_appends()?;
        let prepared = self.prepared.take();
        let segment = Segment::create(
            &self.directory,
            base_offset,
            &self.config,
            &self.resources.budget,
            now_ms,
            prepared,
        )?;
        {
            let mut pending = self.flush.pending.lock().unwrap();
            pending
                .segments
                .push((base_offset, segment.files_to_flush()));
            pending.directory_version += 1;
        }
        self.segments.insert(base_offset, segment);
        // A producer state snapshot as of the new segment's base offset, so recovering
        // that segment can start from it (Kafka's roll). Written here without an fsync;
        // the flush below fsyncs it, as Kafka's does.
        self.producer_state.update_map_end_offset(base_offset);
        if let Some(snapshot) = self.producer_state.take_snapshot(false)? {
            let mut pending = self.flush.pending.lock().unwrap();
            pending.snapshots.push(snapshot);
            pending.directory_version += 1;
        }
        let keep_from = self.min_snapshots_offset_to_retain();
        self.producer_state.delete_snapshots_before(keep_from)?;
        // Kafka flushes the closed segment right after a roll, off the append path.
        self.schedule_flush_job();
        Ok(())
    }

    /// Rolls now if the active segment is older than `segment.ms` (Kafka checks on append
    /// only; a broker may call this from a timer so idle partitions roll too).
    pub fn roll_if_old(&mut self, now_ms: i64) -> Result<bool, LogError> {
        let end = self.log_end_offset;
        let segment_ms = self.config.segment_ms;
        let active = self.active();
        if active.size() == 0 {
            return Ok(false);
        }
        if active.time_waited_for_roll(now_ms, NO_TIMESTAMP.max(now_ms))?
            > segment_ms - active.roll_jitter_ms()
        {
            self.roll(end, now_ms)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Reads whole batches starting with the one holding `offset`, at most `max_bytes`
    /// (but always the whole first batch) and none at or beyond `upper_bound` (the high
    /// watermark or last stable offset; the log end offset when `None`). Data comes from
    /// one segment: the caller fetches again for more.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: u32,
        upper_bound: Option<i64>,
    ) -> Result<ReadResult, LogError> {
        if offset < self.log_start_offset || offset > self.log_end_offset {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: self.log_end_offset,
            });
        }
        let upper = upper_bound
            .unwrap_or(self.log_end_offset)
            .min(self.log_end_offset);
        let empty = ReadResult {
            slice: None,
            first_batch_offset: offset,
            next_offset: offset,
        };
        if offset >= upper {
            return Ok(empty);
        }
        let floor = self
            .segments
            .range(..=offset)
            .next_back()
            .map_or(i64::MIN, |(&base, _)| base);
        let mut segments = self.segments.range(floor..).peekable();
        while let Some((&base, segment)) = segments.next() {
            if base >= upper {
                break;
            }
            let Some(first) = segment.translate_offset(offset.max(base))? else {
                continue;
            };
            if first.last_offset >= upper {
                return Ok(empty);
            }
            let segment_end_offset = segments
                .peek()
                .map_or(self.log_end_offset, |(&next, _)| next);
            let max_position = if upper < segment_end_offset {
                segment
                    .translate_offset(upper)?
                    .map_or(u64::from(segment.size()), |header| {
                        u64::from(header.position)
                    })
            } else {
                u64::from(segment.size())
            };
            let limit = max_position.min(u64::from(first.position) + u64::from(max_bytes));
            let (end, next_offset) = segment.extent_from(first, limit)?;
            return Ok(ReadResult {
                slice: Some(
                    segment.slice(u64::from(first.position), end - u64::from(first.position)),
                ),
                first_batch_offset: first.base_offset,
                next_offset,
            });
        }
        Ok(empty)
    }

    /// ListOffsets: the offset (and timestamp, epoch) for `spec`; `None` when no record
    /// qualifies (Kafka answers offset -1).
    pub fn offset_for(&mut self, spec: OffsetSpec) -> Result<Option<TimestampAndOffset>, LogError> {
        match spec {
            OffsetSpec::Earliest | OffsetSpec::EarliestLocal => Ok(Some(TimestampAndOffset {
                timestamp: NO_TIMESTAMP,
                offset: self.log_start_offset,
                leader_epoch: self.leader_epochs.epoch_for_offset(self.log_start_offset),
            })),
            OffsetSpec::Latest => Ok(Some(TimestampAndOffset {
                timestamp: NO_TIMESTAMP,
                offset: self.log_end_offset,
                leader_epoch: self.leader_epochs.latest_epoch(),
            })),
            OffsetSpec::MaxTimestamp => self.max_timestamp_offset(),
            OffsetSpec::Timestamp(target) => self.offset_for_timestamp(target),
        }
    }

    fn max_timestamp_offset(&mut self) -> Result<Option<TimestampAndOffset>, LogError> {
        if self.log_end_offset == self.log_start_offset {
            return Ok(None);
        }
        let mut best: Option<(i64, i64, i64)> = None; // (timestamp, offset, segment base)
        for (&base, segment) in self.segments.iter_mut() {
            let largest = segment.max_timestamp_so_far()?;
            if segment.size() > 0
                && best.is_none_or(|(timestamp, _, _)| largest.timestamp > timestamp)
            {
                best = Some((largest.timestamp, largest.offset, base));
            }
        }
        let Some((timestamp, offset, base)) = best else {
            return Ok(None);
        };
        let segment = &self.segments[&base];
        let start = segment.lookup_offset(offset)?;
        let mut found = None;
        let decompressor = self.resources.decompressor.as_deref();
        segment.for_each_batch_from(u64::from(start.position), |header| {
            if header.max_timestamp != timestamp {
                return Ok(true);
            }
            let record_offset = if header.is_log_append_time() {
                header.base_offset
            } else {
                let bytes = segment.read_batch(header)?;
                crate::records::offset_of_timestamp(&bytes, header, timestamp, decompressor)?
                    .unwrap_or(header.last_offset)
            };
            found = Some(TimestampAndOffset {
                timestamp,
                offset: record_offset,
                leader_epoch: (header.partition_leader_epoch >= 0)
                    .then_some(header.partition_leader_epoch),
            });
            Ok(false)
        })?;
        Ok(found)
    }

    fn offset_for_timestamp(
        &mut self,
        target: i64,
    ) -> Result<Option<TimestampAndOffset>, LogError> {
        let starting_offset = self.log_start_offset;
        let mut chosen = None;
        for (&base, segment) in self.segments.iter_mut() {
            if segment.size() > 0 && segment.largest_timestamp()? >= target {
                chosen = Some(base);
                break;
            }
        }
        let Some(base) = chosen else {
            return Ok(None);
        };
        let segment = &self.segments[&base];
        let entry = segment.lookup_timestamp(target)?;
        let start = segment.lookup_offset(entry.offset.max(starting_offset))?;
        let decompressor = self.resources.decompressor.as_deref();
        let mut found = None;
        segment.for_each_batch_from(u64::from(start.position), |header| {
            if header.last_offset < starting_offset || header.max_timestamp < target {
                return Ok(true);
            }
            let hit = if header.is_log_append_time() {
                Some((
                    header.max_timestamp,
                    header.base_offset.max(starting_offset),
                ))
            } else {
                let bytes = segment.read_batch(header)?;
                crate::records::first_record_at_or_after(
                    &bytes,
                    header,
                    target,
                    starting_offset,
                    decompressor,
                )?
            };
            if let Some((timestamp, offset)) = hit {
                found = Some(TimestampAndOffset {
                    timestamp,
                    offset,
                    leader_epoch: (header.partition_leader_epoch >= 0)
                        .then_some(header.partition_leader_epoch),
                });
                return Ok(false);
            }
            Ok(true)
        })?;
        Ok(found)
    }

    /// Follower truncation: removes every record at or above `offset` (index entries, and
    /// whole later segments). Below the log start offset the log is emptied and restarts
    /// at `offset`. Returns whether anything was removed.
    pub fn truncate_to(&mut self, offset: i64) -> Result<bool, LogError> {
        if offset >= self.log_end_offset {
            // Kafka truncates the epoch cache all the same: this broker may have led an epoch
            // it assigned at the log end and never appended in; a follower must not report it
            // as its last fetched epoch (it would diverge from the leader forever).
            let end = self.log_end_offset;
            if self.leader_epochs.truncate_from_end(end) {
                self.epochs_changed();
            }
            return Ok(false);
        }
        if offset < self.log_start_offset {
            self.truncate_fully_and_start_at(offset)?;
            return Ok(true);
        }
        let doomed: Vec<i64> = self
            .segments
            .range(offset + 1..)
            .map(|(&base, _)| base)
            .collect();
        for base in doomed {
            if self.segments.len() == 1 {
                break;
            }
            self.delete_segment(base)?;
        }
        let config = self.config.clone();
        let active = self.active();
        active.truncate_to(offset)?;
        active.reopen_for_appends(&config)?;
        self.log_end_offset = offset;
        if self.leader_epochs.truncate_from_end(offset) {
            self.flush.pending.lock().unwrap().epochs = Some(self.leader_epochs.entries().to_vec());
        }
        self.reset_flush_state(offset);
        // Kafka's `rebuildProducerState(offset)`: snapshots above the offset go, the state
        // is reloaded from the newest remaining one and the log replayed up to the offset.
        rebuild_producer_state(
            &mut self.producer_state,
            &self.segments,
            self.log_start_offset,
            offset,
            crate::background::now_ms(),
        )?;
        crate::checkpoint::sync_directory(&self.directory)?;
        Ok(true)
    }

    /// Deletes every segment and starts an empty log at `offset` (Kafka's
    /// `truncateFullyAndStartAt`).
    pub fn truncate_fully_and_start_at(&mut self, offset: i64) -> Result<(), LogError> {
        let bases: Vec<i64> = self.segments.keys().copied().collect();
        for base in bases {
            self.delete_segment(base)?;
        }
        let segment = Segment::create(
            &self.directory,
            offset,
            &self.config,
            &self.resources.budget,
            crate::background::now_ms(),
            None,
        )?;
        self.segments.insert(offset, segment);
        self.log_end_offset = offset;
        self.log_start_offset = offset;
        self.leader_epochs.clear();
        self.flush.pending.lock().unwrap().epochs = Some(Vec::new());
        self.reset_flush_state(offset);
        self.producer_state.truncate_fully_and_start_at(offset)?;
        rebuild_producer_state(
            &mut self.producer_state,
            &self.segments,
            offset,
            offset,
            crate::background::now_ms(),
        )?;
        crate::checkpoint::sync_directory(&self.directory)?;
        Ok(())
    }

    fn reset_flush_state(&mut self, log_end_offset: i64) {
        let mut pending = self.flush.pending.lock().unwrap();
        pending.generation += 1;
        pending.log_end_offset = log_end_offset;
        pending.directory_version += 1;
        let recovery_point = self
            .flush
            .recovery_point
            .load(Ordering::Acquire)
            .min(log_end_offset);
        self.flush
            .recovery_point
            .store(recovery_point, Ordering::Release);
        let unflushed_from = self
            .segments
            .range(..=recovery_point)
            .next_back()
            .map_or(i64::MIN, |(&base, _)| base);
        pending.segments = self
            .segments
            .range(unflushed_from..)
            .map(|(&base, segment)| (base, segment.files_to_flush()))
            .collect();
    }

    fn delete_segment(&mut self, base: i64) -> io::Result<DeletedSegment> {
        let segment = self.segments.remove(&base).expect("segment exists");
        let deleted = DeletedSegment {
            base_offset: base,
            size_bytes: segment.size(),
        };
        self.retire_segment(segment)?;
        // The producer snapshot taken when this segment was rolled in goes with it.
        self.producer_state.delete_snapshot(base)?;
        Ok(deleted)
    }

    /// Moves the log start offset forward (DeleteRecords, or a leader's start offset seen
    /// by a follower) and deletes the segments wholly below it.
    pub fn increment_log_start_offset(
        &mut self,
        new_log_start_offset: i64,
        high_watermark: i64,
    ) -> Result<Vec<DeletedSegment>, LogError> {
        if new_log_start_offset > high_watermark {
            return Err(LogError::LogStartOffsetAboveHighWatermark {
                offset: new_log_start_offset,
                high_watermark,
            });
        }
        if new_log_start_offset <= self.log_start_offset {
            return Ok(Vec::new());
        }
        self.log_start_offset = new_log_start_offset;
        if self.leader_epochs.truncate_from_start(new_log_start_offset) {
            self.epochs_changed();
        }
        self.producer_state
            .on_log_start_offset_incremented(new_log_start_offset);
        self.delete_log_start_offset_breached_segments(high_watermark)
    }

    /// Deletes segments whose every offset is below the log start offset.
    pub fn delete_log_start_offset_breached_segments(
        &mut self,
        high_watermark: i64,
    ) -> Result<Vec<DeletedSegment>, LogError> {
        let log_start_offset = self.log_start_offset;
        self.delete_segments_while(high_watermark, |_, next_base| {
            next_base.is_some_and(|next| next <= log_start_offset)
        })
    }

    /// `retention.ms`: deletes the oldest segments whose largest timestamp is older than
    /// `now_ms - retention.ms`.
    pub fn delete_retention_ms_breached_segments(
        &mut self,
        now_ms: i64,
        high_watermark: i64,
    ) -> Result<Vec<DeletedSegment>, LogError> {
        let retention_ms = self.config.retention_ms;
        if retention_ms < 0 {
            return Ok(Vec::new());
        }
        self.delete_segments_while(high_watermark, |segment, _| {
            segment
                .largest_timestamp()
                .is_ok_and(|largest| now_ms - largest > retention_ms)
        })
    }

    /// `retention.bytes`: deletes the oldest segments while the log is larger.
    pub fn delete_retention_size_breached_segments(
        &mut self,
        high_watermark: i64,
    ) -> Result<Vec<DeletedSegment>, LogError> {
        let retention_bytes = self.config.retention_bytes;
        let size = self.size_bytes() as i64;
        if retention_bytes < 0 || size < retention_bytes {
            return Ok(Vec::new());
        }
        let mut excess = size - retention_bytes;
        self.delete_segments_while(high_watermark, |segment, _| {
            let segment_size = i64::from(segment.size());
            if excess - segment_size >= 0 {
                excess -= segment_size;
                true
            } else {
                false
            }
        })
    }

    /// Kafka's `deleteOldSegments` for a `delete` cleanup policy: retention by time, by
    /// size, and the log start offset, in that order.
    pub fn delete_old_segments(
        &mut self,
        now_ms: i64,
        high_watermark: i64,
    ) -> Result<Vec<DeletedSegment>, LogError> {
        let mut deleted = self.delete_retention_ms_breached_segments(now_ms, high_watermark)?;
        deleted.extend(self.delete_retention_size_breached_segments(high_watermark)?);
        deleted.extend(self.delete_log_start_offset_breached_segments(high_watermark)?);
        Ok(deleted)
    }

    /// Kafka's `deletableSegments` + `deleteSegments`: the oldest segments, in order, while
    /// `predicate` holds and the segment lies wholly below the high watermark; an empty
    /// active segment is never deleted, and if every segment goes a new one is rolled
    /// first so the log keeps an active segment.
    fn delete_segments_while<F>(
        &mut self,
        high_watermark: i64,
        mut predicate: F,
    ) -> Result<Vec<DeletedSegment>, LogError>
    where
        F: FnMut(&mut Segment, Option<i64>) -> bool,
    {
        let bases: Vec<i64> = self.segments.keys().copied().collect();
        let mut deletable = Vec::new();
        for (index, &base) in bases.iter().enumerate() {
            let next_base = bases.get(index + 1).copied();
            let upper_bound = next_base.unwrap_or(self.log_end_offset);
            let segment = self.segments.get_mut(&base).expect("listed");
            let is_last_and_empty = next_base.is_none() && segment.size() == 0;
            if high_watermark >= upper_bound && !is_last_and_empty && predicate(segment, next_base)
            {
                deletable.push(base);
            } else {
                break;
            }
        }
        if deletable.is_empty() {
            return Ok(Vec::new());
        }
        if deletable.len() == self.segments.len() {
            self.roll(self.log_end_offset, crate::background::now_ms())?;
        }
        let mut deleted = Vec::with_capacity(deletable.len());
        for base in deletable {
            deleted.push(self.delete_segment(base)?);
        }
        let first_base = *self.segments.keys().next().expect("one segment remains");
        if first_base > self.log_start_offset {
            self.log_start_offset = first_base;
            if self.leader_epochs.truncate_from_start(first_base) {
                self.epochs_changed();
            }
            self.producer_state
                .on_log_start_offset_incremented(first_base);
        }
        Ok(deleted)
    }

    /// fsyncs everything appended so far on the calling thread and moves the recovery
    /// point to the log end offset. The broker calls it from a worker, never the JS thread.
    pub fn flush(&self) -> Result<(), LogError> {
        self.flush.flush()?;
        Ok(())
    }

    /// A handle that flushes this log without holding it: the caller releases the log's
    /// lock and fsyncs through the handle, so appends and reads go on meanwhile.
    pub fn flusher(&self) -> LogFlusher {
        LogFlusher(self.flush.clone())
    }

    /// Asks the background thread to flush.
    pub fn request_flush(&self) {
        self.schedule_flush_job();
    }

    /// Closes the log cleanly: the active segment is trimmed like a closed one, everything
    /// is fsynced, the leader epoch checkpoint and a producer state snapshot at the log end
    /// offset written. The caller then writes the
    /// log-dir checkpoints and, once every log is closed, the clean-shutdown marker.
    pub fn close(mut self) -> Result<LogOffsets, LogError> {
        self.active().close_for_appends()?;
        self.flush.pending.lock().unwrap().epochs = Some(self.leader_epochs.entries().to_vec());
        self.flush.flush()?;
        // Kafka's close: a snapshot at the log end offset, so the next open reads no log.
        self.take_producer_snapshot()?;
        let keep_from = self.min_snapshots_offset_to_retain();
        self.producer_state.delete_snapshots_before(keep_from)?;
        if let Some(prepared) = self.prepared.close() {
            prepared.discard();
        }
        Ok(LogOffsets {
            log_start_offset: self.log_start_offset,
            log_end_offset: self.log_end_offset,
            recovery_point: self.recovery_point(),
        })
    }

    /// The offsets a log-dir checkpoint records.
    pub fn offsets(&self) -> LogOffsets {
        LogOffsets {
            log_start_offset: self.log_start_offset,
            log_end_offset: self.log_end_offset,
            recovery_point: self.recovery_point(),
        }
    }

    /// Index and log paths of the active segment, for tests and tools.
    pub fn active_segment_paths(&self) -> [PathBuf; 3] {
        let active = self.active_ref();
        [
            active.path(LOG_SUFFIX),
            active.path(INDEX_SUFFIX),
            active.path(TIME_INDEX_SUFFIX),
        ]
    }

    /// Index entry counts of the segment with `base_offset` (offset index, time index).
    pub fn index_entry_counts(&self, base_offset: i64) -> Option<(usize, usize)> {
        self.segments
            .get(&base_offset)
            .map(|segment| (segment.offset_index_entries(), segment.time_index_entries()))
    }

    /// Deletes the log's directory (topic deletion), as Kafka does: the directory is first
    /// renamed `<topic>-<partition>.<id>-delete` (the partition is gone at once, and a
    /// crash leaves a name the next start removes), then removed with everything in it.
    /// Background work for this log stops first, so nothing writes into the directory while
    /// it goes. Outstanding slices keep reading: their descriptors hold the unlinked files.
    pub fn delete_directory(self) -> Result<(), LogError> {
        if let Some(prepared) = self.prepared.close() {
            prepared.discard();
        }
        self.flush.close();
        let doomed = deletion_path(&self.directory);
        fs::rename(&self.directory, &doomed)?;
        if let Some(parent) = self.directory.parent() {
            crate::checkpoint::sync_directory(parent)?;
        }
        // Segment files are closed (unless a reader holds them) as the log goes.
        drop(self);
        fs::remove_dir_all(&doomed)?;
        Ok(())
    }
}

/// Compaction (see `cleaner.rs`): three short critical sections around a clean that runs
/// without the log's lock.
impl Log {
    /// Kafka's `LogCleanerManager.cleanableOffsets` and `LogToClean`: the dirty range of
    /// this log and how dirty it is, from segment metadata (the first batch timestamp and
    /// largest timestamp of a segment are read once and kept). `checkpoint` is the
    /// `cleaner-offset-checkpoint` entry; `high_watermark` bounds the last stable offset.
    pub fn cleanable(
        &mut self,
        now_ms: i64,
        checkpoint: Option<i64>,
        high_watermark: i64,
        compaction: &CompactionConfig,
    ) -> Result<CleanableInfo, LogError> {
        let log_start_offset = self.log_start_offset;
        let checkpointed = checkpoint.unwrap_or(log_start_offset);
        // A checkpoint outside the log (truncation, corruption at the end) restarts the
        // cleaning from the log start, as Kafka does.
        let (first_dirty_offset, force_checkpoint_update) =
            if checkpointed < log_start_offset || checkpointed > self.log_end_offset {
                (log_start_offset, true)
            } else {
                (checkpointed, false)
            };
        let active_base = self.active_ref().base_offset();
        let mut uncleanable = self.last_stable_offset(high_watermark).min(active_base);
        let dirty_from = self
            .segments
            .range(..=first_dirty_offset)
            .next_back()
            .map_or(first_dirty_offset, |(&base, _)| base);
        if compaction.min_compaction_lag_ms > 0 {
            let newest_allowed = now_ms.saturating_sub(compaction.min_compaction_lag_ms);
            for (&base, segment) in self.segments.range_mut(dirty_from..active_base) {
                if segment.largest_timestamp()? > newest_allowed {
                    uncleanable = uncleanable.min(base);
                    break;
                }
            }
        }
        let uncleanable = uncleanable.max(first_dirty_offset);
        // Kafka's calculateCleanableBytes: down to the base of the segment holding it.
        let first_uncleanable_offset = self
            .segments
            .range(..=uncleanable)
            .next_back()
            .map(|(&base, _)| base)
            .filter(|&base| base < active_base)
            .unwrap_or(if uncleanable >= active_base {
                active_base
            } else {
                *self
                    .segments
                    .keys()
                    .next()
                    .expect("a log always has a segment")
            });
        let bytes_in = |from: i64, to: i64| -> u64 {
            let floor = self
                .segments
                .range(..=from)
                .next_back()
                .map_or(from, |(&base, _)| base);
            self.segments
                .range(floor..to.max(floor))
                .map(|(_, segment)| u64::from(segment.size()))
                .sum()
        };
        let clean_bytes: u64 = self
            .segments
            .range(..first_dirty_offset)
            .map(|(_, segment)| u64::from(segment.size()))
            .sum();
        let cleanable_bytes = bytes_in(
            first_dirty_offset.min(first_uncleanable_offset),
            first_uncleanable_offset,
        );
        let total_bytes = clean_bytes + cleanable_bytes;
        let cleanable_ratio = if total_bytes == 0 {
            0.0
        } else {
            cleanable_bytes as f64 / total_bytes as f64
        };
        // Kafka's maxCompactionDelay: the oldest first-batch timestamp of the dirty closed
        // segments against now - max.compaction.lag.ms.
        let clean_until = now_ms.saturating_sub(compaction.max_compaction_lag_ms.max(0));
        let mut earliest = i64::MAX;
        for (_, segment) in self.segments.range_mut(dirty_from..active_base) {
            let timestamp = segment.first_batch_timestamp()?;
            if timestamp > 0 {
                earliest = earliest.min(timestamp);
            }
        }
        let max_compaction_delay_ms = if earliest < clean_until {
            clean_until - earliest
        } else {
            0
        };
        Ok(CleanableInfo {
            first_dirty_offset,
            first_uncleanable_offset,
            force_checkpoint_update,
            clean_bytes,
            cleanable_bytes,
            cleanable_ratio,
            max_compaction_delay_ms,
        })
    }

    /// What [`cleaner::clean`] needs, taken under the lock: slices of every segment below
    /// `info.first_uncleanable_offset` (they stay readable whatever happens to the log),
    /// the aborted transactions over them and each live producer's last offsets.
    pub fn prepare_clean(&mut self, info: &CleanableInfo) -> Result<CleanPlan, LogError> {
        let active_base = self.active_ref().base_offset();
        let first_uncleanable_offset = info.first_uncleanable_offset.min(active_base);
        let first_dirty_offset = info.first_dirty_offset.max(self.log_start_offset);
        let bases: Vec<i64> = self
            .segments
            .range(..first_uncleanable_offset)
            .map(|(&base, _)| base)
            .collect();
        let mut segments = Vec::with_capacity(bases.len());
        for (index, &base) in bases.iter().enumerate() {
            let next_offset = bases
                .get(index + 1)
                .copied()
                .unwrap_or(first_uncleanable_offset);
            let segment = &self.segments[&base];
            let map_start_position =
                if base <= first_dirty_offset && first_dirty_offset < next_offset {
                    segment.lookup_offset(first_dirty_offset)?.position
                } else {
                    0
                };
            segments.push(PlannedSegment {
                base_offset: base,
                next_offset,
                file: segment.log_file().clone(),
                slice: segment.slice(0, u64::from(segment.size())),
                size: segment.size(),
                offset_index_bytes: (segment.offset_index_entries()
                    * crate::offset_index::ENTRY_BYTES) as u64,
                time_index_bytes: (segment.time_index_entries() * crate::time_index::ENTRY_BYTES)
                    as u64,
                map_start_position,
                last_modified: segment.last_modified(),
            });
        }
        let mut aborted_txns = Vec::new();
        if let Some(&first) = bases.first() {
            self.collect_aborted_transactions(first, first_uncleanable_offset, &mut aborted_txns)?;
        }
        aborted_txns.sort_by_key(|txn| txn.first_offset);
        // Kafka's lastRecordsOfActiveProducers.
        let last_records = self
            .producer_state
            .active_producers()
            .into_iter()
            .map(|entry| {
                let last_data_offset = entry.last_data_offset();
                (
                    entry.producer_id,
                    LastRecord {
                        last_data_offset: (last_data_offset >= 0).then_some(last_data_offset),
                        producer_epoch: entry.producer_epoch,
                    },
                )
            })
            .collect();
        Ok(CleanPlan {
            directory: self.directory.clone(),
            first_dirty_offset,
            first_uncleanable_offset,
            segments,
            aborted_txns,
            last_records,
            segment_bytes: self.config.segment_bytes,
            segment_index_bytes: self.config.segment_index_bytes,
            index_interval_bytes: self.config.index_interval_bytes,
        })
    }

    /// Swaps a finished clean in (Kafka's `replaceSegments`), under the lock: if any
    /// replaced segment is gone or changed since the plan (retention, DeleteRecords,
    /// truncation) the clean is abandoned and its files deleted. Otherwise, per cleaned
    /// segment: `.cleaned` → `.swap` (the log first: from here a crash completes the swap),
    /// the replaced segments retired like retention's (`.deleted`, unlinked later, readers'
    /// slices keep reading), `.swap` → final names, the new segment in the map. Only
    /// renames and opens happen here; the files were fsynced by the clean and the
    /// directory is fsynced by the background flush.
    pub fn commit_clean(&mut self, mut output: CleanOutput) -> Result<CleanCommit, LogError> {
        let active_base = self.active_ref().base_offset();
        for group in &output.groups {
            for (base, file, size) in &group.replaced {
                let unchanged = *base < active_base
                    && self.segments.get(base).is_some_and(|segment| {
                        Arc::ptr_eq(segment.log_file(), file) && segment.size() == *size
                    });
                if !unchanged {
                    output.discard_files();
                    output.committed = true;
                    return Ok(CleanCommit::Abandoned {
                        reason: format!("segment {base} changed while it was cleaned"),
                    });
                }
            }
        }
        let directory = self.directory.clone();
        let rename = |from: &str, to: &str| fs::rename(directory.join(from), directory.join(to));
        let groups = std::mem::take(&mut output.groups);
        for (index, group) in groups.iter().enumerate() {
            // The groups not swapped yet stay `.cleaned`: after an error `output`'s drop
            // deletes them (and the next open any `.cleaned` file left).
            output.groups = groups[index..].to_vec();
            let swapped = group.file_names(SWAP_SUFFIX);
            for ((cleaned, _), (swap, _)) in group.file_names(CLEANED_SUFFIX).iter().zip(&swapped) {
                rename(cleaned, swap)?;
            }
            output.groups = groups[index + 1..].to_vec();
            for (base, _, _) in &group.replaced {
                let segment = self.segments.remove(base).expect("checked above");
                self.retire_segment(segment)?;
                if *base != group.base_offset {
                    self.producer_state.delete_snapshot(*base)?;
                }
            }
            for (swap, final_name) in &swapped {
                rename(swap, final_name)?;
            }
            let mut segment = Segment::open(
                &self.directory,
                group.base_offset,
                &self.config,
                &self.resources.budget,
                crate::background::now_ms(),
            )?;
            let next_base = self
                .segments
                .range(group.base_offset + 1..)
                .next()
                .map(|(&base, _)| base);
            segment.load_indexes(next_base)?;
            self.segments.insert(group.base_offset, segment);
        }
        output.committed = true;
        self.flush.pending.lock().unwrap().directory_version += 1;
        self.schedule_flush_job();
        Ok(CleanCommit::Committed(output.stats))
    }

    /// Renames a segment removed from the map to `.deleted` and lets the background thread
    /// drop the last reference `file.delete.delay.ms` later (retention's way).
    fn retire_segment(&mut self, segment: Segment) -> io::Result<()> {
        let base = segment.base_offset();
        let file = segment.delete()?;
        let delay_ms = u64::try_from(self.config.file_delete_delay_ms).unwrap_or(0);
        let at = std::time::Instant::now()
            .checked_add(std::time::Duration::from_millis(delay_ms))
            .unwrap_or_else(|| {
                std::time::Instant::now() + std::time::Duration::from_secs(86_400 * 365)
            });
        self.resources.background.send(Job::Release {
            at,
            contents: Box::new(file),
        });
        let mut pending = self.flush.pending.lock().unwrap();
        pending
            .segments
            .retain(|(pending_base, _)| *pending_base != base);
        pending.directory_version += 1;
        Ok(())
    }
}

/// Kafka's `LocalLog.logDeleteDirName`: `<topic>-<partition>.<32 hex digits>-delete`.
fn deletion_path(directory: &Path) -> PathBuf {
    use std::hash::{BuildHasher, Hasher};
    let name = directory
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Unique enough for a name nobody else uses: a random SipHash key of the process
    // hashed with the clock.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos()),
    );
    let high = hasher.finish();
    hasher.write_u64(high);
    let unique = format!("{high:016x}{:016x}", hasher.finish());
    directory.with_file_name(format!("{name}.{unique}{DELETE_DIRECTORY_SUFFIX}"))
}

/// The suffix of a partition directory being deleted (Kafka's `DeleteDirSuffix`).
pub const DELETE_DIRECTORY_SUFFIX: &str = "-delete";

/// Flushes one log from any thread, without the log itself (see [`Log::flusher`]).
pub struct LogFlusher(Arc<FlushState>);

impl LogFlusher {
    /// fsyncs everything appended before the call and moves the recovery point to it.
    pub fn flush(&self) -> Result<(), LogError> {
        self.0.flush()?;
        Ok(())
    }
}

/// Offsets of a log for the log-dir checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogOffsets {
    pub log_start_offset: i64,
    pub log_end_offset: i64,
    pub recovery_point: i64,
}

/// Kafka's `UnifiedLog.rebuildProducerState`: brings the producer state to `last_offset`
/// (the log end offset, or the base offset of a segment to recover). Snapshots above it (or at/below the log start) are deleted; the
/// newest remaining one is loaded (a corrupt one is deleted and the next older tried) and
/// the batch headers from its offset up to `last_offset` are replayed — no record is
/// decoded. Without a usable snapshot the replay starts at the log start offset. (Kafka
/// skips that full replay after a clean shutdown, taking the missing snapshots as a broker
/// upgrade; Sluice replays, so no producer is forgotten, at the cost of one header scan.)
/// Snapshots are taken at the base offsets of the last two segments when the replay
/// passes them, and at `last_offset`. Returns the batch headers read.
fn rebuild_producer_state(
    state: &mut ProducerStateManager,
    segments: &BTreeMap<i64, Segment>,
    log_start_offset: i64,
    last_offset: i64,
    now_ms: i64,
) -> io::Result<u64> {
    let mut offsets_to_snapshot = Vec::with_capacity(3);
    if let Some(&last_base) = segments.keys().next_back() {
        if let Some(&lower) = segments
            .range(..last_base)
            .next_back()
            .map(|(base, _)| base)
        {
            offsets_to_snapshot.push(lower);
        }
        offsets_to_snapshot.push(last_base);
    }
    let is_empty_before_truncation = state.is_empty() && state.map_end_offset() >= last_offset;
    state.truncate_and_reload(log_start_offset, last_offset, now_ms)?;
    let mut scanned = 0u64;
    if last_offset > state.map_end_offset() && !is_empty_before_truncation {
        let from = state.map_end_offset();
        let first_segment = segments
            .range(..=from)
            .next_back()
            .map_or(i64::MIN, |(&base, _)| base);
        let segment_of_last_offset = segments
            .range(..=last_offset)
            .next_back()
            .map(|(&base, _)| base);
        for (&base, segment) in segments.range(first_segment..last_offset) {
            let start = base.max(state.map_end_offset()).max(log_start_offset);
            state.update_map_end_offset(start);
            if offsets_to_snapshot.contains(&base) {
                state.take_snapshot(true)?;
            }
            let max_position = if segment_of_last_offset == Some(base) {
                segment
                    .translate_offset(last_offset)?
                    .map_or(u64::from(segment.size()), |header| {
                        u64::from(header.position)
                    })
            } else {
                u64::from(segment.size())
            };
            let Some(first) = segment.translate_offset(start)? else {
                continue;
            };
            segment.for_each_batch_from(u64::from(first.position), |header| {
                if header.end() > max_position {
                    return Ok(false);
                }
                scanned += 1;
                if header.producer_id >= 0 {
                    // A marker's record is read (a few dozen bytes); data batches are not.
                    let marker_batch = if header.is_control() {
                        Some(segment.read_batch(header)?)
                    } else {
                        None
                    };
                    state.load_batch(&header.producer_batch(marker_batch.as_deref()));
                }
                Ok(true)
            })?;
        }
    }
    state.update_map_end_offset(last_offset);
    state.take_snapshot(true)?;
    Ok(scanned)
}

/// Removes leftovers of an earlier run (`.deleted`, `.tmp`, `.cleaned` files, indexes —
/// `.txnindex` too — without a log), after completing interrupted clean swaps (`.swap`
/// files, see `cleaner.rs`), and returns the base offsets of the `.log` files.
fn clean_directory(directory: &Path) -> io::Result<Vec<i64>> {
    // A clean interrupted after its commit began is completed first (Kafka's LogLoader).
    crate::cleaner::complete_interrupted_swaps(directory)?;
    let mut base_offsets = Vec::new();
    let mut indexes = Vec::new();
    for entry in fs::read_dir(directory)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(DELETED_SUFFIX) || name.ends_with(".tmp") || name.ends_with(".cleaned") {
            fs::remove_file(entry.path())?;
            continue;
        }
        if let Some(base) = parse_segment_name(&name, LOG_SUFFIX) {
            base_offsets.push(base);
        } else if let Some(base) = parse_segment_name(&name, INDEX_SUFFIX)
            .or_else(|| parse_segment_name(&name, TIME_INDEX_SUFFIX))
            .or_else(|| parse_segment_name(&name, TXN_INDEX_SUFFIX))
        {
            indexes.push((base, entry.path()));
        }
    }
    base_offsets.sort_unstable();
    for (base, path) in indexes {
        if base_offsets.binary_search(&base).is_err() {
            fs::remove_file(path)?;
        }
    }
    Ok(base_offsets)
}

fn parse_segment_name(name: &str, suffix: &str) -> Option<i64> {
    let stem = name.strip_suffix(suffix)?;
    if stem.len() != 20 || !stem.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}
