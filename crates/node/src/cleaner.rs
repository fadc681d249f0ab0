//! The log cleaner's entry points, called from worker threads (src/log/cleaner-worker.ts, a
//! piscina pool of `log.cleaner.threads`): each reaches its log through the process-wide
//! registry by the id `NativeLog.registryId` gave the main thread, and runs synchronously on
//! its worker — never on the JS main thread. The log's lock is held only for the three short
//! steps of `sluice_storage::cleaner` (cleanable, prepare, commit); reading and writing the
//! segments happens without it, so appends and reads go on (docs/storage.md).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use napi_derive::napi;
use sluice_storage::cleaner::{
    clean, CleanCommit, CleanStats, CleanableInfo, CleanerCheckpoints, CleanerOptions,
    CompactionConfig,
};

use crate::errors::{coded, thrown, ErrorCode, NativeError};
use crate::log::{registered_log, LogState};

/// A topic's compaction settings (its `min.cleanable.dirty.ratio`, `min.compaction.lag.ms`,
/// `max.compaction.lag.ms`, `delete.retention.ms`).
#[napi(object)]
pub struct CompactionSettings {
    pub min_cleanable_dirty_ratio: f64,
    pub min_compaction_lag_ms: f64,
    pub max_compaction_lag_ms: f64,
    pub delete_retention_ms: f64,
}

/// One cleaner thread's settings (`log.cleaner.*`).
#[napi(object)]
pub struct CleanerSettings {
    /// `log.cleaner.dedupe.buffer.size` / `log.cleaner.threads`.
    pub dedupe_buffer_bytes: f64,
    /// `log.cleaner.io.max.bytes.per.second` / `log.cleaner.threads` (Infinity: no limit).
    pub io_max_bytes_per_second: f64,
    /// The largest a compressed batch may decompress to (the topic's `max.message.bytes` bound).
    pub decompressed_batch_bytes_max: f64,
}

/// How dirty a log is (Kafka's `LogToClean`).
#[napi(object)]
pub struct CleanableLog {
    pub first_dirty_offset: i64,
    pub first_uncleanable_offset: i64,
    pub clean_bytes: f64,
    pub cleanable_bytes: f64,
    pub cleanable_ratio: f64,
    pub max_compaction_delay_ms: f64,
    /// Kafka's test: something to clean and the ratio passes, or `max.compaction.lag.ms` forces it.
    pub needs_cleaning: bool,
}

/// What a clean did (Kafka's `CleanerStats`), or why it was given up.
#[napi(object)]
pub struct CleanResult {
    /// False when the log changed under the clean (retention, truncation): nothing was swapped.
    pub committed: bool,
    pub abandoned_reason: Option<String>,
    pub first_dirty_offset: i64,
    /// The new first dirty offset (written to `cleaner-offset-checkpoint`).
    pub end_offset: i64,
    pub bytes_read: f64,
    pub bytes_written: f64,
    pub messages_read: f64,
    pub messages_written: f64,
    pub map_bytes_read: f64,
    pub map_messages_read: f64,
    pub invalid_messages: f64,
    pub segments_read: u32,
    pub segments_written: u32,
    pub buffer_utilization: f64,
    pub map_duration_ms: f64,
    pub duration_ms: f64,
}

/// `cleaner-offset-checkpoint` of each log directory, shared by every cleaner thread.
static CHECKPOINTS: LazyLock<Mutex<HashMap<PathBuf, Arc<CleanerCheckpoints>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn checkpoints_of(log_dir: &Path) -> Result<Arc<CleanerCheckpoints>, NativeError> {
    let mut all = CHECKPOINTS
        .lock()
        .map_err(|_| coded(ErrorCode::StorageError, "cleaner checkpoints poisoned"))?;
    if let Some(found) = all.get(log_dir) {
        return Ok(found.clone());
    }
    let opened = Arc::new(CleanerCheckpoints::open(log_dir).map_err(|error| {
        coded(
            ErrorCode::StorageError,
            format!(
                "read {}/cleaner-offset-checkpoint: {error}",
                log_dir.display()
            ),
        )
    })?);
    all.insert(log_dir.to_path_buf(), opened.clone());
    Ok(opened)
}

fn compaction_of(settings: &CompactionSettings) -> CompactionConfig {
    CompactionConfig {
        min_cleanable_dirty_ratio: settings.min_cleanable_dirty_ratio,
        min_compaction_lag_ms: saturating_ms(settings.min_compaction_lag_ms),
        max_compaction_lag_ms: saturating_ms(settings.max_compaction_lag_ms),
        delete_retention_ms: saturating_ms(settings.delete_retention_ms),
    }
}

/// JS numbers for Java longs: Long.MAX_VALUE arrives as 2^63 and saturates.
fn saturating_ms(value: f64) -> i64 {
    if value.is_nan() {
        0
    } else {
        value as i64
    }
}

fn state_of(log_id: u32) -> Result<Arc<LogState>, NativeError> {
    registered_log(log_id).ok_or_else(|| {
        coded(
            ErrorCode::LogClosed,
            format!("no open log with id {log_id}"),
        )
    })
}

/// The log directory of a partition directory.
fn log_dir_of(state: &LogState) -> PathBuf {
    state
        .directory()
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn cleanable_of(
    state: &LogState,
    checkpoints: &CleanerCheckpoints,
    now_ms: i64,
    high_watermark: i64,
    compaction: &CompactionConfig,
) -> Result<CleanableInfo, NativeError> {
    let checkpoint = checkpoints.get(&state.topic_partition());
    let mut guard = state.log()?;
    let log = guard.as_mut().expect("log() returns an open log");
    log.cleanable(now_ms, checkpoint, high_watermark, compaction)
        .map_err(thrown)
}

/// How dirty the log `logId` is now (a short read under its lock; a segment's timestamps are
/// read from disk the first time). Call it from a worker thread.
#[napi]
pub fn cleanable_log(
    log_id: u32,
    now_ms: f64,
    high_watermark: i64,
    compaction: CompactionSettings,
) -> Result<CleanableLog, NativeError> {
    let state = state_of(log_id)?;
    let checkpoints = checkpoints_of(&log_dir_of(&state))?;
    let compaction = compaction_of(&compaction);
    let info = cleanable_of(
        &state,
        &checkpoints,
        now_ms as i64,
        high_watermark,
        &compaction,
    )?;
    Ok(CleanableLog {
        first_dirty_offset: info.first_dirty_offset,
        first_uncleanable_offset: info.first_uncleanable_offset,
        clean_bytes: info.clean_bytes as f64,
        cleanable_bytes: info.cleanable_bytes as f64,
        cleanable_ratio: info.cleanable_ratio,
        max_compaction_delay_ms: info.max_compaction_delay_ms as f64,
        needs_cleaning: info.needs_cleaning(&compaction),
    })
}

/// Cleans the log `logId` if it needs it (Kafka's `Cleaner.clean`): the dirty range and a
/// plan under the log's lock, the offset map and the cleaned segments without it, the swap
/// under it again; then `cleaner-offset-checkpoint`. Null when there was nothing to clean.
/// Synchronous: call it from a worker thread.
#[napi]
pub fn clean_log(
    log_id: u32,
    now_ms: f64,
    high_watermark: i64,
    compaction: CompactionSettings,
    settings: CleanerSettings,
) -> Result<Option<CleanResult>, NativeError> {
    let state = state_of(log_id)?;
    let checkpoints = checkpoints_of(&log_dir_of(&state))?;
    let compaction = compaction_of(&compaction);
    let now_ms = now_ms as i64;
    let info = cleanable_of(&state, &checkpoints, now_ms, high_watermark, &compaction)?;
    if info.force_checkpoint_update {
        // The checkpoint pointed outside the log: start over from the log start, as Kafka does.
        update_checkpoint(&checkpoints, &state, info.first_dirty_offset)?;
    }
    if !info.needs_cleaning(&compaction) {
        return Ok(None);
    }
    let plan = {
        let mut guard = state.log()?;
        let log = guard.as_mut().expect("log() returns an open log");
        log.prepare_clean(&info).map_err(thrown)?
    };
    let options = CleanerOptions {
        dedupe_buffer_bytes: settings.dedupe_buffer_bytes.max(1024.0) as usize,
        io_max_bytes_per_second: if settings.io_max_bytes_per_second > 0.0 {
            settings.io_max_bytes_per_second
        } else {
            f64::INFINITY
        },
        delete_retention_ms: compaction.delete_retention_ms,
        decompressed_batch_bytes_max: settings.decompressed_batch_bytes_max.max(1.0) as u64,
    };
    let output = clean(plan, &options, now_ms).map_err(thrown)?;
    let commit = {
        let mut guard = state.log()?;
        let log = guard.as_mut().expect("log() returns an open log");
        let commit = log.commit_clean(output).map_err(thrown)?;
        state.publish(log);
        commit
    };
    Ok(Some(match commit {
        CleanCommit::Committed(stats) => {
            update_checkpoint(&checkpoints, &state, stats.end_offset)?;
            result_of(&stats, true, None)
        }
        CleanCommit::Abandoned { reason } => result_of(&CleanStats::default(), false, Some(reason)),
    }))
}

/// Forgets a deleted topic's partitions in `cleaner-offset-checkpoint` of `logDir` (Kafka's
/// `LogCleanerManager.updateCheckpoints` on deletion): a topic created again under the name starts
/// clean from its log start. Rewrites the file (fsync): call it from a worker thread.
#[napi]
pub fn forget_cleaner_checkpoints(
    log_dir: String,
    topic: String,
    partitions: u32,
) -> Result<(), NativeError> {
    let checkpoints = checkpoints_of(Path::new(&log_dir))?;
    for partition in 0..partitions {
        checkpoints
            .remove(&sluice_storage::checkpoint::TopicPartition::new(
                topic.clone(),
                partition as i32,
            ))
            .map_err(checkpoint_error)?;
    }
    Ok(())
}

fn update_checkpoint(
    checkpoints: &CleanerCheckpoints,
    state: &LogState,
    offset: i64,
) -> Result<(), NativeError> {
    checkpoints
        .update(&state.topic_partition(), offset)
        .map_err(checkpoint_error)
}

fn checkpoint_error(error: std::io::Error) -> NativeError {
    coded(
        ErrorCode::StorageError,
        format!("cleaner-offset-checkpoint: {error}"),
    )
}

fn result_of(stats: &CleanStats, committed: bool, reason: Option<String>) -> CleanResult {
    CleanResult {
        committed,
        abandoned_reason: reason,
        first_dirty_offset: stats.first_dirty_offset,
        end_offset: stats.end_offset,
        bytes_read: stats.bytes_read as f64,
        bytes_written: stats.bytes_written as f64,
        messages_read: stats.messages_read as f64,
        messages_written: stats.messages_written as f64,
        map_bytes_read: stats.map_bytes_read as f64,
        map_messages_read: stats.map_messages_read as f64,
        invalid_messages: stats.invalid_messages as f64,
        segments_read: stats.segments_read as u32,
        segments_written: stats.segments_written as u32,
        buffer_utilization: stats.buffer_utilization,
        map_duration_ms: stats.map_duration.as_secs_f64() * 1000.0,
        duration_ms: stats.duration.as_secs_f64() * 1000.0,
    }
}
