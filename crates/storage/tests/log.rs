//! Behaviour of the partition log: append, read, roll, lookups, truncation, retention.

mod common;

use std::fs;

use common::*;
use sluice_storage::config::{LogConfig, TimestampType};
use sluice_storage::log::{AppendOptions, LogError, OffsetSpec, TimestampAndOffset};
use sluice_storage::record_batch::validate_record_batch_crc;

#[test]
fn appends_assign_consecutive_offsets_in_place() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    let first = append(&mut log, &batch_of(3, 10, NOW_MS));
    let second = append(&mut log, &batch_of(2, 10, NOW_MS));
    assert_eq!((first.base_offset, first.last_offset), (0, 2));
    assert_eq!((second.base_offset, second.last_offset), (3, 4));
    assert_eq!(first.log_append_time_ms, -1);
    assert_eq!(log.log_end_offset(), 5);
    let read = log.read(0, 1 << 20, None).unwrap();
    let bytes = read.to_vec().unwrap();
    assert_eq!(batch_offsets(&bytes), vec![(0, 2), (3, 4)]);
    assert_eq!(read.next_offset, 5);
}

#[test]
fn several_batches_in_one_append_land_together() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    let mut bytes = batch_of(2, 5, NOW_MS);
    bytes.extend(batch_of(4, 5, NOW_MS));
    bytes.extend(batch_of(1, 5, NOW_MS));
    let info = log
        .append(&mut bytes, &AppendOptions::leader(NOW_MS, 3))
        .unwrap();
    assert_eq!((info.base_offset, info.last_offset), (0, 6));
    let stored = log.read(0, 1 << 20, None).unwrap().to_vec().unwrap();
    assert_eq!(stored, bytes, "bytes as appended, offsets written in place");
    assert_eq!(batch_offsets(&stored), vec![(0, 1), (2, 5), (6, 6)]);
    // A bad batch anywhere rejects the whole append and changes nothing.
    let mut bad = batch_of(1, 5, NOW_MS);
    bad.extend_from_slice(&[0u8; 20]);
    assert!(matches!(
        log.append(&mut bad, &AppendOptions::leader(NOW_MS, 3)),
        Err(LogError::InvalidBatch(_))
    ));
    assert_eq!(log.log_end_offset(), 7);
}

#[test]
fn log_append_time_stamps_the_batch_and_recomputes_its_crc() {
    let directory = tempfile::tempdir().unwrap();
    let config = LogConfig {
        message_timestamp_type: TimestampType::LogAppendTime,
        ..small_config()
    };
    let mut log = fresh(directory.path(), config);
    let mut bytes = batch_of(2, 10, 5);
    let info = log
        .append(&mut bytes, &AppendOptions::leader(NOW_MS + 7, 0))
        .unwrap();
    assert_eq!(info.log_append_time_ms, NOW_MS + 7);
    let stored = log.read(0, 1 << 20, None).unwrap().to_vec().unwrap();
    assert_eq!(i16::from_be_bytes([stored[21], stored[22]]) & 0x08, 0x08);
    assert_eq!(
        i64::from_be_bytes(stored[35..43].try_into().unwrap()),
        NOW_MS + 7
    );
    validate_record_batch_crc(&stored).unwrap();
}

#[test]
fn replica_appends_keep_the_leaders_offsets_and_never_go_back() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    let mut bytes = batch_of(3, 10, NOW_MS);
    bytes[..8].copy_from_slice(&0i64.to_be_bytes());
    log.append(&mut bytes, &AppendOptions::replica(NOW_MS))
        .unwrap();
    let mut gap = batch_of(1, 10, NOW_MS);
    gap[..8].copy_from_slice(&10i64.to_be_bytes());
    let info = log
        .append(&mut gap, &AppendOptions::replica(NOW_MS))
        .unwrap();
    assert_eq!((info.base_offset, info.last_offset), (10, 10));
    assert_eq!(log.log_end_offset(), 11);
    let mut behind = batch_of(1, 10, NOW_MS);
    behind[..8].copy_from_slice(&5i64.to_be_bytes());
    assert!(matches!(
        log.append(&mut behind, &AppendOptions::replica(NOW_MS)),
        Err(LogError::UnexpectedAppendOffset { .. })
    ));
}

#[test]
fn read_returns_whole_batches_within_max_bytes_and_always_the_first() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    let one = batch_of(1, 100, NOW_MS);
    for _ in 0..10 {
        append(&mut log, &one);
    }
    let size = one.len() as u32;
    let read = log.read(0, size * 3 + size / 2, None).unwrap();
    assert_eq!(batch_offsets(&read.to_vec().unwrap()).len(), 3);
    assert_eq!(read.next_offset, 3);
    // max_bytes smaller than the first batch still returns that batch, whole.
    let read = log.read(4, 1, None).unwrap();
    assert_eq!(batch_offsets(&read.to_vec().unwrap()), vec![(4, 4)]);
    let read = log.read(4, 0, None).unwrap();
    assert_eq!(batch_offsets(&read.to_vec().unwrap()), vec![(4, 4)]);
}

#[test]
fn reading_from_the_middle_of_a_batch_returns_that_whole_batch() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    append(&mut log, &batch_of(5, 10, NOW_MS));
    append(&mut log, &batch_of(5, 10, NOW_MS));
    let read = log.read(7, 1 << 20, None).unwrap();
    assert_eq!(read.first_batch_offset, 5);
    assert_eq!(batch_offsets(&read.to_vec().unwrap()), vec![(5, 9)]);
}

#[test]
fn reads_stop_below_the_upper_bound_and_at_the_log_end() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    for _ in 0..4 {
        append(&mut log, &batch_of(2, 10, NOW_MS));
    }
    let read = log.read(0, 1 << 20, Some(4)).unwrap();
    assert_eq!(batch_offsets(&read.to_vec().unwrap()), vec![(0, 1), (2, 3)]);
    assert!(log.read(4, 1 << 20, Some(4)).unwrap().slice.is_none());
    assert!(log.read(8, 1 << 20, None).unwrap().slice.is_none());
}

#[test]
fn offsets_outside_the_log_are_a_typed_error() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    append(&mut log, &batch_of(2, 10, NOW_MS));
    for offset in [-1, 3, 100] {
        assert!(matches!(
            log.read(offset, 100, None),
            Err(LogError::OffsetOutOfRange {
                log_start_offset: 0,
                log_end_offset: 2,
                ..
            })
        ));
    }
}

#[test]
fn segments_roll_by_size_and_reads_cross_them() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    let one = batch_of(4, 1000, NOW_MS); // ~4 KB
    for _ in 0..40 {
        append(&mut log, &one);
    }
    let bases = log.segment_base_offsets();
    assert!(bases.len() >= 3, "{bases:?}");
    for pair in bases.windows(2) {
        assert!(pair[0] < pair[1]);
    }
    for &base in &bases[..bases.len() - 1] {
        let path = directory.path().join(format!("{base:020}.log"));
        let length = fs::metadata(&path).unwrap().len();
        assert!(
            length <= 64 * 1024,
            "closed segment trimmed and within segment.bytes"
        );
        assert_eq!(length % one.len() as u64, 0);
    }
    // Every offset reads back, from whichever segment holds it.
    let mut offset = 0;
    while offset < log.log_end_offset() {
        let read = log.read(offset, 1 << 20, None).unwrap();
        let batches = batch_offsets(&read.to_vec().unwrap());
        assert_eq!(batches[0].0, offset);
        offset = read.next_offset;
    }
    assert_eq!(offset, 160);
}

#[test]
fn segments_roll_by_time_from_the_first_batch_timestamp() {
    let directory = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_ms: 1000,
        ..small_config()
    };
    let mut log = fresh(directory.path(), config);
    append(&mut log, &batch_of(1, 10, NOW_MS));
    append(&mut log, &batch_of(1, 10, NOW_MS + 1000));
    assert_eq!(log.segment_count(), 1);
    append(&mut log, &batch_of(1, 10, NOW_MS + 1001));
    assert_eq!(log.segment_base_offsets(), vec![0, 2]);
}

#[test]
fn a_full_index_rolls_the_segment() {
    let directory = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_index_bytes: 64, // 8 offset entries, 5 time entries
        index_interval_bytes: 1,
        segment_bytes: 1 << 20,
        ..small_config()
    };
    let mut log = fresh(directory.path(), config);
    for index in 0..30 {
        append(&mut log, &batch_of(1, 10, NOW_MS + index));
    }
    assert!(log.segment_count() > 1);
    for base in log.segment_base_offsets() {
        let (offset_entries, time_entries) = log.index_entry_counts(base).unwrap();
        assert!(offset_entries <= 8 && time_entries <= 5);
    }
    for offset in 0..30 {
        let read = log.read(offset, 1, None).unwrap();
        assert_eq!(
            batch_offsets(&read.to_vec().unwrap()),
            vec![(offset, offset)]
        );
    }
}

#[test]
fn a_read_takes_every_whole_batch_up_to_max_bytes_past_indexed_positions() {
    let directory = tempfile::tempdir().unwrap();
    let config = LogConfig {
        index_interval_bytes: 4096,
        segment_bytes: 1 << 24,
        ..small_config()
    };
    let mut log = fresh(directory.path(), config);
    let one = batch_of(10, 200, NOW_MS);
    for _ in 0..200 {
        append(&mut log, &one);
    }
    let batch_size = one.len() as u32;
    for (offset, max_bytes) in [
        (0, 1 << 20),
        (0, batch_size * 37 + 5),
        (500, batch_size * 50),
        (1990, 1 << 20),
        (7, 1),
    ] {
        let read = log.read(offset, max_bytes, None).unwrap();
        let batches = batch_offsets(&read.to_vec().unwrap());
        let first = offset / 10 * 10;
        let fitting = (max_bytes / batch_size).max(1) as i64;
        let expected: Vec<(i64, i64)> = (0..fitting.min((2000 - first) / 10))
            .map(|index| (first + index * 10, first + index * 10 + 9))
            .collect();
        assert_eq!(batches, expected, "read({offset}, {max_bytes})");
        assert_eq!(read.next_offset, expected.last().unwrap().1 + 1);
    }
}

#[test]
fn timestamp_lookups_follow_list_offsets() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    // offsets 0-1 at t=100,110; 2-3 at t=300,200; 4 at t=250
    append(&mut log, &batch(&[(100, vec![1]), (110, vec![2])]));
    append(&mut log, &batch(&[(300, vec![3]), (200, vec![4])]));
    append(&mut log, &batch(&[(250, vec![5])]));
    let at = |timestamp, offset| {
        Some(TimestampAndOffset {
            timestamp,
            offset,
            leader_epoch: Some(0),
        })
    };
    assert_eq!(
        log.offset_for(OffsetSpec::Timestamp(0)).unwrap(),
        at(100, 0)
    );
    assert_eq!(
        log.offset_for(OffsetSpec::Timestamp(105)).unwrap(),
        at(110, 1)
    );
    assert_eq!(
        log.offset_for(OffsetSpec::Timestamp(150)).unwrap(),
        at(300, 2)
    );
    assert_eq!(
        log.offset_for(OffsetSpec::Timestamp(300)).unwrap(),
        at(300, 2)
    );
    assert_eq!(log.offset_for(OffsetSpec::Timestamp(301)).unwrap(), None);
    assert_eq!(
        log.offset_for(OffsetSpec::MaxTimestamp).unwrap(),
        at(300, 2)
    );
    let earliest = log.offset_for(OffsetSpec::Earliest).unwrap().unwrap();
    assert_eq!((earliest.timestamp, earliest.offset), (-1, 0));
    let latest = log.offset_for(OffsetSpec::Latest).unwrap().unwrap();
    assert_eq!((latest.offset, latest.leader_epoch), (5, Some(0)));
}

#[test]
fn timestamp_lookups_use_the_time_index_across_segments() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    for index in 0..200 {
        append(&mut log, &batch_of(2, 500, 1000 + index * 10));
    }
    assert!(log.segment_count() > 2);
    for index in [0i64, 1, 57, 123, 199] {
        let found = log
            .offset_for(OffsetSpec::Timestamp(1000 + index * 10 - 5))
            .unwrap()
            .unwrap();
        assert_eq!(found.offset, index * 2, "target for batch {index}");
    }
    let max = log.offset_for(OffsetSpec::MaxTimestamp).unwrap().unwrap();
    assert_eq!((max.timestamp, max.offset), (1000 + 199 * 10, 398));
}

#[test]
fn truncation_within_and_across_segments() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    for index in 0..100 {
        append(&mut log, &batch_of(2, 1000, NOW_MS + index));
    }
    let bases = log.segment_base_offsets();
    assert!(bases.len() >= 3);
    let target = bases[1] + 3; // inside the second segment, mid-batch
    assert!(log.truncate_to(target).unwrap());
    assert_eq!(log.log_end_offset(), target);
    assert_eq!(log.segment_base_offsets(), bases[..2].to_vec());
    // the batch holding the target is cut whole: reads end before it
    let read = log.read(bases[1], 1 << 20, None).unwrap();
    let batches = batch_offsets(&read.to_vec().unwrap());
    assert_eq!(batches.last().unwrap().1, target - 2);
    for &base in &bases[2..] {
        assert!(!directory.path().join(format!("{base:020}.log")).exists());
    }
    // appends continue at the truncation point
    let info = append(&mut log, &batch_of(1, 10, NOW_MS));
    assert_eq!(info.base_offset, target);
    // truncating at or past the end changes nothing
    assert!(!log.truncate_to(1_000).unwrap());
}

#[test]
fn truncation_below_the_log_start_restarts_the_log() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    for _ in 0..30 {
        append(&mut log, &batch_of(2, 1000, NOW_MS));
    }
    log.increment_log_start_offset(40, 60).unwrap();
    log.truncate_to(10).unwrap();
    assert_eq!(
        (
            log.log_start_offset(),
            log.log_end_offset(),
            log.segment_count()
        ),
        (10, 10, 1)
    );
    assert_eq!(append(&mut log, &batch_of(1, 10, NOW_MS)).base_offset, 10);
}

#[test]
fn moving_the_log_start_deletes_segments_wholly_below_it() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    for _ in 0..100 {
        append(&mut log, &batch_of(2, 1000, NOW_MS));
    }
    let bases = log.segment_base_offsets();
    let high_watermark = log.log_end_offset();
    assert!(matches!(
        log.increment_log_start_offset(high_watermark + 1, high_watermark),
        Err(LogError::LogStartOffsetAboveHighWatermark { .. })
    ));
    let deleted = log
        .increment_log_start_offset(bases[2] + 1, high_watermark)
        .unwrap();
    assert_eq!(
        deleted.iter().map(|d| d.base_offset).collect::<Vec<_>>(),
        bases[..2].to_vec()
    );
    assert_eq!(log.log_start_offset(), bases[2] + 1);
    assert!(matches!(
        log.read(bases[2], 100, None),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    let read = log.read(bases[2] + 1, 100, None).unwrap();
    assert_eq!(read.first_batch_offset, bases[2]);
}

#[test]
fn retention_by_size_deletes_the_oldest_segments_below_the_high_watermark() {
    let directory = tempfile::tempdir().unwrap();
    let config = LogConfig {
        retention_bytes: 100 * 1024,
        ..small_config()
    };
    let mut log = fresh(directory.path(), config);
    for _ in 0..100 {
        append(&mut log, &batch_of(2, 1000, NOW_MS));
    }
    let before = log.size_bytes();
    let bases = log.segment_base_offsets();
    // Nothing is deleted above the high watermark.
    assert!(log
        .delete_retention_size_breached_segments(0)
        .unwrap()
        .is_empty());
    let deleted = log
        .delete_retention_size_breached_segments(log.log_end_offset())
        .unwrap();
    assert!(!deleted.is_empty());
    let freed: u64 = deleted.iter().map(|d| u64::from(d.size_bytes)).sum();
    assert_eq!(log.size_bytes(), before - freed);
    assert!(log.size_bytes() >= 100 * 1024);
    assert!(log.size_bytes() - 100 * 1024 < 64 * 1024);
    assert_eq!(deleted[0].base_offset, bases[0]);
    assert_eq!(log.log_start_offset(), log.segment_base_offsets()[0]);
}

#[test]
fn retention_by_time_uses_each_segments_largest_timestamp() {
    let directory = tempfile::tempdir().unwrap();
    let config = LogConfig {
        retention_ms: 10_000,
        ..small_config()
    };
    let mut log = fresh(directory.path(), config);
    for index in 0..60 {
        append(&mut log, &batch_of(2, 1000, NOW_MS + index * 1000));
    }
    let bases = log.segment_base_offsets();
    let end = log.log_end_offset();
    // At now = last timestamp + 5 s only segments whose newest batch is > 10 s old go.
    let now = NOW_MS + 59 * 1000 + 5000;
    let deleted = log.delete_retention_ms_breached_segments(now, end).unwrap();
    assert!(!deleted.is_empty());
    for segment in &deleted {
        assert!(segment.base_offset < bases[bases.len() - 1]);
    }
    let first = log
        .offset_for(OffsetSpec::Earliest)
        .unwrap()
        .unwrap()
        .offset;
    let first_timestamp = NOW_MS + first / 2 * 1000;
    // the first kept segment still holds data younger than retention
    assert!(now - (first_timestamp + 64 * 1000) <= 10_000);
    // Far in the future everything expires, and the log keeps an empty active segment.
    let deleted = log
        .delete_retention_ms_breached_segments(now + 1_000_000, end)
        .unwrap();
    assert!(!deleted.is_empty());
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.log_start_offset(), end);
    assert_eq!(log.log_end_offset(), end);
    assert_eq!(append(&mut log, &batch_of(1, 1, NOW_MS)).base_offset, end);
}

#[test]
fn a_slice_outlives_the_deletion_of_its_segment() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    for _ in 0..40 {
        append(&mut log, &batch_of(2, 1000, NOW_MS));
    }
    let slice = log.read(0, 10_000, None).unwrap().slice.unwrap();
    let expected = slice.to_vec().unwrap();
    let end = log.log_end_offset();
    let second = log.segment_base_offsets()[1];
    if let Err(e) = log.increment_log_start_offset(second, end) {
        eprintln!(
            "{e:?} {:?}",
            std::fs::read_dir(directory.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect::<Vec<_>>()
        );
        panic!();
    }
    log.flush().unwrap();
    assert!(!directory.path().join(format!("{:020}.log", 0)).exists());
    assert_eq!(slice.to_vec().unwrap(), expected);
    drop(slice);
}

#[test]
fn a_slice_outlives_the_truncation_of_its_segment() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    for _ in 0..5 {
        append(&mut log, &batch_of(2, 100, NOW_MS));
    }
    let slice = log.read(4, 1 << 20, None).unwrap().slice.unwrap();
    let expected = slice.to_vec().unwrap();
    log.truncate_to(2).unwrap();
    append(&mut log, &batch_of(3, 7, NOW_MS + 1)); // overwrites where the old bytes were
    assert_eq!(slice.to_vec().unwrap(), expected);
    let fresh_read = log.read(2, 1 << 20, None).unwrap().to_vec().unwrap();
    assert_eq!(batch_offsets(&fresh_read), vec![(2, 4)]);
}

#[test]
fn leader_epochs_are_assigned_on_append_and_answer_offset_for_leader_epoch() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    let mut bytes = batch_of(3, 10, NOW_MS);
    log.append(&mut bytes, &AppendOptions::leader(NOW_MS, 1))
        .unwrap();
    let mut bytes = batch_of(2, 10, NOW_MS);
    log.append(&mut bytes, &AppendOptions::leader(NOW_MS, 4))
        .unwrap();
    assert_eq!(log.end_offset_for_epoch(1), (1, 3));
    assert_eq!(log.end_offset_for_epoch(4), (4, 5));
    assert_eq!(log.end_offset_for_epoch(2), (1, 3));
    log.truncate_to(3).unwrap();
    assert_eq!(log.end_offset_for_epoch(4), (-1, -1));
    log.close().unwrap();
    let text = fs::read_to_string(directory.path().join("leader-epoch-checkpoint")).unwrap();
    assert_eq!(text, "0\n1\n1 0\n");
}

/// The `.log.deleted` files in the partition directory.
fn deleted_files(directory: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".log.deleted"))
        .collect();
    names.sort();
    names
}

#[test]
fn deleted_segments_wait_file_delete_delay_ms_renamed_before_they_are_unlinked() {
    let directory = tempfile::tempdir().unwrap();
    let resources = sluice_storage::background::LogResources::with_defaults();
    let config = LogConfig {
        retention_bytes: 100 * 1024,
        file_delete_delay_ms: 2_000,
        ..small_config()
    };
    let (mut log, _) = open_with(
        directory.path(),
        config,
        sluice_storage::log::OpenOptions::fresh(NOW_MS),
        resources.clone(),
    );
    for _ in 0..100 {
        append(&mut log, &batch_of(2, 1000, NOW_MS));
    }
    let deleted = log
        .delete_retention_size_breached_segments(log.log_end_offset())
        .unwrap();
    assert!(!deleted.is_empty());
    resources.wait_for_background();
    // Renamed at once, still on disk: Kafka's `.deleted` files.
    let waiting = deleted_files(directory.path());
    assert_eq!(waiting.len(), deleted.len(), "{waiting:?}");
    // Unlinked by the background thread once the delay has passed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !deleted_files(directory.path()).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the .deleted files were never unlinked"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
