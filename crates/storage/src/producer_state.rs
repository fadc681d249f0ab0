//! Producer state of one partition: idempotent and transactional producers' last batches
//! and open transactions, Kafka's `ProducerStateManager` / `ProducerStateEntry` /
//! `ProducerAppendInfo` / `CompletedTxn` (Kafka 4.4, `storage/src/main/java/org/apache/
//! kafka/storage/internals/log/`), and its `.snapshot` files.
//!
//! Per producer id: the epoch, the metadata of its last 5 batches (last sequence, last
//! offset, offset delta, max timestamp), the coordinator epoch of the last end-transaction
//! marker and the first offset of an ongoing transaction. A client append is checked
//! against it in Kafka's order — a duplicate of one of the 5 cached batches (same epoch,
//! same first and last sequence) is answered with the original batch's offsets and not
//! appended; then the epoch (`INVALID_PRODUCER_EPOCH` when older), then the sequence
//! (`OUT_OF_ORDER_SEQUENCE_NUMBER`). Kafka never answers `UNKNOWN_PRODUCER_ID` from a
//! produce: a producer the partition has no state for may start at any sequence (KIP-360
//! removed that error from the broker's append path; `ProducerAppendInfo.checkSequence`
//! accepts any sequence when the current epoch is `NO_PRODUCER_EPOCH`).
//!
//! Transactions: a producer's first transactional batch opens its transaction (Kafka's
//! `ongoingTxns`, ordered by first offset, so the first unstable offset is the first key);
//! an end-transaction marker (`end_txn_marker.rs`) closes it as a [`CompletedTxn`], after
//! Kafka's `appendEndTxnMarker` checks: the producer epoch (older refused; under
//! transaction version 2 an equal one too, unless it retries the marker of a transaction
//! already closed) and the coordinator epoch (older: `TRANSACTION_COORDINATOR_FENCED`).
//! The log writes an aborted one to the segment's `.txnindex` with
//! [`ProducerStateManager::last_stable_offset`]. Kafka also keeps completed transactions
//! as "unreplicated" until the high watermark passes their marker; on a single node the
//! high watermark is the log end offset, past every marker once its append ends, so they
//! are dropped at once.
//!
//! ```text
//! <topic>-<partition>/<20-digit offset>.snapshot   the state as of that offset (exclusive)
//!   version           int16   1
//!   crc               uint32  CRC32C of every byte after this field
//!   producer_entries  int32 count, then per producer:
//!     producer_id               int64
//!     epoch                     int16
//!     last_sequence             int32   -1 when the producer has no batch
//!     last_offset               int64   -1 when the producer has no batch
//!     offset_delta              int32   last offset - first offset of the last batch
//!     timestamp                 int64   max timestamp of the last batch (or marker)
//!     coordinator_epoch         int32
//!     current_txn_first_offset  int64   -1 when no transaction is ongoing
//! ```
//!
//! All big-endian (Kafka's `Struct` serialisation of `PID_SNAPSHOT_MAP_SCHEMA`). A snapshot
//! holds only the last batch of each producer, as Kafka's does, so after a reload from a
//! snapshot only that batch is recognised as a duplicate until new batches arrive; batches
//! after the snapshot offset are re-read from the log and cached again.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::checkpoint::sync_directory;
use crate::crc32c::crc32c;
use crate::end_txn_marker::EndTransactionMarker;

/// Batches remembered per producer for duplicate detection (Kafka's `NUM_BATCHES_TO_RETAIN`).
pub const NUM_BATCHES_TO_RETAIN: usize = 5;
pub const NO_PRODUCER_ID: i64 = -1;
pub const NO_PRODUCER_EPOCH: i16 = -1;
pub const NO_SEQUENCE: i32 = -1;
pub const SNAPSHOT_SUFFIX: &str = ".snapshot";
/// Kafka's `producer.id.expiration.ms` default: one day.
pub const DEFAULT_PRODUCER_ID_EXPIRATION_MS: i64 = 86_400_000;

const SNAPSHOT_VERSION: i16 = 1;
const SNAPSHOT_CRC_OFFSET: usize = 2;
const SNAPSHOT_ENTRIES_OFFSET: usize = 6;
const SNAPSHOT_HEADER_BYTES: usize = 10;
const SNAPSHOT_ENTRY_BYTES: usize = 46;

/// `<offset, 20 digits>.snapshot`.
pub fn snapshot_file_name(offset: i64) -> String {
    format!("{offset:020}{SNAPSHOT_SUFFIX}")
}

/// The offset of a `<20 digits>.snapshot` file name.
pub fn parse_snapshot_name(name: &str) -> Option<i64> {
    let stem = name.strip_suffix(SNAPSHOT_SUFFIX)?;
    if stem.len() != 20 || !stem.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// Kafka's `DefaultRecordBatch.incrementSequence`: wraps past `i32::MAX` to 0.
pub fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX - increment {
        increment - (i32::MAX - sequence) - 1
    } else {
        sequence + increment
    }
}

/// Kafka's `DefaultRecordBatch.decrementSequence`.
pub fn decrement_sequence(sequence: i32, decrement: i32) -> i32 {
    if sequence < decrement {
        i32::MAX - (decrement - sequence) + 1
    } else {
        sequence - decrement
    }
}

/// Kafka's `ProducerAppendInfo.inSequence`.
fn in_sequence(last_sequence: i32, next_sequence: i32) -> bool {
    i64::from(next_sequence) == i64::from(last_sequence) + 1
        || (next_sequence == 0 && last_sequence == i32::MAX)
}

/// One appended batch of a producer (Kafka's `BatchMetadata`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchMetadata {
    pub last_sequence: i32,
    pub last_offset: i64,
    /// Last offset minus first offset.
    pub offset_delta: i32,
    /// The batch's max timestamp (the append time on LogAppendTime topics).
    pub timestamp: i64,
}

impl BatchMetadata {
    pub fn first_sequence(&self) -> i32 {
        decrement_sequence(self.last_sequence, self.offset_delta)
    }

    pub fn first_offset(&self) -> i64 {
        self.last_offset - i64::from(self.offset_delta)
    }
}

/// The state of one producer id (Kafka's `ProducerStateEntry`). `Copy`, with its batches
/// in a fixed array, so checking an append allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerStateEntry {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub coordinator_epoch: i32,
    pub last_timestamp: i64,
    pub current_txn_first_offset: Option<i64>,
    /// Oldest first; `batch_count` of them are valid.
    batches: [BatchMetadata; NUM_BATCHES_TO_RETAIN],
    batch_count: u8,
}

impl ProducerStateEntry {
    pub fn empty(producer_id: i64) -> Self {
        Self {
            producer_id,
            producer_epoch: NO_PRODUCER_EPOCH,
            coordinator_epoch: -1,
            last_timestamp: -1,
            current_txn_first_offset: None,
            batches: [BatchMetadata::default(); NUM_BATCHES_TO_RETAIN],
            batch_count: 0,
        }
    }

    /// The cached batches, oldest first.
    pub fn batches(&self) -> &[BatchMetadata] {
        &self.batches[..usize::from(self.batch_count)]
    }

    pub fn is_empty(&self) -> bool {
        self.batch_count == 0
    }

    pub fn first_sequence(&self) -> i32 {
        self.batches()
            .first()
            .map_or(NO_SEQUENCE, BatchMetadata::first_sequence)
    }

    pub fn last_sequence(&self) -> i32 {
        self.batches()
            .last()
            .map_or(NO_SEQUENCE, |batch| batch.last_sequence)
    }

    pub fn first_data_offset(&self) -> i64 {
        self.batches()
            .first()
            .map_or(-1, BatchMetadata::first_offset)
    }

    pub fn last_data_offset(&self) -> i64 {
        self.batches().last().map_or(-1, |batch| batch.last_offset)
    }

    pub fn last_offset_delta(&self) -> i32 {
        self.batches().last().map_or(0, |batch| batch.offset_delta)
    }

    /// This entry without its batches (what `ProducerAppendInfo` starts from).
    fn without_batches(&self) -> Self {
        Self {
            batch_count: 0,
            ..*self
        }
    }

    fn maybe_update_producer_epoch(&mut self, producer_epoch: i16) {
        if self.producer_epoch != producer_epoch {
            self.batch_count = 0;
            self.producer_epoch = producer_epoch;
        }
    }

    fn add_batch_metadata(&mut self, batch: BatchMetadata) {
        if usize::from(self.batch_count) == NUM_BATCHES_TO_RETAIN {
            self.batches.copy_within(1.., 0);
            self.batches[NUM_BATCHES_TO_RETAIN - 1] = batch;
        } else {
            self.batches[usize::from(self.batch_count)] = batch;
            self.batch_count += 1;
        }
    }

    fn add_batch(&mut self, producer_epoch: i16, batch: BatchMetadata) {
        self.maybe_update_producer_epoch(producer_epoch);
        self.add_batch_metadata(batch);
        self.last_timestamp = batch.timestamp;
    }

    /// Kafka's `ProducerStateEntry.update(nextEntry)`: merges the state an append built.
    fn update(&mut self, next: &Self) {
        self.maybe_update_producer_epoch(next.producer_epoch);
        for batch in next.batches() {
            self.add_batch_metadata(*batch);
        }
        self.coordinator_epoch = next.coordinator_epoch;
        self.current_txn_first_offset = next.current_txn_first_offset;
        self.last_timestamp = next.last_timestamp;
    }

    /// Kafka's `findDuplicateBatch`: the cached batch of this epoch with exactly this
    /// sequence range.
    pub fn find_duplicate_batch(
        &self,
        producer_epoch: i16,
        first_sequence: i32,
        last_sequence: i32,
    ) -> Option<BatchMetadata> {
        if producer_epoch != self.producer_epoch {
            return None;
        }
        self.batches()
            .iter()
            .find(|batch| {
                batch.first_sequence() == first_sequence && batch.last_sequence == last_sequence
            })
            .copied()
    }
}

/// What the producer state needs of one batch of an append (header fields only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerBatch {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    /// The offsets the batch has (or gets) in the log.
    pub first_offset: i64,
    pub last_offset: i64,
    /// `lastOffsetDelta` from the header (for the batch's last sequence).
    pub last_offset_delta: i32,
    /// The max timestamp as written (the append time on LogAppendTime topics).
    pub max_timestamp: i64,
    pub is_transactional: bool,
    pub is_control: bool,
    /// The end-transaction marker of a control batch (its first record); `None` for a data
    /// batch, or a control batch without a readable marker (which changes nothing, as a
    /// control batch without records does in Kafka).
    pub end_txn_marker: Option<EndTransactionMarker>,
}

impl ProducerBatch {
    /// Kafka's `DefaultRecordBatch.lastSequence`.
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence == NO_SEQUENCE {
            NO_SEQUENCE
        } else {
            increment_sequence(self.base_sequence, self.last_offset_delta)
        }
    }
}

/// A transaction closed by a marker (Kafka's `CompletedTxn`): its first offset, the
/// marker's offset, and whether it was aborted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
    pub is_aborted: bool,
}

/// Transaction version of an append that is not a coordinator's marker write (Kafka's
/// `TV_UNKNOWN`): markers are then checked with the TV0/1 epoch rule.
pub const TV_UNKNOWN: i16 = -1;

/// Who appends, which decides the checks (Kafka's `AppendOrigin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProducerOrigin {
    /// A produce request: duplicates, epoch and sequence checked.
    Client,
    /// A coordinator's own write: the epoch checked, no sequences.
    Coordinator,
    /// A follower copying the leader, or the log being reloaded: nothing rejected.
    Replication,
}

/// Why an append was refused; the names are Kafka's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProducerStateError {
    /// `INVALID_PRODUCER_EPOCH`: the batch's epoch is older than the producer's.
    InvalidProducerEpoch {
        producer_id: i64,
        producer_epoch: i16,
        current_epoch: i16,
        offset: i64,
    },
    /// `OUT_OF_ORDER_SEQUENCE_NUMBER`: a gap or repeat in the sequence, or a new epoch not
    /// starting at 0.
    OutOfOrderSequence {
        producer_id: i64,
        producer_epoch: i16,
        first_sequence: i32,
        /// The last sequence the batch should follow (-1 when a new epoch must start at 0).
        current_last_sequence: i32,
        current_epoch: i16,
        offset: i64,
    },
    /// `INVALID_TXN_STATE`: a non-transactional batch while the producer's transaction is open.
    InvalidTxnState { producer_id: i64, offset: i64 },
    /// `TRANSACTION_COORDINATOR_FENCED`: a marker from a coordinator older than the one
    /// that wrote the producer's last marker.
    TransactionCoordinatorFenced {
        producer_id: i64,
        coordinator_epoch: i32,
        current_coordinator_epoch: i32,
        offset: i64,
    },
}

impl ProducerStateError {
    /// Kafka's error name for this refusal.
    pub fn kafka_error(&self) -> &'static str {
        match self {
            Self::InvalidProducerEpoch { .. } => "INVALID_PRODUCER_EPOCH",
            Self::OutOfOrderSequence { .. } => "OUT_OF_ORDER_SEQUENCE_NUMBER",
            Self::InvalidTxnState { .. } => "INVALID_TXN_STATE",
            Self::TransactionCoordinatorFenced { .. } => "TRANSACTION_COORDINATOR_FENCED",
        }
    }
}

impl fmt::Display for ProducerStateError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidProducerEpoch {
                producer_id,
                producer_epoch,
                current_epoch,
                offset,
            } => write!(
                formatter,
                "epoch of producer {producer_id} at offset {offset} is {producer_epoch}, \
                 which is smaller than the last seen epoch {current_epoch}"
            ),
            Self::OutOfOrderSequence {
                producer_id,
                producer_epoch,
                first_sequence,
                current_last_sequence,
                current_epoch,
                offset,
            } => {
                if producer_epoch != current_epoch {
                    write!(
                        formatter,
                        "invalid sequence number for new epoch of producer {producer_id} at \
                         offset {offset}: {producer_epoch} (request epoch), {first_sequence} \
                         (seq. number), {current_epoch} (current producer epoch)"
                    )
                } else {
                    write!(
                        formatter,
                        "out of order sequence number for producer {producer_id} at offset \
                         {offset}: {first_sequence} (incoming seq. number), \
                         {current_last_sequence} (current end sequence number)"
                    )
                }
            }
            Self::InvalidTxnState {
                producer_id,
                offset,
            } => write!(
                formatter,
                "expected a transactional write from producer {producer_id} at offset {offset}"
            ),
            Self::TransactionCoordinatorFenced {
                producer_id,
                coordinator_epoch,
                current_coordinator_epoch,
                offset,
            } => write!(
                formatter,
                "invalid coordinator epoch for producer {producer_id} at offset {offset}: \
                 {coordinator_epoch} (zombie), {current_coordinator_epoch} (current)"
            ),
        }
    }
}

impl std::error::Error for ProducerStateError {}

/// The state one append builds for one producer (Kafka's `ProducerAppendInfo`).
#[derive(Debug, Clone, Copy)]
struct ProducerAppendInfo {
    origin: ProducerOrigin,
    current: ProducerStateEntry,
    updated: ProducerStateEntry,
}

impl ProducerAppendInfo {
    fn new(current: ProducerStateEntry, origin: ProducerOrigin) -> Self {
        Self {
            origin,
            current,
            updated: current.without_batches(),
        }
    }

    fn producer_id(&self) -> i64 {
        self.current.producer_id
    }

    /// Kafka's `checkProducerEpoch`: an older epoch is refused; under transaction version
    /// 2 (markers carry the epoch the coordinator bumped for them) an equal one too, except
    /// the retry of a marker whose transaction is already closed, which is written again.
    fn check_producer_epoch(
        &self,
        producer_epoch: i16,
        offset: i64,
        transaction_version: i16,
    ) -> Result<(), ProducerStateError> {
        let current_epoch = self.updated.producer_epoch;
        let invalid = if transaction_version >= 2 {
            producer_epoch <= current_epoch
        } else {
            producer_epoch < current_epoch
        };
        if !invalid {
            return Ok(());
        }
        if transaction_version >= 2
            && producer_epoch == current_epoch
            && (self.updated.current_txn_first_offset.is_none() || producer_epoch == i16::MAX)
        {
            return Ok(());
        }
        if self.origin == ProducerOrigin::Replication {
            // Kafka logs and accepts an older epoch from replication.
            return Ok(());
        }
        Err(ProducerStateError::InvalidProducerEpoch {
            producer_id: self.producer_id(),
            producer_epoch,
            current_epoch,
            offset,
        })
    }

    /// Kafka's `checkSequence` without a transaction verification entry (idempotent
    /// produce).
    fn check_sequence(
        &self,
        producer_epoch: i16,
        first_sequence: i32,
        offset: i64,
    ) -> Result<(), ProducerStateError> {
        let updated_epoch = self.updated.producer_epoch;
        if producer_epoch != updated_epoch {
            if first_sequence != 0 && updated_epoch != NO_PRODUCER_EPOCH {
                return Err(ProducerStateError::OutOfOrderSequence {
                    producer_id: self.producer_id(),
                    producer_epoch,
                    first_sequence,
                    current_last_sequence: NO_SEQUENCE,
                    current_epoch: updated_epoch,
                    offset,
                });
            }
            return Ok(());
        }
        let current_last_sequence = if !self.updated.is_empty() {
            self.updated.last_sequence()
        } else if producer_epoch == self.current.producer_epoch {
            self.current.last_sequence()
        } else {
            NO_SEQUENCE
        };
        // No current epoch (everything of this producer was deleted, or it never wrote
        // here): any sequence is accepted.
        if self.current.producer_epoch != NO_PRODUCER_EPOCH
            && !in_sequence(current_last_sequence, first_sequence)
        {
            return Err(ProducerStateError::OutOfOrderSequence {
                producer_id: self.producer_id(),
                producer_epoch,
                first_sequence,
                current_last_sequence,
                current_epoch: updated_epoch,
                offset,
            });
        }
        Ok(())
    }

    /// Kafka's `append(batch)`: a control batch goes to [`Self::append_end_txn_marker`]
    /// (a completed transaction is pushed on `completed`), a data batch is checked and
    /// remembered (a transaction it opens is pushed on `started` as (first offset,
    /// producer id)).
    fn append(
        &mut self,
        batch: &ProducerBatch,
        transaction_version: i16,
        started: &mut Vec<(i64, i64)>,
        completed: &mut Vec<CompletedTxn>,
    ) -> Result<(), ProducerStateError> {
        if batch.is_control {
            let Some(marker) = batch.end_txn_marker else {
                return Ok(());
            };
            if let Some(txn) = self.append_end_txn_marker(
                &marker,
                batch.producer_epoch,
                batch.first_offset,
                batch.max_timestamp,
                transaction_version,
            )? {
                completed.push(txn);
            }
            return Ok(());
        }
        self.check_producer_epoch(batch.producer_epoch, batch.first_offset, TV_UNKNOWN)?;
        if self.origin == ProducerOrigin::Client {
            self.check_sequence(
                batch.producer_epoch,
                batch.base_sequence,
                batch.first_offset,
            )?;
        }
        self.updated.add_batch(
            batch.producer_epoch,
            BatchMetadata {
                last_sequence: batch.last_sequence(),
                last_offset: batch.last_offset,
                offset_delta: (batch.last_offset - batch.first_offset) as i32,
                timestamp: batch.max_timestamp,
            },
        );
        match self.updated.current_txn_first_offset {
            // Kafka throws this for every origin; a replica or a reload keeps going.
            Some(_) if !batch.is_transactional && self.origin != ProducerOrigin::Replication => {
                return Err(ProducerStateError::InvalidTxnState {
                    producer_id: self.producer_id(),
                    offset: batch.first_offset,
                });
            }
            None if batch.is_transactional => {
                self.updated.current_txn_first_offset = Some(batch.first_offset);
                started.push((batch.first_offset, self.producer_id()));
            }
            _ => {}
        }
        Ok(())
    }

    /// Kafka's `appendEndTxnMarker`: checks the producer epoch and the coordinator epoch,
    /// closes the open transaction (if any) and takes the marker's epochs and time.
    fn append_end_txn_marker(
        &mut self,
        marker: &EndTransactionMarker,
        producer_epoch: i16,
        offset: i64,
        timestamp: i64,
        transaction_version: i16,
    ) -> Result<Option<CompletedTxn>, ProducerStateError> {
        // Kafka insists on an explicit version for anything but replication; an unknown
        // one is read as 0 (the TV0/1 rule), as Kafka does for replication.
        let transaction_version = transaction_version.max(0);
        self.check_producer_epoch(producer_epoch, offset, transaction_version)?;
        if self.updated.coordinator_epoch > marker.coordinator_epoch
            && self.origin != ProducerOrigin::Replication
        {
            return Err(ProducerStateError::TransactionCoordinatorFenced {
                producer_id: self.producer_id(),
                coordinator_epoch: marker.coordinator_epoch,
                current_coordinator_epoch: self.updated.coordinator_epoch,
                offset,
            });
        }
        let completed = self
            .updated
            .current_txn_first_offset
            .map(|first_offset| CompletedTxn {
                producer_id: self.producer_id(),
                first_offset,
                last_offset: offset,
                is_aborted: marker.is_abort(),
            });
        // `ProducerStateEntry.update(epoch, coordinatorEpoch, timestamp)`.
        self.updated.maybe_update_producer_epoch(producer_epoch);
        self.updated.coordinator_epoch = marker.coordinator_epoch;
        self.updated.current_txn_first_offset = None;
        self.updated.last_timestamp = timestamp;
        Ok(completed)
    }
}

/// A snapshot file that cannot be used (Kafka's `CorruptSnapshotException`).
#[derive(Debug)]
pub enum SnapshotError {
    Io(io::Error),
    Corrupt(String),
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(error) => write!(formatter, "{error}"),
            Self::Corrupt(reason) => formatter.write_str(reason),
        }
    }
}

impl std::error::Error for SnapshotError {}

/// Serialises producer entries as a version 1 snapshot (see the module comment).
pub fn encode_snapshot<'a>(entries: impl IntoIterator<Item = &'a ProducerStateEntry>) -> Vec<u8> {
    let entries: Vec<&ProducerStateEntry> = entries.into_iter().collect();
    let mut bytes =
        Vec::with_capacity(SNAPSHOT_HEADER_BYTES + entries.len() * SNAPSHOT_ENTRY_BYTES);
    bytes.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
    bytes.extend_from_slice(&0u32.to_be_bytes());
    bytes.extend_from_slice(&(entries.len() as i32).to_be_bytes());
    for entry in entries {
        bytes.extend_from_slice(&entry.producer_id.to_be_bytes());
        bytes.extend_from_slice(&entry.producer_epoch.to_be_bytes());
        bytes.extend_from_slice(&entry.last_sequence().to_be_bytes());
        bytes.extend_from_slice(&entry.last_data_offset().to_be_bytes());
        bytes.extend_from_slice(&entry.last_offset_delta().to_be_bytes());
        bytes.extend_from_slice(&entry.last_timestamp.to_be_bytes());
        bytes.extend_from_slice(&entry.coordinator_epoch.to_be_bytes());
        bytes.extend_from_slice(&entry.current_txn_first_offset.unwrap_or(-1).to_be_bytes());
    }
    let crc = crc32c(&bytes[SNAPSHOT_ENTRIES_OFFSET..]);
    bytes[SNAPSHOT_CRC_OFFSET..SNAPSHOT_ENTRIES_OFFSET].copy_from_slice(&crc.to_be_bytes());
    bytes
}

/// Parses a snapshot (Kafka's `readSnapshot`): version 1, CRC32C over everything after the
/// CRC field, then the entries. A producer whose `last_offset` is negative has no batch.
pub fn decode_snapshot(bytes: &[u8]) -> Result<Vec<ProducerStateEntry>, SnapshotError> {
    let corrupt = |reason: String| SnapshotError::Corrupt(reason);
    if bytes.len() < SNAPSHOT_HEADER_BYTES {
        return Err(corrupt(format!(
            "snapshot of {} bytes is shorter than its header",
            bytes.len()
        )));
    }
    let version = i16::from_be_bytes([bytes[0], bytes[1]]);
    let count = i32::from_be_bytes(bytes[6..10].try_into().unwrap());
    let needed = usize::try_from(count)
        .ok()
        .and_then(|count| count.checked_mul(SNAPSHOT_ENTRY_BYTES))
        .and_then(|entries| entries.checked_add(SNAPSHOT_HEADER_BYTES));
    match needed {
        Some(needed) if needed <= bytes.len() => {}
        _ => {
            return Err(corrupt(format!(
                "snapshot of {} bytes cannot hold {count} entries",
                bytes.len()
            )))
        }
    }
    if version != SNAPSHOT_VERSION {
        return Err(corrupt(format!(
            "snapshot contained an unknown file version {version}"
        )));
    }
    let stored = u32::from_be_bytes(bytes[2..6].try_into().unwrap());
    let computed = crc32c(&bytes[SNAPSHOT_ENTRIES_OFFSET..]);
    if stored != computed {
        return Err(corrupt(format!(
            "snapshot is corrupt (CRC is no longer valid): stored crc {stored}, computed crc {computed}"
        )));
    }
    let mut entries = Vec::with_capacity(count as usize);
    for index in 0..count as usize {
        let at = SNAPSHOT_HEADER_BYTES + index * SNAPSHOT_ENTRY_BYTES;
        let field = |offset: usize, width: usize| &bytes[at + offset..at + offset + width];
        let producer_id = i64::from_be_bytes(field(0, 8).try_into().unwrap());
        let producer_epoch = i16::from_be_bytes(field(8, 2).try_into().unwrap());
        let last_sequence = i32::from_be_bytes(field(10, 4).try_into().unwrap());
        let last_offset = i64::from_be_bytes(field(14, 8).try_into().unwrap());
        let offset_delta = i32::from_be_bytes(field(22, 4).try_into().unwrap());
        let timestamp = i64::from_be_bytes(field(26, 8).try_into().unwrap());
        let coordinator_epoch = i32::from_be_bytes(field(34, 4).try_into().unwrap());
        let txn_first_offset = i64::from_be_bytes(field(38, 8).try_into().unwrap());
        let mut entry = ProducerStateEntry {
            producer_epoch,
            coordinator_epoch,
            last_timestamp: timestamp,
            current_txn_first_offset: (txn_first_offset >= 0).then_some(txn_first_offset),
            ..ProducerStateEntry::empty(producer_id)
        };
        if last_offset >= 0 {
            entry.add_batch_metadata(BatchMetadata {
                last_sequence,
                last_offset,
                offset_delta,
                timestamp,
            });
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// Reads and parses one snapshot file.
pub fn read_snapshot(path: &Path) -> Result<Vec<ProducerStateEntry>, SnapshotError> {
    let bytes = fs::read(path).map_err(SnapshotError::Io)?;
    decode_snapshot(&bytes)
}

/// The producer state of one partition (Kafka's `ProducerStateManager`).
#[derive(Debug)]
pub struct ProducerStateManager {
    directory: PathBuf,
    producer_id_expiration_ms: i64,
    producers: HashMap<i64, ProducerStateEntry>,
    /// Open transactions: first offset -> producer id (Kafka's `ongoingTxns`).
    ongoing_txns: BTreeMap<i64, i64>,
    /// Offsets of the `.snapshot` files in the directory.
    snapshots: BTreeSet<i64>,
    /// The offset the state is known up to (exclusive): the log end offset after appends.
    last_map_offset: i64,
    /// The offset of the last snapshot written.
    last_snap_offset: i64,
    /// The per-producer state the append being checked would leave (reused: no
    /// allocation per append once it has grown).
    pending: Vec<ProducerAppendInfo>,
    /// Transactions the pending append opens, (first offset, producer id), and closes.
    pending_started: Vec<(i64, i64)>,
    pending_completed: Vec<CompletedTxn>,
    /// Corrupt snapshots found (and deleted) while loading.
    corrupt_snapshots: usize,
}

impl ProducerStateManager {
    /// A manager for `directory`, knowing the snapshot files in it; no state loaded yet.
    pub fn new(directory: &Path, producer_id_expiration_ms: i64) -> io::Result<Self> {
        Ok(Self {
            directory: directory.to_path_buf(),
            producer_id_expiration_ms,
            producers: HashMap::new(),
            ongoing_txns: BTreeMap::new(),
            snapshots: list_snapshot_offsets(directory)?,
            last_map_offset: 0,
            last_snap_offset: 0,
            pending: Vec::new(),
            pending_started: Vec::new(),
            pending_completed: Vec::new(),
            corrupt_snapshots: 0,
        })
    }

    pub fn set_producer_id_expiration_ms(&mut self, expiration_ms: i64) {
        self.producer_id_expiration_ms = expiration_ms;
    }

    pub fn producer_id_count(&self) -> usize {
        self.producers.len()
    }

    /// The state of every producer, by producer id.
    pub fn active_producers(&self) -> Vec<ProducerStateEntry> {
        let mut entries: Vec<ProducerStateEntry> = self.producers.values().copied().collect();
        entries.sort_unstable_by_key(|entry| entry.producer_id);
        entries
    }

    pub fn last_entry(&self, producer_id: i64) -> Option<&ProducerStateEntry> {
        self.producers.get(&producer_id)
    }

    /// Kafka's `UnifiedLog.hasOngoingTransaction`: the producer has a transaction open
    /// here, at this epoch.
    pub fn has_ongoing_transaction(&self, producer_id: i64, producer_epoch: i16) -> bool {
        self.producers.get(&producer_id).is_some_and(|entry| {
            entry.current_txn_first_offset.is_some() && entry.producer_epoch == producer_epoch
        })
    }

    /// The first offset of the oldest open transaction (Kafka's `firstUndecidedOffset`;
    /// its `firstUnstableOffset` too, with no unreplicated transactions on one node).
    pub fn first_undecided_offset(&self) -> Option<i64> {
        self.ongoing_txns.keys().next().copied()
    }

    /// Open transactions as (first offset, producer id), oldest first.
    pub fn ongoing_transactions(&self) -> Vec<(i64, i64)> {
        self.ongoing_txns
            .iter()
            .map(|(&first_offset, &producer_id)| (first_offset, producer_id))
            .collect()
    }

    /// Kafka's `lastStableOffset(completedTxn)`: the LSO once `txn` is closed — the first
    /// offset of the oldest transaction of another producer still open, else the offset
    /// after the marker. Written into the `.txnindex` entry of an aborted transaction.
    pub fn last_stable_offset(&self, txn: &CompletedTxn) -> i64 {
        self.ongoing_txns
            .iter()
            .find(|(_, &producer_id)| producer_id != txn.producer_id)
            .map_or(txn.last_offset + 1, |(&first_offset, _)| first_offset)
    }

    /// Kafka's `completeTxn`: the transaction is no longer open.
    pub fn complete_txn(&mut self, txn: &CompletedTxn) {
        self.ongoing_txns.remove(&txn.first_offset);
    }

    /// Kafka's `loadProducerEntry`: an entry read from a snapshot, its transaction open.
    fn load_producer_entry(&mut self, entry: ProducerStateEntry) {
        if let Some(first_offset) = entry.current_txn_first_offset {
            self.ongoing_txns.insert(first_offset, entry.producer_id);
        }
        self.producers.insert(entry.producer_id, entry);
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// The offset the state is known up to (exclusive).
    pub fn map_end_offset(&self) -> i64 {
        self.last_map_offset
    }

    pub fn update_map_end_offset(&mut self, offset: i64) {
        self.last_map_offset = offset;
    }

    pub fn snapshot_offsets(&self) -> Vec<i64> {
        self.snapshots.iter().copied().collect()
    }

    pub fn latest_snapshot_offset(&self) -> Option<i64> {
        self.snapshots.last().copied()
    }

    pub fn oldest_snapshot_offset(&self) -> Option<i64> {
        self.snapshots.first().copied()
    }

    /// Corrupt snapshot files found and deleted while loading, since the manager was made.
    pub fn corrupt_snapshots(&self) -> usize {
        self.corrupt_snapshots
    }

    pub fn snapshot_path(&self, offset: i64) -> PathBuf {
        self.directory.join(snapshot_file_name(offset))
    }

    fn is_producer_expired(&self, now_ms: i64, entry: &ProducerStateEntry) -> bool {
        entry.current_txn_first_offset.is_none()
            && now_ms.saturating_sub(entry.last_timestamp) >= self.producer_id_expiration_ms
    }

    /// Forgets producers idle for `producer.id.expiration.ms` (by their last batch's
    /// timestamp) with no transaction open. Returns how many went.
    pub fn remove_expired_producers(&mut self, now_ms: i64) -> usize {
        let before = self.producers.len();
        let expiration_ms = self.producer_id_expiration_ms;
        self.producers.retain(|_, entry| {
            !(entry.current_txn_first_offset.is_none()
                && now_ms.saturating_sub(entry.last_timestamp) >= expiration_ms)
        });
        before - self.producers.len()
    }

    /// Checks the batches of an append from `origin` (Kafka's
    /// `UnifiedLog.analyzeAndValidateProducerState`), in order. `Ok(Some(batch))`: a
    /// client's batch is a duplicate of `batch`, so nothing must be appended and the
    /// original offsets are the answer. `Ok(None)`: the append may go ahead; once it is
    /// written, [`Self::commit_append`] applies it. Nothing changes until then.
    /// `transaction_version` decides the epoch rule for markers ([`TV_UNKNOWN`]: TV0/1).
    pub fn analyze_append(
        &mut self,
        batches: impl IntoIterator<Item = ProducerBatch>,
        origin: ProducerOrigin,
        transaction_version: i16,
    ) -> Result<Option<BatchMetadata>, ProducerStateError> {
        self.abandon_append();
        for batch in batches {
            if batch.producer_id <= NO_PRODUCER_ID {
                continue;
            }
            if origin == ProducerOrigin::Client {
                if let Some(duplicate) = self.producers.get(&batch.producer_id).and_then(|entry| {
                    entry.find_duplicate_batch(
                        batch.producer_epoch,
                        batch.base_sequence,
                        batch.last_sequence(),
                    )
                }) {
                    self.abandon_append();
                    return Ok(Some(duplicate));
                }
            }
            let index = match self
                .pending
                .iter()
                .position(|info| info.producer_id() == batch.producer_id)
            {
                Some(index) => index,
                None => {
                    let current = self
                        .producers
                        .get(&batch.producer_id)
                        .copied()
                        .unwrap_or_else(|| ProducerStateEntry::empty(batch.producer_id));
                    self.pending.push(ProducerAppendInfo::new(current, origin));
                    self.pending.len() - 1
                }
            };
            if let Err(error) = self.pending[index].append(
                &batch,
                transaction_version,
                &mut self.pending_started,
                &mut self.pending_completed,
            ) {
                self.abandon_append();
                return Err(error);
            }
        }
        Ok(None)
    }

    /// Applies what the last [`Self::analyze_append`] built, and moves the map end offset
    /// to `next_offset` (the log end offset after the append). As in Kafka's
    /// `UnifiedLog.append`: producers are updated and the transactions the append opened
    /// become ongoing; then each transaction it closed is passed to `on_completed` with
    /// the LSO once it is closed (the log writes aborted ones to the `.txnindex`) and
    /// completed. The state is applied whatever `on_completed` answers; its first error is
    /// returned.
    pub fn commit_append<E>(
        &mut self,
        next_offset: i64,
        mut on_completed: impl FnMut(&CompletedTxn, i64) -> Result<(), E>,
    ) -> Result<(), E> {
        for info in self.pending.drain(..) {
            let producer_id = info.producer_id();
            match self.producers.get_mut(&producer_id) {
                Some(entry) => entry.update(&info.updated),
                None => {
                    self.producers.insert(producer_id, info.updated);
                }
            }
        }
        for (first_offset, producer_id) in self.pending_started.drain(..) {
            self.ongoing_txns.insert(first_offset, producer_id);
        }
        let mut result = Ok(());
        for index in 0..self.pending_completed.len() {
            let txn = self.pending_completed[index];
            let last_stable_offset = self.last_stable_offset(&txn);
            let written = on_completed(&txn, last_stable_offset);
            if result.is_ok() {
                result = written;
            }
            self.complete_txn(&txn);
        }
        self.pending_completed.clear();
        self.last_map_offset = next_offset;
        result
    }

    /// Drops what the last [`Self::analyze_append`] built (the append failed).
    pub fn abandon_append(&mut self) {
        self.pending.clear();
        self.pending_started.clear();
        self.pending_completed.clear();
    }

    /// Applies one batch read back from the log (replication rules: nothing refused), as
    /// Kafka's `LogSegment.updateProducerState` does in recovery. A transaction the batch
    /// closes is completed and returned with the LSO once it is closed (recovery writes
    /// aborted ones to the `.txnindex`). Not to be called between `analyze_append` and
    /// `commit_append`.
    pub fn load_batch(&mut self, batch: &ProducerBatch) -> Option<(CompletedTxn, i64)> {
        if batch.producer_id <= NO_PRODUCER_ID {
            return None;
        }
        let current = self
            .producers
            .get(&batch.producer_id)
            .copied()
            .unwrap_or_else(|| ProducerStateEntry::empty(batch.producer_id));
        let mut info = ProducerAppendInfo::new(current, ProducerOrigin::Replication);
        self.abandon_append();
        let appended = info.append(
            batch,
            TV_UNKNOWN,
            &mut self.pending_started,
            &mut self.pending_completed,
        );
        if appended.is_err() {
            self.abandon_append();
            return None;
        }
        match self.producers.get_mut(&batch.producer_id) {
            Some(entry) => entry.update(&info.updated),
            None => {
                self.producers.insert(batch.producer_id, info.updated);
            }
        }
        for (first_offset, producer_id) in self.pending_started.drain(..) {
            self.ongoing_txns.insert(first_offset, producer_id);
        }
        let completed = self.pending_completed.pop().map(|txn| {
            let last_stable_offset = self.last_stable_offset(&txn);
            self.complete_txn(&txn);
            (txn, last_stable_offset)
        });
        self.pending_completed.clear();
        completed
    }

    /// Writes a snapshot at the map end offset if none is there yet (Kafka's
    /// `takeSnapshot`): `<offset>.snapshot.tmp`, then renamed. With `sync` the file is
    /// fsynced before the rename and the directory after it; without, the caller fsyncs
    /// the returned path later (a torn snapshot fails its CRC on load and is skipped).
    pub fn take_snapshot(&mut self, sync: bool) -> io::Result<Option<PathBuf>> {
        if self.last_map_offset <= self.last_snap_offset {
            return Ok(None);
        }
        let offset = self.last_map_offset;
        let path = self.snapshot_path(offset);
        let mut entries: Vec<&ProducerStateEntry> = self.producers.values().collect();
        entries.sort_unstable_by_key(|entry| entry.producer_id);
        let bytes = encode_snapshot(entries);
        let mut temporary_name = path.file_name().unwrap_or_default().to_os_string();
        temporary_name.push(".tmp");
        let temporary = path.with_file_name(temporary_name);
        {
            let mut file = File::create(&temporary)?;
            file.write_all(&bytes)?;
            if sync {
                file.sync_all()?;
            }
        }
        fs::rename(&temporary, &path)?;
        if sync {
            sync_directory(&self.directory)?;
        }
        self.snapshots.insert(offset);
        self.last_snap_offset = offset;
        Ok(Some(path))
    }

    fn remove_and_delete_snapshot(&mut self, offset: i64) -> io::Result<()> {
        if self.snapshots.remove(&offset) {
            match fs::remove_file(self.snapshot_path(offset)) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
                _ => {}
            }
        }
        Ok(())
    }

    /// Deletes the snapshot of a deleted segment (Kafka's `deleteProducerSnapshots`).
    pub fn delete_snapshot(&mut self, offset: i64) -> io::Result<()> {
        self.remove_and_delete_snapshot(offset)
    }

    /// Deletes the snapshots below `offset` (Kafka's `deleteSnapshotsBefore`).
    pub fn delete_snapshots_before(&mut self, offset: i64) -> io::Result<()> {
        let doomed: Vec<i64> = self.snapshots.range(..offset).copied().collect();
        for snapshot in doomed {
            self.remove_and_delete_snapshot(snapshot)?;
        }
        Ok(())
    }

    /// Kafka's `removeStraySnapshots`: keeps the snapshots at segment base offsets and the
    /// newest other one if it lies above every segment (the one a clean shutdown wrote).
    pub fn remove_stray_snapshots(&mut self, segment_base_offsets: &[i64]) -> io::Result<()> {
        let bases: BTreeSet<i64> = segment_base_offsets.iter().copied().collect();
        let mut latest_stray: Option<i64> = None;
        let offsets: Vec<i64> = self.snapshots.iter().copied().collect();
        for offset in offsets {
            if bases.contains(&offset) {
                continue;
            }
            if let Some(previous) = latest_stray.replace(offset) {
                self.remove_and_delete_snapshot(previous)?;
            }
        }
        if let (Some(stray), Some(&max_base)) = (latest_stray, bases.last()) {
            if stray < max_base {
                self.remove_and_delete_snapshot(stray)?;
            }
        }
        Ok(())
    }

    /// Loads the newest usable snapshot (Kafka's `loadFromSnapshot`): a corrupt one is
    /// deleted and the next older one tried; expired producers are left out. Without any,
    /// the state starts empty at the log start offset.
    fn load_from_snapshot(&mut self, log_start_offset: i64, now_ms: i64) -> io::Result<()> {
        while let Some(offset) = self.latest_snapshot_offset() {
            match read_snapshot(&self.snapshot_path(offset)) {
                Ok(entries) => {
                    for entry in entries {
                        if !self.is_producer_expired(now_ms, &entry) {
                            self.load_producer_entry(entry);
                        }
                    }
                    self.last_snap_offset = offset;
                    self.last_map_offset = offset;
                    return Ok(());
                }
                Err(SnapshotError::Corrupt(_)) => {
                    self.corrupt_snapshots += 1;
                    self.remove_and_delete_snapshot(offset)?;
                }
                Err(SnapshotError::Io(error)) if error.kind() == io::ErrorKind::NotFound => {
                    self.snapshots.remove(&offset);
                }
                Err(SnapshotError::Io(error)) => return Err(error),
            }
        }
        self.last_snap_offset = log_start_offset;
        self.last_map_offset = log_start_offset;
        Ok(())
    }

    /// Kafka's `truncateAndReload`: deletes snapshots above the log end or at/below the
    /// log start, and unless the state already ends at the log end, reloads it from the
    /// newest remaining snapshot (the caller then replays the log from `map_end_offset`).
    pub fn truncate_and_reload(
        &mut self,
        log_start_offset: i64,
        log_end_offset: i64,
        now_ms: i64,
    ) -> io::Result<()> {
        let doomed: Vec<i64> = self
            .snapshots
            .iter()
            .copied()
            .filter(|&offset| offset > log_end_offset || offset <= log_start_offset)
            .collect();
        for offset in doomed {
            self.remove_and_delete_snapshot(offset)?;
        }
        if log_end_offset != self.last_map_offset {
            self.producers.clear();
            self.ongoing_txns.clear();
            self.load_from_snapshot(log_start_offset, now_ms)?;
        } else {
            self.on_log_start_offset_incremented(log_start_offset);
        }
        Ok(())
    }

    /// Kafka's `onLogStartOffsetIncremented` (producers stay; only offsets move).
    pub fn on_log_start_offset_incremented(&mut self, log_start_offset: i64) {
        if self.last_map_offset < log_start_offset {
            self.last_map_offset = log_start_offset;
        }
        self.last_snap_offset = self.latest_snapshot_offset().unwrap_or(log_start_offset);
    }

    /// Kafka's `truncateFullyAndStartAt`: no producers, no snapshots.
    pub fn truncate_fully_and_start_at(&mut self, offset: i64) -> io::Result<()> {
        self.producers.clear();
        self.ongoing_txns.clear();
        self.abandon_append();
        let all: Vec<i64> = self.snapshots.iter().copied().collect();
        for snapshot in all {
            self.remove_and_delete_snapshot(snapshot)?;
        }
        self.last_snap_offset = 0;
        self.last_map_offset = offset;
        Ok(())
    }
}

fn list_snapshot_offsets(directory: &Path) -> io::Result<BTreeSet<i64>> {
    let mut offsets = BTreeSet::new();
    let entries = match fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(offsets),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let entry = entry?;
        if let Some(offset) = parse_snapshot_name(&entry.file_name().to_string_lossy()) {
            if entry.file_type()?.is_file() {
                offsets.insert(offset);
            }
        }
    }
    Ok(offsets)
}

#[cfg(test)]
mod tests;
