//! The offset index of a segment: `<20-digit base offset>.index`, Kafka's format.
//!
//! ```text
//! entry (8 bytes, big-endian), entries sorted by offset, both columns increasing:
//!   relative offset  u32  offset - segment base offset (the last offset of a batch)
//!   position         u32  byte position in the .log of the start of that batch
//! ```
//!
//! The index is sparse: one entry every `index.interval.bytes` of log. A lookup finds the
//! largest entry at or below the target, and the reader scans batch headers forward from
//! its position. The active segment's index file is preallocated to `segment.index.bytes`
//! (zeros past the last entry) and trimmed to its entries when the segment is closed, so a
//! closed index's length is always `entries * 8`.
//!
//! Like Kafka's, the index carries no checksum: it is derived data. After an unclean stop
//! the indexes of every segment past the recovery point are rebuilt from the log, and a
//! missing or implausible index of any segment is rebuilt too (see [`sanity_check`]).

use std::fmt;

/// Bytes per entry.
pub const ENTRY_BYTES: usize = 8;

/// One index entry, with the offset made absolute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetPosition {
    pub offset: i64,
    pub position: u32,
}

/// Why an index file cannot be trusted; the caller rebuilds it from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorruptIndex(pub String);

impl fmt::Display for CorruptIndex {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "corrupt index: {}", self.0)
    }
}

impl std::error::Error for CorruptIndex {}

/// A read-only view over the valid entries of an offset index.
#[derive(Debug, Clone, Copy)]
pub struct OffsetIndexView<'a> {
    entries: &'a [u8],
    base_offset: i64,
}

impl<'a> OffsetIndexView<'a> {
    /// `bytes` may be longer than the entries (a preallocated file); only the first
    /// `entry_count` entries are seen.
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

    pub fn entry(&self, slot: usize) -> OffsetPosition {
        let at = slot * ENTRY_BYTES;
        let relative = u32::from_be_bytes(self.entries[at..at + 4].try_into().unwrap());
        let position = u32::from_be_bytes(self.entries[at + 4..at + 8].try_into().unwrap());
        OffsetPosition {
            offset: self.base_offset + i64::from(relative),
            position,
        }
    }

    pub fn last(&self) -> Option<OffsetPosition> {
        (!self.is_empty()).then(|| self.entry(self.len() - 1))
    }

    /// The largest entry whose offset is at most `target`, or `(base offset, 0)` when there
    /// is none (target below the first entry, or an empty index): scanning from the start
    /// of the segment is always correct.
    pub fn lookup(&self, target: i64) -> OffsetPosition {
        match self.floor_slot(|entry| entry.offset <= target) {
            Some(slot) => self.entry(slot),
            None => OffsetPosition {
                offset: self.base_offset,
                position: 0,
            },
        }
    }

    /// The largest entry whose position is at most `position`, if any.
    pub fn lookup_by_position(&self, position: u32) -> Option<OffsetPosition> {
        self.floor_slot(|entry| entry.position <= position)
            .map(|slot| self.entry(slot))
    }

    /// How many entries remain after removing those for offsets at or above `offset`
    /// (Kafka's `truncateTo`).
    pub fn entries_below(&self, offset: i64) -> usize {
        match self.floor_slot(|entry| entry.offset <= offset) {
            None => 0,
            Some(slot) if self.entry(slot).offset == offset => slot,
            Some(slot) => slot + 1,
        }
    }

    /// Binary search for the last slot where `at_or_below` holds; it must hold for a prefix.
    fn floor_slot(&self, at_or_below: impl Fn(OffsetPosition) -> bool) -> Option<usize> {
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

/// Writes entry `slot`. The caller keeps entries increasing and inside the file.
pub fn write_entry(bytes: &mut [u8], slot: usize, base_offset: i64, entry: OffsetPosition) {
    let relative = relative_offset(base_offset, entry.offset).expect("offset fits the index");
    let at = slot * ENTRY_BYTES;
    bytes[at..at + 4].copy_from_slice(&relative.to_be_bytes());
    bytes[at + 4..at + 8].copy_from_slice(&entry.position.to_be_bytes());
}

/// `offset - base_offset` if it fits a relative offset (Kafka: a non-negative int).
pub fn relative_offset(base_offset: i64, offset: i64) -> Option<u32> {
    let relative = offset.checked_sub(base_offset)?;
    (0..=i64::from(i32::MAX))
        .contains(&relative)
        .then_some(relative as u32)
}

/// Kafka's `OffsetIndex.sanityCheck`, plus checks that cost nothing more: the file holds
/// whole entries, and the last entry lies inside the segment's offsets and log bytes.
pub fn sanity_check(
    file_bytes: u64,
    view: &OffsetIndexView<'_>,
    log_bytes: u64,
    next_segment_base_offset: Option<i64>,
) -> Result<(), CorruptIndex> {
    if !file_bytes.is_multiple_of(ENTRY_BYTES as u64) {
        return Err(CorruptIndex(format!(
            "offset index length {file_bytes} is not a multiple of {ENTRY_BYTES}"
        )));
    }
    let Some(last) = view.last() else {
        return Ok(());
    };
    let first = view.entry(0);
    if first.offset > last.offset || first.position > last.position {
        return Err(CorruptIndex(format!(
            "offset index entries decrease: first {first:?}, last {last:?}"
        )));
    }
    if u64::from(last.position) >= log_bytes.max(1) && last.position != 0 {
        return Err(CorruptIndex(format!(
            "offset index points at position {} of a {log_bytes}-byte log",
            last.position
        )));
    }
    if next_segment_base_offset.is_some_and(|next| last.offset >= next) {
        return Err(CorruptIndex(format!(
            "offset index entry {} is not below the next segment",
            last.offset
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: i64 = 1000;

    fn index_of(entries: &[(i64, u32)]) -> Vec<u8> {
        let mut bytes = vec![0u8; (entries.len() + 4) * ENTRY_BYTES];
        for (slot, &(offset, position)) in entries.iter().enumerate() {
            write_entry(&mut bytes, slot, BASE, OffsetPosition { offset, position });
        }
        bytes
    }

    fn at(offset: i64, position: u32) -> OffsetPosition {
        OffsetPosition { offset, position }
    }

    #[test]
    fn entries_are_big_endian_relative_offset_then_position() {
        let bytes = index_of(&[(BASE + 0x0102_0304, 0x0506_0708)]);
        assert_eq!(&bytes[..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn lookup_in_an_empty_index_starts_at_the_segment_start() {
        let bytes = index_of(&[]);
        let view = OffsetIndexView::new(&bytes, 0, BASE);
        assert_eq!(view.lookup(BASE), at(BASE, 0));
        assert_eq!(view.lookup(BASE + 1_000_000), at(BASE, 0));
        assert_eq!(view.last(), None);
    }

    #[test]
    fn lookup_extreme_cases() {
        let bytes = index_of(&[(BASE + 10, 100), (BASE + 20, 200), (BASE + 30, 300)]);
        let view = OffsetIndexView::new(&bytes, 3, BASE);
        // below the first entry
        assert_eq!(view.lookup(BASE), at(BASE, 0));
        assert_eq!(view.lookup(BASE + 9), at(BASE, 0));
        assert_eq!(view.lookup(BASE - 5), at(BASE, 0));
        // exactly on an entry
        assert_eq!(view.lookup(BASE + 10), at(BASE + 10, 100));
        assert_eq!(view.lookup(BASE + 20), at(BASE + 20, 200));
        // between entries
        assert_eq!(view.lookup(BASE + 29), at(BASE + 20, 200));
        // above the last entry
        assert_eq!(view.lookup(BASE + 30), at(BASE + 30, 300));
        assert_eq!(view.lookup(i64::MAX), at(BASE + 30, 300));
    }

    #[test]
    fn zeros_past_the_entries_are_not_seen() {
        let bytes = index_of(&[(BASE + 10, 100)]);
        let view = OffsetIndexView::new(&bytes, 1, BASE);
        assert_eq!(view.len(), 1);
        assert_eq!(view.lookup(BASE + 5), at(BASE, 0));
    }

    #[test]
    fn lookup_by_position_finds_the_floor_entry() {
        let bytes = index_of(&[(BASE + 10, 100), (BASE + 20, 200)]);
        let view = OffsetIndexView::new(&bytes, 2, BASE);
        assert_eq!(view.lookup_by_position(99), None);
        assert_eq!(view.lookup_by_position(100), Some(at(BASE + 10, 100)));
        assert_eq!(view.lookup_by_position(199), Some(at(BASE + 10, 100)));
        assert_eq!(view.lookup_by_position(5000), Some(at(BASE + 20, 200)));
    }

    #[test]
    fn truncation_drops_entries_at_and_above_the_offset() {
        let bytes = index_of(&[(BASE + 10, 100), (BASE + 20, 200), (BASE + 30, 300)]);
        let view = OffsetIndexView::new(&bytes, 3, BASE);
        assert_eq!(view.entries_below(BASE), 0);
        assert_eq!(view.entries_below(BASE + 10), 0);
        assert_eq!(view.entries_below(BASE + 11), 1);
        assert_eq!(view.entries_below(BASE + 20), 1);
        assert_eq!(view.entries_below(BASE + 30), 2);
        assert_eq!(view.entries_below(BASE + 31), 3);
    }

    #[test]
    fn relative_offsets_must_fit_a_non_negative_int() {
        assert_eq!(relative_offset(BASE, BASE), Some(0));
        assert_eq!(relative_offset(BASE, BASE - 1), None);
        assert_eq!(
            relative_offset(BASE, BASE + i64::from(i32::MAX)),
            Some(i32::MAX as u32)
        );
        assert_eq!(relative_offset(BASE, BASE + i64::from(i32::MAX) + 1), None);
    }

    #[test]
    fn sanity_check_rejects_implausible_indexes() {
        let bytes = index_of(&[(BASE + 10, 100), (BASE + 20, 200)]);
        let view = OffsetIndexView::new(&bytes, 2, BASE);
        assert!(sanity_check(16, &view, 1000, Some(BASE + 100)).is_ok());
        assert!(sanity_check(17, &view, 1000, None).is_err());
        assert!(sanity_check(16, &view, 150, None).is_err());
        assert!(sanity_check(16, &view, 1000, Some(BASE + 20)).is_err());
        // A preallocated index read back whole: its zero entries go backwards.
        let view = OffsetIndexView::new(&bytes, 4, BASE);
        assert!(sanity_check(32, &view, 1000, None).is_err());
    }
}
