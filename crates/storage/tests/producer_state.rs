//! Idempotent producers through the log: duplicates, refusals, snapshots, reopening after
//! clean and unclean stops, truncation and retention.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use sluice_storage::config::{LogConfig, TimestampType};
use sluice_storage::log::{AppendInfo, AppendOptions, Log, LogError};
use sluice_storage::producer_state::{read_snapshot, snapshot_file_name, ProducerStateError};

const PID: i64 = 4242;

fn try_append(log: &mut Log, bytes: &[u8]) -> Result<AppendInfo, LogError> {
    let mut bytes = bytes.to_vec();
    log.append(&mut bytes, &AppendOptions::leader(NOW_MS, 0))
}

/// Appends `batches` batches of 2 records for PID from sequence 0 (epoch 0).
fn produce(log: &mut Log, from_sequence: i32, batches: i32) -> Vec<AppendInfo> {
    (0..batches)
        .map(|index| {
            let sequence = from_sequence + index * 2;
            let info = append(
                log,
                &producer_batch(PID, 0, sequence, 2, NOW_MS + i64::from(sequence)),
            );
            assert!(!info.duplicate);
            info
        })
        .collect()
}

fn snapshot_files(directory: &Path) -> Vec<i64> {
    let mut offsets: Vec<i64> = fs::read_dir(directory)
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            sluice_storage::producer_state::parse_snapshot_name(&name)
        })
        .collect();
    offsets.sort_unstable();
    offsets
}

fn assert_retries_are_duplicates(log: &mut Log, originals: &[(i32, AppendInfo)]) {
    let end = log.log_end_offset();
    for (sequence, original) in originals {
        let retry = try_append(log, &producer_batch(PID, 0, *sequence, 2, NOW_MS)).unwrap();
        assert!(retry.duplicate, "sequence {sequence} is a duplicate");
        assert_eq!(retry.base_offset, original.base_offset);
        assert_eq!(retry.last_offset, original.last_offset);
        assert_eq!(retry.log_append_time_ms, NOW_MS + i64::from(*sequence));
    }
    assert_eq!(log.log_end_offset(), end, "duplicates append nothing");
}

#[test]
fn a_retried_batch_is_answered_with_its_original_offsets_and_not_appended() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    append(&mut log, &batch_of(3, 10, NOW_MS)); // offsets 0-2, no producer id
    let infos = produce(&mut log, 0, 6);
    assert_eq!((infos[0].base_offset, infos[0].last_offset), (3, 4));
    let size = log.size_bytes();
    let originals: Vec<(i32, AppendInfo)> = (1..6)
        .map(|index| (index as i32 * 2, infos[index]))
        .collect();
    assert_retries_are_duplicates(&mut log, &originals);
    assert_eq!(log.size_bytes(), size);
    assert_eq!(log.last_sequence_for(PID), 11);
    assert_eq!(log.last_sequence_for(7), -1);
    let states = log.producer_states();
    assert_eq!(states.len(), 1);
    assert_eq!(states[0].producer_epoch, 0);
    assert_eq!(states[0].last_data_offset(), 14);
    // The oldest of the six is no longer cached: its retry is out of order.
    assert!(matches!(
        try_append(&mut log, &producer_batch(PID, 0, 0, 2, NOW_MS)),
        Err(LogError::ProducerState(
            ProducerStateError::OutOfOrderSequence { .. }
        ))
    ));
    // Batches without a producer id are never duplicates.
    let plain = append(&mut log, &batch_of(3, 10, NOW_MS));
    assert!(!plain.duplicate);
    assert_eq!(
        append(&mut log, &batch_of(3, 10, NOW_MS)).base_offset,
        plain.last_offset + 1
    );
}

#[test]
fn refused_appends_write_nothing_not_even_in_the_callers_buffer() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    produce(&mut log, 0, 1);
    append(&mut log, &producer_batch(PID, 3, 0, 2, NOW_MS)); // epoch bump to 3
    let end = log.log_end_offset();
    let cases: [(Vec<u8>, &str); 3] = [
        (
            producer_batch(PID, 3, 5, 1, NOW_MS),
            "OUT_OF_ORDER_SEQUENCE_NUMBER",
        ),
        (
            producer_batch(PID, 4, 1, 1, NOW_MS),
            "OUT_OF_ORDER_SEQUENCE_NUMBER",
        ),
        (
            producer_batch(PID, 2, 2, 1, NOW_MS),
            "INVALID_PRODUCER_EPOCH",
        ),
    ];
    for (batch, code) in cases {
        let mut bytes = batch.clone();
        let error = log
            .append(&mut bytes, &AppendOptions::leader(NOW_MS, 0))
            .unwrap_err();
        let LogError::ProducerState(error) = error else {
            panic!("expected a producer state error, got {error}");
        };
        assert_eq!(error.kafka_error(), code);
        assert_eq!(bytes, batch, "base offset and epoch not stamped");
        assert_eq!(log.log_end_offset(), end);
    }
    // A multi-batch append with one bad batch lands nothing; fixed, it lands whole.
    let mut bad = producer_batch(PID, 3, 2, 2, NOW_MS);
    bad.extend(producer_batch(PID, 3, 4, 2, NOW_MS));
    bad.extend(producer_batch(PID, 3, 7, 1, NOW_MS));
    assert!(try_append(&mut log, &bad).is_err());
    assert_eq!(log.log_end_offset(), end);
    assert_eq!(log.last_sequence_for(PID), 1);
    let mut good = producer_batch(PID, 3, 2, 2, NOW_MS);
    good.extend(producer_batch(PID, 3, 4, 2, NOW_MS));
    good.extend(producer_batch(7, 0, 100, 1, NOW_MS));
    let info = try_append(&mut log, &good).unwrap();
    assert_eq!((info.base_offset, info.last_offset), (end, end + 4));
    assert_eq!(log.last_sequence_for(PID), 5);
    assert_eq!(log.last_sequence_for(7), 100);
}

#[test]
fn a_duplicate_on_a_log_append_time_topic_answers_the_original_append_time() {
    let directory = tempfile::tempdir().unwrap();
    let config = LogConfig {
        message_timestamp_type: TimestampType::LogAppendTime,
        ..small_config()
    };
    let mut log = fresh(directory.path(), config);
    let mut bytes = producer_batch(PID, 0, 0, 2, 5);
    let first = log
        .append(&mut bytes, &AppendOptions::leader(NOW_MS + 10, 0))
        .unwrap();
    assert_eq!(first.log_append_time_ms, NOW_MS + 10);
    let mut retry = producer_batch(PID, 0, 0, 2, 5);
    let again = log
        .append(&mut retry, &AppendOptions::leader(NOW_MS + 99, 0))
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.log_append_time_ms, NOW_MS + 10);
    assert_eq!(again.base_offset, 0);
}

#[test]
fn replica_appends_update_the_state_without_checks() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    let mut first = producer_batch(PID, 5, 10, 2, NOW_MS);
    log.append(&mut first, &AppendOptions::replica(NOW_MS))
        .unwrap();
    // Older epoch, gap: a follower takes what the leader wrote.
    let mut second = producer_batch(PID, 4, 50, 2, NOW_MS);
    second[0..8].copy_from_slice(&2i64.to_be_bytes());
    let info = log
        .append(&mut second, &AppendOptions::replica(NOW_MS))
        .unwrap();
    assert!(!info.duplicate);
    assert_eq!(log.last_sequence_for(PID), 51);
    assert_eq!(log.producer_state(PID).unwrap().producer_epoch, 4);
}

#[test]
fn rolls_take_snapshots_and_a_clean_close_takes_one_at_the_end() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    for round in 0..40 {
        produce(&mut log, round * 2, 1);
        append(&mut log, &batch_of(4, 2000, NOW_MS));
    }
    let bases = log.segment_base_offsets();
    assert!(bases.len() >= 3, "rolled: {bases:?}");
    let on_disk = snapshot_files(directory.path());
    assert_eq!(on_disk, log.producer_snapshot_offsets());
    // Kafka keeps the snapshots from the segment before the active one onwards.
    let active = *bases.last().unwrap();
    let previous = bases[bases.len() - 2];
    assert!(
        on_disk.contains(&active) && on_disk.contains(&previous),
        "{on_disk:?} {bases:?}"
    );
    assert!(on_disk.iter().all(|offset| bases.contains(offset)));
    let snapshot = read_snapshot(&directory.path().join(snapshot_file_name(active))).unwrap();
    assert_eq!(snapshot.len(), 1);
    assert_eq!(snapshot[0].producer_id, PID);
    assert!(snapshot[0].last_data_offset() < active);
    let end = log.log_end_offset();
    let offsets = log.close().unwrap();
    assert_eq!(offsets.log_end_offset, end);
    assert_eq!(snapshot_files(directory.path()).last(), Some(&end));
    let state = read_snapshot(&directory.path().join(snapshot_file_name(end))).unwrap();
    assert_eq!(state[0].last_sequence(), 79);
}

#[test]
fn a_clean_reopen_reads_the_snapshot_and_no_log() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    let infos = produce(&mut log, 0, 5);
    let offsets = log.close().unwrap();
    let (mut log, report) = open(
        directory.path(),
        small_config(),
        clean(offsets.recovery_point, 0),
    );
    assert_eq!(report.producer_state_batches_scanned, 0);
    assert_eq!(report.producers, 1);
    assert_eq!(log.last_sequence_for(PID), 9);
    // A snapshot keeps only the last batch (as Kafka's): that one is still a duplicate.
    assert_retries_are_duplicates(&mut log, &[(8, infos[4])]);
    assert!(try_append(&mut log, &producer_batch(PID, 0, 6, 2, NOW_MS)).is_err());
    produce(&mut log, 10, 1);
}

#[test]
fn an_unclean_reopen_replays_the_log_after_the_newest_snapshot() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    let mut infos = Vec::new();
    for round in 0..30 {
        infos.push((round * 2, produce(&mut log, round * 2, 1)[0]));
        append(&mut log, &batch_of(4, 2000, NOW_MS));
    }
    for round in 30..33 {
        infos.push((round * 2, produce(&mut log, round * 2, 1)[0]));
    }
    let end = log.log_end_offset();
    let newest_snapshot = *log.producer_snapshot_offsets().last().unwrap();
    assert!(newest_snapshot < end);
    drop(log); // a crash: no close, no snapshot at the end
    let (mut log, report) = open(directory.path(), small_config(), unclean(0));
    assert_eq!(log.log_end_offset(), end);
    // Every segment is recovered (Kafka's `recoverSegment`), replaying its producers.
    assert_eq!(report.recovered_segments, report.segments);
    assert_eq!(log.last_sequence_for(PID), 65);
    // The batches after the snapshot were replayed into the cache; the last 5 are
    // duplicates again only if they all lie after it, else at least the last one is.
    let after: Vec<(i32, AppendInfo)> = infos
        .iter()
        .copied()
        .filter(|(_, info)| info.base_offset >= newest_snapshot)
        .collect();
    assert!(!after.is_empty());
    let cached: Vec<(i32, AppendInfo)> = after.iter().rev().take(5).rev().copied().collect();
    assert_retries_are_duplicates(&mut log, &cached);
    // And the reopen wrote a snapshot at the end.
    assert_eq!(log.producer_snapshot_offsets().last(), Some(&end));
}

#[test]
fn without_any_snapshot_the_state_is_rebuilt_from_the_log_start() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    let mut infos = Vec::new();
    for round in 0..30 {
        infos.push((round * 2, produce(&mut log, round * 2, 1)[0]));
        append(&mut log, &batch_of(4, 2000, NOW_MS));
    }
    let offsets = log.close().unwrap();
    for offset in snapshot_files(directory.path()) {
        fs::remove_file(directory.path().join(snapshot_file_name(offset))).unwrap();
    }
    for options in [clean(offsets.recovery_point, 0), unclean(0)] {
        let (mut log, report) = open(directory.path(), small_config(), options);
        if options.had_clean_shutdown {
            assert_eq!(report.producer_state_batches_scanned, 60);
        } else {
            // Recovery replays every segment's producers as it checks the batches.
            assert_eq!(report.producer_state_batches_scanned, 0);
            assert_eq!(report.recovered_segments, report.segments);
        }
        assert_eq!(log.last_sequence_for(PID), 59);
        // Replayed from the start: all of the last 5 batches are cached.
        assert_retries_are_duplicates(&mut log, &infos[25..]);
        drop(log);
        for offset in snapshot_files(directory.path()) {
            fs::remove_file(directory.path().join(snapshot_file_name(offset))).unwrap();
        }
    }
}

#[test]
fn a_corrupt_snapshot_is_deleted_and_an_older_one_used() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    for round in 0..30 {
        produce(&mut log, round * 2, 1);
        append(&mut log, &batch_of(4, 2000, NOW_MS));
    }
    let offsets = log.close().unwrap();
    let newest = directory
        .path()
        .join(snapshot_file_name(offsets.log_end_offset));
    fs::write(&newest, b"\0\x01garbage that is long enough to be read").unwrap();
    let (log, report) = open(
        directory.path(),
        small_config(),
        clean(offsets.recovery_point, 0),
    );
    assert_eq!(report.corrupt_snapshots, 1);
    assert!(report.producer_state_batches_scanned > 0);
    assert_eq!(log.last_sequence_for(PID), 59);
    // Rewritten, good, at the end.
    assert_eq!(read_snapshot(&newest).unwrap()[0].last_sequence(), 59);
}

#[test]
fn truncation_rewinds_the_state_and_deletes_snapshots_above() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    let mut infos = Vec::new();
    for round in 0..30 {
        infos.push(produce(&mut log, round * 2, 1)[0]);
        append(&mut log, &batch_of(4, 2000, NOW_MS));
    }
    // Cut in the middle of the log, right after round 12's idempotent batch.
    let cut = infos[12].last_offset + 1;
    assert!(log.truncate_to(cut).unwrap());
    assert_eq!(log.log_end_offset(), cut);
    assert_eq!(log.last_sequence_for(PID), 25);
    assert!(log
        .producer_snapshot_offsets()
        .iter()
        .all(|&offset| offset <= cut));
    assert!(snapshot_files(directory.path())
        .iter()
        .all(|&offset| offset <= cut));
    // The producer continues from the cut; its retry of round 12 is a duplicate.
    let retry = try_append(&mut log, &producer_batch(PID, 0, 24, 2, NOW_MS)).unwrap();
    assert!(retry.duplicate);
    assert_eq!(retry.base_offset, infos[12].base_offset);
    produce(&mut log, 26, 1);
    // Emptied: no producers, no snapshots.
    log.truncate_fully_and_start_at(1000).unwrap();
    assert!(log.producer_states().is_empty());
    assert!(snapshot_files(directory.path())
        .iter()
        .all(|&offset| offset == 1000));
    produce(&mut log, 500, 1);
}

#[test]
fn retention_deletes_the_snapshots_of_deleted_segments_and_keeps_producers() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    for round in 0..30 {
        produce(&mut log, round * 2, 1);
        append(&mut log, &batch_of(4, 2000, NOW_MS));
    }
    let bases = log.segment_base_offsets();
    let end = log.log_end_offset();
    let deleted = log.increment_log_start_offset(bases[2], end).unwrap();
    assert!(!deleted.is_empty());
    assert!(snapshot_files(directory.path())
        .iter()
        .all(|&offset| offset >= bases[2]));
    // Kafka keeps producer state when segments go (only expiration removes it).
    assert_eq!(log.last_sequence_for(PID), 59);
    assert_eq!(log.remove_expired_producers(NOW_MS + 86_400_000 - 1_000), 0);
    assert_eq!(log.remove_expired_producers(NOW_MS + 86_400_000 + 1_000), 1);
    assert!(log.producer_states().is_empty());
    // A producer the partition forgot may carry on at any sequence.
    produce(&mut log, 60, 1);
}

#[test]
fn expired_producers_are_left_out_when_a_snapshot_is_loaded() {
    let directory = tempfile::tempdir().unwrap();
    let config = LogConfig {
        producer_id_expiration_ms: 1_000,
        ..small_config()
    };
    let mut log = fresh(directory.path(), config.clone());
    produce(&mut log, 0, 1);
    let offsets = log.close().unwrap();
    let mut options = clean(offsets.recovery_point, 0);
    options.now_ms = NOW_MS + 500;
    let (log, _) = open(directory.path(), config.clone(), options);
    assert_eq!(log.producer_states().len(), 1);
    let offsets = log.close().unwrap();
    let mut options = clean(offsets.recovery_point, 0);
    options.now_ms = NOW_MS + 5_000;
    let (log, report) = open(directory.path(), config, options);
    assert_eq!(report.producers, 0);
    assert!(log.producer_states().is_empty());
}
