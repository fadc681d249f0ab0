use super::*;
use crate::end_txn_marker::ControlRecordType;

const PID: i64 = 1000;

fn batch(epoch: i16, base_sequence: i32, count: i32, first_offset: i64) -> ProducerBatch {
    ProducerBatch {
        producer_id: PID,
        producer_epoch: epoch,
        base_sequence,
        first_offset,
        last_offset: first_offset + i64::from(count - 1),
        last_offset_delta: count - 1,
        max_timestamp: 1_000 + first_offset,
        is_transactional: false,
        is_control: false,
        end_txn_marker: None,
    }
}

fn manager() -> (tempfile::TempDir, ProducerStateManager) {
    let directory = tempfile::tempdir().unwrap();
    let manager = ProducerStateManager::new(directory.path(), 86_400_000).unwrap();
    (directory, manager)
}

/// Checks and, when accepted and not a duplicate, commits one append of `batches`.
fn append(
    state: &mut ProducerStateManager,
    batches: &[ProducerBatch],
) -> Result<Option<BatchMetadata>, ProducerStateError> {
    let result = state.analyze_append(batches.iter().copied(), ProducerOrigin::Client, TV_UNKNOWN);
    if let Ok(None) = result {
        let next = batches.last().map_or(0, |batch| batch.last_offset + 1);
        state.commit_append(next, |_, _| Ok::<(), ()>(())).unwrap();
    }
    result
}

#[test]
fn sequences_wrap_like_kafkas() {
    assert_eq!(increment_sequence(5, 3), 8);
    assert_eq!(increment_sequence(i32::MAX, 1), 0);
    assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
    assert_eq!(decrement_sequence(8, 3), 5);
    assert_eq!(decrement_sequence(1, 3), i32::MAX - 1);
    assert_eq!(decrement_sequence(0, 1), i32::MAX);
    assert!(in_sequence(i32::MAX, 0));
    assert!(in_sequence(-1, 0));
    assert!(!in_sequence(i32::MAX, 1));
}

#[test]
fn in_sequence_batches_are_accepted_and_remembered() {
    let (_dir, mut state) = manager();
    assert_eq!(append(&mut state, &[batch(0, 0, 3, 0)]), Ok(None));
    assert_eq!(append(&mut state, &[batch(0, 3, 2, 3)]), Ok(None));
    let entry = state.last_entry(PID).unwrap();
    assert_eq!(entry.producer_epoch, 0);
    assert_eq!(entry.first_sequence(), 0);
    assert_eq!(entry.last_sequence(), 4);
    assert_eq!(entry.last_data_offset(), 4);
    assert_eq!(entry.last_timestamp, 1_003);
    assert_eq!(entry.batches().len(), 2);
    assert_eq!(state.map_end_offset(), 5);
}

#[test]
fn a_new_producer_may_start_at_any_sequence() {
    // Kafka 4.1 has no UNKNOWN_PRODUCER_ID on produce: no current epoch, any sequence.
    let (_dir, mut state) = manager();
    assert_eq!(append(&mut state, &[batch(3, 42, 1, 0)]), Ok(None));
    assert_eq!(state.last_entry(PID).unwrap().last_sequence(), 42);
}

#[test]
fn each_of_the_last_five_batches_is_a_duplicate_and_the_sixth_oldest_is_not() {
    let (_dir, mut state) = manager();
    let batches: Vec<ProducerBatch> = (0..6)
        .map(|index| batch(0, index * 2, 2, i64::from(index) * 2))
        .collect();
    for batch in &batches {
        assert_eq!(append(&mut state, &[*batch]), Ok(None));
    }
    for original in &batches[1..] {
        let retry = batch(0, original.base_sequence, 2, 100);
        let duplicate = append(&mut state, &[retry]).unwrap().expect("a duplicate");
        assert_eq!(duplicate.first_offset(), original.first_offset);
        assert_eq!(duplicate.last_offset, original.last_offset);
        assert_eq!(duplicate.timestamp, original.max_timestamp);
    }
    // The oldest fell out of the cache: its retry is now out of order.
    let oldest = batch(0, 0, 2, 100);
    assert!(matches!(
        append(&mut state, &[oldest]),
        Err(ProducerStateError::OutOfOrderSequence {
            first_sequence: 0,
            current_last_sequence: 11,
            ..
        })
    ));
    // A duplicate changes nothing.
    assert_eq!(state.last_entry(PID).unwrap().last_sequence(), 11);
    assert_eq!(state.map_end_offset(), 12);
}

#[test]
fn a_duplicate_needs_the_same_sequence_range_and_epoch() {
    let (_dir, mut state) = manager();
    append(&mut state, &[batch(0, 0, 3, 0)]).unwrap();
    // Same first sequence, different length: not a duplicate, and out of order.
    assert!(matches!(
        append(&mut state, &[batch(0, 0, 2, 3)]),
        Err(ProducerStateError::OutOfOrderSequence { .. })
    ));
    // Same range, newer epoch: not a duplicate; a new epoch starting at 0 is accepted.
    assert_eq!(append(&mut state, &[batch(1, 0, 3, 3)]), Ok(None));
}

#[test]
fn gaps_and_repeats_are_out_of_order() {
    let (_dir, mut state) = manager();
    append(&mut state, &[batch(0, 0, 3, 0)]).unwrap();
    for first in [4, 10, 2, 1, -5] {
        let error = append(&mut state, &[batch(0, first, 1, 3)]).unwrap_err();
        assert_eq!(error.kafka_error(), "OUT_OF_ORDER_SEQUENCE_NUMBER");
        assert_eq!(
            error,
            ProducerStateError::OutOfOrderSequence {
                producer_id: PID,
                producer_epoch: 0,
                first_sequence: first,
                current_last_sequence: 2,
                current_epoch: 0,
                offset: 3,
            }
        );
    }
    assert_eq!(append(&mut state, &[batch(0, 3, 1, 3)]), Ok(None));
}

#[test]
fn sequences_wrap_at_int32_max() {
    let (_dir, mut state) = manager();
    append(&mut state, &[batch(0, i32::MAX - 2, 3, 0)]).unwrap();
    assert_eq!(state.last_entry(PID).unwrap().last_sequence(), i32::MAX);
    // A batch that wraps inside: base MAX-1 … 1 is in sequence after a batch ending at MAX-2.
    let (_dir2, mut wrapping) = manager();
    append(&mut wrapping, &[batch(0, i32::MAX - 4, 3, 0)]).unwrap();
    append(&mut wrapping, &[batch(0, i32::MAX - 1, 4, 3)]).unwrap();
    let entry = wrapping.last_entry(PID).unwrap();
    assert_eq!(entry.last_sequence(), 1);
    assert_eq!(entry.batches()[1].first_sequence(), i32::MAX - 1);
    // Its retry is found by its (wrapped) range.
    let duplicate = append(&mut wrapping, &[batch(0, i32::MAX - 1, 4, 50)])
        .unwrap()
        .unwrap();
    assert_eq!((duplicate.first_offset(), duplicate.last_offset), (3, 6));
    // After MAX comes 0.
    assert_eq!(append(&mut state, &[batch(0, 0, 1, 3)]), Ok(None));
    assert!(append(&mut state, &[batch(0, 5, 1, 4)]).is_err());
}

#[test]
fn a_bumped_epoch_must_restart_at_zero() {
    let (_dir, mut state) = manager();
    append(&mut state, &[batch(0, 0, 5, 0)]).unwrap();
    let error = append(&mut state, &[batch(1, 5, 1, 5)]).unwrap_err();
    assert_eq!(
        error,
        ProducerStateError::OutOfOrderSequence {
            producer_id: PID,
            producer_epoch: 1,
            first_sequence: 5,
            current_last_sequence: -1,
            current_epoch: 0,
            offset: 5,
        }
    );
    assert_eq!(append(&mut state, &[batch(1, 0, 1, 5)]), Ok(None));
    let entry = state.last_entry(PID).unwrap();
    assert_eq!(entry.producer_epoch, 1);
    // The new epoch drops the old epoch's batches.
    assert_eq!(entry.batches().len(), 1);
}

#[test]
fn an_older_epoch_is_fenced_before_anything_else() {
    let (_dir, mut state) = manager();
    append(&mut state, &[batch(2, 0, 1, 0)]).unwrap();
    let error = append(&mut state, &[batch(1, 1, 1, 1)]).unwrap_err();
    assert_eq!(error.kafka_error(), "INVALID_PRODUCER_EPOCH");
    assert_eq!(
        error,
        ProducerStateError::InvalidProducerEpoch {
            producer_id: PID,
            producer_epoch: 1,
            current_epoch: 2,
            offset: 1,
        }
    );
    // Even a retry of a batch the old epoch did write is fenced (no duplicate across epochs).
    assert!(matches!(
        append(&mut state, &[batch(1, 0, 1, 1)]),
        Err(ProducerStateError::InvalidProducerEpoch { .. })
    ));
}

#[test]
fn batches_without_a_producer_id_bypass_everything() {
    let (_dir, mut state) = manager();
    let plain = ProducerBatch {
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
        ..batch(0, 0, 3, 0)
    };
    assert_eq!(append(&mut state, &[plain]), Ok(None));
    assert_eq!(append(&mut state, &[plain]), Ok(None));
    assert!(state.is_empty());
    assert_eq!(state.map_end_offset(), 3);
}

#[test]
fn a_multi_batch_append_is_checked_whole_before_any_state_changes() {
    let (_dir, mut state) = manager();
    append(&mut state, &[batch(0, 0, 2, 0)]).unwrap();
    // The second batch follows the first of the same append; the third has a gap.
    let bad = [batch(0, 2, 2, 2), batch(0, 4, 2, 4), batch(0, 9, 1, 6)];
    assert!(matches!(
        append(&mut state, &bad),
        Err(ProducerStateError::OutOfOrderSequence {
            first_sequence: 9,
            current_last_sequence: 5,
            ..
        })
    ));
    assert_eq!(state.last_entry(PID).unwrap().last_sequence(), 1);
    assert_eq!(state.map_end_offset(), 2);
    let good = [batch(0, 2, 2, 2), batch(0, 4, 2, 4)];
    assert_eq!(append(&mut state, &good), Ok(None));
    assert_eq!(state.last_entry(PID).unwrap().last_sequence(), 5);
    assert_eq!(state.last_entry(PID).unwrap().batches().len(), 3);
    // Kafka: a duplicate anywhere in a client append answers for the whole append.
    let mixed = [batch(0, 6, 1, 6), batch(0, 2, 2, 7)];
    let duplicate = append(&mut state, &mixed).unwrap().unwrap();
    assert_eq!((duplicate.first_offset(), duplicate.last_offset), (2, 3));
    assert_eq!(state.last_entry(PID).unwrap().last_sequence(), 5);
}

#[test]
fn coordinator_and_replication_origins_check_less() {
    let (_dir, mut state) = manager();
    append(&mut state, &[batch(3, 0, 1, 0)]).unwrap();
    // Coordinator: epochs fenced, sequences not.
    assert_eq!(
        state.analyze_append(
            [batch(3, 77, 1, 1)],
            ProducerOrigin::Coordinator,
            TV_UNKNOWN
        ),
        Ok(None)
    );
    state.abandon_append();
    assert!(state
        .analyze_append([batch(2, 1, 1, 1)], ProducerOrigin::Coordinator, TV_UNKNOWN)
        .is_err());
    // Replication: nothing refused, no duplicate answered.
    assert_eq!(
        state.analyze_append([batch(1, 0, 1, 1)], ProducerOrigin::Replication, TV_UNKNOWN),
        Ok(None)
    );
    assert_eq!(
        state.analyze_append([batch(3, 0, 1, 1)], ProducerOrigin::Replication, TV_UNKNOWN),
        Ok(None)
    );
}

#[test]
fn transactional_state_is_tracked_for_the_snapshot() {
    let (_dir, mut state) = manager();
    let transactional = ProducerBatch {
        is_transactional: true,
        ..batch(0, 0, 2, 10)
    };
    append(&mut state, &[transactional]).unwrap();
    assert_eq!(
        state.last_entry(PID).unwrap().current_txn_first_offset,
        Some(10)
    );
    // A plain batch while the transaction is open.
    let error = append(&mut state, &[batch(0, 2, 1, 12)]).unwrap_err();
    assert_eq!(error.kafka_error(), "INVALID_TXN_STATE");
    // A marker ends it (loaded from the log).
    state.load_batch(&ProducerBatch {
        is_control: true,
        is_transactional: true,
        end_txn_marker: Some(EndTransactionMarker::new(ControlRecordType::Commit, 0)),
        ..batch(0, -1, 1, 12)
    });
    assert_eq!(
        state.last_entry(PID).unwrap().current_txn_first_offset,
        None
    );
    // Transactions in progress never expire.
    append(
        &mut state,
        &[ProducerBatch {
            is_transactional: true,
            ..batch(0, 2, 1, 13)
        }],
    )
    .unwrap();
    assert_eq!(state.remove_expired_producers(i64::MAX / 2), 0);
}

#[test]
fn idle_producers_expire() {
    let (_dir, mut state) = manager();
    append(&mut state, &[batch(0, 0, 1, 0)]).unwrap(); // timestamp 1_000
    let other = ProducerBatch {
        producer_id: 7,
        max_timestamp: 50_000_000,
        ..batch(0, 0, 1, 1)
    };
    append(&mut state, &[other]).unwrap();
    assert_eq!(state.remove_expired_producers(1_000 + 86_400_000 - 1), 0);
    assert_eq!(state.remove_expired_producers(1_000 + 86_400_000), 1);
    assert!(state.last_entry(PID).is_none());
    assert!(state.last_entry(7).is_some());
}

#[test]
fn snapshot_bytes_round_trip_in_kafkas_layout() {
    let mut with_batch = ProducerStateEntry::empty(0x0102_0304_0506_0708);
    with_batch.add_batch(
        0x1122,
        BatchMetadata {
            last_sequence: 0x3344_5566,
            last_offset: 0x7788,
            offset_delta: 9,
            timestamp: 0x0A0B,
        },
    );
    with_batch.coordinator_epoch = 5;
    with_batch.current_txn_first_offset = Some(0x7700);
    let empty = ProducerStateEntry {
        producer_epoch: 4,
        last_timestamp: 77,
        ..ProducerStateEntry::empty(9)
    };
    let bytes = encode_snapshot([&with_batch, &empty]);
    assert_eq!(bytes.len(), 10 + 2 * 46);
    assert_eq!(&bytes[0..2], &[0, 1]);
    assert_eq!(&bytes[6..10], &[0, 0, 0, 2]);
    let first = &bytes[10..56];
    assert_eq!(&first[0..8], &0x0102_0304_0506_0708i64.to_be_bytes());
    assert_eq!(&first[8..10], &0x1122i16.to_be_bytes());
    assert_eq!(&first[10..14], &0x3344_5566i32.to_be_bytes());
    assert_eq!(&first[14..22], &0x7788i64.to_be_bytes());
    assert_eq!(&first[22..26], &9i32.to_be_bytes());
    assert_eq!(&first[26..34], &0x0A0Bi64.to_be_bytes());
    assert_eq!(&first[34..38], &5i32.to_be_bytes());
    assert_eq!(&first[38..46], &0x7700i64.to_be_bytes());
    let second = &bytes[56..];
    assert_eq!(&second[10..14], &(-1i32).to_be_bytes());
    assert_eq!(&second[14..22], &(-1i64).to_be_bytes());
    assert_eq!(&second[22..26], &0i32.to_be_bytes());
    assert_eq!(&second[38..46], &(-1i64).to_be_bytes());
    assert_eq!(
        u32::from_be_bytes(bytes[2..6].try_into().unwrap()),
        crc32c(&bytes[6..])
    );
    let decoded = decode_snapshot(&bytes).unwrap();
    assert_eq!(decoded, vec![with_batch, empty]);
}

#[test]
fn corrupt_snapshot_bytes_are_refused() {
    let entry = ProducerStateEntry::empty(1);
    let good = encode_snapshot([&entry]);
    let mut flipped = good.clone();
    flipped[20] ^= 1;
    assert!(matches!(
        decode_snapshot(&flipped),
        Err(SnapshotError::Corrupt(_))
    ));
    let mut version = good.clone();
    version[1] = 2;
    assert!(matches!(
        decode_snapshot(&version),
        Err(SnapshotError::Corrupt(_))
    ));
    assert!(matches!(
        decode_snapshot(&good[..30]),
        Err(SnapshotError::Corrupt(_))
    ));
    assert!(matches!(
        decode_snapshot(&[]),
        Err(SnapshotError::Corrupt(_))
    ));
    assert!(matches!(
        decode_snapshot(&[0u8; 64]),
        Err(SnapshotError::Corrupt(_))
    ));
    let mut huge = good;
    huge[6..10].copy_from_slice(&i32::MAX.to_be_bytes());
    assert!(matches!(
        decode_snapshot(&huge),
        Err(SnapshotError::Corrupt(_))
    ));
}

#[test]
fn snapshots_are_written_loaded_and_the_newest_good_one_wins() {
    let (dir, mut state) = manager();
    append(&mut state, &[batch(0, 0, 3, 0)]).unwrap();
    let path = state.take_snapshot(true).unwrap().unwrap();
    assert_eq!(path.file_name().unwrap(), "00000000000000000003.snapshot");
    assert_eq!(
        state.take_snapshot(true).unwrap(),
        None,
        "nothing new to snapshot"
    );
    append(&mut state, &[batch(0, 3, 2, 3)]).unwrap();
    state.take_snapshot(true).unwrap().unwrap();
    // Corrupt the newest: loading deletes it and falls back to the older one.
    let newest = dir.path().join("00000000000000000005.snapshot");
    let mut bytes = fs::read(&newest).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xFF;
    fs::write(&newest, bytes).unwrap();
    let mut reloaded = ProducerStateManager::new(dir.path(), 86_400_000).unwrap();
    assert_eq!(reloaded.snapshot_offsets(), vec![3, 5]);
    reloaded.truncate_and_reload(0, 5, 2_000).unwrap();
    assert_eq!(reloaded.corrupt_snapshots(), 1);
    assert!(!newest.exists());
    assert_eq!(reloaded.map_end_offset(), 3);
    let entry = reloaded.last_entry(PID).unwrap();
    assert_eq!(entry.last_sequence(), 2);
    assert_eq!(entry.batches().len(), 1);
    // Expired producers are left out of a load.
    let mut late = ProducerStateManager::new(dir.path(), 86_400_000).unwrap();
    late.truncate_and_reload(0, 5, 1_000 + 86_400_000).unwrap();
    assert!(late.is_empty());
}

#[test]
fn stray_snapshots_go_except_the_newest_above_every_segment() {
    let (dir, mut state) = manager();
    for offset in [0, 10, 15, 20, 30, 35] {
        state.update_map_end_offset(offset);
        if offset > 0 {
            state.take_snapshot(true).unwrap();
        }
    }
    // Segments at 0, 10, 20, 30: 15 is a stray below the last segment; 35 stays.
    state.remove_stray_snapshots(&[0, 10, 20, 30]).unwrap();
    assert_eq!(state.snapshot_offsets(), vec![10, 20, 30, 35]);
    let on_disk = list_snapshot_offsets(dir.path()).unwrap();
    assert_eq!(
        on_disk.into_iter().collect::<Vec<_>>(),
        vec![10, 20, 30, 35]
    );
    state.delete_snapshots_before(30).unwrap();
    assert_eq!(state.snapshot_offsets(), vec![30, 35]);
    state.truncate_and_reload(0, 32, 0).unwrap();
    assert_eq!(state.snapshot_offsets(), vec![30]);
    state.truncate_fully_and_start_at(40).unwrap();
    assert!(state.snapshot_offsets().is_empty());
    assert!(list_snapshot_offsets(dir.path()).unwrap().is_empty());
}

#[test]
fn snapshot_names_are_twenty_digits() {
    assert_eq!(snapshot_file_name(368_769), "00000000000000368769.snapshot");
    assert_eq!(
        parse_snapshot_name("00000000000000368769.snapshot"),
        Some(368_769)
    );
    assert_eq!(parse_snapshot_name("368769.snapshot"), None);
    assert_eq!(
        parse_snapshot_name("00000000000000368769.snapshot.tmp"),
        None
    );
}

#[test]
fn ongoing_transactions_come_back_from_a_snapshot_in_first_offset_order() {
    let (directory, mut state) = manager();
    let other = ProducerBatch {
        producer_id: 7,
        is_transactional: true,
        ..batch(0, 0, 1, 12)
    };
    append(
        &mut state,
        &[
            ProducerBatch {
                is_transactional: true,
                ..batch(0, 0, 2, 10)
            },
            other,
        ],
    )
    .unwrap();
    assert_eq!(state.ongoing_transactions(), vec![(10, PID), (12, 7)]);
    state.take_snapshot(true).unwrap();
    let mut reloaded = ProducerStateManager::new(directory.path(), 86_400_000).unwrap();
    reloaded.truncate_and_reload(0, 13, 0).unwrap();
    assert_eq!(reloaded.ongoing_transactions(), vec![(10, PID), (12, 7)]);
    assert_eq!(reloaded.first_undecided_offset(), Some(10));
    assert!(reloaded.has_ongoing_transaction(PID, 0));
    assert!(!reloaded.has_ongoing_transaction(PID, 1));
    // PID's abort at 13: the LSO it leaves is producer 7's first offset.
    let abort = ProducerBatch {
        is_control: true,
        is_transactional: true,
        end_txn_marker: Some(EndTransactionMarker::new(ControlRecordType::Abort, 3)),
        ..batch(0, -1, 1, 13)
    };
    let mut completed = Vec::new();
    reloaded
        .analyze_append([abort], ProducerOrigin::Coordinator, 0)
        .unwrap();
    reloaded
        .commit_append(14, |txn, last_stable_offset| {
            completed.push((*txn, last_stable_offset));
            Ok::<(), ()>(())
        })
        .unwrap();
    assert_eq!(
        completed,
        vec![(
            CompletedTxn {
                producer_id: PID,
                first_offset: 10,
                last_offset: 13,
                is_aborted: true
            },
            12
        )]
    );
    assert_eq!(reloaded.first_undecided_offset(), Some(12));
    assert_eq!(reloaded.last_entry(PID).unwrap().coordinator_epoch, 3);
    // A zombie coordinator's marker is fenced; nothing changes.
    let zombie = ProducerBatch {
        producer_id: 7,
        end_txn_marker: Some(EndTransactionMarker::new(ControlRecordType::Commit, 2)),
        ..abort
    };
    let error = reloaded
        .analyze_append(
            [ProducerBatch {
                producer_id: PID,
                ..zombie
            }],
            ProducerOrigin::Coordinator,
            0,
        )
        .unwrap_err();
    assert_eq!(error.kafka_error(), "TRANSACTION_COORDINATOR_FENCED");
    // Replication accepts it (Kafka logs it).
    assert_eq!(
        reloaded
            .load_batch(&zombie)
            .map(|(txn, lso)| (txn.first_offset, lso)),
        Some((12, 14))
    );
    assert_eq!(reloaded.first_undecided_offset(), None);
}
