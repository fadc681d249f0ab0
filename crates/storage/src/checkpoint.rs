//! Kafka's text checkpoint files, written atomically.
//!
//! Per log directory (Kafka's `OffsetCheckpointFile`):
//! `recovery-point-offset-checkpoint`, `log-start-offset-checkpoint`,
//! `replication-offset-checkpoint`, each
//!
//! ```text
//! 0                              version
//! 2                              number of entries
//! my-topic 0 1234                topic, partition, offset (space separated)
//! my-topic 1 99
//! ```
//!
//! Per partition (Kafka's `LeaderEpochCheckpointFile`): `leader-epoch-checkpoint`, same
//! framing, entries `<epoch> <start offset>`.
//!
//! A write goes to `<name>.tmp`, is fsynced, renamed over `<name>` and the directory is
//! fsynced: a crash leaves either the old file or the new one, never a torn one. A stale
//! `.tmp` is simply overwritten by the next write.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::partition_metadata::invalid_data;

/// The only checkpoint version Kafka writes.
pub const CHECKPOINT_VERSION: u32 = 0;

pub const RECOVERY_POINT_CHECKPOINT: &str = "recovery-point-offset-checkpoint";
pub const LOG_START_OFFSET_CHECKPOINT: &str = "log-start-offset-checkpoint";
pub const REPLICATION_OFFSET_CHECKPOINT: &str = "replication-offset-checkpoint";
pub const LEADER_EPOCH_CHECKPOINT: &str = "leader-epoch-checkpoint";

/// A topic and partition, named on disk `<topic>-<partition>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }

    /// The partition's directory name: `<topic>-<partition>`.
    pub fn directory_name(&self) -> String {
        format!("{}-{}", self.topic, self.partition)
    }

    /// Parses `<topic>-<partition>` (the topic may itself contain dashes). Kafka's
    /// `-delete`, `-future` and `-stray` directories do not parse.
    pub fn from_directory_name(name: &str) -> Option<Self> {
        let (topic, partition) = name.rsplit_once('-')?;
        if topic.is_empty() {
            return None;
        }
        let partition: i32 = partition.parse().ok()?;
        (partition >= 0).then(|| Self::new(topic, partition))
    }
}

/// Writes `lines` under Kafka's version and count header, atomically.
pub fn write_checkpoint(path: &Path, lines: &[String]) -> io::Result<()> {
    let mut text = format!("{CHECKPOINT_VERSION}\n{}\n", lines.len());
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    write_atomically(path, text.as_bytes())
}

/// Reads the entry lines of a checkpoint, each split on whitespace; a missing file reads
/// as no entries.
pub fn read_checkpoint(path: &Path, fields_per_line: usize) -> io::Result<Vec<Vec<String>>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    // An empty file is no entries, as Kafka's CheckpointReadBuffer reads it (Kafka leaves empty
    // leader-epoch-checkpoint files in followers' partition directories).
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let bad = |what: &str| invalid_data(format!("{}: {what}", path.display()));
    let mut lines = text.lines();
    let version: u32 = lines
        .next()
        .and_then(|line| line.trim().parse().ok())
        .ok_or_else(|| bad("missing version"))?;
    if version != CHECKPOINT_VERSION {
        return Err(bad(&format!("unsupported version {version}")));
    }
    // A version without a count is no entries too (Kafka's CheckpointReadBuffer).
    let Some(count_line) = lines.next() else {
        return Ok(Vec::new());
    };
    let count: usize = count_line
        .trim()
        .parse()
        .map_err(|_| bad("malformed entry count"))?;
    let mut entries = Vec::with_capacity(count.min(1 << 20));
    for line in lines.by_ref().take(count) {
        let fields: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        if fields.len() != fields_per_line {
            return Err(bad(&format!("malformed line {line:?}")));
        }
        entries.push(fields);
    }
    if entries.len() != count {
        return Err(bad(&format!(
            "expected {count} entries, found {}",
            entries.len()
        )));
    }
    Ok(entries)
}

/// Kafka's `OffsetCheckpointFile`: `topic partition offset` per line.
pub fn write_offset_checkpoint(path: &Path, offsets: &[(TopicPartition, i64)]) -> io::Result<()> {
    let mut sorted: Vec<&(TopicPartition, i64)> = offsets.iter().collect();
    sorted.sort();
    let lines: Vec<String> = sorted
        .iter()
        .map(|(partition, offset)| format!("{} {} {offset}", partition.topic, partition.partition))
        .collect();
    write_checkpoint(path, &lines)
}

pub fn read_offset_checkpoint(path: &Path) -> io::Result<Vec<(TopicPartition, i64)>> {
    read_checkpoint(path, 3)?
        .into_iter()
        .map(|fields| {
            let partition = fields[1]
                .parse()
                .map_err(|_| bad_number(path, &fields[1]))?;
            let offset = fields[2]
                .parse()
                .map_err(|_| bad_number(path, &fields[2]))?;
            Ok((TopicPartition::new(fields[0].clone(), partition), offset))
        })
        .collect()
}

pub(crate) fn bad_number(path: &Path, field: &str) -> io::Error {
    invalid_data(format!("{}: not a number: {field:?}", path.display()))
}

/// Writes `bytes` to `path` through `<path>.tmp`, fsync, rename, directory fsync.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temporary = temporary_path(path);
    {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&temporary, path)?;
    if let Some(parent) = path.parent() {
        sync_directory(parent)?;
    }
    Ok(())
}

/// Makes renames and creations in `directory` durable.
pub fn sync_directory(directory: &Path) -> io::Result<()> {
    File::open(directory)?.sync_all()
}

fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_checkpoint_is_no_entries_as_kafka_reads_it() {
        let dir =
            std::env::temp_dir().join(format!("sluice-empty-checkpoint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("leader-epoch-checkpoint");
        std::fs::write(&path, "").unwrap();
        assert!(read_checkpoint(&path, 2).unwrap().is_empty());
        std::fs::write(&path, "0\n").unwrap();
        assert!(read_checkpoint(&path, 2).unwrap().is_empty());
        std::fs::write(&path, "0\n1\n").unwrap();
        assert!(
            read_checkpoint(&path, 2).is_err(),
            "a count without its entry is still refused"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn offset_checkpoint_has_kafkas_text_layout() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join(RECOVERY_POINT_CHECKPOINT);
        let offsets = vec![
            (TopicPartition::new("orders", 1), 99),
            (TopicPartition::new("my-topic", 0), 1234),
        ];
        write_offset_checkpoint(&path, &offsets).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "0\n2\nmy-topic 0 1234\norders 1 99\n"
        );
        let mut read = read_offset_checkpoint(&path).unwrap();
        read.sort();
        let mut expected = offsets;
        expected.sort();
        assert_eq!(read, expected);
        assert!(!temporary_path(&path).exists());
    }

    #[test]
    fn a_missing_checkpoint_reads_as_empty() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join(LOG_START_OFFSET_CHECKPOINT);
        assert_eq!(read_offset_checkpoint(&path).unwrap(), vec![]);
    }

    #[test]
    fn malformed_checkpoints_are_errors() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("checkpoint");
        for text in ["1\n0\n", "0\n2\na 0 1\n", "0\n1\na 0\n", "0\n1\na x 1\n"] {
            fs::write(&path, text).unwrap();
            assert!(read_offset_checkpoint(&path).is_err(), "{text:?}");
        }
    }

    #[test]
    fn directory_names_round_trip_with_dashes_in_topics() {
        let partition = TopicPartition::new("a-b-c", 12);
        assert_eq!(partition.directory_name(), "a-b-c-12");
        assert_eq!(
            TopicPartition::from_directory_name("a-b-c-12"),
            Some(partition)
        );
        assert_eq!(TopicPartition::from_directory_name("nodash"), None);
        assert_eq!(TopicPartition::from_directory_name("t-x"), None);
        assert_eq!(TopicPartition::from_directory_name("-3"), None);
        assert_eq!(
            TopicPartition::from_directory_name("t-0.0123abc-delete"),
            None
        );
    }
}
