//! The storage background thread: fsync, disk reservation, next-segment preparation and
//! the final release of deleted files, so that no append, read or roll waits on the disk.
//!
//! One thread serves every log sharing a [`LogResources`]; jobs are queued on a channel and
//! run in order. A periodic tick flushes logs whose `flush.ms` has passed. Errors are kept
//! (a bounded list) for the broker to read; a failed flush leaves the recovery point where
//! it was, so nothing is claimed durable that is not.

use std::any::Any;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::checkpoint::sync_directory;
use crate::compression::{decompress, Compression, CompressionError};
use crate::config::LogConfig;
use crate::leader_epoch::{EpochEntry, LeaderEpochCheckpointFile};
use crate::map_budget::{MapBudget, DEFAULT_MAX_MAPS};
use crate::segment::{PreparedSegment, SegmentFile};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

/// Decompresses a batch's records: `(compression codec from the attributes, compressed
/// bytes) -> uncompressed records`. Supplied by whoever owns the codecs; used to find the
/// exact record for a timestamp lookup inside a compressed batch.
pub type Decompressor = dyn Fn(i16, &[u8]) -> io::Result<Vec<u8>> + Send + Sync;

/// What every log of a broker shares: the map budget and the background thread.
pub struct LogResources {
    pub(crate) budget: Arc<MapBudget>,
    pub(crate) background: Background,
    pub(crate) decompressor: Option<Box<Decompressor>>,
}

impl LogResources {
    pub fn new(max_maps: usize, decompressor: Option<Box<Decompressor>>) -> Arc<Self> {
        Arc::new(Self {
            budget: MapBudget::new(max_maps),
            background: Background::start(),
            decompressor,
        })
    }

    /// Resources with the default map budget, decompressing with Kafka's codecs
    /// (`compression.rs`).
    pub fn with_defaults() -> Arc<Self> {
        Self::new(
            DEFAULT_MAX_MAPS,
            Some(Box::new(decompress_with_kafka_codecs)),
        )
    }

    pub fn map_budget(&self) -> &Arc<MapBudget> {
        &self.budget
    }

    /// Errors from background jobs since the last call (fsync, reservation, preparation).
    pub fn take_background_errors(&self) -> Vec<String> {
        std::mem::take(&mut *self.background.errors.lock().unwrap())
    }

    /// Waits until every job queued so far has run.
    pub fn wait_for_background(&self) {
        let (done, finished) = mpsc::channel();
        self.background.send(Job::Signal(done));
        let _ = finished.recv();
    }
}

/// Most bytes a timestamp lookup decompresses from one batch.
const LOOKUP_DECOMPRESSED_BYTES_MAX: u64 = 256 * 1024 * 1024;

fn decompress_with_kafka_codecs(codec: i16, compressed: &[u8]) -> io::Result<Vec<u8>> {
    let invalid =
        |error: CompressionError| io::Error::new(io::ErrorKind::InvalidData, error.to_string());
    let compression = Compression::from_attributes(codec).map_err(invalid)?;
    decompress(compression, compressed, LOOKUP_DECOMPRESSED_BYTES_MAX).map_err(invalid)
}

/// State shared by a log and the background thread to flush it.
pub(crate) struct FlushState {
    pub directory: PathBuf,
    pub flush_ms: i64,
    pub recovery_point: AtomicI64,
    pub last_flush_ms: AtomicI64,
    pub scheduled: AtomicBool,
    pub pending: Mutex<PendingFlush>,
    /// One flush at a time: two would race on the epoch checkpoint's temp file.
    flushing: Mutex<()>,
    /// Set when the log's directory is deleted: flushing it is then a no-op.
    closed: AtomicBool,
}

#[derive(Default)]
pub(crate) struct PendingFlush {
    /// Bumped by truncation: a flush that started before it must not move the recovery
    /// point past the truncated end.
    pub generation: u64,
    pub log_end_offset: i64,
    /// Files of segments holding unflushed data, by segment base offset.
    pub segments: Vec<(i64, Vec<Arc<SegmentFile>>)>,
    /// Bumped when files are created or renamed in the partition directory.
    pub directory_version: u64,
    pub directory_synced_version: u64,
    /// Leader epoch entries not yet written to `leader-epoch-checkpoint`.
    pub epochs: Option<Vec<EpochEntry>>,
    /// Producer state snapshots written at a roll and not yet fsynced (Kafka too writes
    /// them under the log's lock and fsyncs them with the flush that follows the roll).
    pub snapshots: Vec<PathBuf>,
}

impl FlushState {
    pub fn new(directory: PathBuf, flush_ms: i64, recovery_point: i64) -> Self {
        Self {
            directory,
            flush_ms,
            recovery_point: AtomicI64::new(recovery_point),
            last_flush_ms: AtomicI64::new(now_ms()),
            scheduled: AtomicBool::new(false),
            pending: Mutex::new(PendingFlush::default()),
            flushing: Mutex::new(()),
            closed: AtomicBool::new(false),
        }
    }

    /// fsyncs every file holding unflushed data (and the directory and epoch checkpoint
    /// when they changed), then moves the recovery point to the log end offset seen at
    /// the start.
    pub fn flush(&self) -> io::Result<()> {
        let _one_at_a_time = self.flushing.lock().unwrap();
        if self.closed.load(Ordering::Acquire) {
            return Ok(());
        }
        let (
            generation,
            target,
            files,
            newest_base,
            directory_version,
            sync_directory_now,
            epochs,
            snapshots,
        ) = {
            let mut pending = self.pending.lock().unwrap();
            let files: Vec<Arc<SegmentFile>> = pending
                .segments
                .iter()
                .flat_map(|(_, files)| files.iter().cloned())
                .collect();
            (
                pending.generation,
                pending.log_end_offset,
                files,
                pending.segments.last().map(|(base, _)| *base),
                pending.directory_version,
                pending.directory_synced_version != pending.directory_version,
                pending.epochs.clone(),
                std::mem::take(&mut pending.snapshots),
            )
        };
        for file in &files {
            file.file().sync_data()?;
        }
        for snapshot in &snapshots {
            // A snapshot deleted meanwhile (truncation, retention) needs no fsync.
            match std::fs::File::open(snapshot).and_then(|file| file.sync_all()) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => {
                    self.pending
                        .lock()
                        .unwrap()
                        .snapshots
                        .extend(snapshots.iter().cloned());
                    return Err(error);
                }
                _ => {}
            }
        }
        if sync_directory_now {
            sync_directory(&self.directory)?;
        }
        if let Some(entries) = &epochs {
            LeaderEpochCheckpointFile::new(&self.directory).write(entries)?;
        }
        let mut pending = self.pending.lock().unwrap();
        pending.directory_synced_version = pending.directory_synced_version.max(directory_version);
        if epochs.is_some() && pending.epochs == epochs {
            pending.epochs = None;
        }
        if pending.generation == generation {
            self.recovery_point.fetch_max(target, Ordering::AcqRel);
            if let Some(newest) = newest_base {
                pending.segments.retain(|(base, _)| *base >= newest);
            }
        }
        self.last_flush_ms.store(now_ms(), Ordering::Release);
        Ok(())
    }

    /// No more flushing (the directory is going away): waits for a flush in progress.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        drop(self.flushing.lock().unwrap());
    }

    fn has_unflushed(&self) -> bool {
        let log_end_offset = self.pending.lock().unwrap().log_end_offset;
        log_end_offset > self.recovery_point.load(Ordering::Acquire)
    }
}

/// Where a prepared next segment waits for the roll that uses it.
#[derive(Default)]
pub(crate) struct PreparedSlot {
    pub requested: AtomicBool,
    pub ready: Mutex<Option<PreparedSegment>>,
    /// Set when the log closes or is deleted: no more segments are prepared for it.
    closed: AtomicBool,
    /// Held by the background thread while it creates a segment's files, so closing can
    /// wait for that to end (never taken on the JS thread).
    preparing: Mutex<()>,
}

impl PreparedSlot {
    /// No more preparing: waits for a preparation in progress, then hands back what is
    /// ready (for the caller to discard). After this no file of this slot is created.
    pub fn close(&self) -> Option<PreparedSegment> {
        self.closed.store(true, Ordering::Release);
        let _no_preparation_running = self.preparing.lock().unwrap();
        self.ready.lock().unwrap().take()
    }

    pub fn take(&self) -> Option<PreparedSegment> {
        let prepared = self.ready.lock().unwrap().take();
        if prepared.is_some() {
            self.requested.store(false, Ordering::Release);
        }
        prepared
    }
}

pub(crate) enum Job {
    Flush(Arc<FlushState>),
    Reserve(Arc<SegmentFile>, u64),
    Prepare {
        directory: PathBuf,
        config: LogConfig,
        slot: Arc<PreparedSlot>,
    },
    /// Drops its contents here once `at` has passed (`file.delete.delay.ms` after the
    /// deletion): the last reference to a deleted segment file unlinks it.
    Release {
        at: Instant,
        contents: Box<dyn Any + Send>,
    },
    Register(Weak<FlushState>),
    Signal(mpsc::Sender<()>),
}

pub(crate) struct Background {
    sender: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    errors: Arc<Mutex<Vec<String>>>,
}

const TICK: Duration = Duration::from_millis(50);
const MAX_KEPT_ERRORS: usize = 100;

impl Background {
    fn start() -> Self {
        let (sender, receiver) = mpsc::channel::<Job>();
        let errors = Arc::new(Mutex::new(Vec::new()));
        let thread_errors = errors.clone();
        let thread = std::thread::Builder::new()
            .name("sluice-storage-background".into())
            .spawn(move || {
                let mut timed: Vec<Weak<FlushState>> = Vec::new();
                let mut releases = DelayedReleases::default();
                loop {
                    match receiver.recv_timeout(TICK) {
                        Ok(Job::Release { at, contents }) => releases.push(at, contents),
                        Ok(job) => run(job, &mut timed, &thread_errors),
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                    releases.release_due(Instant::now());
                    flush_by_time(&mut timed, &thread_errors);
                }
                // Stopping (the last log is gone): what is still waiting goes now, as
                // Kafka's next start would delete leftover `.deleted` files anyway.
                drop(releases);
            })
            .expect("spawn the storage background thread");
        Self {
            sender: Some(sender),
            thread: Some(thread),
            errors,
        }
    }

    pub fn send(&self, job: Job) {
        if let Some(sender) = &self.sender {
            // The thread only stops when this sender is dropped, so sending cannot fail.
            let _ = sender.send(job);
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        drop(self.sender.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Deleted segment files waiting for `file.delete.delay.ms`, soonest first.
#[derive(Default)]
struct DelayedReleases {
    waiting: std::collections::VecDeque<(Instant, Box<dyn Any + Send>)>,
}

impl DelayedReleases {
    fn push(&mut self, at: Instant, contents: Box<dyn Any + Send>) {
        let index = self.waiting.partition_point(|(other, _)| *other <= at);
        self.waiting.insert(index, (at, contents));
    }

    fn release_due(&mut self, now: Instant) {
        while self.waiting.front().is_some_and(|(at, _)| *at <= now) {
            drop(self.waiting.pop_front());
        }
    }
}

fn record_error(errors: &Mutex<Vec<String>>, error: String) {
    let mut errors = errors.lock().unwrap();
    if errors.len() < MAX_KEPT_ERRORS {
        errors.push(error);
    }
}

fn run(job: Job, timed: &mut Vec<Weak<FlushState>>, errors: &Mutex<Vec<String>>) {
    match job {
        Job::Flush(state) => {
            state.scheduled.store(false, Ordering::Release);
            if let Err(error) = state.flush() {
                record_error(
                    errors,
                    format!("flush {}: {error}", state.directory.display()),
                );
            }
        }
        Job::Reserve(file, length) => {
            if let Err(error) = file.reserve(length) {
                record_error(
                    errors,
                    format!("reserve {}: {error}", file.path().display()),
                );
            }
        }
        Job::Prepare {
            directory,
            config,
            slot,
        } => {
            let _preparing = slot.preparing.lock().unwrap();
            if slot.closed.load(Ordering::Acquire) {
                return;
            }
            prepare(&directory, &config, &slot, errors);
        }
        Job::Release { contents, .. } => drop(contents),
        Job::Register(state) => timed.push(state),
        Job::Signal(done) => {
            let _ = done.send(());
        }
    }
}

/// Creates the next segment's files for a log whose slot is open (the caller holds
/// `slot.preparing`).
fn prepare(directory: &Path, config: &LogConfig, slot: &PreparedSlot, errors: &Mutex<Vec<String>>) {
    match PreparedSegment::prepare(directory, config) {
        Ok(prepared) => {
            let mut ready = slot.ready.lock().unwrap();
            if let Some(stale) = ready.replace(prepared) {
                stale.discard();
            }
        }
        Err(error) => {
            slot.requested.store(false, Ordering::Release);
            record_error(
                errors,
                format!("prepare segment in {}: {error}", directory.display()),
            );
        }
    }
}

fn flush_by_time(timed: &mut Vec<Weak<FlushState>>, errors: &Mutex<Vec<String>>) {
    if timed.is_empty() {
        return;
    }
    let now = now_ms();
    timed.retain(|state| {
        let Some(state) = state.upgrade() else {
            return false;
        };
        let since = now - state.last_flush_ms.load(Ordering::Acquire);
        if since >= state.flush_ms && state.has_unflushed() {
            if let Err(error) = state.flush() {
                record_error(
                    errors,
                    format!("flush {}: {error}", state.directory.display()),
                );
            }
        }
        true
    });
}
