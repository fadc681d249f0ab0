//! The time index of a segment: `<20-digit base offset>.timeindex`, Kafka's format.
//!
//! ```text
//! entry (12 bytes, big-endian), both columns non-decreasing, timestamps increasing:
//!   timestamp        i64  the largest batch max timestamp seen so far in the segment
//!   relative offset  u32  offset - base offset of the batch that carried it (its last offset)
//! ```
//!
//! Kafka's rule for adding entries: whenever an offset index entry is added, the segment's
//! largest timestamp so far is appended if it grew since the last entry; and when the
//! segment is closed the final largest timestamp is appended, so a closed segment's last
//! entry is its largest timestamp (retention by time reads it). One slot is kept free for
//! that final entry: the index counts as full one entry early.
//!
//! Preallocated to `segment.index.bytes` while active and trimmed when closed, like the
//! offset index; no checksum, rebuilt from the log when in doubt.

use crate::offset_index::{relative_offset, CorruptIndex};

/// Bytes per entry.
pub const ENTRY_BYTES: usize = 12;

/// Kafka's `RecordBatch.NO_TIMESTAMP`.
pub const NO_TIMESTAMP: i64 = -1;

/// One index entry, with the offset made absolute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampOffset {
    pub timestamp: i64,
    pub offset: i64,
}

/// A read-only view over the valid entries of a time index.
#[derive(Debug, Clone, Copy)]
pub struct TimeIndexView<'a> {
    entries: &'a [u8],
    base_offset: i64,
}

impl<'a> TimeIndexView<'a> {
    pub fn new(bytes: &'a [u8], entry_count: usize, base_offset: i64) -> Self {
        Self {
            entries: &bytes[..entry_count * ENTRY_BYTES],
            base_offset,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len() / ENTRY_BYTES
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entry(&self, slot: usize) -> TimestampOffset {
        let at = slot * ENTRY_BYTES;
        let timestamp = i64::from_be_bytes(self.entries[at..at + 8].try_into().unwrap());
        let relative = u32::from_be_bytes(self.entries[at + 8..at + 12].try_into().unwrap());
        TimestampOffset {
            timestamp,
            offset: self.base_offset + i64::from(relative),
        }
    }

    /// The last entry, or `(NO_TIMESTAMP, base offset)` for an empty index (Kafka's
    /// `lastEntry`).
    pub fn last_entry(&self) -> TimestampOffset {
        if self.is_empty() {
            TimestampOffset {
                timestamp: NO_TIMESTAMP,
                offset: self.base_offset,
            }
        } else {
            self.entry(self.len() - 1)
        }
    }

    /// The entry with the largest timestamp at most `target`, or `(NO_TIMESTAMP, base
    /// offset)` when there is none: a search from the segment start is always correct.
    pub fn lookup(&self, target: i64) -> TimestampOffset {
        match self.floor_slot(|entry| entry.timestamp <= target) {
            Some(slot) => self.entry(slot),
            None => TimestampOffset {
                timestamp: NO_TIMESTAMP,
                offset: self.base_offset,
            },
        }
    }

    /// How many entries remain after removing those for offsets at or above `offset`.
    pub fn entries_below(&self, offset: i64) -> usize {
        match self.floor_slot(|entry| entry.offset <= offset) {
            None => 0,
            Some(slot) if self.entry(slot).offset == offset => slot,
            Some(slot) => slot + 1,
        }
    }

    fn floor_slot(&self, at_or_below: impl Fn(TimestampOffset) -> bool) -> Option<usize> {
        let (mut low, mut high) = (0usize, self.len());
        while low < high {
            let middle = low + (high - low) / 2;
            if at_or_below(self.entry(middle)) {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low.checked_sub(1)
    }
}

/// Whether Kafka's `maybeAppend` would add `(timestamp, offset)` after `last`: only a
/// strictly larger timestamp is worth an entry.
pub fn should_append(last: TimestampOffset, timestamp: i64) -> bool {
    timestamp > last.timestamp
}

/// Writes entry `slot`. The caller keeps entries increasing and inside the file.
pub fn write_entry(bytes: &mut [u8], slot: usize, base_offset: i64, entry: TimestampOffset) {
    let relative = relative_offset(base_offset, entry.offset).expect("offset fits the index");
    let at = slot * ENTRY_BYTES;
    bytes[at..at + 8].copy_from_slice(&entry.timestamp.to_be_bytes());
    bytes[at + 8..at + 12].copy_from_slice(&relative.to_be_bytes());
}

/// Kafka's `TimeIndex.sanityCheck` plus the cheap bounds checks of the offset index.
pub fn sanity_check(
    file_bytes: u64,
    view: &TimeIndexView<'_>,
    next_segment_base_offset: Option<i64>,
) -> Result<(), CorruptIndex> {
    if !file_bytes.is_multiple_of(ENTRY_BYTES as u64) {
        return Err(CorruptIndex(format!(
            "time index length {file_bytes} is not a multiple of {ENTRY_BYTES}"
        )));
    }
    if view.is_empty() {
        return Ok(());
    }
    let (first, last) = (view.entry(0), view.last_entry());
    if last.timestamp < first.timestamp || last.offset < first.offset {
        return Err(CorruptIndex(format!(
            "time index entries decrease: first {first:?}, last {last:?}"
        )));
    }
    if next_segment_base_offset.is_some_and(|next| last.offset >= next) {
        return Err(CorruptIndex(format!(
            "time index entry {} is not below the next segment",
            last.offset
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: i64 = 500;

    fn index_of(entries: &[(i64, i64)]) -> Vec<u8> {
        let mut bytes = vec![0u8; (entries.len() + 2) * ENTRY_BYTES];
        for (slot, &(timestamp, offset)) in entries.iter().enumerate() {
            write_entry(
                &mut bytes,
                slot,
                BASE,
                TimestampOffset { timestamp, offset },
            );
        }
        bytes
    }

    fn entry(timestamp: i64, offset: i64) -> TimestampOffset {
        TimestampOffset { timestamp, offset }
    }

    #[test]
    fn entries_are_big_endian_timestamp_then_relative_offset() {
        let bytes = index_of(&[(0x0102_0304_0506_0708, BASE + 0x090A_0B0C)]);
        assert_eq!(&bytes[..12], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    }

    #[test]
    fn lookup_extreme_cases() {
        let bytes = index_of(&[(100, BASE + 1), (200, BASE + 5), (300, BASE + 9)]);
        let view = TimeIndexView::new(&bytes, 3, BASE);
        assert_eq!(view.lookup(99), entry(NO_TIMESTAMP, BASE));
        assert_eq!(view.lookup(100), entry(100, BASE + 1));
        assert_eq!(view.lookup(250), entry(200, BASE + 5));
        assert_eq!(view.lookup(300), entry(300, BASE + 9));
        assert_eq!(view.lookup(i64::MAX), entry(300, BASE + 9));
        assert_eq!(view.last_entry(), entry(300, BASE + 9));
    }

    #[test]
    fn an_empty_index_has_no_timestamp_at_the_base_offset() {
        let bytes = index_of(&[]);
        let view = TimeIndexView::new(&bytes, 0, BASE);
        assert_eq!(view.last_entry(), entry(NO_TIMESTAMP, BASE));
        assert_eq!(view.lookup(1_000), entry(NO_TIMESTAMP, BASE));
    }

    #[test]
    fn only_a_larger_timestamp_is_appended() {
        let last = entry(200, BASE + 5);
        assert!(!should_append(last, 199));
        assert!(!should_append(last, 200));
        assert!(should_append(last, 201));
        assert!(!should_append(entry(NO_TIMESTAMP, BASE), NO_TIMESTAMP));
    }

    #[test]
    fn truncation_drops_entries_at_and_above_the_offset() {
        let bytes = index_of(&[(100, BASE + 1), (200, BASE + 5), (300, BASE + 9)]);
        let view = TimeIndexView::new(&bytes, 3, BASE);
        assert_eq!(view.entries_below(BASE + 1), 0);
        assert_eq!(view.entries_below(BASE + 2), 1);
        assert_eq!(view.entries_below(BASE + 9), 2);
        assert_eq!(view.entries_below(BASE + 10), 3);
    }

    #[test]
    fn sanity_check_rejects_a_preallocated_index_read_whole() {
        let bytes = index_of(&[(100, BASE + 1), (200, BASE + 5)]);
        assert!(sanity_check(24, &TimeIndexView::new(&bytes, 2, BASE), None).is_ok());
        assert!(sanity_check(25, &TimeIndexView::new(&bytes, 2, BASE), None).is_err());
        assert!(sanity_check(48, &TimeIndexView::new(&bytes, 4, BASE), None).is_err());
        assert!(sanity_check(24, &TimeIndexView::new(&bytes, 2, BASE), Some(BASE + 5)).is_err());
    }
}
