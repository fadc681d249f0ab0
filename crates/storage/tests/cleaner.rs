//! The log cleaner through the log: what survives a clean (latest value per key, offsets
//! kept, tombstones until their delete horizon, codecs, producers, transactions), a map
//! too small for the dirty range, grouping, the swap protocol across crashes, and appends
//! and reads going on while a clean runs.

mod common;

use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};

use common::*;
use sluice_storage::cleaner::{
    clean, CleanCommit, CleanStats, CleanerCheckpoints, CleanerOptions, CompactionConfig,
    CLEANER_OFFSET_CHECKPOINT,
};
use sluice_storage::compression::{self, Compression};
use sluice_storage::config::LogConfig;
use sluice_storage::end_txn_marker::{ControlRecordType, EndTransactionMarker};
use sluice_storage::log::{AppendOptions, Log};
use sluice_storage::record_batch::RecordBatchView;
use sluice_storage::validation::records::encode_record;

const DAY_MS: i64 = 86_400_000;

type Record<'a> = (&'a str, Option<&'a str>);
/// `(offset, key, value)` of a record read back.
type Stored = (i64, String, Option<String>);

/// A batch of keyed records (`None` value: a tombstone) with `codec`, optionally from an
/// idempotent or transactional producer `(id, epoch, base sequence)`.
fn keyed_batch(
    records: &[Record<'_>],
    codec: Compression,
    producer: Option<(i64, i16, i32)>,
    transactional: bool,
) -> Vec<u8> {
    let mut body = Vec::new();
    for (delta, (key, value)) in records.iter().enumerate() {
        encode_record(
            &mut body,
            delta as i32,
            delta as i64,
            Some(key.as_bytes()),
            value.map(str::as_bytes),
            &[],
        );
    }
    let (producer_id, producer_epoch, base_sequence) = producer.unwrap_or((-1, -1, -1));
    compression::write_batch(
        &compression::BatchHeader {
            base_offset: 0,
            partition_leader_epoch: 0,
            attributes: if transactional { 0x10 } else { 0 },
            last_offset_delta: records.len() as i32 - 1,
            base_timestamp: NOW_MS,
            max_timestamp: NOW_MS + records.len() as i64 - 1,
            producer_id,
            producer_epoch,
            base_sequence,
            records_count: records.len() as i32,
        },
        &body,
        codec,
        None,
    )
    .unwrap()
}

fn put(log: &mut Log, records: &[Record<'_>]) -> i64 {
    append(log, &keyed_batch(records, Compression::None, None, false)).base_offset
}

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        ..small_config()
    }
}

fn options() -> CleanerOptions {
    CleanerOptions {
        delete_retention_ms: DAY_MS,
        ..CleanerOptions::default()
    }
}

/// One whole clean: cleanable, prepare, clean, commit. Panics unless committed.
fn clean_log(log: &mut Log, now_ms: i64, options: &CleanerOptions) -> CleanStats {
    let compaction = CompactionConfig::default();
    let end = log.log_end_offset();
    let info = log.cleanable(now_ms, None, end, &compaction).unwrap();
    let plan = log.prepare_clean(&info).unwrap();
    let output = clean(plan, options, now_ms).unwrap();
    match log.commit_clean(output).unwrap() {
        CleanCommit::Committed(stats) => stats,
        CleanCommit::Abandoned { reason } => panic!("clean abandoned: {reason}"),
    }
}

/// Every record of the log as `(offset, key, value)`, and the batches' attributes.
fn contents(log: &Log) -> (Vec<Stored>, Vec<i16>) {
    let mut records = Vec::new();
    let mut attributes = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let read = log.read(offset, 1 << 20, None).unwrap();
        let bytes = read.to_vec().unwrap();
        if bytes.is_empty() {
            break;
        }
        let mut at = 0;
        while at < bytes.len() {
            let length = i32::from_be_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
            let batch = &bytes[at..at + 12 + length];
            let view = RecordBatchView::new(batch).unwrap();
            view.validate_crc().unwrap();
            attributes.push(view.attributes());
            let section = compression::decompress_records(&view, 1 << 30).unwrap();
            let mut position = 0;
            while position < section.len() {
                let (record, next) = decode_record(&section, position);
                if view.attributes() & 0x20 == 0 {
                    records.push((
                        view.base_offset() + i64::from(record.0),
                        String::from_utf8(record.1).unwrap(),
                        record.2.map(|value| String::from_utf8(value).unwrap()),
                    ));
                }
                position = next;
            }
            at += 12 + length;
        }
        offset = read.next_offset;
    }
    (records, attributes)
}

fn varint(bytes: &[u8], at: &mut usize) -> i64 {
    let mut raw = 0u64;
    let mut shift = 0;
    loop {
        let byte = bytes[*at];
        *at += 1;
        raw |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    ((raw >> 1) as i64) ^ -((raw & 1) as i64)
}

/// `(offset delta, key, value)` of the record at `at`, and where the next one starts.
#[allow(clippy::type_complexity)]
fn decode_record(bytes: &[u8], mut at: usize) -> ((i32, Vec<u8>, Option<Vec<u8>>), usize) {
    let length = varint(bytes, &mut at) as usize;
    let end = at + length;
    at += 1;
    varint(bytes, &mut at);
    let offset_delta = varint(bytes, &mut at) as i32;
    let key_length = varint(bytes, &mut at);
    let key = bytes[at..at + key_length.max(0) as usize].to_vec();
    at += key_length.max(0) as usize;
    let value_length = varint(bytes, &mut at);
    let value = (value_length >= 0).then(|| bytes[at..at + value_length as usize].to_vec());
    ((offset_delta, key, value), end)
}

fn latest(records: &[Stored], key: &str) -> Option<(i64, Option<String>)> {
    records
        .iter()
        .rev()
        .find(|(_, record_key, _)| record_key == key)
        .map(|(offset, _, value)| (*offset, value.clone()))
}

/// Appends `rounds` updates of keys `k0..k{keys}`, one record per batch.
fn updates(log: &mut Log, keys: usize, rounds: usize) -> Vec<Stored> {
    let mut written = Vec::new();
    for round in 0..rounds {
        for key in 0..keys {
            let key_name = format!("k{key}");
            let value = format!("v{round}-{key}");
            let offset = put(log, &[(&key_name, Some(&value))]);
            written.push((offset, key_name, Some(value)));
        }
    }
    written
}

#[test]
fn only_the_latest_value_per_key_survives_with_its_offset() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), config());
    let written = updates(&mut log, 10, 20);
    let segments_before = log.segment_count();
    let active_base = *log.segment_base_offsets().last().unwrap();
    let stats = clean_log(&mut log, NOW_MS, &options());
    assert_eq!(
        stats.end_offset, active_base,
        "cleaned up to the active segment"
    );
    // Groups are formed from the segments' sizes before cleaning (Kafka's rule), so the
    // shrunken segments merge on the next clean.
    clean_log(&mut log, NOW_MS, &options());
    assert!(
        log.segment_count() < segments_before,
        "segments were merged"
    );
    let (records, _) = contents(&log);
    for key in 0..10 {
        let key = format!("k{key}");
        assert_eq!(latest(&records, &key), latest(&written, &key), "{key}");
        // Below the clean point each key appears once.
        let cleaned = records
            .iter()
            .filter(|(offset, record_key, _)| *offset < active_base && *record_key == key)
            .count();
        assert!(
            cleaned <= 1,
            "{key} appears {cleaned} times below {active_base}"
        );
    }
    // Everything from the active segment on is untouched.
    let tail: Vec<_> = written
        .iter()
        .filter(|(offset, _, _)| *offset >= active_base)
        .cloned()
        .collect();
    assert!(records.ends_with(&tail));
    // Offsets keep their values, with gaps, and the log end is unchanged.
    assert!(records.windows(2).all(|pair| pair[0].0 < pair[1].0));
    assert_eq!(log.log_end_offset(), written.len() as i64);
}

#[test]
fn a_second_clean_with_nothing_new_changes_nothing() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), config());
    updates(&mut log, 5, 20);
    clean_log(&mut log, NOW_MS, &options());
    let (before, _) = contents(&log);
    clean_log(&mut log, NOW_MS, &options());
    assert_eq!(contents(&log).0, before);
}

#[test]
fn tombstones_stay_until_the_delete_horizon_then_go() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), config());
    updates(&mut log, 4, 3);
    let tombstone = put(&mut log, &[("k1", None)]);
    updates(&mut log, 1, 40); // k0 only: closes the segments holding the tombstone
    clean_log(&mut log, NOW_MS, &options());
    let (records, attributes) = contents(&log);
    assert_eq!(
        latest(&records, "k1"),
        Some((tombstone, None)),
        "kept at first"
    );
    assert!(
        attributes.iter().any(|attributes| attributes & 0x40 != 0),
        "the tombstone's batch carries a delete horizon"
    );
    // Before the horizon a clean keeps it; from it on the tombstone goes.
    clean_log(&mut log, NOW_MS + DAY_MS - 1, &options());
    assert_eq!(latest(&contents(&log).0, "k1"), Some((tombstone, None)));
    clean_log(&mut log, NOW_MS + DAY_MS, &options());
    assert_eq!(latest(&contents(&log).0, "k1"), None);
    assert!(latest(&contents(&log).0, "k2").is_some());
}

#[test]
fn every_codec_survives_cleaning_with_its_codec() {
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let directory = tempfile::tempdir().unwrap();
        let mut log = fresh(directory.path(), config());
        for round in 0..30 {
            let first = format!("a{round}");
            let second = format!("b{round}");
            append(
                &mut log,
                &keyed_batch(
                    &[
                        ("a", Some(&first)),
                        ("b", Some(&second)),
                        ("c", Some("same")),
                    ],
                    codec,
                    None,
                    false,
                ),
            );
        }
        clean_log(&mut log, NOW_MS, &options());
        let (records, attributes) = contents(&log);
        assert!(
            attributes
                .iter()
                .all(|attributes| attributes & 0x07 == i16::from(codec.id())),
            "{codec:?}"
        );
        assert_eq!(latest(&records, "a").unwrap().1.as_deref(), Some("a29"));
        assert!(records.len() < 90, "{codec:?}: compacted");
    }
}

#[test]
fn an_idempotent_producers_last_batch_is_kept_even_when_empty() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), config());
    // The producer writes k0 once; later plain writes supersede it.
    let mut batch = keyed_batch(
        &[("k0", Some("old"))],
        Compression::None,
        Some((7, 0, 0)),
        false,
    );
    let producer_offset = log
        .append(&mut batch, &AppendOptions::leader(NOW_MS, 0))
        .unwrap()
        .base_offset;
    updates(&mut log, 1, 40);
    clean_log(&mut log, NOW_MS, &options());
    let first = log.read(producer_offset, 1 << 20, None).unwrap();
    let bytes = first.to_vec().unwrap();
    let length = 12 + i32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let view = RecordBatchView::new(&bytes[..length]).unwrap();
    assert_eq!(view.base_offset(), producer_offset);
    assert_eq!(view.producer_id(), 7);
    assert_eq!(
        view.records_count(),
        0,
        "an empty batch holds the producer's sequence"
    );
    assert_eq!(log.last_sequence_for(7), 0);
}

fn txn(log: &mut Log, producer_id: i64, sequence: i32, key: &str, value: &str) {
    let mut batch = keyed_batch(
        &[(key, Some(value))],
        Compression::None,
        Some((producer_id, 0, sequence)),
        true,
    );
    log.append(&mut batch, &AppendOptions::leader(NOW_MS, 0))
        .unwrap();
}

fn end_txn(log: &mut Log, producer_id: i64, commit: bool) {
    let control_type = if commit {
        ControlRecordType::Commit
    } else {
        ControlRecordType::Abort
    };
    log.append_end_txn_marker(
        producer_id,
        0,
        EndTransactionMarker::new(control_type, 0),
        0,
        NOW_MS,
        0,
    )
    .unwrap();
}

#[test]
fn aborted_records_are_removed_and_committed_ones_kept() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), config());
    txn(&mut log, 1, 0, "x", "committed");
    end_txn(&mut log, 1, true);
    txn(&mut log, 2, 0, "y", "aborted");
    end_txn(&mut log, 2, false);
    updates(&mut log, 1, 40);
    clean_log(&mut log, NOW_MS, &options());
    let (records, _) = contents(&log);
    assert_eq!(
        latest(&records, "x").unwrap().1.as_deref(),
        Some("committed")
    );
    assert_eq!(latest(&records, "y"), None, "the aborted record is gone");
    // Past the delete horizon of the now empty transactions, their markers go too (the
    // producers' last batches stay, empty, for their sequences and epochs).
    clean_log(&mut log, NOW_MS + 2 * DAY_MS, &options());
    let (records, _) = contents(&log);
    assert_eq!(latest(&records, "y"), None);
    assert_eq!(
        latest(&records, "x").unwrap().1.as_deref(),
        Some("committed")
    );
}

#[test]
fn a_full_offset_map_cleans_only_up_to_the_offsets_it_mapped() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), config());
    let written = updates(&mut log, 50, 4);
    let small = CleanerOptions {
        dedupe_buffer_bytes: 24 * 20, // 18 keys
        ..options()
    };
    let stats = clean_log(&mut log, NOW_MS, &small);
    assert!(stats.end_offset < *log.segment_base_offsets().last().unwrap());
    assert!(stats.end_offset > 0);
    // Nothing is lost: every key's latest value is still there.
    let (records, _) = contents(&log);
    for key in 0..50 {
        let key = format!("k{key}");
        assert_eq!(latest(&records, &key), latest(&written, &key));
    }
    // The next clean starts at the checkpoint and goes on.
    let compaction = CompactionConfig::default();
    let end = log.log_end_offset();
    let info = log
        .cleanable(NOW_MS, Some(stats.end_offset), end, &compaction)
        .unwrap();
    assert_eq!(info.first_dirty_offset, stats.end_offset);
}

#[test]
fn segments_are_grouped_within_segment_bytes() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), config());
    // Distinct keys: nothing is removed, so groups are bounded by segment.bytes.
    for key in 0..200 {
        put(&mut log, &[(&format!("unique-{key}"), Some("value"))]);
    }
    clean_log(&mut log, NOW_MS, &options());
    // The cleaned segments; the active one is reserved on disk ahead of its data by the
    // background thread, so its file length says nothing.
    let active = format!("{:020}.log", log.segment_base_offsets().last().unwrap());
    for entry in fs::read_dir(directory.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|extension| extension == "log") && !path.ends_with(&active)
        {
            assert!(fs::metadata(&path).unwrap().len() <= 1024, "{path:?}");
        }
    }
    assert_eq!(contents(&log).0.len(), 200);
}

fn snapshot_directory(directory: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = fs::read_dir(directory)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&path).unwrap_or_default())
        })
        .collect();
    files.sort();
    files
}

fn restore_directory(directory: &Path, files: &[(String, Vec<u8>)]) {
    for entry in fs::read_dir(directory).unwrap() {
        let _ = fs::remove_file(entry.unwrap().path());
    }
    for (name, bytes) in files {
        fs::write(directory.join(name), bytes).unwrap();
    }
}

/// The log is consistent: every key's latest value and every record from `from` on.
fn assert_consistent(log: &Log, written: &[Stored], from: i64) {
    let (records, _) = contents(log);
    for (_, key, _) in written {
        assert_eq!(latest(&records, key), latest(written, key), "{key}");
    }
    let tail: Vec<_> = written
        .iter()
        .filter(|(offset, _, _)| *offset >= from)
        .cloned()
        .collect();
    assert!(records.ends_with(&tail));
    assert_eq!(log.log_end_offset(), written.last().unwrap().0 + 1);
}

#[test]
fn crash_points_of_the_swap_reopen_to_a_consistent_log() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path();
    let mut log = fresh(path, config());
    let written = updates(&mut log, 8, 15);
    let active_base = *log.segment_base_offsets().last().unwrap();
    let compaction = CompactionConfig::default();
    let end = log.log_end_offset();
    let info = log.cleanable(NOW_MS, None, end, &compaction).unwrap();
    let plan = log.prepare_clean(&info).unwrap();
    let output = clean(plan, &options(), NOW_MS).unwrap();
    log.flush().unwrap();
    // The files as a crash would leave them with the clean written, not committed.
    let with_cleaned = snapshot_directory(path);
    assert!(with_cleaned
        .iter()
        .any(|(name, _)| name.ends_with(".log.cleaned")));
    drop(output);
    drop(log);

    let reopen = |label: &str| {
        let (log, _) = open(path, config(), unclean(0));
        assert!(
            !snapshot_directory(path)
                .iter()
                .any(|(name, _)| name.ends_with(".cleaned") || name.ends_with(".swap")),
            "{label}: leftovers removed"
        );
        assert_consistent(&log, &written, active_base);
        log
    };

    // 1. `.cleaned` files only: deleted, the old segments stay.
    restore_directory(path, &with_cleaned);
    let log = reopen("cleaned");
    assert_eq!(contents(&log).0.len(), written.len());
    drop(log);

    // 2. Renamed to `.swap` (log and indexes), old segments still there: swap completed.
    let to_swap = |files: &[(String, Vec<u8>)], indexes_too: bool| -> Vec<(String, Vec<u8>)> {
        files
            .iter()
            .map(|(name, bytes)| match name.strip_suffix(".cleaned") {
                Some(stem) if indexes_too || stem.ends_with(".log") => {
                    (format!("{stem}.swap"), bytes.clone())
                }
                _ => (name.clone(), bytes.clone()),
            })
            .collect()
    };
    restore_directory(path, &to_swap(&with_cleaned, true));
    let log = reopen("swap");
    assert!(
        contents(&log).0.len() < written.len(),
        "the clean was completed"
    );
    drop(log);

    // 3. Only the `.log` renamed to `.swap` (indexes still `.cleaned`).
    restore_directory(path, &to_swap(&with_cleaned, false));
    drop(reopen("log swap only"));

    // 4. `.swap` files with the old segments already renamed `.deleted`.
    let deleted: Vec<_> = to_swap(&with_cleaned, true)
        .into_iter()
        .map(|(name, bytes)| {
            let stem_offset: Option<i64> =
                name.strip_suffix(".log").and_then(|stem| stem.parse().ok());
            match stem_offset {
                Some(base) if base < active_base => (format!("{name}.deleted"), bytes),
                _ => (name, bytes),
            }
        })
        .collect();
    restore_directory(path, &deleted);
    drop(reopen("old deleted"));
}

#[test]
fn a_clean_is_abandoned_when_retention_removed_its_segments() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), config());
    updates(&mut log, 8, 15);
    let compaction = CompactionConfig::default();
    let end = log.log_end_offset();
    let info = log.cleanable(NOW_MS, None, end, &compaction).unwrap();
    let plan = log.prepare_clean(&info).unwrap();
    let output = clean(plan, &options(), NOW_MS).unwrap();
    let second = log.segment_base_offsets()[1];
    log.increment_log_start_offset(second, end).unwrap();
    let (before, _) = contents(&log);
    assert!(matches!(
        log.commit_clean(output).unwrap(),
        CleanCommit::Abandoned { .. }
    ));
    assert_eq!(contents(&log).0, before);
    assert!(!snapshot_directory(directory.path())
        .iter()
        .any(|(name, _)| name.ends_with(".cleaned") || name.ends_with(".swap")));
}

#[test]
fn appends_and_reads_go_on_while_a_clean_runs() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), config());
    let written = updates(&mut log, 10, 30);
    let log = Arc::new(Mutex::new(log));
    let compaction = CompactionConfig::default();
    let plan = {
        let mut guard = log.lock().unwrap();
        let end = guard.log_end_offset();
        let info = guard.cleanable(NOW_MS, None, end, &compaction).unwrap();
        guard.prepare_clean(&info).unwrap()
    };
    // A slow clean (throttled) on another thread, without the lock.
    let slow = CleanerOptions {
        io_max_bytes_per_second: 200_000.0,
        ..options()
    };
    let cleaner = std::thread::spawn(move || clean(plan, &slow, NOW_MS).unwrap());
    let mut appended = 0;
    while !cleaner.is_finished() {
        let mut guard = log.lock().unwrap();
        let offset = put(&mut guard, &[("live", Some("during"))]);
        let read = guard.read(offset, 1 << 20, None).unwrap();
        assert_eq!(read.first_batch_offset, offset);
        let read = guard.read(0, 1 << 20, None).unwrap();
        assert!(!read.to_vec().unwrap().is_empty());
        appended += 1;
        drop(guard);
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(
        appended > 1,
        "appends went on during the clean ({appended})"
    );
    let output = cleaner.join().unwrap();
    let mut guard = log.lock().unwrap();
    let before_swap = guard.read(0, 1 << 20, None).unwrap();
    assert!(matches!(
        guard.commit_clean(output).unwrap(),
        CleanCommit::Committed(_)
    ));
    // A slice taken before the swap still reads the old bytes.
    assert!(!before_swap.to_vec().unwrap().is_empty());
    let (records, _) = contents(&guard);
    for key in 0..10 {
        let key = format!("k{key}");
        assert_eq!(latest(&records, &key), latest(&written, &key));
    }
    assert_eq!(
        records.iter().filter(|(_, key, _)| key == "live").count(),
        appended
    );
}

#[test]
fn the_cleaner_checkpoint_file_has_kafkas_layout() {
    let directory = tempfile::tempdir().unwrap();
    let checkpoints = CleanerCheckpoints::open(directory.path()).unwrap();
    checkpoints.update(&partition(), 42).unwrap();
    checkpoints
        .update(&sluice_storage::checkpoint::TopicPartition::new("a", 3), 7)
        .unwrap();
    let text = fs::read_to_string(directory.path().join(CLEANER_OFFSET_CHECKPOINT)).unwrap();
    assert_eq!(text, "0\n2\na 3 7\norders 0 42\n");
    let again = CleanerCheckpoints::open(directory.path()).unwrap();
    assert_eq!(again.get(&partition()), Some(42));
}
