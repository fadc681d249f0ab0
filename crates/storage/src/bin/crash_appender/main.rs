//! `crash_appender`: the child process of `tests/crash.rs`. It opens a log directory the
//! way the broker does (`LogDirectory::open_all`: the clean-shutdown marker and the
//! recovery-point / log-start-offset checkpoints decide what is recovered), then appends
//! batches as fast as it can until it is killed:
//!
//! - one to three batches per append, 1–64 records each, values of 0–4000 bytes whose
//!   bytes follow from their offset (see `workload.rs`), leader epoch from the command line;
//! - before each append it writes the end offset the append will reach to the progress
//!   file, after it the end offset reached;
//! - every `--flush-every` batches it calls `Log::flush` and prints `flushed <end offset>
//!   <log start offset>` to stdout (one `write` per line, flushed at once: a pipe cannot
//!   be fsynced, but what was written reaches the parent even if the kill comes next);
//!   every `--checkpoint-every` flushes it then deletes segments over `retention.bytes`
//!   below the flushed offset and writes the log-dir checkpoints, as the broker's
//!   periodic tasks do (retention keeps the log, and so each check, small).
//!
//! Output lines:
//!
//! ```text
//! open <clean 0|1> <log start> <log end> <recovery point> <recovered segments> <truncated bytes>
//! flushed <log end offset> <log start offset>
//! ```
//!
//! Usage: `crash_appender --dir D --progress P --seed N ...` (all keys: `workload.rs`).

mod workload;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::process::ExitCode;

use sluice_storage::background::{now_ms, LogResources};
use sluice_storage::log::AppendOptions;
use sluice_storage::log_dir::LogDirectory;

use workload::{build_batch, encode_progress, partition, Params, Rng, MAX_RECORDS_PER_BATCH};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("crash_appender: {error}");
            ExitCode::FAILURE
        }
    }
}

fn say(line: &str) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(format!("{line}\n").as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|error| format!("stdout: {error}"))
}

fn run(args: &[String]) -> Result<(), String> {
    let params = Params::from_args(args)?;
    let config = params.config();
    let log_dir = LogDirectory::new(&params.dir);
    let partition = partition();
    fs::create_dir_all(log_dir.partition_path(&partition))
        .map_err(|error| format!("create the partition directory: {error}"))?;
    let clean = log_dir.had_clean_shutdown();
    let resources = LogResources::with_defaults();
    let opened = log_dir
        .open_all(&|_| config.clone(), &resources, 1, &|_| {})
        .map_err(|error| format!("open_all: {error}"))?;
    let Some((_, result)) = opened.into_iter().find(|(tp, _)| *tp == partition) else {
        return Err("open_all did not open the partition".into());
    };
    let (mut log, report) = result.map_err(|error| format!("open: {error}"))?;
    say(&format!(
        "open {} {} {} {} {} {}",
        u8::from(clean),
        log.log_start_offset(),
        log.log_end_offset(),
        log.recovery_point(),
        report.recovered_segments,
        report.truncated_bytes
    ))?;

    let progress = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&params.progress)
        .map_err(|error| format!("progress file: {error}"))?;
    let write_progress = |pending: i64, acked: i64| {
        progress
            .write_all_at(&encode_progress(pending, acked), 0)
            .map_err(|error| format!("progress file: {error}"))
    };

    let mut rng = Rng::new(params.seed);
    let mut buffer = Vec::new();
    let mut since_flush = 0u64;
    let mut flushes = 0u64;
    loop {
        let start = log.log_end_offset();
        let mut end = start;
        buffer.clear();
        for _ in 0..rng.range(1, 3) {
            end += build_batch(end, rng.range(1, MAX_RECORDS_PER_BATCH), &mut buffer);
            since_flush += 1;
        }
        write_progress(end, start)?;
        let info = log
            .append(
                &mut buffer,
                &AppendOptions::leader(now_ms(), params.leader_epoch),
            )
            .map_err(|error| format!("append at {start}: {error}"))?;
        if info.base_offset != start || log.log_end_offset() != end {
            return Err(format!(
                "append of {start}..{end} landed at {}..={}, log end {}",
                info.base_offset,
                info.last_offset,
                log.log_end_offset()
            ));
        }
        write_progress(end, end)?;

        if since_flush < params.flush_every {
            continue;
        }
        since_flush = 0;
        log.flush().map_err(|error| format!("flush: {error}"))?;
        if log.recovery_point() != end {
            return Err(format!(
                "recovery point {} after a flush at log end {end}",
                log.recovery_point()
            ));
        }
        flushes += 1;
        say(&format!("flushed {end} {}", log.log_start_offset()))?;
        if flushes.is_multiple_of(params.checkpoint_every) {
            // The broker's retention task (only below the high watermark, here the
            // flushed offset) and its periodic checkpoint writer.
            log.delete_retention_size_breached_segments(end)
                .map_err(|error| format!("retention: {error}"))?;
            log_dir
                .write_offset_checkpoints(&[(partition.clone(), log.offsets())])
                .map_err(|error| format!("checkpoints: {error}"))?;
        }
        let errors = resources.take_background_errors();
        if !errors.is_empty() {
            return Err(format!("background errors: {errors:?}"));
        }
    }
}
