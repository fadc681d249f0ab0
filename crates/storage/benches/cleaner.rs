//! Log cleaner throughput, printed as plain figures (`cargo bench -p sluice_storage --bench cleaner`).
//!
//! Each case writes a log of keyed 1 KiB batches (100-byte values) into 64 MiB segments, rolls
//! it, and runs one clean the way the broker does (`cleanable` → `prepare_clean` → `clean` →
//! `commit_clean`), unthrottled, with Kafka's default 128 MiB offset map:
//!
//! - every key written 10 times: 90% of the records go (a changelog);
//! - every key written once: everything stays (the cleaner only copies);
//! - the same, batches compressed with zstd: decompression and recompression per batch.
//!
//! Figures: MB/s of segment bytes read by the clean (Kafka's "Cleaned … MB in … seconds"),
//! the offset map's share of the time, and bytes written / bytes read. Page cache, no fsync
//! wait beyond the clean's own. Set `SLUICE_BENCH_DIR` to measure another disk.

use std::path::Path;

use sluice_storage::background::LogResources;
use sluice_storage::cleaner::{clean, CleanCommit, CleanerOptions, CompactionConfig};
use sluice_storage::compression::{recompress_batch, Compression};
use sluice_storage::crc32c::crc32c;
use sluice_storage::log::{AppendOptions, OpenOptions};

const LOG_BYTES: usize = 512 << 20;
mod common;
use common::{finish_batch, open_log, put_record, NOW_MS};

/// One uncompressed batch of about 1 KiB: records with keys `k<first>`, `k<first+1>`, … (mod
/// `keys`) and 100-byte values; with the number of records.
fn keyed_batch(first_key: u64, keys: u64) -> (Vec<u8>, u64) {
    let mut body = Vec::new();
    let mut count = 0i32;
    while 61 + body.len() + 130 <= 1024 {
        let key = format!("k{}", (first_key + count as u64) % keys);
        put_record(&mut body, count, Some(key.as_bytes()), 100);
        count += 1;
    }
    (finish_batch(&body, count), count as u64)
}

struct Figures {
    megabytes_per_second: f64,
    map_share: f64,
    recopy: f64,
    kept: f64,
}

fn case(root: &Path, name: &str, updates_per_key: u64, codec: Compression) -> Figures {
    let directory = root.join(format!("clean-{name}"));
    let _ = std::fs::remove_dir_all(&directory);
    let resources = LogResources::with_defaults();
    let mut log = open_log(
        &directory,
        0,
        64 * 1024 * 1024,
        &resources,
        OpenOptions::fresh(NOW_MS),
    );
    let (sample, per_batch) = keyed_batch(0, 1);
    let batches = (LOG_BYTES / sample.len()) as u64;
    let keys = (batches * per_batch / updates_per_key).max(1);
    let options = AppendOptions::leader(NOW_MS, 0);
    for index in 0..batches {
        let (plain, _) = keyed_batch(index * per_batch, keys);
        let mut bytes = if codec == Compression::None {
            plain
        } else {
            recompress_batch(&plain, codec, None, u64::MAX).unwrap()
        };
        log.append(&mut bytes, &options).unwrap();
    }
    // A record stamped past segment.ms rolls the rest into a closed segment.
    let (mut last, _) = keyed_batch(0, keys);
    last[27..35].copy_from_slice(&(NOW_MS + 8 * 86_400_000).to_be_bytes());
    last[35..43].copy_from_slice(&(NOW_MS + 8 * 86_400_000).to_be_bytes());
    let crc = crc32c(&last[21..]);
    last[17..21].copy_from_slice(&crc.to_be_bytes());
    log.append(
        &mut last,
        &AppendOptions::leader(NOW_MS + 8 * 86_400_000, 0),
    )
    .unwrap();

    let compaction = CompactionConfig::default();
    let end = log.log_end_offset();
    let info = log
        .cleanable(NOW_MS + 8 * 86_400_000, None, end, &compaction)
        .unwrap();
    let plan = log.prepare_clean(&info).unwrap();
    let output = clean(plan, &CleanerOptions::default(), NOW_MS + 8 * 86_400_000).unwrap();
    let stats = match log.commit_clean(output).unwrap() {
        CleanCommit::Committed(stats) => stats,
        CleanCommit::Abandoned { reason } => panic!("abandoned: {reason}"),
    };
    drop(log);
    resources.wait_for_background();
    std::fs::remove_dir_all(&directory).unwrap();
    let seconds = stats.duration.as_secs_f64();
    Figures {
        megabytes_per_second: stats.bytes_read as f64 / seconds / 1e6,
        map_share: stats.map_duration.as_secs_f64() / seconds,
        recopy: stats.bytes_written as f64 / stats.bytes_read as f64,
        kept: stats.messages_written as f64 / stats.messages_read as f64,
    }
}

fn main() {
    let root = std::env::var("SLUICE_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir().join("sluice-storage-bench"));
    std::fs::create_dir_all(&root).unwrap();
    println!(
        "cleaner bench in {} ({} MiB log per case)",
        root.display(),
        LOG_BYTES >> 20
    );
    for (name, updates, codec) in [
        ("10 updates per key", 10, Compression::None),
        ("1 write per key", 1, Compression::None),
        ("10 updates per key, zstd", 10, Compression::Zstd),
    ] {
        let figures = case(&root, &name.replace([' ', ','], "-"), updates, codec);
        println!(
            "clean, {name:<26}: {:>6.0} MB/s read, offset map {:>3.0}% of the time, written/read {:.2}, records kept {:.2}",
            figures.megabytes_per_second,
            figures.map_share * 100.0,
            figures.recopy,
            figures.kept
        );
    }
}
