//! The leader epoch cache of a partition and its file, `leader-epoch-checkpoint`.
//!
//! ```text
//! 0                  version
//! 2                  number of entries
//! 0 0                epoch, start offset: the first offset written in that epoch
//! 3 1200
//! ```
//!
//! Kafka's `LeaderEpochFileCache`: the log assigns an entry when it appends a batch whose
//! `partitionLeaderEpoch` is newer than the latest known; followers answer
//! OffsetForLeaderEpoch with [`LeaderEpochCache::end_offset_for`]. Truncation at either end
//! of the log trims the entries. The file is rewritten atomically; after an unclean stop
//! the entries past the recovery point are re-derived from the recovered batches.

use std::io;
use std::path::{Path, PathBuf};

use crate::checkpoint::{bad_number, read_checkpoint, write_checkpoint, LEADER_EPOCH_CHECKPOINT};

/// Kafka's `UNDEFINED_EPOCH` and `UNDEFINED_EPOCH_OFFSET`.
pub const UNDEFINED_EPOCH: i32 = -1;
pub const UNDEFINED_EPOCH_OFFSET: i64 = -1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEntry {
    pub epoch: i32,
    pub start_offset: i64,
}

/// Epoch entries in increasing epoch and start offset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaderEpochCache {
    entries: Vec<EpochEntry>,
}

impl LeaderEpochCache {
    pub fn from_entries(entries: Vec<EpochEntry>) -> Self {
        let mut cache = Self::default();
        for entry in entries {
            cache.assign(entry.epoch, entry.start_offset);
        }
        cache
    }

    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    pub fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|entry| entry.epoch)
    }

    /// The epoch that wrote `offset`: the entry with the largest start offset at or below it.
    pub fn epoch_for_offset(&self, offset: i64) -> Option<i32> {
        self.entries
            .iter()
            .rev()
            .find(|entry| entry.start_offset <= offset)
            .map(|entry| entry.epoch)
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Records that `epoch` starts at `start_offset`; returns whether anything changed.
    /// Entries that would break monotonicity (an epoch at least as new, or a start offset
    /// at least as large) are dropped first, as Kafka does.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> bool {
        if epoch < 0 {
            return false;
        }
        if let Some(last) = self.entries.last() {
            if last.epoch == epoch && last.start_offset <= start_offset {
                return false;
            }
        }
        self.entries
            .retain(|entry| entry.epoch < epoch && entry.start_offset < start_offset);
        self.entries.push(EpochEntry {
            epoch,
            start_offset,
        });
        true
    }

    /// Kafka's `endOffsetFor`: the epoch at or below `requested_epoch` and the offset where
    /// the next epoch starts (`log_end_offset` for the latest epoch).
    pub fn end_offset_for(&self, requested_epoch: i32, log_end_offset: i64) -> (i32, i64) {
        if requested_epoch == UNDEFINED_EPOCH {
            return (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        }
        if self.latest_epoch() == Some(requested_epoch) {
            return (requested_epoch, log_end_offset);
        }
        let Some(higher) = self
            .entries
            .iter()
            .find(|entry| entry.epoch > requested_epoch)
        else {
            return (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        };
        match self
            .entries
            .iter()
            .rev()
            .find(|entry| entry.epoch <= requested_epoch)
        {
            Some(floor) => (floor.epoch, higher.start_offset),
            None => (requested_epoch, higher.start_offset),
        }
    }

    /// Removes entries starting at or after `end_offset` (the log was truncated there).
    pub fn truncate_from_end(&mut self, end_offset: i64) -> bool {
        let before = self.entries.len();
        self.entries.retain(|entry| entry.start_offset < end_offset);
        self.entries.len() != before
    }

    /// The log now starts at `start_offset`: entries wholly before it go, and the epoch
    /// that covers it starts there.
    pub fn truncate_from_start(&mut self, start_offset: i64) -> bool {
        let covering = self
            .entries
            .iter()
            .rposition(|entry| entry.start_offset <= start_offset);
        let Some(covering) = covering else {
            return false;
        };
        let changed = covering > 0 || self.entries[0].start_offset != start_offset;
        self.entries.drain(..covering);
        self.entries[0].start_offset = start_offset;
        changed
    }
}

/// `leader-epoch-checkpoint` of one partition directory.
#[derive(Debug, Clone)]
pub struct LeaderEpochCheckpointFile {
    path: PathBuf,
}

impl LeaderEpochCheckpointFile {
    pub fn new(partition_directory: &Path) -> Self {
        Self {
            path: partition_directory.join(LEADER_EPOCH_CHECKPOINT),
        }
    }

    pub fn write(&self, entries: &[EpochEntry]) -> io::Result<()> {
        let lines: Vec<String> = entries
            .iter()
            .map(|entry| format!("{} {}", entry.epoch, entry.start_offset))
            .collect();
        write_checkpoint(&self.path, &lines)
    }

    pub fn read(&self) -> io::Result<Vec<EpochEntry>> {
        read_checkpoint(&self.path, 2)?
            .into_iter()
            .map(|fields| {
                Ok(EpochEntry {
                    epoch: fields[0]
                        .parse()
                        .map_err(|_| bad_number(&self.path, &fields[0]))?,
                    start_offset: fields[1]
                        .parse()
                        .map_err(|_| bad_number(&self.path, &fields[1]))?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(epoch: i32, start_offset: i64) -> EpochEntry {
        EpochEntry {
            epoch,
            start_offset,
        }
    }

    #[test]
    fn assign_keeps_epochs_and_offsets_increasing() {
        let mut cache = LeaderEpochCache::default();
        assert!(cache.assign(1, 0));
        assert!(!cache.assign(1, 5)); // same epoch, later offset: no change
        assert!(cache.assign(3, 10));
        assert!(!cache.assign(-1, 20));
        assert_eq!(cache.entries(), &[entry(1, 0), entry(3, 10)]);
        // a new epoch starting earlier replaces what it overlaps
        assert!(cache.assign(4, 8));
        assert_eq!(cache.entries(), &[entry(1, 0), entry(4, 8)]);
    }

    #[test]
    fn end_offset_for_follows_kafka() {
        let cache = LeaderEpochCache::from_entries(vec![entry(1, 0), entry(3, 10), entry(5, 20)]);
        assert_eq!(cache.end_offset_for(5, 30), (5, 30));
        assert_eq!(cache.end_offset_for(3, 30), (3, 20));
        assert_eq!(cache.end_offset_for(4, 30), (3, 20));
        assert_eq!(cache.end_offset_for(0, 30), (0, 0));
        assert_eq!(cache.end_offset_for(6, 30), (-1, -1));
        assert_eq!(cache.end_offset_for(-1, 30), (-1, -1));
        assert_eq!(LeaderEpochCache::default().end_offset_for(1, 5), (-1, -1));
    }

    #[test]
    fn truncation_at_both_ends() {
        let mut cache =
            LeaderEpochCache::from_entries(vec![entry(1, 0), entry(3, 10), entry(5, 20)]);
        assert!(cache.truncate_from_end(20));
        assert_eq!(cache.entries(), &[entry(1, 0), entry(3, 10)]);
        assert!(cache.truncate_from_start(12));
        assert_eq!(cache.entries(), &[entry(3, 12)]);
        assert!(!cache.truncate_from_start(12));
    }

    #[test]
    fn checkpoint_file_round_trips_in_kafkas_layout() {
        let directory = tempfile::tempdir().unwrap();
        let file = LeaderEpochCheckpointFile::new(directory.path());
        assert_eq!(file.read().unwrap(), vec![]);
        file.write(&[entry(0, 0), entry(3, 1200)]).unwrap();
        assert_eq!(
            std::fs::read_to_string(directory.path().join(LEADER_EPOCH_CHECKPOINT)).unwrap(),
            "0\n2\n0 0\n3 1200\n"
        );
        assert_eq!(file.read().unwrap(), vec![entry(0, 0), entry(3, 1200)]);
    }
}
