//! Transactions through the log: markers, the last stable offset, the `.txnindex`, the
//! aborted transactions of a read_committed fetch, and all of it across reopening,
//! recovery, truncation and retention.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use sluice_storage::crc32c::crc32c;
use sluice_storage::end_txn_marker::{ControlRecordType, EndTransactionMarker};
use sluice_storage::log::{AppendInfo, Log, LogError};
use sluice_storage::producer_state::ProducerStateError;
use sluice_storage::transaction_index::AbortedTxn;

const A: i64 = 1000;
const B: i64 = 2000;
const C: i64 = 3000;

/// `producer_batch` with the transactional attribute.
fn txn_batch(producer_id: i64, epoch: i16, base_sequence: i32, count: usize) -> Vec<u8> {
    let mut out = producer_batch(producer_id, epoch, base_sequence, count, NOW_MS);
    out[22] |= 0x10;
    let crc = crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    out
}

fn marker(
    log: &mut Log,
    producer_id: i64,
    epoch: i16,
    commit: bool,
    coordinator_epoch: i32,
) -> Result<AppendInfo, LogError> {
    let control_type = if commit {
        ControlRecordType::Commit
    } else {
        ControlRecordType::Abort
    };
    log.append_end_txn_marker(
        producer_id,
        epoch,
        EndTransactionMarker::new(control_type, coordinator_epoch),
        0,
        NOW_MS,
        0,
    )
}

fn lso(log: &Log) -> i64 {
    log.last_stable_offset(log.log_end_offset())
}

fn aborted(log: &Log, fetch_offset: i64, upper_bound: i64) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    log.collect_aborted_transactions(fetch_offset, upper_bound, &mut out)
        .unwrap();
    out.iter()
        .map(|txn| (txn.producer_id, txn.first_offset))
        .collect()
}

fn txn(producer_id: i64, first: i64, last: i64, last_stable_offset: i64) -> AbortedTxn {
    AbortedTxn {
        producer_id,
        first_offset: first,
        last_offset: last,
        last_stable_offset,
    }
}

fn txn_index_path(directory: &Path, base: i64) -> std::path::PathBuf {
    directory.join(format!("{base:020}.txnindex"))
}

/// A at 0-1, B at 2-4, A at 5, B aborted at 6, A committed at 7, C at 8-9 and aborted at 10.
fn interleaved(log: &mut Log) {
    assert_eq!(append(log, &txn_batch(A, 0, 0, 2)).base_offset, 0);
    assert_eq!(lso(log), 0);
    append(log, &txn_batch(B, 0, 0, 3));
    append(log, &txn_batch(A, 0, 2, 1));
    assert_eq!(log.ongoing_transactions(), vec![(0, A), (2, B)]);
    assert_eq!(lso(log), 0);
    assert_eq!(marker(log, B, 0, false, 5).unwrap().base_offset, 6);
    // A is still open from 0.
    assert_eq!(lso(log), 0);
    assert_eq!(marker(log, A, 0, true, 5).unwrap().base_offset, 7);
    assert_eq!(lso(log), 8);
    append(log, &txn_batch(C, 0, 0, 2));
    assert_eq!(lso(log), 8);
    marker(log, C, 0, false, 5).unwrap();
    assert_eq!(lso(log), 11);
    assert_eq!(log.first_unstable_offset(), None);
}

#[test]
fn markers_move_the_last_stable_offset_and_aborts_are_indexed() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    interleaved(&mut log);
    // B's abort: A's transaction (from 0) still open, so the LSO then was 0; C's: none open.
    assert_eq!(
        log.aborted_txns_of_segment(0).unwrap(),
        vec![txn(B, 2, 6, 0), txn(C, 8, 10, 11)]
    );
    // Kafka's AbortedTxn layout, 34 bytes each.
    let bytes = fs::read(txn_index_path(directory.path(), 0)).unwrap();
    let mut expected = Vec::new();
    for (producer_id, first, last, stable) in [(B, 2i64, 6i64, 0i64), (C, 8, 10, 11)] {
        expected.extend_from_slice(&0i16.to_be_bytes());
        for field in [producer_id, first, last, stable] {
            expected.extend_from_slice(&field.to_be_bytes());
        }
    }
    assert_eq!(bytes, expected);
    // The marker batches are Kafka's, stamped with offsets and the leader epoch.
    let read = log.read(6, 1 << 20, None).unwrap().to_vec().unwrap();
    assert_eq!(batch_offsets(&read)[..2], [(6, 6), (7, 7)]);
    assert!(read.len() >= 78 * 2);
    assert_eq!(
        EndTransactionMarker::from_batch(&read[..78]),
        Some(EndTransactionMarker::new(ControlRecordType::Abort, 5))
    );
    let states = log.producer_states();
    assert!(states.iter().all(|state| state.coordinator_epoch == 5));
    assert!(states
        .iter()
        .all(|state| state.current_txn_first_offset.is_none()));
}

#[test]
fn aborted_transactions_are_those_overlapping_the_fetch_range() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    interleaved(&mut log);
    assert_eq!(aborted(&log, 0, 11), vec![(B, 2), (C, 8)]);
    assert_eq!(aborted(&log, 0, 2), Vec::<(i64, i64)>::new());
    assert_eq!(aborted(&log, 0, 3), vec![(B, 2)]);
    // B's entry ended at 6, before 7; C's began at 8.
    assert_eq!(aborted(&log, 7, 8), Vec::<(i64, i64)>::new());
    assert_eq!(aborted(&log, 7, 9), vec![(C, 8)]);
    // A log without aborts answers without reading anything.
    let other = tempfile::tempdir().unwrap();
    let mut clean = fresh(other.path(), small_config());
    append(&mut clean, &txn_batch(A, 0, 0, 2));
    marker(&mut clean, A, 0, true, 0).unwrap();
    assert_eq!(aborted(&clean, 0, 3), Vec::<(i64, i64)>::new());
    assert!(!txn_index_path(other.path(), 0).exists());
}

#[test]
fn collecting_spans_segments_and_stops_at_an_lso_past_the_bound() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    // Each round: a 4000-byte transactional batch, then an abort; segments of 64 KiB.
    let mut ends = Vec::new();
    for round in 0..40 {
        let info = append(&mut log, &txn_batch(A, 0, round * 200, 200));
        let abort = marker(&mut log, A, 0, false, 0).unwrap();
        ends.push((info.base_offset, abort.base_offset));
    }
    let bases = log.segment_base_offsets();
    assert!(bases.len() >= 3, "{bases:?}");
    let total: usize = bases
        .iter()
        .map(|&base| log.aborted_txns_of_segment(base).unwrap().len())
        .sum();
    assert_eq!(total, 40);
    let everything = aborted(&log, 0, log.log_end_offset());
    assert_eq!(everything.len(), 40);
    assert_eq!(everything[39], (A, ends[39].0));
    // From the middle of the second segment to just past one transaction's data: the
    // transactions overlapping, and the search stops at the first entry whose LSO
    // reaches the bound.
    let (first, last) = ends[20];
    assert_eq!(aborted(&log, first, last), vec![(A, first)]);
    assert_eq!(
        aborted(&log, first + 5, last + 2),
        vec![(A, first), (A, ends[21].0)]
    );
}

#[test]
fn marker_checks_follow_kafkas_append_end_txn_marker() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    append(&mut log, &txn_batch(A, 3, 0, 1));
    assert!(log.has_ongoing_transaction(A, 3));
    assert!(!log.has_ongoing_transaction(A, 2));
    assert!(!log.has_ongoing_transaction(B, 3));
    let end = log.log_end_offset();
    // An older producer epoch.
    let error = marker(&mut log, A, 2, true, 1).unwrap_err();
    assert!(matches!(
        error,
        LogError::ProducerState(ProducerStateError::InvalidProducerEpoch { .. })
    ));
    marker(&mut log, A, 3, false, 4).unwrap();
    assert!(!log.has_ongoing_transaction(A, 3));
    // A coordinator older than the last marker's is fenced, and writes nothing.
    append(&mut log, &txn_batch(A, 3, 1, 1));
    let error = marker(&mut log, A, 3, true, 3).unwrap_err();
    assert_eq!(
        match &error {
            LogError::ProducerState(error) => error.kafka_error(),
            _ => "",
        },
        "TRANSACTION_COORDINATOR_FENCED"
    );
    assert_eq!(log.log_end_offset(), end + 2);
    assert!(log.has_ongoing_transaction(A, 3));
    // Transaction version 2: the marker carries the bumped epoch; the same epoch is
    // refused while the transaction is open...
    let tv2 = |log: &mut Log, epoch: i16| {
        log.append_end_txn_marker(
            A,
            epoch,
            EndTransactionMarker::new(ControlRecordType::Commit, 4),
            2,
            NOW_MS,
            0,
        )
    };
    assert!(matches!(
        tv2(&mut log, 3).unwrap_err(),
        LogError::ProducerState(ProducerStateError::InvalidProducerEpoch { .. })
    ));
    tv2(&mut log, 4).unwrap();
    assert_eq!(log.producer_state(A).unwrap().producer_epoch, 4);
    assert_eq!(lso(&log), log.log_end_offset());
    // ...and accepted again (written) as the retry of a marker whose transaction is over.
    let before = log.log_end_offset();
    tv2(&mut log, 4).unwrap();
    assert_eq!(log.log_end_offset(), before + 1);
    // A marker for a producer without a transaction only sets its epochs.
    marker(&mut log, B, 0, false, 9).unwrap();
    let state = log.producer_state(B).unwrap();
    assert_eq!((state.producer_epoch, state.coordinator_epoch), (0, 9));
    assert!(log.aborted_txns_of_segment(0).unwrap().len() == 1);
}

#[test]
fn an_open_transaction_survives_a_clean_reopen_through_the_snapshot() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    append(&mut log, &batch_of(3, 10, NOW_MS));
    append(&mut log, &txn_batch(A, 1, 0, 2)); // 3-4
    marker(&mut log, A, 1, false, 7).unwrap(); // 5
    append(&mut log, &txn_batch(A, 1, 2, 2)); // 6-7
    append(&mut log, &txn_batch(B, 0, 0, 2)); // 8-9
    let offsets = log.close().unwrap();
    let (mut log, report) = open(
        directory.path(),
        small_config(),
        clean(offsets.recovery_point, 0),
    );
    assert_eq!(report.producer_state_batches_scanned, 0);
    assert_eq!(log.ongoing_transactions(), vec![(6, A), (8, B)]);
    assert_eq!(lso(&log), 6);
    assert!(log.has_ongoing_transaction(A, 1));
    let state = log.producer_state(A).unwrap();
    assert_eq!(
        (state.coordinator_epoch, state.current_txn_first_offset),
        (7, Some(6))
    );
    // The coordinator epoch from the snapshot still fences.
    assert!(marker(&mut log, A, 1, true, 6).is_err());
    marker(&mut log, A, 1, true, 7).unwrap();
    assert_eq!(lso(&log), 8);
    marker(&mut log, B, 0, false, 7).unwrap(); // 11
    assert_eq!(
        log.aborted_txns_of_segment(0).unwrap(),
        vec![txn(A, 3, 5, 6), txn(B, 8, 11, 12)]
    );
}

#[test]
fn recovery_rebuilds_the_txn_index_and_the_open_transactions() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    let mut expected = Vec::new();
    for round in 0..30i64 {
        let producer = if round % 2 == 0 { A } else { B };
        let info = append(
            &mut log,
            &txn_batch(producer, 0, (round / 2 * 200) as i32, 200),
        );
        let abort = marker(&mut log, producer, 0, round % 3 != 0, 0).unwrap();
        if round % 3 == 0 {
            expected.push((producer, info.base_offset, abort.base_offset));
        }
    }
    let open_first = append(&mut log, &txn_batch(C, 0, 0, 2)).base_offset;
    let bases = log.segment_base_offsets();
    assert!(bases.len() >= 3);
    let mut before = Vec::new();
    for &base in &bases {
        before.push(fs::read(txn_index_path(directory.path(), base)).ok());
    }
    assert!(before.iter().filter(|bytes| bytes.is_some()).count() >= 2);
    let end = log.log_end_offset();
    drop(log); // a crash
               // Lose the indexes entirely; garbage in one.
    for &base in &bases {
        let _ = fs::remove_file(txn_index_path(directory.path(), base));
    }
    fs::write(txn_index_path(directory.path(), bases[1]), [9u8; 40]).unwrap();
    let (log, report) = open(directory.path(), small_config(), unclean(0));
    assert_eq!(report.recovered_segments, bases.len());
    assert_eq!(log.log_end_offset(), end);
    for (index, &base) in bases.iter().enumerate() {
        let rebuilt = fs::read(txn_index_path(directory.path(), base)).ok();
        match (&before[index], &rebuilt) {
            (Some(before), Some(rebuilt)) => assert_eq!(before, rebuilt, "segment {base}"),
            // Kafka keeps the (emptied) file of a recovered segment that had one.
            (None, rebuilt) => assert!(rebuilt.as_ref().is_none_or(|bytes| bytes.is_empty())),
            (Some(_), None) => panic!("segment {base} lost its index"),
        }
    }
    let all = aborted(&log, 0, end);
    assert_eq!(
        all,
        expected
            .iter()
            .map(|&(producer, first, _)| (producer, first))
            .collect::<Vec<_>>()
    );
    assert_eq!(log.ongoing_transactions(), vec![(open_first, C)]);
    assert_eq!(lso(&log), open_first);
}

#[test]
fn recovery_from_a_recovery_point_starts_from_the_producer_state_there() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    // A's transaction opens in the first segment and is aborted segments later, with
    // B's transaction (opened before the abort) still open.
    let first = append(&mut log, &txn_batch(A, 0, 0, 2)).base_offset;
    let b_first = append(&mut log, &txn_batch(B, 0, 0, 2)).base_offset;
    for index in 0..60 {
        append(&mut log, &batch_of(4, 1000, NOW_MS + index));
    }
    let abort = marker(&mut log, A, 0, false, 2).unwrap().base_offset;
    let bases = log.segment_base_offsets();
    let last = *bases.last().unwrap();
    assert!(bases.len() >= 3 && abort > last);
    let expected = fs::read(txn_index_path(directory.path(), last)).unwrap();
    assert_eq!(
        log.aborted_txns_of_segment(last).unwrap(),
        vec![txn(A, first, abort, b_first)]
    );
    log.flush().unwrap();
    drop(log);
    fs::remove_file(txn_index_path(directory.path(), last)).unwrap();
    // Only the last segment is recovered: the state at its base comes from a snapshot.
    let (log, report) = open(directory.path(), small_config(), unclean(last));
    assert_eq!(report.recovered_segments, 1);
    assert_eq!(
        fs::read(txn_index_path(directory.path(), last)).unwrap(),
        expected
    );
    assert_eq!(lso(&log), b_first);
}

#[test]
fn truncation_cuts_the_txn_index_and_reopens_the_transactions() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    interleaved(&mut log);
    assert!(log.truncate_to(10).unwrap());
    // C's abort (10) is gone: C's transaction (8) is open again.
    assert_eq!(
        log.aborted_txns_of_segment(0).unwrap(),
        vec![txn(B, 2, 6, 0)]
    );
    assert_eq!(log.ongoing_transactions(), vec![(8, C)]);
    assert_eq!(lso(&log), 8);
    assert!(log.truncate_to(6).unwrap());
    assert_eq!(log.aborted_txns_of_segment(0).unwrap(), vec![]);
    assert_eq!(
        fs::metadata(txn_index_path(directory.path(), 0))
            .unwrap()
            .len(),
        0
    );
    assert_eq!(log.ongoing_transactions(), vec![(0, A), (2, B)]);
    assert_eq!(lso(&log), 0);
    // The index takes new entries after the cut.
    marker(&mut log, B, 0, false, 5).unwrap();
    assert_eq!(
        log.aborted_txns_of_segment(0).unwrap(),
        vec![txn(B, 2, 6, 0)]
    );
}

#[test]
fn retention_deletes_the_txn_index_with_its_segment_and_the_lso_stays_above_the_start() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    append(&mut log, &txn_batch(A, 0, 0, 2));
    marker(&mut log, A, 0, false, 0).unwrap();
    let open_first = append(&mut log, &txn_batch(B, 0, 0, 1)).base_offset;
    for index in 0..60 {
        append(&mut log, &batch_of(4, 1000, NOW_MS + index));
    }
    let bases = log.segment_base_offsets();
    assert!(txn_index_path(directory.path(), 0).exists());
    let end = log.log_end_offset();
    let deleted = log.increment_log_start_offset(bases[2], end).unwrap();
    assert_eq!(deleted.len(), 2);
    assert!(!txn_index_path(directory.path(), 0).exists());
    assert_eq!(aborted(&log, bases[2], end), Vec::<(i64, i64)>::new());
    // B's transaction began below the log start: the LSO is the log start (Kafka's rule).
    assert!(open_first < bases[2]);
    assert_eq!(log.first_unstable_offset(), Some(bases[2]));
    assert_eq!(lso(&log), bases[2]);
    let names: Vec<String> = fs::read_dir(directory.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".txnindex"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn an_orphan_txn_index_is_removed_on_open() {
    let directory = tempfile::tempdir().unwrap();
    let mut log = fresh(directory.path(), small_config());
    append(&mut log, &batch_of(2, 10, NOW_MS));
    log.close().unwrap();
    fs::write(
        txn_index_path(directory.path(), 500),
        txn(A, 500, 501, 502).encode(),
    )
    .unwrap();
    let (log, _) = open(directory.path(), small_config(), clean(2, 0));
    assert!(!txn_index_path(directory.path(), 500).exists());
    assert_eq!(log.log_end_offset(), 2);
}
