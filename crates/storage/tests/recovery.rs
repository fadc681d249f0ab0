//! Opening a log after clean and unclean stops: what is trusted, what is scanned, what is cut.

mod common;

use std::fs::{self, OpenOptions as FileOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

use common::*;
use sluice_storage::config::LogConfig;

fn segment_path(directory: &Path, base: i64, suffix: &str) -> std::path::PathBuf {
    directory.join(format!("{base:020}{suffix}"))
}

/// A log of `batches` batches, left as a crash would leave it (dropped, not closed).
fn crashed_log(directory: &Path, config: LogConfig, batches: usize) -> Vec<u8> {
    let mut log = fresh(directory, config);
    for index in 0..batches {
        append(&mut log, &batch_of(2, 50, NOW_MS + index as i64));
    }
    let bytes = log.read(0, u32::MAX, None).unwrap().to_vec().unwrap();
    drop(log);
    bytes
}

#[test]
fn a_clean_reopen_preserves_everything_and_scans_nothing() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    for index in 0..100 {
        append(&mut log, &batch_of(2, 500, NOW_MS + index));
    }
    let bases = log.segment_base_offsets();
    let before: Vec<Vec<u8>> = bases
        .iter()
        .map(|&base| log.read(base, u32::MAX, None).unwrap().to_vec().unwrap())
        .collect();
    let counts: Vec<_> = bases
        .iter()
        .map(|&base| log.index_entry_counts(base))
        .collect();
    let offsets = log.close().unwrap();
    assert_eq!(offsets.recovery_point, 200);
    // Closed files are trimmed: a log is whole batches, indexes whole entries.
    let last = *bases.last().unwrap();
    let log_bytes = fs::metadata(segment_path(directory.path(), last, ".log"))
        .unwrap()
        .len();
    assert!(log_bytes > 0 && log_bytes < 64 * 1024);
    assert_eq!(
        fs::metadata(segment_path(directory.path(), last, ".index"))
            .unwrap()
            .len()
            % 8,
        0
    );
    assert_eq!(
        fs::metadata(segment_path(directory.path(), last, ".timeindex"))
            .unwrap()
            .len()
            % 12,
        0
    );

    let (log, report) = open(directory.path(), small_config(), clean(200, 0));
    assert_eq!(report.recovered_segments, 0);
    assert_eq!(report.rebuilt_indexes, 0);
    assert_eq!(log.log_end_offset(), 200);
    assert_eq!(log.recovery_point(), 200);
    assert_eq!(log.segment_base_offsets(), bases);
    for (index, &base) in bases.iter().enumerate() {
        assert_eq!(
            log.read(base, u32::MAX, None).unwrap().to_vec().unwrap(),
            before[index]
        );
        assert_eq!(log.index_entry_counts(base), counts[index]);
    }
}

#[test]
fn an_unclean_reopen_rebuilds_the_same_indexes() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    for index in 0..100 {
        append(&mut log, &batch_of(2, 500, NOW_MS + index));
    }
    let bases = log.segment_base_offsets();
    let last = *bases.last().unwrap();
    let active_counts = log.index_entry_counts(last);
    drop(log); // crash: no trim, no checkpoint
    let (log, report) = open(directory.path(), small_config(), unclean(0));
    assert_eq!(report.recovered_segments, bases.len());
    assert_eq!(log.log_end_offset(), 200);
    let (offset_entries, _) = log.index_entry_counts(last).unwrap();
    assert_eq!(offset_entries, active_counts.unwrap().0);
}

#[test]
fn preallocated_zeros_at_the_tail_are_truncated() {
    let directory = tempfile::tempdir().unwrap();
    crashed_log(directory.path(), small_config(), 10);
    let path = segment_path(directory.path(), 0, ".log");
    let length = fs::metadata(&path).unwrap().len();
    assert!(
        length >= 16 * 1024,
        "the active segment is reserved ahead: {length}"
    );
    let (log, report) = open(directory.path(), small_config(), unclean(0));
    assert_eq!(log.log_end_offset(), 20);
    assert!(report.truncated_bytes > 0);
    drop(log);
}

#[test]
fn a_torn_tail_at_every_byte_of_the_last_batch_recovers_to_the_previous_batch() {
    let source = tempfile::tempdir().unwrap();
    let bytes = crashed_log(source.path(), small_config(), 4);
    let batches = batch_offsets(&bytes);
    let last_start = bytes.len() - (bytes.len() / batches.len());
    for cut in last_start..bytes.len() {
        let directory = tempfile::tempdir().unwrap();
        fs::write(segment_path(directory.path(), 0, ".log"), &bytes[..cut]).unwrap();
        let (log, report) = open(directory.path(), small_config(), unclean(0));
        assert_eq!(log.log_end_offset(), 6, "cut at byte {cut}");
        assert_eq!(report.truncated_bytes, (cut - last_start) as u64);
        let read = log.read(0, u32::MAX, None).unwrap().to_vec().unwrap();
        assert_eq!(read, bytes[..last_start].to_vec());
    }
}

#[test]
fn a_crc_mismatch_is_cut_and_later_segments_are_dropped() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    for index in 0..100 {
        append(&mut log, &batch_of(2, 1000, NOW_MS + index));
    }
    let bases = log.segment_base_offsets();
    log.close().unwrap();
    // Flip one byte in the records of the third batch of the second segment.
    let path = segment_path(directory.path(), bases[1], ".log");
    let file = FileOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let batch_bytes = batch_of(2, 1000, 0).len() as u64;
    let position = batch_bytes * 2 + 100;
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, position).unwrap();
    file.write_all_at(&[byte[0] ^ 0xFF], position).unwrap();
    // Unclean, recovery point in the first segment: the second is scanned.
    let (log, report) = open(directory.path(), small_config(), unclean(bases[0] + 1));
    assert_eq!(log.log_end_offset(), bases[1] + 4);
    assert_eq!(log.segment_base_offsets(), bases[..2].to_vec());
    assert!(report.deleted_segments >= 1);
    assert!(report.truncated_bytes > 0);
    let kept = log
        .read(bases[1], u32::MAX, None)
        .unwrap()
        .to_vec()
        .unwrap();
    assert_eq!(kept.len() as u64, batch_bytes * 2);
}

#[test]
fn a_missing_or_corrupt_index_is_rebuilt() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    for index in 0..60 {
        append(&mut log, &batch_of(2, 1000, NOW_MS + index));
    }
    let bases = log.segment_base_offsets();
    let counts = log.index_entry_counts(bases[0]);
    log.close().unwrap();
    fs::remove_file(segment_path(directory.path(), bases[0], ".index")).unwrap();
    fs::write(
        segment_path(directory.path(), bases[1], ".timeindex"),
        [0u8; 13],
    )
    .unwrap();
    let (log, report) = open(directory.path(), small_config(), clean(120, 0));
    assert_eq!(report.rebuilt_indexes, 2);
    assert_eq!(log.index_entry_counts(bases[0]), counts);
    for offset in [0, 7, bases[1], bases[1] + 3] {
        let read = log.read(offset, 1, None).unwrap();
        assert!(read.first_batch_offset <= offset && offset < read.next_offset);
    }
}

#[test]
fn leftovers_of_an_earlier_run_are_removed() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    append(&mut log, &batch_of(1, 10, NOW_MS));
    log.close().unwrap();
    for name in [
        "00000000000000000000.log.deleted",
        "next-segment.log.tmp",
        "00000000000000000099.index",
    ] {
        fs::write(directory.path().join(name), b"x").unwrap();
    }
    let (log, _) = open(directory.path(), small_config(), clean(1, 0));
    assert_eq!(log.log_end_offset(), 1);
    for name in [
        "00000000000000000000.log.deleted",
        "next-segment.log.tmp",
        "00000000000000000099.index",
    ] {
        assert!(!directory.path().join(name).exists(), "{name}");
    }
}
