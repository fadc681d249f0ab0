//! The transaction index of a segment: `<20-digit base offset>.txnindex`, Kafka's
//! `TransactionIndex`, the aborted transactions whose ABORT marker is in the segment.
//!
//! ```text
//! <base offset>.txnindex   AbortedTxn entries back to back, in marker order; no header
//!   version             int16   0
//!   producer_id         int64
//!   first_offset        int64   the transaction's first offset in this partition
//!   last_offset         int64   the offset of its ABORT marker
//!   last_stable_offset  int64   the partition's LSO once the marker was written
//! ```
//!
//! 34 bytes an entry, big-endian (Kafka's `AbortedTxn` message with a version prefix), so
//! Kafka's `DumpLogSegments` reads ours. Like Kafka's, the file exists only once a segment
//! has an aborted transaction: it is created by the first ABORT marker appended (or found
//! in recovery), truncated with its segment, deleted with it, and rebuilt from the log when
//! the segment is recovered. A read_committed fetch asks it which aborted transactions
//! overlap the records returned ([`TransactionIndex::collect_aborted_txns`]); a segment
//! without the file costs nothing.

use std::fs;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::segment::SegmentFile;

pub const TXN_INDEX_SUFFIX: &str = ".txnindex";
/// Size of one entry (Kafka's `ABORTED_TXN_RECORD_SIZE`).
pub const ABORTED_TXN_BYTES: usize = 34;
const ABORTED_TXN_VERSION: i16 = 0;
/// Entries read per `pread` when scanning.
const ENTRIES_PER_READ: usize = 64;

/// One aborted transaction (Kafka's `AbortedTxn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
    pub last_stable_offset: i64,
}

impl AbortedTxn {
    pub fn encode(&self) -> [u8; ABORTED_TXN_BYTES] {
        let mut bytes = [0u8; ABORTED_TXN_BYTES];
        bytes[0..2].copy_from_slice(&ABORTED_TXN_VERSION.to_be_bytes());
        bytes[2..10].copy_from_slice(&self.producer_id.to_be_bytes());
        bytes[10..18].copy_from_slice(&self.first_offset.to_be_bytes());
        bytes[18..26].copy_from_slice(&self.last_offset.to_be_bytes());
        bytes[26..34].copy_from_slice(&self.last_stable_offset.to_be_bytes());
        bytes
    }

    /// Parses one entry; a version other than 0 is corrupt (Kafka's check).
    pub fn decode(bytes: &[u8]) -> io::Result<Self> {
        let version = i16::from_be_bytes([bytes[0], bytes[1]]);
        if version != ABORTED_TXN_VERSION {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "unexpected aborted transaction version {version}, supported version range \
                     is 0 to 0"
                ),
            ));
        }
        let long = |at: usize| i64::from_be_bytes(bytes[at..at + 8].try_into().unwrap());
        Ok(Self {
            producer_id: long(2),
            first_offset: long(10),
            last_offset: long(18),
            last_stable_offset: long(26),
        })
    }
}

/// The `.txnindex` of one segment. Reads go through `pread` (the page cache), as Kafka's
/// do through its channel; nothing is cached but the entry count.
#[derive(Debug)]
pub(crate) struct TransactionIndex {
    path: PathBuf,
    start_offset: i64,
    /// Open once the file exists.
    file: Option<Arc<SegmentFile>>,
    /// Whole entries in the file (a torn tail is ignored, as Kafka's iterator does).
    entries: usize,
    /// Last offset of the last entry appended since opening (Kafka's check that they
    /// increase).
    last_offset: Option<i64>,
}

impl TransactionIndex {
    /// The index of the segment at `start_offset`, with no file yet.
    pub fn new(path: PathBuf, start_offset: i64) -> Self {
        Self {
            path,
            start_offset,
            file: None,
            entries: 0,
            last_offset: None,
        }
    }

    /// The index at `path`, opening the file if it exists.
    pub fn open(path: PathBuf, start_offset: i64) -> io::Result<Self> {
        let mut index = Self::new(path, start_offset);
        match SegmentFile::open(&index.path, false) {
            Ok(file) => {
                index.entries = (file.file().metadata()?.len() / ABORTED_TXN_BYTES as u64) as usize;
                index.file = Some(Arc::new(file));
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        Ok(index)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&self) -> Option<&Arc<SegmentFile>> {
        self.file.as_ref()
    }

    pub fn entries(&self) -> usize {
        self.entries
    }

    /// Appends an entry (Kafka's `append`): last offsets must increase. Returns the file
    /// when this append created it (so the caller can have it flushed).
    pub fn append(&mut self, txn: &AbortedTxn) -> io::Result<Option<Arc<SegmentFile>>> {
        if let Some(last) = self.last_offset {
            if last >= txn.last_offset {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "the last offset of appended transactions must increase sequentially, \
                         but {} is not greater than current last offset {last} of index {}",
                        txn.last_offset,
                        self.path.display()
                    ),
                ));
            }
        }
        let created = match &self.file {
            Some(_) => None,
            None => {
                let file = Arc::new(SegmentFile::open(&self.path, true)?);
                self.entries = (file.file().metadata()?.len() / ABORTED_TXN_BYTES as u64) as usize;
                self.file = Some(file.clone());
                Some(file)
            }
        };
        let file = self.file.as_ref().expect("opened above");
        file.file()
            .write_all_at(&txn.encode(), (self.entries * ABORTED_TXN_BYTES) as u64)?;
        self.entries += 1;
        self.last_offset = Some(txn.last_offset);
        Ok(created)
    }

    /// Empties the file if there is one (Kafka's `reset`, before recovery rebuilds it).
    pub fn reset(&mut self) -> io::Result<()> {
        if let Some(file) = &self.file {
            file.set_len(0)?;
        }
        self.entries = 0;
        self.last_offset = None;
        Ok(())
    }

    /// Removes the entries whose last offset is at or above `offset` (Kafka's
    /// `truncateTo`).
    pub fn truncate_to(&mut self, offset: i64) -> io::Result<()> {
        let mut kept = 0usize;
        let mut new_last_offset = None;
        let cut = self.scan(|txn| {
            if txn.last_offset >= offset {
                return false;
            }
            kept += 1;
            new_last_offset = Some(txn.last_offset);
            true
        })?;
        if cut {
            let file = self.file.as_ref().expect("entries come from the file");
            file.set_len((kept * ABORTED_TXN_BYTES) as u64)?;
            self.entries = kept;
            self.last_offset = new_last_offset;
        }
        Ok(())
    }

    /// Kafka's `collectAbortedTxns`: adds to `out` the entries whose transaction overlaps
    /// `[fetch_offset, upper_bound)` (last offset at or above the one, first offset below
    /// the other). Returns whether the search is complete: an entry's last stable offset
    /// reached `upper_bound`, so no later segment can hold a transaction that began below it.
    pub fn collect_aborted_txns(
        &self,
        fetch_offset: i64,
        upper_bound: i64,
        out: &mut Vec<AbortedTxn>,
    ) -> io::Result<bool> {
        let mut complete = false;
        self.scan(|txn| {
            if txn.last_offset >= fetch_offset && txn.first_offset < upper_bound {
                out.push(*txn);
            }
            if txn.last_stable_offset >= upper_bound {
                complete = true;
                return false;
            }
            true
        })?;
        Ok(complete)
    }

    /// Every entry, in order (Kafka's `allAbortedTxns`).
    pub fn all_aborted_txns(&self) -> io::Result<Vec<AbortedTxn>> {
        let mut all = Vec::with_capacity(self.entries);
        self.scan(|txn| {
            all.push(*txn);
            true
        })?;
        Ok(all)
    }

    /// Kafka's `sanityCheck`: no entry may end below the segment's base offset.
    pub fn sanity_check(&self) -> io::Result<()> {
        let start_offset = self.start_offset;
        let mut bad = None;
        self.scan(|txn| {
            if txn.last_offset < start_offset {
                bad = Some(*txn);
                return false;
            }
            true
        })?;
        match bad {
            Some(txn) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "last offset of aborted transaction {txn:?} in index {} is less than start \
                     offset {start_offset}",
                    self.path.display()
                ),
            )),
            None => Ok(()),
        }
    }

    /// Deletes the file (the segment goes).
    pub fn delete(&mut self) -> io::Result<()> {
        self.file = None;
        self.entries = 0;
        self.last_offset = None;
        match fs::remove_file(&self.path) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }

    /// Calls `visit` with each entry in order until it returns `false`; returns whether
    /// it did.
    fn scan(&self, mut visit: impl FnMut(&AbortedTxn) -> bool) -> io::Result<bool> {
        let Some(file) = &self.file else {
            return Ok(false);
        };
        let mut buffer = [0u8; ABORTED_TXN_BYTES * ENTRIES_PER_READ];
        let mut index = 0usize;
        while index < self.entries {
            let count = (self.entries - index).min(ENTRIES_PER_READ);
            let bytes = &mut buffer[..count * ABORTED_TXN_BYTES];
            file.file()
                .read_exact_at(bytes, (index * ABORTED_TXN_BYTES) as u64)?;
            for entry in bytes.chunks_exact(ABORTED_TXN_BYTES) {
                if !visit(&AbortedTxn::decode(entry)?) {
                    return Ok(true);
                }
            }
            index += count;
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(producer_id: i64, first: i64, last: i64, lso: i64) -> AbortedTxn {
        AbortedTxn {
            producer_id,
            first_offset: first,
            last_offset: last,
            last_stable_offset: lso,
        }
    }

    #[test]
    fn entries_are_kafkas_34_bytes() {
        let bytes = txn(0x0102_0304_0506_0708, 10, 20, 11).encode();
        let mut expected = vec![0u8, 0];
        expected.extend_from_slice(&0x0102_0304_0506_0708i64.to_be_bytes());
        expected.extend_from_slice(&10i64.to_be_bytes());
        expected.extend_from_slice(&20i64.to_be_bytes());
        expected.extend_from_slice(&11i64.to_be_bytes());
        assert_eq!(bytes.to_vec(), expected);
        assert_eq!(
            AbortedTxn::decode(&bytes).unwrap(),
            txn(0x0102_0304_0506_0708, 10, 20, 11)
        );
        let mut bad = bytes;
        bad[1] = 1;
        assert!(AbortedTxn::decode(&bad).is_err());
    }

    #[test]
    fn the_file_is_created_by_the_first_entry_and_truncated_by_last_offset() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("00000000000000000000.txnindex");
        let mut index = TransactionIndex::open(path.clone(), 0).unwrap();
        assert!(index.file().is_none());
        assert!(!path.exists());
        index.truncate_to(0).unwrap();
        assert!(index.append(&txn(1, 0, 5, 0)).unwrap().is_some());
        assert!(index.append(&txn(2, 3, 9, 6)).unwrap().is_none());
        assert!(
            index.append(&txn(3, 10, 9, 10)).is_err(),
            "last offsets must increase"
        );
        index.append(&txn(3, 10, 12, 13)).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().len(), 3 * 34);

        let reopened = TransactionIndex::open(path.clone(), 0).unwrap();
        assert_eq!(
            reopened.all_aborted_txns().unwrap(),
            vec![txn(1, 0, 5, 0), txn(2, 3, 9, 6), txn(3, 10, 12, 13)]
        );
        index.truncate_to(9).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().len(), 34);
        assert_eq!(index.all_aborted_txns().unwrap(), vec![txn(1, 0, 5, 0)]);
        index.append(&txn(2, 3, 9, 6)).unwrap();
        index.reset().unwrap();
        assert_eq!(fs::metadata(&path).unwrap().len(), 0);
        index.delete().unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn collecting_stops_at_an_entry_whose_lso_reaches_the_upper_bound() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("00000000000000000100.txnindex");
        let mut index = TransactionIndex::new(path, 100);
        index.append(&txn(1, 100, 110, 100)).unwrap();
        index.append(&txn(2, 105, 120, 111)).unwrap();
        index.append(&txn(3, 121, 130, 131)).unwrap();
        index.append(&txn(4, 140, 150, 151)).unwrap();
        let mut out = Vec::new();
        // From 111: the first ended before it; the second overlaps; the third's LSO (131)
        // reaches 125, so the fourth is not looked at.
        assert!(index.collect_aborted_txns(111, 125, &mut out).unwrap());
        assert_eq!(out, vec![txn(2, 105, 120, 111), txn(3, 121, 130, 131)]);
        out.clear();
        assert!(!index.collect_aborted_txns(0, 1_000, &mut out).unwrap());
        assert_eq!(out.len(), 4);
        out.clear();
        assert!(!index.collect_aborted_txns(151, 160, &mut out).unwrap());
        assert!(out.is_empty());
        index.sanity_check().unwrap();
        let corrupt = TransactionIndex {
            start_offset: 115,
            ..TransactionIndex::open(index.path().to_path_buf(), 115).unwrap()
        };
        assert!(corrupt.sanity_check().is_err());
    }
}
