//! A whole log directory: Kafka's per-directory files, parallel open with progress, the
//! clean-shutdown marker, and the map budget across many partitions.

mod common;

use std::collections::HashSet;
use std::fs;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

use common::*;
use sluice_storage::background::LogResources;
use sluice_storage::checkpoint::TopicPartition;
use sluice_storage::log::{Log, OpenOptions};
use sluice_storage::log_dir::{LogDirectory, MetaProperties, OpenProgress};
use sluice_storage::partition_metadata::Uuid;

#[test]
fn meta_properties_round_trip_in_javas_layout() {
    let directory = tempfile::tempdir().unwrap();
    let log_dir = LogDirectory::new(directory.path());
    assert_eq!(log_dir.read_meta_properties().unwrap(), None);
    let meta = MetaProperties {
        version: 1,
        cluster_id: "MkU3OEVBNTcwNTJENDM2Qk".into(),
        node_id: 3,
        directory_id: Some(Uuid([9; 16])),
    };
    log_dir.write_meta_properties(&meta).unwrap();
    let text = fs::read_to_string(directory.path().join("meta.properties")).unwrap();
    assert!(text.contains("cluster.id=MkU3OEVBNTcwNTJENDM2Qk\n"));
    assert!(text.contains("node.id=3\nversion=1\n"));
    assert_eq!(log_dir.read_meta_properties().unwrap(), Some(meta));
}

fn open_partition(log_dir: &LogDirectory, partition: TopicPartition) -> Log {
    Log::open(
        &log_dir.partition_path(&partition),
        partition,
        small_config(),
        LogResources::with_defaults(),
        OpenOptions::fresh(NOW_MS),
        &AtomicU64::new(0),
    )
    .unwrap()
    .0
}

#[test]
fn a_clean_shutdown_is_trusted_once_and_an_unclean_one_recovers_in_parallel() {
    let directory = tempfile::tempdir().unwrap();
    let log_dir = LogDirectory::new(directory.path());
    let mut logs = Vec::new();
    for partition in 0..6 {
        let mut log = open_partition(&log_dir, TopicPartition::new("t-x", partition));
        for _ in 0..(partition + 1) * 10 {
            append(&mut log, &batch_of(2, 300, NOW_MS));
        }
        logs.push(log);
    }
    log_dir.close_all(logs, 3, 7).unwrap();
    assert!(log_dir.had_clean_shutdown());
    assert_eq!(
        fs::read_to_string(directory.path().join(".kafka_cleanshutdown")).unwrap(),
        "{\"version\":0,\"brokerEpoch\":7}"
    );
    let checkpoint =
        fs::read_to_string(directory.path().join("recovery-point-offset-checkpoint")).unwrap();
    assert!(checkpoint.starts_with("0\n6\n"));
    assert!(checkpoint.contains("t-x 5 120\n"));

    let resources = LogResources::with_defaults();
    let reports = Mutex::new(Vec::<OpenProgress>::new());
    let opened = log_dir
        .open_all(&|_| small_config(), &resources, 4, &|progress| {
            reports.lock().unwrap().push(progress)
        })
        .unwrap();
    assert!(
        !log_dir.had_clean_shutdown(),
        "the marker is consumed at start"
    );
    let reports = reports.into_inner().unwrap();
    assert_eq!(reports.len(), 6);
    assert_eq!(
        reports
            .iter()
            .map(|p| p.partitions_done)
            .collect::<HashSet<_>>()
            .len(),
        6
    );
    assert!(reports
        .iter()
        .all(|p| p.partitions_total == 6 && p.bytes_scanned == 0));
    let mut logs = Vec::new();
    for (partition, result) in opened {
        let (log, report) = result.unwrap();
        assert_eq!(report.recovered_segments, 0);
        assert_eq!(
            log.log_end_offset(),
            i64::from(partition.partition + 1) * 20
        );
        logs.push(log);
    }
    // Crash: drop without closing. The next start scans and reports bytes.
    drop(logs);
    let last = Mutex::new(None);
    let opened = log_dir
        .open_all(&|_| small_config(), &resources, 2, &|progress| {
            *last.lock().unwrap() = Some(progress)
        })
        .unwrap();
    let last = last.into_inner().unwrap().unwrap();
    assert_eq!(last.partitions_done, 6);
    assert!(last.bytes_scanned > 0);
    for (partition, result) in opened {
        let (log, report) = result.unwrap();
        assert!(report.recovered_segments > 0);
        assert_eq!(
            log.log_end_offset(),
            i64::from(partition.partition + 1) * 20
        );
    }
}

#[test]
fn many_partitions_share_a_small_map_budget() {
    let directory = tempfile::tempdir().unwrap();
    let resources = LogResources::new(12, None);
    let mut logs: Vec<Log> = (0..40)
        .map(|partition| {
            let partition = TopicPartition::new("many", partition);
            Log::open(
                &directory.path().join(partition.directory_name()),
                partition,
                small_config(),
                resources.clone(),
                OpenOptions::fresh(NOW_MS),
                &AtomicU64::new(0),
            )
            .unwrap()
            .0
        })
        .collect();
    for round in 0..30 {
        for log in &mut logs {
            append(log, &batch_of(1, 200, NOW_MS + round));
        }
        assert!(resources.map_budget().mapped_count() <= 12);
    }
    for log in &logs {
        let read = log.read(0, u32::MAX, None).unwrap().to_vec().unwrap();
        assert_eq!(batch_offsets(&read).len(), 30);
        assert_eq!(log.read(17, 1, None).unwrap().first_batch_offset, 17);
    }
    assert!(resources.map_budget().mapped_count() <= 12);
}

/// Directory names in the log directory.
fn entries(directory: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn deleting_a_partition_renames_it_delete_then_removes_it_while_background_work_runs() {
    let directory = tempfile::tempdir().unwrap();
    let log_dir = LogDirectory::new(directory.path());
    let resources = LogResources::with_defaults();
    for round in 0..20 {
        let partition = TopicPartition::new("doomed", round);
        let (mut log, _) = open_with(
            &log_dir.partition_path(&partition),
            small_config(),
            OpenOptions::fresh(NOW_MS),
            resources.clone(),
        );
        // Enough to roll and to ask the background thread for the next segment, a flush
        // and disk reservations, which may all still be running when the deletion starts.
        for _ in 0..(round + 1) * 8 {
            append(&mut log, &batch_of(4, 1000, NOW_MS));
        }
        log.request_flush();
        let held = log.read(0, 1 << 20, None).unwrap();
        log.delete_directory().unwrap();
        // Gone at once, and nothing comes back once the background thread is idle.
        resources.wait_for_background();
        assert_eq!(
            entries(directory.path()),
            Vec::<String>::new(),
            "round {round}"
        );
        // A reader's slice still reads the unlinked file.
        assert!(!held.to_vec().unwrap().is_empty());
    }
    assert!(resources.take_background_errors().is_empty());
}

#[test]
fn a_partition_left_renamed_delete_by_a_crash_is_removed_at_the_next_start() {
    let directory = tempfile::tempdir().unwrap();
    let log_dir = LogDirectory::new(directory.path());
    let kept = TopicPartition::new("kept", 0);
    let mut log = open_partition(&log_dir, kept.clone());
    append(&mut log, &batch_of(2, 100, NOW_MS));
    drop(log);
    let leftover = directory
        .path()
        .join("gone-0.0123456789abcdef0123456789abcdef-delete");
    fs::create_dir(&leftover).unwrap();
    fs::write(leftover.join("00000000000000000000.log"), b"old").unwrap();
    let opened = log_dir
        .open_all(
            &|_| small_config(),
            &LogResources::with_defaults(),
            1,
            &|_| {},
        )
        .unwrap();
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].0, kept);
    assert!(!leftover.exists());
}

#[test]
fn the_kraft_metadata_log_is_not_a_partition_to_open() {
    let directory = tempfile::tempdir().unwrap();
    for name in [
        "__cluster_metadata-0",
        "orders-0",
        "orders-1",
        "gone-0.81c540be5e4f4eb69087b4fc4ae85742-delete",
    ] {
        fs::create_dir(directory.path().join(name)).unwrap();
    }
    let log_dir = LogDirectory::new(directory.path());
    assert_eq!(
        log_dir.partitions().unwrap(),
        vec![
            TopicPartition::new("orders", 0),
            TopicPartition::new("orders", 1)
        ]
    );
}
