//! Binding of the partition log (`sluice_storage::log`) and of a log directory
//! (`sluice_storage::log_dir`).
//!
//! Threads: `append`, `read`, `readCopy`, `offsetFor` and the getters run on the JS
//! thread (a memcpy into the mapped active segment; index lookups and `pread`s of batch
//! headers, normally from the page cache). Everything that may wait on the disk — open
//! with recovery, close, truncation, retention, flush, rolling, deletion — is an
//! `AsyncTask` on the libuv pool and returns a Promise.
//!
//! A log is one `Mutex<Option<Log>>` shared by its JS object and its tasks (`None` once
//! closed or deleted). Every holder keeps it for a short critical section only — an
//! append's memcpy, an index lookup, a segment rename or map swap — never for an fsync, a
//! scan or an unlink: a flush takes the log's flush handle and fsyncs without the log,
//! close and delete take the log out of the mutex first, deleted segments are unlinked by
//! the storage background thread. So the JS thread simply locks: it may wait for another
//! short critical section, never for the disk, and background work (retention, rolls,
//! flushes, DeleteRecords, checkpoints) never makes a request fail.
//!
//! Numbers: offsets and timestamps that come from the log are `bigint` (int64, as in the
//! protocol codec); sizes, counts and the broker's clock (`nowMs`) are `number`.
//! Configuration values that Kafka keeps as longs (`segment.ms`, `retention.bytes`, …) are
//! `number`s too; `Infinity` (or anything ≥ 2^63) means Kafka's `Long.MAX_VALUE`.
//!
//! Errors: every failure is a JS `Error` whose `code` property napi-rs sets from
//! [`ErrorCode`] (`crate::errors`: the codes, and the `LogError` each comes from).
//!
//! No append fails with UNKNOWN_PRODUCER_ID: Kafka 4.1's broker never answers a produce
//! with it (a producer the partition does not know may start at any sequence).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::sync::{LazyLock, Weak};

use napi::bindgen_prelude::{AsyncTask, BigInt, Buffer, BufferSlice, Env, Task, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;

use crate::codec::{ProduceRecordError, ProduceValidationConfig};
use crate::errors::{coded, from_napi, invalid, settle, thrown, ErrorCode, NativeError};
use napi_derive::napi;
use sluice_storage::background::LogResources;
use sluice_storage::checkpoint::TopicPartition;
use sluice_storage::compression::{decompress, Compression, CompressionError};
use sluice_storage::config::{LogConfig, TimestampType};
use sluice_storage::end_txn_marker::{ControlRecordType, EndTransactionMarker};
use sluice_storage::log::{
    AppendInfo, AppendOptions, AppendOrigin, DeletedSegment, Log, LogError, LogOffsets, OffsetSpec,
    OpenOptions, OpenReport, TimestampAndOffset,
};
use sluice_storage::log_dir::{LogDirectory, MetaProperties, OpenProgress};
use sluice_storage::map_budget::DEFAULT_MAX_MAPS;
use sluice_storage::partition_metadata::{read_partition_metadata, write_partition_metadata, Uuid};
use sluice_storage::produce::{prepare_produce, ProduceConfig};
use sluice_storage::producer_state::ProducerStateEntry;
use sluice_storage::segment::FileSlice;

/// An int64 from a JS bigint; anything outside int64 is a bad argument.
fn long_of(value: &BigInt, what: &str) -> Result<i64, NativeError> {
    match value.get_i64() {
        (long, true) => Ok(long),
        _ => Err(invalid(format!("{what} does not fit an int64"))),
    }
}

/// A Kafka long config from a JS number: whole numbers only; `Infinity` and anything at
/// or past 2^63 is `i64::MAX` (Kafka's "never").
fn config_long(value: f64, what: &str) -> Result<i64, NativeError> {
    if value.is_nan() || value.fract() != 0.0 && value.is_finite() {
        return Err(invalid(format!(
            "{what} must be a whole number, got {value}"
        )));
    }
    if value >= 9.223_372_036_854_776e18 {
        return Ok(i64::MAX);
    }
    if value < -9.223_372_036_854_776e18 {
        return Ok(i64::MIN);
    }
    Ok(value as i64)
}

/// The broker's clock in ms from a JS number (`Date.now()`).
fn clock_ms(value: f64) -> Result<i64, NativeError> {
    if !value.is_finite() {
        return Err(invalid(format!(
            "nowMs must be a finite number, got {value}"
        )));
    }
    Ok(value as i64)
}

// ---------------------------------------------------------------------------------------
// Shared resources and configuration

/// Most bytes a timestamp lookup decompresses from one batch (as `LogResources::with_defaults`).
const LOOKUP_DECOMPRESSED_BYTES_MAX: u64 = 256 * 1024 * 1024;

/// Finds the exact record of a timestamp lookup inside a compressed batch.
fn decompress_for_lookups(codec: i16, compressed: &[u8]) -> std::io::Result<Vec<u8>> {
    let invalid_data =
        |error: CompressionError| std::io::Error::new(std::io::ErrorKind::InvalidData, error);
    let compression = Compression::from_attributes(codec).map_err(invalid_data)?;
    decompress(compression, compressed, LOOKUP_DECOMPRESSED_BYTES_MAX).map_err(invalid_data)
}

/// What every log of a broker shares: the memory-map budget and the storage background
/// thread (fsync, disk reservation, next-segment preparation, file release). One per
/// process; the thread stops when the last log using it and this object are gone.
#[napi(js_name = "LogResources")]
pub struct NativeLogResources {
    inner: Arc<LogResources>,
}

#[napi]
impl NativeLogResources {
    /// `maxMaps`: the most memory maps all logs may hold together (default 32,768, half of
    /// Linux's default `vm.max_map_count`).
    #[napi(constructor)]
    pub fn new(max_maps: Option<u32>) -> Self {
        let max_maps = max_maps.map_or(DEFAULT_MAX_MAPS, |maps| maps.max(8) as usize);
        Self {
            inner: LogResources::new(max_maps, Some(Box::new(decompress_for_lookups))),
        }
    }

    /// Errors of background jobs (fsync, reservation, preparation) since the last call.
    #[napi]
    pub fn take_background_errors(&self) -> Vec<String> {
        self.inner.take_background_errors()
    }

    /// Resolves once every background job queued so far has run (for shutdown and tests).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn wait_for_background(&self) -> AsyncTask<WaitForBackgroundTask> {
        AsyncTask::new(WaitForBackgroundTask {
            resources: self.inner.clone(),
        })
    }
}

pub struct WaitForBackgroundTask {
    resources: Arc<LogResources>,
}

#[napi]
impl Task for WaitForBackgroundTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<()> {
        self.resources.wait_for_background();
        Ok(())
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> napi::Result<()> {
        Ok(())
    }
}

/// A partition's configuration: Kafka's topic configs (absent fields take Kafka's
/// defaults). Long-valued ones are numbers; `Infinity` means `Long.MAX_VALUE`.
#[napi(object)]
#[derive(Default, Clone)]
pub struct LogConfigInput {
    /// `segment.bytes`
    pub segment_bytes: Option<u32>,
    /// `segment.ms`
    pub segment_ms: Option<f64>,
    /// `segment.jitter.ms`
    pub segment_jitter_ms: Option<f64>,
    /// `segment.index.bytes`
    pub segment_index_bytes: Option<u32>,
    /// `index.interval.bytes`
    pub index_interval_bytes: Option<u32>,
    /// `flush.messages`
    pub flush_messages: Option<f64>,
    /// `flush.ms`
    pub flush_ms: Option<f64>,
    /// `retention.ms` (-1: forever)
    pub retention_ms: Option<f64>,
    /// `retention.bytes` (-1: no limit)
    pub retention_bytes: Option<f64>,
    /// `message.timestamp.type`: `CreateTime` or `LogAppendTime`
    pub message_timestamp_type: Option<String>,
    /// Bytes of the active `.log` reserved on disk ahead of the write position.
    pub preallocate_chunk_bytes: Option<u32>,
    /// `producer.id.expiration.ms` (Kafka's broker config; default one day)
    pub producer_id_expiration_ms: Option<f64>,
    /// `file.delete.delay.ms`: deleted segments stay renamed `.deleted` this long (60 s).
    pub file_delete_delay_ms: Option<f64>,
}

fn config_of(input: &LogConfigInput) -> Result<LogConfig, NativeError> {
    let defaults = LogConfig::default();
    let long = |value: Option<f64>, default: i64, what: &str| {
        value.map_or(Ok(default), |value| config_long(value, what))
    };
    let message_timestamp_type = match input.message_timestamp_type.as_deref() {
        None | Some("CreateTime") => TimestampType::CreateTime,
        Some("LogAppendTime") => TimestampType::LogAppendTime,
        Some(other) => {
            return Err(invalid(format!(
                "unknown message.timestamp.type {other:?} (CreateTime, LogAppendTime)"
            )))
        }
    };
    Ok(LogConfig {
        segment_bytes: input.segment_bytes.unwrap_or(defaults.segment_bytes),
        segment_ms: long(input.segment_ms, defaults.segment_ms, "segment.ms")?,
        segment_jitter_ms: long(
            input.segment_jitter_ms,
            defaults.segment_jitter_ms,
            "segment.jitter.ms",
        )?,
        segment_index_bytes: input
            .segment_index_bytes
            .unwrap_or(defaults.segment_index_bytes),
        index_interval_bytes: input
            .index_interval_bytes
            .unwrap_or(defaults.index_interval_bytes),
        flush_messages: long(
            input.flush_messages,
            defaults.flush_messages,
            "flush.messages",
        )?,
        flush_ms: long(input.flush_ms, defaults.flush_ms, "flush.ms")?,
        retention_ms: long(input.retention_ms, defaults.retention_ms, "retention.ms")?,
        retention_bytes: long(
            input.retention_bytes,
            defaults.retention_bytes,
            "retention.bytes",
        )?,
        message_timestamp_type,
        preallocate_chunk_bytes: input
            .preallocate_chunk_bytes
            .unwrap_or(defaults.preallocate_chunk_bytes),
        producer_id_expiration_ms: long(
            input.producer_id_expiration_ms,
            defaults.producer_id_expiration_ms,
            "producer.id.expiration.ms",
        )?,
        file_delete_delay_ms: long(
            input.file_delete_delay_ms,
            defaults.file_delete_delay_ms,
            "file.delete.delay.ms",
        )?,
    })
}

fn topic_id_of(text: &str) -> Result<Uuid, NativeError> {
    Uuid::from_base64(text).ok_or_else(|| {
        invalid(format!(
            "topic id {text:?} is not a Kafka Uuid (22 characters of URL-safe base64)"
        ))
    })
}

/// `meta.properties` of a log directory: the identity of the cluster and node it belongs to.
#[napi(object, js_name = "MetaProperties")]
pub struct MetaPropertiesValue {
    pub version: u32,
    pub cluster_id: String,
    pub node_id: i32,
    /// Kafka's printed Uuid; absent in version 0 files.
    pub directory_id: Option<String>,
}

fn meta_error(directory: &str, error: std::io::Error) -> NativeError {
    coded(
        ErrorCode::StorageError,
        format!("{directory}: meta.properties: {error}"),
    )
}

/// Reads `<directory>/meta.properties`; null when the file does not exist.
#[napi]
pub fn read_meta_properties(directory: String) -> Result<Option<MetaPropertiesValue>, NativeError> {
    let meta = LogDirectory::new(&directory)
        .read_meta_properties()
        .map_err(|error| meta_error(&directory, error))?;
    Ok(meta.map(|meta| MetaPropertiesValue {
        version: meta.version,
        cluster_id: meta.cluster_id,
        node_id: meta.node_id,
        directory_id: meta.directory_id.map(|id| id.to_string()),
    }))
}

/// Writes `<directory>/meta.properties` atomically (temporary file, fsync, rename).
#[napi]
pub fn write_meta_properties(
    directory: String,
    meta: MetaPropertiesValue,
) -> Result<(), NativeError> {
    let directory_id = meta.directory_id.as_deref().map(topic_id_of).transpose()?;
    LogDirectory::new(&directory)
        .write_meta_properties(&MetaProperties {
            version: meta.version,
            cluster_id: meta.cluster_id,
            node_id: meta.node_id,
            directory_id,
        })
        .map_err(|error| meta_error(&directory, error))
}

// ---------------------------------------------------------------------------------------
// The shared state of one log

pub struct LogState {
    /// This log's key in [`LOG_REGISTRY`] (`NativeLog.registryId`).
    id: u32,
    log: Mutex<Option<Log>>,
    topic: String,
    partition: i32,
    directory: PathBuf,
    topic_id: Mutex<Option<String>>,
    /// Published after every operation, so the getters answer while a task holds the log.
    log_start_offset: AtomicI64,
    log_end_offset: AtomicI64,
    /// The first offset of the oldest open transaction, -1 when none: read_committed
    /// fetches read the last stable offset from it without taking the lock.
    first_unstable_offset: AtomicI64,
    /// Bumped (under the log's lock) whenever replica appends fetched before must not land:
    /// the log became a leader (`assignLeaderEpoch`) or stopped being fetched
    /// (`fenceReplicaAppends`). A replica link appends only with the fence it was sent with.
    replica_fence: AtomicU32,
    report: OpenReport,
}

/// Every open log of the process by id. The addon's statics belong to the process, not to a
/// JS realm: a worker thread that loads the addon too (the log cleaner's piscina workers)
/// reaches a log by the id the main thread hands it, without a JS object crossing threads.
static LOG_REGISTRY: LazyLock<Mutex<HashMap<u32, Weak<LogState>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));
static NEXT_LOG_ID: AtomicU32 = AtomicU32::new(1);

/// The log registered as `id`, while any holder keeps it.
pub(crate) fn registered_log(id: u32) -> Option<Arc<LogState>> {
    LOG_REGISTRY.lock().ok()?.get(&id)?.upgrade()
}

impl Drop for LogState {
    fn drop(&mut self) {
        if let Ok(mut registry) = LOG_REGISTRY.lock() {
            registry.remove(&self.id);
        }
    }
}

impl LogState {
    fn new(log: Log, report: OpenReport, topic_id: Option<Uuid>) -> Arc<Self> {
        let partition = log.topic_partition().clone();
        let state = Self {
            id: NEXT_LOG_ID.fetch_add(1, Ordering::Relaxed),
            topic: partition.topic,
            partition: partition.partition,
            directory: log.directory().to_path_buf(),
            topic_id: Mutex::new(topic_id.map(|id| id.to_base64())),
            log_start_offset: AtomicI64::new(log.log_start_offset()),
            log_end_offset: AtomicI64::new(log.log_end_offset()),
            first_unstable_offset: AtomicI64::new(log.first_unstable_offset().unwrap_or(-1)),
            replica_fence: AtomicU32::new(0),
            report,
            log: Mutex::new(Some(log)),
        };
        let state = Arc::new(state);
        if let Ok(mut registry) = LOG_REGISTRY.lock() {
            registry.insert(state.id, Arc::downgrade(&state));
        }
        state
    }

    pub(crate) fn topic_partition(&self) -> TopicPartition {
        TopicPartition::new(self.topic.clone(), self.partition)
    }

    pub(crate) fn directory(&self) -> &Path {
        &self.directory
    }

    /// See [`LogState::replica_fence`]; read under the log's lock to fence an append.
    pub(crate) fn replica_fence(&self) -> u32 {
        self.replica_fence.load(Ordering::Acquire)
    }

    pub(crate) fn publish(&self, log: &Log) {
        self.log_start_offset
            .store(log.log_start_offset(), Ordering::Release);
        self.log_end_offset
            .store(log.log_end_offset(), Ordering::Release);
        self.first_unstable_offset
            .store(log.first_unstable_offset().unwrap_or(-1), Ordering::Release);
    }

    /// The open log, for a short critical section (see the module comment): the JS
    /// thread and tasks alike.
    pub(crate) fn log(&self) -> Result<MutexGuard<'_, Option<Log>>, NativeError> {
        let guard = self.lock()?;
        if guard.is_none() {
            return Err(self.closed());
        }
        Ok(guard)
    }

    /// The slot itself, open or not (close and delete take the log out of it).
    fn lock(&self) -> Result<MutexGuard<'_, Option<Log>>, NativeError> {
        self.log.lock().map_err(|_| self.poisoned())
    }

    /// Takes the log out (close, delete): later calls fail with `LOG_CLOSED` at once,
    /// and the slow part runs without the lock.
    fn take(&self) -> Result<Log, NativeError> {
        self.lock()?.take().ok_or_else(|| self.closed())
    }

    fn is(&self, partition: &TopicPartition) -> bool {
        self.topic == partition.topic && self.partition == partition.partition
    }

    fn is_open(&self) -> bool {
        self.log.lock().is_ok_and(|log| log.is_some())
    }

    fn closed(&self) -> NativeError {
        coded(
            ErrorCode::LogClosed,
            format!("{}-{} is closed", self.topic, self.partition),
        )
    }

    fn poisoned(&self) -> NativeError {
        coded(
            ErrorCode::StorageError,
            format!(
                "{}-{}: an earlier operation panicked; the log is unusable",
                self.topic, self.partition
            ),
        )
    }
}

// ---------------------------------------------------------------------------------------
// Results

/// What a Produce response needs from an append.
#[napi(object, object_from_js = false)]
pub struct AppendResult {
    pub base_offset: BigInt,
    pub last_offset: BigInt,
    /// The stamped time for LogAppendTime topics, -1 otherwise; for a duplicate, the
    /// original batch's max timestamp (what Kafka answers).
    pub log_append_time_ms: BigInt,
    pub log_start_offset: BigInt,
    /// An idempotent producer's retry of a batch already in the log: nothing was
    /// appended, and the offsets are the original batch's (Kafka answers NONE with them).
    pub duplicate: bool,
}

impl From<AppendInfo> for AppendResult {
    fn from(info: AppendInfo) -> Self {
        Self {
            base_offset: info.base_offset.into(),
            last_offset: info.last_offset.into(),
            log_append_time_ms: info.log_append_time_ms.into(),
            log_start_offset: info.log_start_offset.into(),
            duplicate: info.duplicate,
        }
    }
}

/// A topic's settings for produce appends, made once per topic configuration (so an
/// append converts no config object): validation (`max.message.bytes`, timestamps, keys on
/// compacted topics, …) and the codec `compression.type` asks for.
#[napi]
pub struct ProduceSettings {
    config: ProduceConfig,
}

#[napi]
impl ProduceSettings {
    /// `compression`: `none`, `gzip`, `snappy`, `lz4` or `zstd` to store every batch with
    /// that codec, absent to keep the producer's (`compression.type=producer`);
    /// `compressionLevel`: the codec's level from the topic config.
    #[napi(constructor)]
    pub fn new(
        validation: ProduceValidationConfig,
        compression: Option<String>,
        compression_level: Option<i32>,
    ) -> Result<Self, NativeError> {
        let validation = crate::codec::config_of(validation).map_err(from_napi)?;
        let target_compression = compression
            .map(|name| {
                Compression::from_name(&name).ok_or_else(|| {
                    invalid(format!(
                        "unknown compression codec {name:?} (none, gzip, snappy, lz4, zstd)"
                    ))
                })
            })
            .transpose()?;
        if let Some(codec) = target_compression {
            // Fails now, with the config, rather than on every produce.
            sluice_storage::compression::compress(codec, b"", compression_level)
                .map_err(|error| invalid(format!("compression level: {error}")))?;
        }
        Ok(Self {
            config: ProduceConfig {
                validation,
                target_compression,
                compression_level,
            },
        })
    }
}

/// The outcome of a produce append: `errorCode` 0 with the offsets, or Kafka's error for
/// records that failed validation (with a message and the records at fault).
#[napi(object, object_from_js = false)]
pub struct ProduceAppendResult {
    pub error_code: i32,
    pub error_message: Option<String>,
    pub record_errors: Vec<ProduceRecordError>,
    /// -1 when nothing was appended (an error, or Produce v0-2 without a whole batch).
    pub base_offset: BigInt,
    /// The stamped time for LogAppendTime topics, -1 otherwise; for a duplicate, the
    /// original batch's max timestamp (what Kafka answers).
    pub log_append_time_ms: BigInt,
    pub log_start_offset: BigInt,
    /// An idempotent producer's retry answered with the original batch's offsets.
    pub duplicate: bool,
    /// Bytes written to the log (0 for a duplicate), for waking long polls.
    pub appended_bytes: u32,
}

/// The state of one idempotent (or transactional) producer on this partition.
#[napi(object, object_from_js = false)]
pub struct ProducerStateResult {
    pub producer_id: BigInt,
    pub producer_epoch: i32,
    /// -1 when no batch of the current epoch is known.
    pub last_sequence: i32,
    /// Offset of the last batch's last record (-1 when none).
    pub last_offset: BigInt,
    /// Max timestamp of the last batch (Kafka's `lastTimestamp`).
    pub last_timestamp: BigInt,
    /// -1 when no end-transaction marker was seen.
    pub coordinator_epoch: i32,
    /// First offset of the open transaction, null when none.
    pub current_txn_first_offset: Option<BigInt>,
    /// The same as DescribeProducers answers it (`CurrentTxnStartOffset`): -1 when none.
    pub current_txn_start_offset: BigInt,
    /// Sequence ranges and offsets of the cached batches (at most 5, oldest first).
    pub batches: Vec<ProducerBatchResult>,
}

/// One cached batch of a producer (what a duplicate is answered with).
#[napi(object, object_from_js = false)]
pub struct ProducerBatchResult {
    pub first_sequence: i32,
    pub last_sequence: i32,
    pub first_offset: BigInt,
    pub last_offset: BigInt,
    pub timestamp: BigInt,
}

impl From<ProducerStateEntry> for ProducerStateResult {
    fn from(entry: ProducerStateEntry) -> Self {
        Self {
            producer_id: entry.producer_id.into(),
            producer_epoch: i32::from(entry.producer_epoch),
            last_sequence: entry.last_sequence(),
            last_offset: entry.last_data_offset().into(),
            last_timestamp: entry.last_timestamp.into(),
            coordinator_epoch: entry.coordinator_epoch,
            current_txn_first_offset: entry.current_txn_first_offset.map(BigInt::from),
            current_txn_start_offset: entry.current_txn_first_offset.unwrap_or(-1).into(),
            batches: entry
                .batches()
                .iter()
                .map(|batch| ProducerBatchResult {
                    first_sequence: batch.first_sequence(),
                    last_sequence: batch.last_sequence,
                    first_offset: batch.first_offset().into(),
                    last_offset: batch.last_offset.into(),
                    timestamp: batch.timestamp.into(),
                })
                .collect(),
        }
    }
}

/// One aborted transaction of a read_committed fetch (the Fetch response's
/// `AbortedTransaction`).
#[napi(object, object_from_js = false)]
pub struct AbortedTransactionResult {
    pub producer_id: BigInt,
    pub first_offset: BigInt,
}

/// How an append is made.
#[napi(object)]
pub struct AppendOptionsInput {
    /// The broker's clock (`Date.now()`): LogAppendTime and time-based rolling.
    pub now_ms: f64,
    /// Stamped into each batch on a leader append.
    pub leader_epoch: Option<i32>,
    /// `leader` (default: a client's produce; assign offsets, check idempotent
    /// producers), `coordinator` (the broker's own write: assign offsets, check producer
    /// epochs only) or `replica` (keep the leader's offsets, check nothing).
    pub origin: Option<String>,
}

fn append_options_of(input: &AppendOptionsInput) -> Result<AppendOptions, NativeError> {
    let now_ms = clock_ms(input.now_ms)?;
    let origin = match input.origin.as_deref() {
        None | Some("leader") => AppendOrigin::Leader,
        Some("coordinator") => AppendOrigin::Coordinator,
        Some("replica") => AppendOrigin::Replica,
        Some(other) => {
            return Err(invalid(format!(
                "unknown append origin {other:?} (leader, coordinator, replica)"
            )))
        }
    };
    Ok(AppendOptions {
        origin,
        transaction_version: sluice_storage::producer_state::TV_UNKNOWN,
        now_ms,
        leader_epoch: if origin.assigns_offsets() {
            input.leader_epoch
        } else {
            None
        },
    })
}

/// A ListOffsets answer.
#[napi(object, object_from_js = false)]
pub struct TimestampAndOffsetResult {
    pub timestamp: BigInt,
    pub offset: BigInt,
    pub leader_epoch: Option<i32>,
}

impl From<TimestampAndOffset> for TimestampAndOffsetResult {
    fn from(found: TimestampAndOffset) -> Self {
        Self {
            timestamp: found.timestamp.into(),
            offset: found.offset.into(),
            leader_epoch: found.leader_epoch,
        }
    }
}

/// A segment removed by retention, the log start offset or truncation.
#[napi(object, object_from_js = false)]
pub struct DeletedSegmentResult {
    pub base_offset: BigInt,
    pub size_bytes: u32,
}

fn deleted_of(deleted: Vec<DeletedSegment>) -> Vec<DeletedSegmentResult> {
    deleted
        .into_iter()
        .map(|segment| DeletedSegmentResult {
            base_offset: segment.base_offset.into(),
            size_bytes: segment.size_bytes,
        })
        .collect()
}

/// The offsets a closed log leaves in the log-dir checkpoints.
#[napi(object, object_from_js = false)]
pub struct LogOffsetsResult {
    pub log_start_offset: BigInt,
    pub log_end_offset: BigInt,
    pub recovery_point: BigInt,
}

impl From<LogOffsets> for LogOffsetsResult {
    fn from(offsets: LogOffsets) -> Self {
        Self {
            log_start_offset: offsets.log_start_offset.into(),
            log_end_offset: offsets.log_end_offset.into(),
            recovery_point: offsets.recovery_point.into(),
        }
    }
}

/// What opening the log found and did.
#[napi(object, object_from_js = false)]
pub struct OpenReportResult {
    pub segments: u32,
    pub recovered_segments: u32,
    pub rebuilt_indexes: u32,
    pub truncated_bytes: f64,
    pub deleted_segments: u32,
    /// Producer state snapshots that failed their checks and were deleted.
    pub corrupt_snapshots: u32,
    /// Batch headers read to rebuild the producer state past the newest snapshot.
    pub producer_state_batches_scanned: f64,
    /// Producers known after opening.
    pub producers: u32,
}

impl From<OpenReport> for OpenReportResult {
    fn from(report: OpenReport) -> Self {
        Self {
            segments: report.segments as u32,
            recovered_segments: report.recovered_segments as u32,
            rebuilt_indexes: report.rebuilt_indexes as u32,
            truncated_bytes: report.truncated_bytes as f64,
            deleted_segments: report.deleted_segments as u32,
            corrupt_snapshots: report.corrupt_snapshots as u32,
            producer_state_batches_scanned: report.producer_state_batches_scanned as f64,
            producers: report.producers as u32,
        }
    }
}

/// A copy of whole batches read from the log.
#[napi(object, object_from_js = false)]
pub struct ReadCopyResult {
    /// Whole batches; empty when nothing lies at or after the offset below the bound.
    pub bytes: Buffer,
    /// Base offset of the first batch returned (it may start before the offset asked for).
    pub first_batch_offset: BigInt,
    /// The offset after the last batch returned.
    pub next_offset: BigInt,
}

// ---------------------------------------------------------------------------------------
// File slices

/// Whole batches of one segment as `(fd, position, length)`, for `sendfile`. It holds a
/// reference to the segment file, so the descriptor and the bytes stay valid — even if
/// the segment is deleted or truncated meanwhile — until `release()` (or garbage
/// collection). Empty (`length` 0, `fd` -1) when there was nothing to read.
#[napi]
pub struct LogSlice {
    slice: Option<FileSlice>,
    first_batch_offset: i64,
    next_offset: i64,
}

impl LogSlice {
    /// The slice itself (None once released), for the network layer to send with sendfile.
    pub(crate) fn file_slice(&self) -> Option<&FileSlice> {
        self.slice.as_ref()
    }
}

#[napi]
impl LogSlice {
    /// The segment file's descriptor; -1 when empty or released.
    #[napi(getter)]
    pub fn fd(&self) -> i32 {
        self.slice.as_ref().map_or(-1, FileSlice::raw_fd)
    }

    #[napi(getter)]
    pub fn position(&self) -> f64 {
        self.slice
            .as_ref()
            .map_or(0.0, |slice| slice.position() as f64)
    }

    #[napi(getter)]
    pub fn length(&self) -> u32 {
        self.slice.as_ref().map_or(0, |slice| slice.len() as u32)
    }

    #[napi(getter)]
    pub fn first_batch_offset(&self) -> BigInt {
        self.first_batch_offset.into()
    }

    #[napi(getter)]
    pub fn next_offset(&self) -> BigInt {
        self.next_offset.into()
    }

    /// Copies the bytes (empty when empty or released).
    #[napi]
    pub fn to_buffer(&self) -> Result<Buffer, NativeError> {
        let bytes = match &self.slice {
            Some(slice) => slice
                .to_vec()
                .map_err(|error| coded(ErrorCode::StorageError, error))?,
            None => Vec::new(),
        };
        Ok(bytes.into())
    }

    /// Drops the reference to the segment file; `fd` must not be used afterwards.
    #[napi]
    pub fn release(&mut self) {
        self.slice = None;
    }
}

// ---------------------------------------------------------------------------------------
// Tasks on the libuv pool

type Operation<T> = Box<dyn FnOnce() -> Result<T, NativeError> + Send>;

/// One operation that may touch the disk, run on the libuv pool; its failure rejects the
/// promise with a coded error. Log operations take the log's lock themselves, for their
/// short critical sections only.
pub struct NativeTask<T: Send + 'static> {
    operation: Option<Operation<T>>,
}

/// What a task may resolve to.
pub trait TaskValue:
    Send + 'static + napi::bindgen_prelude::ToNapiValue + napi::bindgen_prelude::TypeName
{
}

impl<T> TaskValue for T where
    T: Send + 'static + napi::bindgen_prelude::ToNapiValue + napi::bindgen_prelude::TypeName
{
}

impl<T: TaskValue> NativeTask<T> {
    fn new(operation: impl FnOnce() -> Result<T, NativeError> + Send + 'static) -> AsyncTask<Self> {
        AsyncTask::new(Self {
            operation: Some(Box::new(operation)),
        })
    }
}

impl<T: TaskValue> Task for NativeTask<T> {
    type Output = Result<T, NativeError>;
    type JsValue = T;

    fn compute(&mut self) -> napi::Result<Result<T, NativeError>> {
        let operation = self.operation.take().expect("a task runs once");
        Ok(operation())
    }

    fn resolve(&mut self, env: Env, output: Result<T, NativeError>) -> napi::Result<T> {
        settle(&env, output)
    }
}

/// An operation on one log, as a task.
fn task<T, F>(state: &Arc<LogState>, operation: F) -> AsyncTask<NativeTask<T>>
where
    T: TaskValue,
    F: FnOnce(&LogState) -> Result<T, NativeError> + Send + 'static,
{
    let state = state.clone();
    NativeTask::new(move || operation(&state))
}

/// Runs `operation` on the open log, holding it for exactly that long, then publishes
/// the offsets the getters read.
fn on_open<T>(
    state: &LogState,
    operation: impl FnOnce(&mut Log) -> Result<T, LogError>,
) -> Result<T, NativeError> {
    let mut guard = state.log()?;
    let log = guard.as_mut().expect("open");
    let result = operation(log).map_err(thrown);
    state.publish(log);
    result
}

// ---------------------------------------------------------------------------------------
// The log

/// One partition log (`<log.dir>/<topic>-<partition>/`) in Kafka's on-disk format.
#[napi]
pub struct NativeLog {
    state: Arc<LogState>,
}

#[napi]
impl NativeLog {
    /// This log's id for worker threads (the log cleaner): `cleanLog(registryId, …)` there.
    #[napi(getter)]
    pub fn registry_id(&self) -> u32 {
        self.state.id
    }

    #[napi(getter)]
    pub fn topic(&self) -> String {
        self.state.topic.clone()
    }

    #[napi(getter)]
    pub fn partition(&self) -> i32 {
        self.state.partition
    }

    /// The partition directory.
    #[napi(getter)]
    pub fn directory(&self) -> String {
        self.state.directory.to_string_lossy().into_owned()
    }

    /// The topic id from `partition.metadata` (Kafka's printed Uuid), null if none.
    #[napi(getter)]
    pub fn topic_id(&self) -> Option<String> {
        self.state.topic_id.lock().ok().and_then(|id| id.clone())
    }

    /// What opening found: segments, recovered segments, rebuilt indexes, cut bytes.
    #[napi(getter)]
    pub fn open_report(&self) -> OpenReportResult {
        self.state.report.into()
    }

    /// False once closed or deleted.
    #[napi(getter)]
    pub fn is_open(&self) -> bool {
        self.state.is_open()
    }

    /// As of the last finished operation (readable while a task runs).
    #[napi(getter)]
    pub fn log_start_offset(&self) -> BigInt {
        self.state.log_start_offset.load(Ordering::Acquire).into()
    }

    /// The offset the next record gets (as of the last finished operation).
    #[napi(getter)]
    pub fn log_end_offset(&self) -> BigInt {
        self.state.log_end_offset.load(Ordering::Acquire).into()
    }

    /// The first offset of the oldest open transaction, -1 when none (as of the last
    /// finished operation; no lock taken).
    #[napi(getter)]
    pub fn first_unstable_offset(&self) -> BigInt {
        self.state
            .first_unstable_offset
            .load(Ordering::Acquire)
            .into()
    }

    /// Kafka's `lastStableOffset` with the high watermark at the log end offset (a
    /// single node): the first unstable offset, else the log end offset. No lock taken.
    #[napi(getter)]
    pub fn last_stable_offset(&self) -> BigInt {
        let log_end_offset = self.state.log_end_offset.load(Ordering::Acquire);
        let first_unstable = self.state.first_unstable_offset.load(Ordering::Acquire);
        if (0..log_end_offset).contains(&first_unstable) {
            first_unstable.into()
        } else {
            log_end_offset.into()
        }
    }

    /// Everything below this offset is fsynced.
    #[napi(getter)]
    pub fn recovery_point(&self) -> Result<BigInt, NativeError> {
        let log = self.state.log()?;
        Ok(log.as_ref().expect("open").recovery_point().into())
    }

    /// Bytes in all segments.
    #[napi(getter)]
    pub fn size_bytes(&self) -> Result<f64, NativeError> {
        let log = self.state.log()?;
        Ok(log.as_ref().expect("open").size_bytes() as f64)
    }

    #[napi(getter)]
    pub fn segment_base_offsets(&self) -> Result<Vec<BigInt>, NativeError> {
        let log = self.state.log()?;
        Ok(log
            .as_ref()
            .expect("open")
            .segment_base_offsets()
            .into_iter()
            .map(BigInt::from)
            .collect())
    }

    /// Appends whole v2 batches (validated by the caller). A leader append writes the
    /// base offsets, the leader epoch and (LogAppendTime) the max timestamp and CRC into
    /// `batches` in place, as Kafka does; the same bytes land in the segment.
    #[napi]
    pub fn append(
        &self,
        mut batches: BufferSlice,
        options: AppendOptionsInput,
    ) -> Result<AppendResult, NativeError> {
        let options = append_options_of(&options)?;
        let mut guard = self.state.log()?;
        let log = guard.as_mut().expect("open");
        let info = log.append(&mut batches, &options).map_err(thrown);
        self.state.publish(log);
        info.map(AppendResult::from)
    }

    /// A leader's produce append in one call, as Kafka's LogValidator and log append:
    /// validates `records` (one partition of a ProduceRequest of `produceVersion`),
    /// up-converts magic 0/1, recompresses to the topic's codec, then appends with offsets,
    /// the leader epoch and LogAppendTime stamped in place. Validation runs before the log
    /// is locked; the lock covers the append alone. Refused records come back as a value
    /// (Kafka's error code, message, record errors); a refused append (producer state,
    /// I/O) throws with its code.
    #[napi]
    pub fn append_produce(
        &self,
        mut records: BufferSlice,
        settings: &ProduceSettings,
        produce_version: i32,
        now_ms: f64,
        leader_epoch: i32,
    ) -> Result<ProduceAppendResult, NativeError> {
        let now_ms = clock_ms(now_ms)?;
        let mut config = settings.config.clone();
        config.validation.produce_version = produce_version.clamp(0, i32::from(i16::MAX)) as i16;
        let mut prepared = match prepare_produce(&records, &config, now_ms) {
            Ok(prepared) => prepared,
            Err(error) => {
                let error = crate::codec::error_of(error);
                return Ok(ProduceAppendResult {
                    error_code: error.error_code,
                    error_message: Some(error.message),
                    record_errors: error.record_errors,
                    base_offset: (-1i64).into(),
                    log_append_time_ms: (-1i64).into(),
                    log_start_offset: (-1i64).into(),
                    duplicate: false,
                    appended_bytes: 0,
                });
            }
        };
        let options = AppendOptions::leader(now_ms, leader_epoch);
        let appended_bytes = prepared.len() as u32;
        let (info, log_start_offset) = {
            let mut guard = self.state.log()?;
            let log = guard.as_mut().expect("open");
            let info = prepared.append_to(log, &mut records, &options);
            self.state.publish(log);
            (info.map_err(thrown)?, log.log_start_offset())
        };
        Ok(match info {
            Some(info) => ProduceAppendResult {
                error_code: 0,
                error_message: None,
                record_errors: Vec::new(),
                base_offset: info.base_offset.into(),
                log_append_time_ms: info.log_append_time_ms.into(),
                log_start_offset: info.log_start_offset.into(),
                duplicate: info.duplicate,
                appended_bytes: if info.duplicate { 0 } else { appended_bytes },
            },
            None => ProduceAppendResult {
                error_code: 0,
                error_message: None,
                record_errors: Vec::new(),
                base_offset: (-1i64).into(),
                log_append_time_ms: (-1i64).into(),
                log_start_offset: log_start_offset.into(),
                duplicate: false,
                appended_bytes: 0,
            },
        })
    }

    /// Appends a transaction coordinator's end-transaction marker for `producerId`
    /// (Kafka's control batch: COMMIT when `commit`, else ABORT, with `coordinatorEpoch`),
    /// stamped `nowMs` and `leaderEpoch`, with coordinator origin. `transactionVersion`
    /// (default 0) picks Kafka's marker epoch rule: from 2 the marker must carry a newer
    /// producer epoch (or retry the marker of a closed transaction). Refusals throw
    /// INVALID_PRODUCER_EPOCH or TRANSACTION_COORDINATOR_FENCED; an ABORT of an open
    /// transaction is written to the segment's `.txnindex`.
    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn append_txn_marker(
        &self,
        producer_id: BigInt,
        producer_epoch: i32,
        coordinator_epoch: i32,
        commit: bool,
        now_ms: f64,
        leader_epoch: i32,
        transaction_version: Option<i32>,
    ) -> Result<AppendResult, NativeError> {
        let producer_id = long_of(&producer_id, "producerId")?;
        let producer_epoch = i16::try_from(producer_epoch)
            .map_err(|_| invalid(format!("producerEpoch {producer_epoch} is not an int16")))?;
        let transaction_version = i16::try_from(transaction_version.unwrap_or(0))
            .map_err(|_| invalid("transactionVersion is not an int16"))?;
        let now_ms = clock_ms(now_ms)?;
        let control_type = if commit {
            ControlRecordType::Commit
        } else {
            ControlRecordType::Abort
        };
        let marker = EndTransactionMarker::new(control_type, coordinator_epoch);
        on_open(&self.state, |log| {
            log.append_end_txn_marker(
                producer_id,
                producer_epoch,
                marker,
                transaction_version,
                now_ms,
                leader_epoch,
            )
        })
        .map(AppendResult::from)
    }

    /// The aborted transactions a read_committed fetch from `fetchOffset` that returned
    /// records below `upperBound` reports (Kafka's `collectAbortedTransactions`), in log
    /// order; null when there are none (so a log without aborts allocates nothing).
    #[napi]
    pub fn aborted_transactions(
        &self,
        fetch_offset: BigInt,
        upper_bound: BigInt,
    ) -> Result<Option<Vec<AbortedTransactionResult>>, NativeError> {
        let fetch_offset = long_of(&fetch_offset, "fetchOffset")?;
        let upper_bound = long_of(&upper_bound, "upperBound")?;
        let mut found = Vec::new();
        {
            let guard = self.state.log()?;
            guard
                .as_ref()
                .expect("open")
                .collect_aborted_transactions(fetch_offset, upper_bound, &mut found)
                .map_err(thrown)?;
        }
        if found.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            found
                .into_iter()
                .map(|txn| AbortedTransactionResult {
                    producer_id: txn.producer_id.into(),
                    first_offset: txn.first_offset.into(),
                })
                .collect(),
        ))
    }

    /// Kafka's `hasOngoingTransaction`: `producerId` has a transaction open on this
    /// partition at `producerEpoch`.
    #[napi]
    pub fn has_ongoing_transaction(
        &self,
        producer_id: BigInt,
        producer_epoch: i32,
    ) -> Result<bool, NativeError> {
        let producer_id = long_of(&producer_id, "producerId")?;
        let Ok(producer_epoch) = i16::try_from(producer_epoch) else {
            return Ok(false);
        };
        let guard = self.state.log()?;
        Ok(guard
            .as_ref()
            .expect("open")
            .has_ongoing_transaction(producer_id, producer_epoch))
    }

    /// Replaces the log's topic configuration (AlterConfigs): retention applies at the next
    /// check, segment settings from the next roll.
    #[napi]
    pub fn set_config(&self, config: LogConfigInput) -> Result<(), NativeError> {
        let config = config_of(&config)?;
        let mut guard = self.state.log()?;
        guard.as_mut().expect("open").set_config(config);
        Ok(())
    }

    /// Every producer this partition keeps state for, by producer id (DescribeProducers).
    #[napi]
    pub fn producer_states(&self) -> Result<Vec<ProducerStateResult>, NativeError> {
        let guard = self.state.log()?;
        Ok(guard
            .as_ref()
            .expect("open")
            .producer_states()
            .into_iter()
            .map(ProducerStateResult::from)
            .collect())
    }

    /// The last sequence `producerId` wrote here, -1 if none is known.
    #[napi]
    pub fn last_sequence_for(&self, producer_id: BigInt) -> Result<i32, NativeError> {
        let producer_id = long_of(&producer_id, "producerId")?;
        let guard = self.state.log()?;
        Ok(guard.as_ref().expect("open").last_sequence_for(producer_id))
    }

    /// Forgets producers idle longer than `producerIdExpirationMs` (by their last batch's
    /// timestamp) with no transaction open; returns how many. In memory only: the broker
    /// calls it every `producer.id.expiration.check.interval.ms` (Kafka: 10 minutes).
    #[napi]
    pub fn remove_expired_producers(&self, now_ms: f64) -> Result<u32, NativeError> {
        let now_ms = clock_ms(now_ms)?;
        let mut guard = self.state.log()?;
        Ok(guard
            .as_mut()
            .expect("open")
            .remove_expired_producers(now_ms) as u32)
    }

    /// Offsets of the producer state `.snapshot` files in the partition directory.
    #[napi(getter)]
    pub fn producer_snapshot_offsets(&self) -> Result<Vec<BigInt>, NativeError> {
        let guard = self.state.log()?;
        Ok(guard
            .as_ref()
            .expect("open")
            .producer_snapshot_offsets()
            .into_iter()
            .map(BigInt::from)
            .collect())
    }

    /// Whole batches from the one holding `offset`, at most `maxBytes` (the first batch
    /// always whole), none at or past `upperBound` (default: the log end offset), from
    /// one segment, as a file slice. Below the log start or past the log end:
    /// `OFFSET_OUT_OF_RANGE`.
    #[napi]
    pub fn read(
        &self,
        offset: BigInt,
        max_bytes: u32,
        upper_bound: Option<BigInt>,
    ) -> Result<LogSlice, NativeError> {
        let offset = long_of(&offset, "offset")?;
        let upper_bound = upper_bound
            .map(|bound| long_of(&bound, "upperBound"))
            .transpose()?;
        let guard = self.state.log()?;
        let read = guard
            .as_ref()
            .expect("open")
            .read(offset, max_bytes, upper_bound)
            .map_err(thrown)?;
        Ok(LogSlice {
            slice: read.slice,
            first_batch_offset: read.first_batch_offset,
            next_offset: read.next_offset,
        })
    }

    /// `read`, copied into a Buffer.
    #[napi]
    pub fn read_copy(
        &self,
        offset: BigInt,
        max_bytes: u32,
        upper_bound: Option<BigInt>,
    ) -> Result<ReadCopyResult, NativeError> {
        let slice = self.read(offset, max_bytes, upper_bound)?;
        Ok(ReadCopyResult {
            bytes: slice.to_buffer()?,
            first_batch_offset: slice.first_batch_offset.into(),
            next_offset: slice.next_offset.into(),
        })
    }

    /// ListOffsets with Kafka's timestamp argument: -2 earliest, -1 latest, -3 the record
    /// with the largest timestamp, -4 earliest local, otherwise the first record whose
    /// timestamp is at least this. Null when no record qualifies.
    #[napi]
    pub fn offset_for(
        &self,
        timestamp: BigInt,
    ) -> Result<Option<TimestampAndOffsetResult>, NativeError> {
        let spec = match long_of(&timestamp, "timestamp")? {
            -1 => OffsetSpec::Latest,
            -2 => OffsetSpec::Earliest,
            -3 => OffsetSpec::MaxTimestamp,
            -4 => OffsetSpec::EarliestLocal,
            target if target >= 0 => OffsetSpec::Timestamp(target),
            other => {
                return Err(invalid(format!(
                    "unsupported ListOffsets timestamp {other}"
                )))
            }
        };
        let mut guard = self.state.log()?;
        let found = guard
            .as_mut()
            .expect("open")
            .offset_for(spec)
            .map_err(thrown)?;
        Ok(found.map(TimestampAndOffsetResult::from))
    }

    /// A new leader's epoch, starting at the log end offset (see the storage's
    /// `assign_leader_epoch`); false when `epoch` is not newer than the latest.
    #[napi]
    pub fn assign_leader_epoch(&self, epoch: i32) -> Result<bool, NativeError> {
        let mut guard = self.state.log()?;
        let log = guard.as_mut().expect("open");
        let assigned = log.assign_leader_epoch(epoch);
        self.state.replica_fence.fetch_add(1, Ordering::AcqRel);
        self.state.publish(log);
        Ok(assigned)
    }

    /// The replica fence a replica fetch carries (see `ReplicaLink`).
    #[napi(getter)]
    pub fn replica_fence(&self) -> u32 {
        self.state.replica_fence()
    }

    /// Replica fetches sent before this call append nothing any more (the partition is no
    /// longer fetched from that leader). Waits for an append in progress.
    #[napi]
    pub fn fence_replica_appends(&self) -> Result<u32, NativeError> {
        let _guard = self.state.log()?;
        Ok(self.state.replica_fence.fetch_add(1, Ordering::AcqRel) + 1)
    }

    /// The latest leader epoch in the log (-1 when none): a follower's lastFetchedEpoch.
    #[napi(getter)]
    pub fn latest_epoch(&self) -> Result<i32, NativeError> {
        let guard = self.state.log()?;
        Ok(guard
            .as_ref()
            .expect("open")
            .leader_epochs()
            .latest_epoch()
            .unwrap_or(-1))
    }

    /// OffsetForLeaderEpoch: `[epoch, end offset]` (`[-1, -1]` when unknown).
    #[napi]
    pub fn end_offset_for_epoch(&self, epoch: i32) -> Result<Vec<BigInt>, NativeError> {
        let guard = self.state.log()?;
        let (epoch, offset) = guard.as_ref().expect("open").end_offset_for_epoch(epoch);
        Ok(vec![i64::from(epoch).into(), offset.into()])
    }

    /// Follower truncation: removes every record at or above `offset`. Resolves to
    /// whether anything was removed.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn truncate_to(&self, offset: BigInt) -> Result<AsyncTask<NativeTask<bool>>, NativeError> {
        let offset = long_of(&offset, "offset")?;
        Ok(task(&self.state, move |state| {
            on_open(state, |log| log.truncate_to(offset))
        }))
    }

    /// Deletes every segment and starts an empty log at `offset`.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn truncate_fully_and_start_at(
        &self,
        offset: BigInt,
    ) -> Result<AsyncTask<NativeTask<()>>, NativeError> {
        let offset = long_of(&offset, "offset")?;
        Ok(task(&self.state, move |state| {
            on_open(state, |log| log.truncate_fully_and_start_at(offset))
        }))
    }

    /// DeleteRecords (or a leader's start offset seen by a follower): moves the log start
    /// offset and deletes the segments wholly below it.
    #[napi(ts_return_type = "Promise<DeletedSegmentResult[]>")]
    pub fn increment_log_start_offset(
        &self,
        offset: BigInt,
        high_watermark: BigInt,
    ) -> Result<AsyncTask<NativeTask<Vec<DeletedSegmentResult>>>, NativeError> {
        let offset = long_of(&offset, "offset")?;
        let high_watermark = long_of(&high_watermark, "highWatermark")?;
        Ok(task(&self.state, move |state| {
            on_open(state, |log| {
                log.increment_log_start_offset(offset, high_watermark)
            })
            .map(deleted_of)
        }))
    }

    /// Retention (`retention.ms`, `retention.bytes`, then the log start offset), for
    /// segments wholly below the high watermark. `retention: false` (a topic whose
    /// `cleanup.policy` lacks `delete`, Kafka's compact-only logs) deletes only the segments
    /// below the log start offset.
    #[napi(ts_return_type = "Promise<DeletedSegmentResult[]>")]
    pub fn delete_old_segments(
        &self,
        now_ms: f64,
        high_watermark: BigInt,
        retention: Option<bool>,
    ) -> Result<AsyncTask<NativeTask<Vec<DeletedSegmentResult>>>, NativeError> {
        let now_ms = clock_ms(now_ms)?;
        let high_watermark = long_of(&high_watermark, "highWatermark")?;
        let retention = retention.unwrap_or(true);
        Ok(task(&self.state, move |state| {
            on_open(state, |log| {
                if retention {
                    log.delete_old_segments(now_ms, high_watermark)
                } else {
                    log.delete_log_start_offset_breached_segments(high_watermark)
                }
            })
            .map(deleted_of)
        }))
    }

    /// Rolls the active segment if it is older than `segment.ms` (for idle partitions).
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn roll_if_old(&self, now_ms: f64) -> Result<AsyncTask<NativeTask<bool>>, NativeError> {
        let now_ms = clock_ms(now_ms)?;
        Ok(task(&self.state, move |state| {
            on_open(state, |log| log.roll_if_old(now_ms))
        }))
    }

    /// fsyncs everything appended so far and moves the recovery point to the log end.
    /// Routine flushing (`flush.ms`, `flush.messages`, after a roll) is the background
    /// thread's; this is for callers that must know the data is on disk.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn flush(&self) -> AsyncTask<NativeTask<()>> {
        task(&self.state, |state| {
            // The flush handle is taken under the lock; the fsyncs run without it.
            let flusher = state.log()?.as_ref().expect("open").flusher();
            flusher.flush().map_err(thrown)
        })
    }

    /// Closes the log cleanly (active segment trimmed, everything fsynced, leader epochs
    /// written). Writes no log-dir checkpoint or marker: `NativeLogDirectory.closeAll`
    /// does that for a whole directory.
    #[napi(ts_return_type = "Promise<LogOffsetsResult>")]
    pub fn close(&self) -> AsyncTask<NativeTask<LogOffsetsResult>> {
        task(&self.state, |state| {
            let log = state.take()?;
            log.close().map(LogOffsetsResult::from).map_err(thrown)
        })
    }

    /// Deletes the partition directory (topic deletion); slices already handed out keep
    /// reading the deleted files.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn delete_directory(&self) -> AsyncTask<NativeTask<()>> {
        task(&self.state, |state| {
            let log = state.take()?;
            log.delete_directory().map_err(thrown)
        })
    }
}

// ---------------------------------------------------------------------------------------
// Opening one log

/// Checkpointed state for opening one log; absent fields: a fresh, unclean open that
/// recovers every segment.
#[napi(object)]
pub struct OpenLogOptions {
    pub recovery_point: Option<BigInt>,
    pub log_start_offset: Option<BigInt>,
    pub had_clean_shutdown: Option<bool>,
    pub now_ms: Option<f64>,
    /// Written to `partition.metadata` when the directory has none.
    pub topic_id: Option<String>,
}

pub struct OpenLogTask {
    directory: PathBuf,
    partition: TopicPartition,
    config: LogConfig,
    resources: Arc<LogResources>,
    options: OpenOptions,
    topic_id: Option<Uuid>,
}

fn open_one(
    directory: &Path,
    partition: TopicPartition,
    config: LogConfig,
    resources: Arc<LogResources>,
    options: OpenOptions,
    topic_id: Option<Uuid>,
) -> Result<Arc<LogState>, NativeError> {
    let (log, report) = Log::open(
        directory,
        partition,
        config,
        resources,
        options,
        &AtomicU64::new(0),
    )
    .map_err(thrown)?;
    let storage_error = |error: std::io::Error| {
        coded(
            ErrorCode::StorageError,
            format!("{}: partition.metadata: {error}", directory.display()),
        )
    };
    let mut stored = read_partition_metadata(directory).map_err(storage_error)?;
    if stored.is_none() {
        if let Some(topic_id) = topic_id {
            write_partition_metadata(directory, topic_id).map_err(storage_error)?;
            stored = Some(topic_id);
        }
    }
    Ok(LogState::new(log, report, stored))
}

#[napi]
impl Task for OpenLogTask {
    type Output = Result<Arc<LogState>, NativeError>;
    type JsValue = NativeLog;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(self.open())
    }

    fn resolve(&mut self, env: Env, state: Self::Output) -> napi::Result<NativeLog> {
        settle(&env, state).map(|state| NativeLog { state })
    }
}

impl OpenLogTask {
    fn open(&self) -> Result<Arc<LogState>, NativeError> {
        open_one(
            &self.directory,
            self.partition.clone(),
            self.config.clone(),
            self.resources.clone(),
            self.options,
            self.topic_id,
        )
    }
}

/// Opens (or creates) the log of `topic`/`partition` in `directory` (the partition
/// directory itself) on the libuv pool, recovering what the options say is unclean.
#[napi]
pub fn open_log(
    directory: String,
    topic: String,
    partition: i32,
    resources: &NativeLogResources,
    config: Option<LogConfigInput>,
    options: Option<OpenLogOptions>,
) -> Result<AsyncTask<OpenLogTask>, NativeError> {
    let config = config_of(&config.unwrap_or_default())?;
    let options = options.unwrap_or(OpenLogOptions {
        recovery_point: None,
        log_start_offset: None,
        had_clean_shutdown: None,
        now_ms: None,
        topic_id: None,
    });
    let now_ms = options
        .now_ms
        .map_or(Ok(sluice_storage::background::now_ms()), clock_ms)?;
    let open_options = OpenOptions {
        recovery_point: options
            .recovery_point
            .as_ref()
            .map_or(Ok(0), |offset| long_of(offset, "recoveryPoint"))?,
        log_start_offset: options
            .log_start_offset
            .as_ref()
            .map_or(Ok(0), |offset| long_of(offset, "logStartOffset"))?,
        had_clean_shutdown: options.had_clean_shutdown.unwrap_or(false),
        now_ms,
    };
    let topic_id = options.topic_id.as_deref().map(topic_id_of).transpose()?;
    if topic.is_empty() || partition < 0 {
        return Err(invalid(format!(
            "bad topic partition {topic:?}-{partition}"
        )));
    }
    Ok(AsyncTask::new(OpenLogTask {
        directory: PathBuf::from(directory),
        partition: TopicPartition::new(topic, partition),
        config,
        resources: resources.inner.clone(),
        options: open_options,
        topic_id,
    }))
}

// ---------------------------------------------------------------------------------------
// A log directory

/// A topic's configuration in a log directory.
#[napi(object)]
pub struct TopicConfigInput {
    pub topic: String,
    pub config: LogConfigInput,
}

/// Progress of opening a log directory, reported after each partition.
#[napi(object)]
pub struct OpenProgressInfo {
    pub partitions_done: u32,
    pub partitions_total: u32,
    pub bytes_scanned: f64,
}

/// How to open a log directory.
#[napi(object)]
pub struct OpenLogDirectoryOptions {
    /// Configuration of every partition whose topic has none in `topicConfigs`.
    pub default_config: Option<LogConfigInput>,
    pub topic_configs: Option<Vec<TopicConfigInput>>,
    /// Partitions opened in parallel (default 1; Kafka's `num.recovery.threads.per.data.dir`).
    pub threads: Option<u32>,
}

/// A partition that failed to open.
#[napi(object, object_from_js = false)]
pub struct OpenFailure {
    pub topic: String,
    pub partition: i32,
    pub message: String,
}

type ProgressCallback =
    ThreadsafeFunction<OpenProgressInfo, Unknown<'static>, OpenProgressInfo, Status, false>;

pub struct OpenLogDirectoryTask {
    path: PathBuf,
    resources: Arc<LogResources>,
    default_config: LogConfig,
    topic_configs: Vec<(String, LogConfig)>,
    threads: usize,
    progress: Option<Arc<ProgressCallback>>,
}

pub struct OpenedDirectory {
    had_clean_shutdown: bool,
    logs: Vec<Arc<LogState>>,
    failures: Vec<(TopicPartition, String)>,
}

#[napi]
impl Task for OpenLogDirectoryTask {
    type Output = Result<OpenedDirectory, NativeError>;
    type JsValue = NativeLogDirectory;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(self.open())
    }

    fn resolve(&mut self, env: Env, opened: Self::Output) -> napi::Result<NativeLogDirectory> {
        let opened = settle(&env, opened)?;
        Ok(self.directory(opened))
    }
}

impl OpenLogDirectoryTask {
    fn open(&self) -> Result<OpenedDirectory, NativeError> {
        std::fs::create_dir_all(&self.path).map_err(|error| {
            coded(
                ErrorCode::StorageError,
                format!("create log directory {}: {error}", self.path.display()),
            )
        })?;
        let directory = LogDirectory::new(&self.path);
        let had_clean_shutdown = directory.had_clean_shutdown();
        let config_for = |partition: &TopicPartition| {
            self.topic_configs
                .iter()
                .find(|(topic, _)| *topic == partition.topic)
                .map_or_else(|| self.default_config.clone(), |(_, config)| config.clone())
        };
        let progress = |progress: OpenProgress| {
            if let Some(callback) = &self.progress {
                callback.call(
                    OpenProgressInfo {
                        partitions_done: progress.partitions_done as u32,
                        partitions_total: progress.partitions_total as u32,
                        bytes_scanned: progress.bytes_scanned as f64,
                    },
                    ThreadsafeFunctionCallMode::NonBlocking,
                );
            }
        };
        let opened = directory
            .open_all(&config_for, &self.resources, self.threads, &progress)
            .map_err(|error| {
                coded(
                    ErrorCode::StorageError,
                    format!("open log directory {}: {error}", self.path.display()),
                )
            })?;
        let mut logs = Vec::new();
        let mut failures = Vec::new();
        for (partition, result) in opened {
            let path = directory.partition_path(&partition);
            match result {
                Ok((log, report)) => {
                    let topic_id = read_partition_metadata(&path).ok().flatten();
                    logs.push(LogState::new(log, report, topic_id));
                }
                Err(error) => failures.push((
                    partition,
                    format!("{}: {error}", ErrorCode::of(&error).name()),
                )),
            }
        }
        Ok(OpenedDirectory {
            had_clean_shutdown,
            logs,
            failures,
        })
    }

    fn directory(&self, opened: OpenedDirectory) -> NativeLogDirectory {
        NativeLogDirectory {
            path: self.path.clone(),
            resources: self.resources.clone(),
            had_clean_shutdown: opened.had_clean_shutdown,
            logs: Arc::new(Mutex::new(opened.logs)),
            checkpoints: Arc::new(Mutex::new(())),
            failures: opened
                .failures
                .into_iter()
                .map(|(partition, message)| OpenFailure {
                    topic: partition.topic,
                    partition: partition.partition,
                    message,
                })
                .collect(),
        }
    }
}

/// Opens (creating it if missing) every `<topic>-<partition>` directory of a log directory
/// on `threads` threads (on the libuv pool), trusting the files after a clean shutdown and
/// recovering from the checkpointed recovery points otherwise. `onProgress` is called after
/// each partition (on the JS thread, possibly after the promise settles).
#[napi(
    ts_args_type = "path: string, resources: LogResources, options?: OpenLogDirectoryOptions | undefined | null, onProgress?: ((progress: OpenProgressInfo) => void) | undefined | null"
)]
pub fn open_log_directory(
    path: String,
    resources: &NativeLogResources,
    options: Option<OpenLogDirectoryOptions>,
    on_progress: Option<ProgressCallback>,
) -> Result<AsyncTask<OpenLogDirectoryTask>, NativeError> {
    let options = options.unwrap_or(OpenLogDirectoryOptions {
        default_config: None,
        topic_configs: None,
        threads: None,
    });
    let default_config = config_of(&options.default_config.unwrap_or_default())?;
    let topic_configs = options
        .topic_configs
        .unwrap_or_default()
        .into_iter()
        .map(|topic| Ok((topic.topic, config_of(&topic.config)?)))
        .collect::<Result<Vec<_>, NativeError>>()?;
    Ok(AsyncTask::new(OpenLogDirectoryTask {
        path: PathBuf::from(path),
        resources: resources.inner.clone(),
        default_config,
        topic_configs,
        threads: options.threads.unwrap_or(1).clamp(1, 64) as usize,
        progress: on_progress.map(Arc::new),
    }))
}

/// One partition's high watermark read from `replication-offset-checkpoint`.
#[napi(object, object_from_js = false)]
pub struct HighWatermarkEntry {
    pub topic: String,
    pub partition: i32,
    pub high_watermark: BigInt,
}

/// An open log directory: its logs, those it creates, and the clean shutdown of all.
#[napi]
pub struct NativeLogDirectory {
    path: PathBuf,
    resources: Arc<LogResources>,
    had_clean_shutdown: bool,
    logs: Arc<Mutex<Vec<Arc<LogState>>>>,
    failures: Vec<OpenFailure>,
    /// One checkpoint writer at a time: the files are replaced through one temp file each.
    checkpoints: Arc<Mutex<()>>,
}

#[napi]
impl NativeLogDirectory {
    #[napi(getter)]
    pub fn path(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }

    /// Whether the directory held the clean-shutdown marker when it was opened.
    #[napi(getter)]
    pub fn had_clean_shutdown(&self) -> bool {
        self.had_clean_shutdown
    }

    /// Partitions that failed to open (their logs are not in `logs()`).
    #[napi(getter)]
    pub fn failures(&self) -> Vec<OpenFailure> {
        self.failures
            .iter()
            .map(|failure| OpenFailure {
                topic: failure.topic.clone(),
                partition: failure.partition,
                message: failure.message.clone(),
            })
            .collect()
    }

    /// The open logs opened or created here, sorted by topic and partition (each call
    /// makes new JS objects over the same logs).
    #[napi]
    pub fn logs(&self) -> Result<Vec<NativeLog>, NativeError> {
        let logs = self
            .logs
            .lock()
            .map_err(|_| coded(ErrorCode::StorageError, "poisoned"))?;
        Ok(logs
            .iter()
            .filter(|state| state.is_open())
            .map(|state| NativeLog {
                state: state.clone(),
            })
            .collect())
    }

    /// Creates (or opens, if it exists) the log of a new partition and writes its
    /// `partition.metadata`.
    #[napi(ts_return_type = "Promise<NativeLog>")]
    pub fn create_log(
        &self,
        topic: String,
        partition: i32,
        topic_id: Option<String>,
        config: Option<LogConfigInput>,
    ) -> Result<AsyncTask<CreateLogTask>, NativeError> {
        if topic.is_empty() || partition < 0 {
            return Err(invalid(format!(
                "bad topic partition {topic:?}-{partition}"
            )));
        }
        let partition = TopicPartition::new(topic, partition);
        let exists = self
            .logs
            .lock()
            .map_err(|_| coded(ErrorCode::StorageError, "poisoned"))?
            .iter()
            .any(|state| state.is(&partition) && state.is_open());
        if exists {
            return Err(invalid(format!(
                "{} is already open",
                partition.directory_name()
            )));
        }
        Ok(AsyncTask::new(CreateLogTask {
            open: OpenLogTask {
                directory: LogDirectory::new(&self.path).partition_path(&partition),
                partition,
                config: config_of(&config.unwrap_or_default())?,
                resources: self.resources.clone(),
                options: OpenOptions::fresh(sluice_storage::background::now_ms()),
                topic_id: topic_id.as_deref().map(topic_id_of).transpose()?,
            },
            logs: self.logs.clone(),
        }))
    }

    /// Writes `recovery-point-offset-checkpoint` and `log-start-offset-checkpoint` for
    /// every open log (and `replication-offset-checkpoint` from `highWatermarks` when
    /// given) on the libuv pool, as Kafka does every
    /// `log.flush.offset.checkpoint.interval.ms`, so a crash recovers from there rather
    /// than from the start. `offsets: false` writes only `replication-offset-checkpoint`
    /// (Kafka writes it on its own, shorter interval,
    /// `replica.high.watermark.checkpoint.interval.ms`). Resolves to the number of
    /// partitions written.
    /// `replication-offset-checkpoint`: each partition's last checkpointed high watermark
    /// (a new leader or follower starts from it). Empty when the file is missing.
    #[napi]
    pub fn read_high_watermarks(&self) -> Result<Vec<HighWatermarkEntry>, NativeError> {
        let found = LogDirectory::new(&self.path)
            .read_high_watermarks()
            .map_err(|error| {
                coded(
                    ErrorCode::StorageError,
                    format!("replication-offset-checkpoint: {error}"),
                )
            })?;
        Ok(found
            .into_iter()
            .map(|(partition, offset)| HighWatermarkEntry {
                topic: partition.topic.clone(),
                partition: partition.partition,
                high_watermark: offset.into(),
            })
            .collect())
    }

    #[napi(ts_return_type = "Promise<number>")]
    pub fn write_checkpoints(
        &self,
        high_watermarks: Option<Vec<HighWatermarkInput>>,
        offsets: Option<bool>,
    ) -> Result<AsyncTask<NativeTask<u32>>, NativeError> {
        let offsets = offsets.unwrap_or(true);
        let high_watermarks = high_watermarks
            .map(|entries| {
                entries
                    .into_iter()
                    .map(|entry| {
                        Ok((
                            TopicPartition::new(entry.topic, entry.partition),
                            long_of(&entry.high_watermark, "highWatermark")?,
                        ))
                    })
                    .collect::<Result<Vec<_>, NativeError>>()
            })
            .transpose()?;
        let (path, logs, checkpoints) = self.shared();
        Ok(NativeTask::new(move || {
            write_checkpoints(
                &path,
                &logs,
                &checkpoints,
                high_watermarks.as_deref(),
                offsets,
            )
        }))
    }

    /// Closes every open log here (in parallel on `threads` threads), writes the
    /// recovery-point and log-start-offset checkpoints, then `.kafka_cleanshutdown` if
    /// every log closed. Logs closed or deleted on their own are left out of the
    /// checkpoints (the next start recovers them).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close_all(
        &self,
        broker_epoch: Option<BigInt>,
        threads: Option<u32>,
    ) -> Result<AsyncTask<NativeTask<()>>, NativeError> {
        let broker_epoch = broker_epoch
            .as_ref()
            .map_or(Ok(-1), |epoch| long_of(epoch, "brokerEpoch"))?;
        let threads = threads.unwrap_or(1).clamp(1, 64) as usize;
        let (path, logs, checkpoints) = self.shared();
        Ok(NativeTask::new(move || {
            close_all(&path, &logs, &checkpoints, broker_epoch, threads)
        }))
    }

    /// What the directory's tasks share with it.
    fn shared(&self) -> (PathBuf, SharedLogs, Arc<Mutex<()>>) {
        (
            self.path.clone(),
            self.logs.clone(),
            self.checkpoints.clone(),
        )
    }
}

/// The logs of a directory, shared with its tasks.
type SharedLogs = Arc<Mutex<Vec<Arc<LogState>>>>;

fn poisoned_directory() -> NativeError {
    coded(ErrorCode::StorageError, "poisoned")
}

/// A partition's high watermark for `replication-offset-checkpoint`.
#[napi(object)]
pub struct HighWatermarkInput {
    pub topic: String,
    pub partition: i32,
    pub high_watermark: BigInt,
}

/// Writes the offset checkpoints of every open log of `path` (see `writeCheckpoints`).
fn write_checkpoints(
    path: &Path,
    logs: &SharedLogs,
    checkpoints: &Mutex<()>,
    high_watermarks: Option<&[(TopicPartition, i64)]>,
    offsets: bool,
) -> Result<u32, NativeError> {
    let _one_writer = checkpoints.lock().map_err(|_| poisoned_directory())?;
    let storage_error = |error: std::io::Error| {
        coded(
            ErrorCode::StorageError,
            format!("write checkpoints in {}: {error}", path.display()),
        )
    };
    let directory = LogDirectory::new(path);
    if !offsets {
        let high_watermarks = high_watermarks.unwrap_or(&[]);
        directory
            .write_high_watermarks(high_watermarks)
            .map_err(storage_error)?;
        return Ok(high_watermarks.len() as u32);
    }
    let states = logs.lock().map_err(|_| poisoned_directory())?.clone();
    // Each log is held just long enough to read three offsets.
    let offsets: Vec<(TopicPartition, LogOffsets)> = states
        .iter()
        .filter_map(|state| {
            let guard = state.log.lock().ok()?;
            let log = guard.as_ref()?;
            Some((log.topic_partition().clone(), log.offsets()))
        })
        .collect();
    directory
        .write_offset_checkpoints(&offsets)
        .map_err(storage_error)?;
    if let Some(high_watermarks) = high_watermarks {
        directory
            .write_high_watermarks(high_watermarks)
            .map_err(storage_error)?;
    }
    Ok(offsets.len() as u32)
}

/// Closes every open log of `path`, then writes the checkpoints and the clean-shutdown
/// marker (see `closeAll`).
fn close_all(
    path: &Path,
    logs: &SharedLogs,
    checkpoints: &Mutex<()>,
    broker_epoch: i64,
    threads: usize,
) -> Result<(), NativeError> {
    let _one_writer = checkpoints.lock().map_err(|_| poisoned_directory())?;
    let states = logs.lock().map_err(|_| poisoned_directory())?.clone();
    let mut open = Vec::with_capacity(states.len());
    for state in &states {
        if let Some(log) = state.lock()?.take() {
            open.push(log);
        }
    }
    LogDirectory::new(path)
        .close_all(open, threads, broker_epoch)
        .map_err(thrown)
}

pub struct CreateLogTask {
    open: OpenLogTask,
    logs: Arc<Mutex<Vec<Arc<LogState>>>>,
}

#[napi]
impl Task for CreateLogTask {
    type Output = Result<Arc<LogState>, NativeError>;
    type JsValue = NativeLog;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(self.create())
    }

    fn resolve(&mut self, env: Env, state: Self::Output) -> napi::Result<NativeLog> {
        settle(&env, state).map(|state| NativeLog { state })
    }
}

impl CreateLogTask {
    fn create(&self) -> Result<Arc<LogState>, NativeError> {
        let state = self.open.open()?;
        let mut logs = self
            .logs
            .lock()
            .map_err(|_| coded(ErrorCode::StorageError, "poisoned"))?;
        // A closed or deleted log of the same partition is replaced.
        logs.retain(|other| !other.is(&self.open.partition) || other.is_open());
        logs.push(state.clone());
        logs.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_storage::producer_state::ProducerStateError;
    use sluice_storage::record_batch::RecordBatchError;

    #[test]
    fn every_log_error_has_a_code_and_keeps_its_message() {
        let cases = [
            (
                LogError::OffsetOutOfRange {
                    offset: 9,
                    log_start_offset: 0,
                    log_end_offset: 5,
                },
                ErrorCode::OffsetOutOfRange,
            ),
            (
                LogError::InvalidBatch(RecordBatchError::TooShort { buffer_bytes: 3 }),
                ErrorCode::CorruptMessage,
            ),
            (LogError::EmptyAppend, ErrorCode::EmptyAppend),
            (
                LogError::UnexpectedAppendOffset {
                    first_offset: 1,
                    log_end_offset: 4,
                },
                ErrorCode::UnexpectedAppendOffset,
            ),
            (
                LogError::LogStartOffsetAboveHighWatermark {
                    offset: 7,
                    high_watermark: 3,
                },
                ErrorCode::LogStartOffsetAboveHighWatermark,
            ),
            (
                LogError::ProducerState(ProducerStateError::OutOfOrderSequence {
                    producer_id: 1,
                    producer_epoch: 0,
                    first_sequence: 5,
                    current_last_sequence: 2,
                    current_epoch: 0,
                    offset: 3,
                }),
                ErrorCode::OutOfOrderSequenceNumber,
            ),
            (
                LogError::ProducerState(ProducerStateError::InvalidProducerEpoch {
                    producer_id: 1,
                    producer_epoch: 0,
                    current_epoch: 1,
                    offset: 3,
                }),
                ErrorCode::InvalidProducerEpoch,
            ),
            (
                LogError::ProducerState(ProducerStateError::InvalidTxnState {
                    producer_id: 1,
                    offset: 3,
                }),
                ErrorCode::InvalidTxnState,
            ),
            (
                LogError::Io(std::io::Error::other("disk on fire")),
                ErrorCode::StorageError,
            ),
        ];
        for (error, code) in cases {
            let message = error.to_string();
            let thrown = thrown(error);
            assert_eq!(thrown.status, code);
            assert_eq!(thrown.reason, message);
        }
    }

    #[test]
    fn kafka_long_configs_take_infinity_as_long_max() {
        assert_eq!(config_long(f64::INFINITY, "flush.ms").unwrap(), i64::MAX);
        assert_eq!(config_long(9.3e18, "flush.ms").unwrap(), i64::MAX);
        assert_eq!(config_long(-1.0, "retention.ms").unwrap(), -1);
        assert_eq!(
            config_long(604_800_000.0, "segment.ms").unwrap(),
            604_800_000
        );
        assert!(config_long(1.5, "segment.ms").is_err());
        assert!(config_long(f64::NAN, "segment.ms").is_err());
    }

    #[test]
    fn an_empty_config_is_kafkas_defaults() {
        let config = config_of(&LogConfigInput::default()).unwrap();
        let defaults = LogConfig::default();
        assert_eq!(config.segment_bytes, defaults.segment_bytes);
        assert_eq!(config.segment_ms, defaults.segment_ms);
        assert_eq!(config.retention_bytes, defaults.retention_bytes);
        assert_eq!(config.flush_ms, i64::MAX);
        let bad = LogConfigInput {
            message_timestamp_type: Some("WallClock".into()),
            ..LogConfigInput::default()
        };
        assert!(config_of(&bad).is_err());
    }
}
