//! One log directory (`log.dirs` entry): its partitions and its Kafka-format files.
//!
//! ```text
//! <log.dir>/
//!   meta.properties                     Java properties: version, cluster.id, node.id,
//!                                       directory.id (Kafka's KRaft v1 layout)
//!   .kafka_cleanshutdown                {"version":0,"brokerEpoch":N}: present only
//!                                       between a clean shutdown and the next start
//!   recovery-point-offset-checkpoint    offsets below which each partition is fsynced
//!   log-start-offset-checkpoint         each partition's log start offset
//!   replication-offset-checkpoint       each partition's high watermark
//!   <topic>-<partition>/                see log.rs
//! ```
//!
//! The crash story: a clean shutdown closes every log (trimmed, fsynced), writes the
//! checkpoints, then the marker. At start the marker says whether to trust the files as
//! they are; it is removed before the logs are opened (opening dirties the active
//! segments: reserved ahead, indexes grown), so a crash from then on, even while opening,
//! is seen as unclean and the next start recovers every partition from its recovery
//! point (Kafka's order too, KAFKA-10471).

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::background::{now_ms, LogResources};
use crate::checkpoint::{
    read_offset_checkpoint, sync_directory, write_atomically, write_offset_checkpoint,
    TopicPartition, LOG_START_OFFSET_CHECKPOINT, RECOVERY_POINT_CHECKPOINT,
    REPLICATION_OFFSET_CHECKPOINT,
};
use crate::config::LogConfig;
use crate::log::{Log, LogError, LogOffsets, OpenOptions, OpenReport};
use crate::partition_metadata::{invalid_data, Uuid};

pub const META_PROPERTIES: &str = "meta.properties";
pub const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";

/// `meta.properties` of a KRaft-era log directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaProperties {
    pub version: u32,
    pub cluster_id: String,
    pub node_id: i32,
    pub directory_id: Option<Uuid>,
}

/// Progress of opening a log directory, reported after each partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenProgress {
    pub partitions_done: usize,
    pub partitions_total: usize,
    pub bytes_scanned: u64,
}

/// The outcome of opening one partition.
pub type OpenedLog = (TopicPartition, Result<(Log, OpenReport), LogError>);

/// Kafka's KRaft metadata log topic; its directory is never opened as a partition.
pub const KRAFT_METADATA_TOPIC: &str = "__cluster_metadata";

#[derive(Debug, Clone)]
pub struct LogDirectory {
    path: PathBuf,
}

impl LogDirectory {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn partition_path(&self, partition: &TopicPartition) -> PathBuf {
        self.path.join(partition.directory_name())
    }

    pub fn read_meta_properties(&self) -> io::Result<Option<MetaProperties>> {
        let path = self.path.join(META_PROPERTIES);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        let properties: HashMap<&str, &str> = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#') && !line.starts_with('!'))
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.trim(), value.trim()))
            .collect();
        let bad = |what: &str| invalid_data(format!("{}: {what}", path.display()));
        Ok(Some(MetaProperties {
            version: properties
                .get("version")
                .and_then(|value| value.parse().ok())
                .ok_or_else(|| bad("missing version"))?,
            cluster_id: properties
                .get("cluster.id")
                .map(|value| value.to_string())
                .ok_or_else(|| bad("missing cluster.id"))?,
            node_id: properties
                .get("node.id")
                .or_else(|| properties.get("broker.id"))
                .and_then(|value| value.parse().ok())
                .ok_or_else(|| bad("missing node.id"))?,
            directory_id: properties
                .get("directory.id")
                .and_then(|value| Uuid::from_base64(value)),
        }))
    }

    /// Writes `meta.properties` in Java's properties layout, keys sorted.
    pub fn write_meta_properties(&self, meta: &MetaProperties) -> io::Result<()> {
        fs::create_dir_all(&self.path)?;
        let mut text = String::from("#\n#Written by Sluice\n");
        text.push_str(&format!("cluster.id={}\n", meta.cluster_id));
        if let Some(directory_id) = meta.directory_id {
            text.push_str(&format!("directory.id={directory_id}\n"));
        }
        text.push_str(&format!("node.id={}\n", meta.node_id));
        text.push_str(&format!("version={}\n", meta.version));
        write_atomically(&self.path.join(META_PROPERTIES), text.as_bytes())
    }

    pub fn had_clean_shutdown(&self) -> bool {
        self.path.join(CLEAN_SHUTDOWN_FILE).exists()
    }

    /// Marks the directory cleanly shut down; call after every log is closed and the
    /// checkpoints are written.
    pub fn write_clean_shutdown(&self, broker_epoch: i64) -> io::Result<()> {
        let text = format!("{{\"version\":0,\"brokerEpoch\":{broker_epoch}}}");
        write_atomically(&self.path.join(CLEAN_SHUTDOWN_FILE), text.as_bytes())
    }

    pub fn remove_clean_shutdown(&self) -> io::Result<()> {
        match fs::remove_file(self.path.join(CLEAN_SHUTDOWN_FILE)) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => sync_directory(&self.path),
        }
    }

    /// Removes partition directories a topic deletion renamed `-delete` and did not get to
    /// remove before a crash (Kafka removes them at start-up too). Best effort: one that
    /// cannot be removed now is tried again at the next start.
    fn remove_deleted_partitions(&self) {
        let Ok(entries) = fs::read_dir(&self.path) else {
            return;
        };
        for entry in entries.flatten() {
            let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
            let name = entry.file_name();
            if is_dir
                && name
                    .to_string_lossy()
                    .ends_with(crate::log::DELETE_DIRECTORY_SUFFIX)
            {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }

    /// Partition directories, skipping Kafka's `-delete`, `-future` and `-stray` ones and
    /// Kafka's KRaft metadata log (`__cluster_metadata-0`): as Kafka's LogManager, it is no
    /// partition to serve, and it stays untouched so the directory can go back to Kafka
    /// (src/cluster/kraft/ reads it).
    pub fn partitions(&self) -> io::Result<Vec<TopicPartition>> {
        let mut partitions = Vec::new();
        for entry in fs::read_dir(&self.path)? {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(partition) = TopicPartition::from_directory_name(&name) {
                if partition.topic == KRAFT_METADATA_TOPIC {
                    continue;
                }
                partitions.push(partition);
            }
        }
        partitions.sort();
        Ok(partitions)
    }

    /// Writes the recovery point and log start offset checkpoints.
    pub fn write_offset_checkpoints(
        &self,
        logs: &[(TopicPartition, LogOffsets)],
    ) -> io::Result<()> {
        let recovery: Vec<_> = logs
            .iter()
            .map(|(partition, offsets)| (partition.clone(), offsets.recovery_point))
            .collect();
        let start: Vec<_> = logs
            .iter()
            .map(|(partition, offsets)| (partition.clone(), offsets.log_start_offset))
            .collect();
        write_offset_checkpoint(&self.path.join(RECOVERY_POINT_CHECKPOINT), &recovery)?;
        write_offset_checkpoint(&self.path.join(LOG_START_OFFSET_CHECKPOINT), &start)
    }

    /// Writes `replication-offset-checkpoint` (high watermarks, owned by the broker).
    pub fn write_high_watermarks(
        &self,
        high_watermarks: &[(TopicPartition, i64)],
    ) -> io::Result<()> {
        write_offset_checkpoint(
            &self.path.join(REPLICATION_OFFSET_CHECKPOINT),
            high_watermarks,
        )
    }

    pub fn read_high_watermarks(&self) -> io::Result<HashMap<TopicPartition, i64>> {
        Ok(
            read_offset_checkpoint(&self.path.join(REPLICATION_OFFSET_CHECKPOINT))?
                .into_iter()
                .collect(),
        )
    }

    /// Opens every partition on `threads` threads, reporting progress after each. The
    /// clean-shutdown marker decides between trusting the files and recovering from the
    /// checkpointed recovery points; it is removed before any log is opened, because
    /// opening makes the files differ from a clean shutdown's.
    pub fn open_all(
        &self,
        config_for: &(dyn Fn(&TopicPartition) -> LogConfig + Sync),
        resources: &Arc<LogResources>,
        threads: usize,
        progress: &(dyn Fn(OpenProgress) + Sync),
    ) -> io::Result<Vec<OpenedLog>> {
        let had_clean_shutdown = self.had_clean_shutdown();
        self.remove_clean_shutdown()?;
        self.remove_deleted_partitions();
        let recovery_points: HashMap<_, _> =
            read_offset_checkpoint(&self.path.join(RECOVERY_POINT_CHECKPOINT))?
                .into_iter()
                .collect();
        let log_start_offsets: HashMap<_, _> =
            read_offset_checkpoint(&self.path.join(LOG_START_OFFSET_CHECKPOINT))?
                .into_iter()
                .collect();
        let partitions = self.partitions()?;
        let total = partitions.len();
        let next = AtomicUsize::new(0);
        let done = AtomicUsize::new(0);
        let bytes_scanned = AtomicU64::new(0);
        let results: Mutex<Vec<Option<OpenedLog>>> = Mutex::new((0..total).map(|_| None).collect());
        let now = now_ms();
        std::thread::scope(|scope| {
            for _ in 0..threads.clamp(1, total.max(1)) {
                scope.spawn(|| loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(partition) = partitions.get(index) else {
                        break;
                    };
                    let options = OpenOptions {
                        // A partition missing from the checkpoint is recovered whole.
                        recovery_point: recovery_points.get(partition).copied().unwrap_or(0),
                        log_start_offset: log_start_offsets.get(partition).copied().unwrap_or(0),
                        had_clean_shutdown: had_clean_shutdown
                            && recovery_points.contains_key(partition),
                        now_ms: now,
                    };
                    let opened = Log::open(
                        &self.partition_path(partition),
                        partition.clone(),
                        config_for(partition),
                        resources.clone(),
                        options,
                        &bytes_scanned,
                    );
                    results.lock().unwrap()[index] = Some((partition.clone(), opened));
                    let partitions_done = done.fetch_add(1, Ordering::AcqRel) + 1;
                    progress(OpenProgress {
                        partitions_done,
                        partitions_total: total,
                        bytes_scanned: bytes_scanned.load(Ordering::Relaxed),
                    });
                });
            }
        });
        Ok(results
            .into_inner()
            .unwrap()
            .into_iter()
            .map(|opened| opened.expect("every partition opened"))
            .collect())
    }

    /// Closes `logs` (in parallel on `threads` threads), writes the offset checkpoints,
    /// then the clean-shutdown marker if every log closed.
    pub fn close_all(
        &self,
        logs: Vec<Log>,
        threads: usize,
        broker_epoch: i64,
    ) -> Result<(), LogError> {
        let queue = Mutex::new(logs);
        let closed: Mutex<Vec<(TopicPartition, LogOffsets)>> = Mutex::new(Vec::new());
        let failures: Mutex<Vec<LogError>> = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..threads.max(1) {
                scope.spawn(|| loop {
                    let Some(log) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let partition = log.topic_partition().clone();
                    match log.close() {
                        Ok(offsets) => closed.lock().unwrap().push((partition, offsets)),
                        Err(error) => failures.lock().unwrap().push(error),
                    }
                });
            }
        });
        let closed = closed.into_inner().unwrap();
        self.write_offset_checkpoints(&closed)?;
        if let Some(error) = failures.into_inner().unwrap().pop() {
            return Err(error);
        }
        self.write_clean_shutdown(broker_epoch)?;
        Ok(())
    }
}
