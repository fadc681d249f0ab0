//! Storage throughput, printed as plain figures (`cargo bench -p sluice_storage --bench log`).
//!
//! - append MB/s: 1 KiB and 16 KiB batches, into 1 and into 100 partitions (round robin),
//!   through the mmap'd active segment, with rolls at 256 MiB;
//! - read latency: a random offset to a file slice (index lookup + header scan), µs;
//! - recovery GB/s: an unclean reopen that checks every batch's CRC32C;
//! - `dd if=/dev/zero bs=1M count=1024 conv=notrunc` into the same directory, for the
//!   ratio against what the page cache takes from a plain writer.
//!
//! Everything stays in the page cache (no fsync), as a broker with Kafka's default flush
//! settings runs. Set `SLUICE_BENCH_DIR` to measure another disk.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use sluice_storage::background::LogResources;
use sluice_storage::checkpoint::TopicPartition;
use sluice_storage::config::LogConfig;
use sluice_storage::log::{AppendOptions, Log, OpenOptions};

const TOTAL_BYTES: usize = 1 << 30;
mod common;
use common::{finish_batch, open_log, put_record, NOW_MS};

/// One uncompressed batch of about `batch_bytes`: records with null keys and 100-byte values.
fn batch(batch_bytes: usize) -> Vec<u8> {
    let mut body = Vec::new();
    let mut count = 0i32;
    while 61 + body.len() + 110 <= batch_bytes {
        put_record(&mut body, count, None, 100);
        count += 1;
    }
    finish_batch(&body, count)
}

/// 256 MiB segments (the recovery case opens the log itself, to read its report).
fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 256 * 1024 * 1024,
        ..LogConfig::default()
    }
}

fn open(
    directory: &Path,
    partition: i32,
    resources: &Arc<LogResources>,
    options: OpenOptions,
) -> Log {
    open_log(
        directory,
        partition,
        config().segment_bytes,
        resources,
        options,
    )
}

fn append_case(root: &Path, batch_bytes: usize, partitions: i32) -> f64 {
    let directory = root.join(format!("append-{batch_bytes}-{partitions}"));
    let resources = LogResources::with_defaults();
    let mut logs: Vec<Log> = (0..partitions)
        .map(|partition| {
            open(
                &directory,
                partition,
                &resources,
                OpenOptions::fresh(NOW_MS),
            )
        })
        .collect();
    let template = batch(batch_bytes);
    let mut buffer = template.clone();
    let count = TOTAL_BYTES / template.len();
    let options = AppendOptions::leader(NOW_MS, 0);
    let started = Instant::now();
    for index in 0..count {
        buffer.copy_from_slice(&template);
        let log = &mut logs[index % partitions as usize];
        log.append(&mut buffer, &options).unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(logs);
    resources.wait_for_background();
    std::fs::remove_dir_all(&directory).unwrap();
    (count * template.len()) as f64 / seconds / 1e6
}

fn main() {
    let root = std::env::var("SLUICE_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir().join("sluice-storage-bench"));
    std::fs::create_dir_all(&root).unwrap();
    println!(
        "storage bench in {} ({} MiB per case)",
        root.display(),
        TOTAL_BYTES >> 20
    );
    println!(
        "1 KiB batch = {} bytes, 16 KiB batch = {} bytes",
        batch(1024).len(),
        batch(16 * 1024).len()
    );

    for (batch_bytes, partitions) in [(1024, 1), (16 * 1024, 1), (1024, 100), (16 * 1024, 100)] {
        let megabytes_per_second = append_case(&root, batch_bytes, partitions);
        println!(
            "append {:>2} KiB batches, {:>3} partition(s): {:>7.0} MB/s",
            batch_bytes / 1024,
            partitions,
            megabytes_per_second
        );
    }

    // One log of 1 GiB of 1 KiB batches for reads and recovery.
    let directory = root.join("read");
    let resources = LogResources::with_defaults();
    let mut log = open(&directory, 0, &resources, OpenOptions::fresh(NOW_MS));
    let template = batch(1024);
    let mut buffer = template.clone();
    let options = AppendOptions::leader(NOW_MS, 0);
    for _ in 0..TOTAL_BYTES / template.len() {
        buffer.copy_from_slice(&template);
        log.append(&mut buffer, &options).unwrap();
    }
    let end = log.log_end_offset();
    let lookups = 200_000u64;
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let started = Instant::now();
    let mut total = 0u64;
    for _ in 0..lookups {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let offset = (state % end as u64) as i64;
        let read = log.read(offset, 1 << 20, None).unwrap();
        total += read.slice.map_or(0, |slice| slice.len());
    }
    let micros = started.elapsed().as_secs_f64() * 1e6 / lookups as f64;
    let average_kib = (total / lookups) >> 10;
    println!(
        "read: random offset -> 1 MiB slice of whole batches: {micros:.2} µs per lookup \
         ({average_kib} KiB avg)"
    );
    let started = Instant::now();
    for _ in 0..lookups {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let offset = (state % end as u64) as i64;
        let _ = log.read(offset, 1, None).unwrap();
    }
    let micros = started.elapsed().as_secs_f64() * 1e6 / lookups as f64;
    println!("read: random offset -> first batch only: {micros:.2} µs per lookup");
    drop(log); // unclean: no trim, no checkpoint
    resources.wait_for_background();

    let scanned = AtomicU64::new(0);
    let started = Instant::now();
    let partition = TopicPartition::new("bench", 0);
    let (log, report) = Log::open(
        &directory.join(partition.directory_name()),
        partition,
        config(),
        resources.clone(),
        OpenOptions::fresh(NOW_MS),
        &scanned,
    )
    .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(log.log_end_offset(), end);
    println!(
        "recovery: {} segments, {:.2} GB scanned (framing + CRC32C) at {:.2} GB/s",
        report.recovered_segments,
        scanned.load(Ordering::Relaxed) as f64 / 1e9,
        scanned.load(Ordering::Relaxed) as f64 / seconds / 1e9
    );
    drop(log);
    std::fs::remove_dir_all(&directory).unwrap();

    let target = root.join("dd.bin");
    let output = Command::new("dd")
        .arg("if=/dev/zero")
        .arg(format!("of={}", target.display()))
        .args(["bs=1M", "count=1024", "conv=notrunc"])
        .output();
    match output {
        Ok(output) => {
            let text = String::from_utf8_lossy(&output.stderr);
            println!("dd (page cache): {}", text.lines().last().unwrap_or(""));
        }
        Err(error) => println!("dd: not run ({error})"),
    }
    let _ = std::fs::remove_file(&target);
}
