//! Crash tests: a child process (`crash_appender`) appends under load and is killed with
//! SIGKILL at random points, some of the kills followed by a simulated power cut (the
//! unflushed tail of a segment cut off or overwritten); every reopen must recover, return
//! no batch with a bad CRC, keep every batch that was flushed and, after a plain kill,
//! every batch whose append returned.

#[path = "../src/bin/crash_appender/workload.rs"]
mod workload;

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sluice_storage::background::LogResources;
use sluice_storage::checkpoint::{
    read_offset_checkpoint, LOG_START_OFFSET_CHECKPOINT, RECOVERY_POINT_CHECKPOINT,
};
use sluice_storage::config::LogConfig;
use sluice_storage::log::{AppendOptions, Log, OffsetSpec, OpenOptions, OpenReport};
use sluice_storage::log_dir::LogDirectory;
use sluice_storage::record_batch::RecordBatchView;
use sluice_storage::segment::BatchHeader;

use workload::{
    check_batch, decode_progress, encode_progress, partition, timestamp_of, Params, Rng,
};

const SEED: u64 = 0x0051_11CE_C4A5;
const ITERATIONS: usize = 60;

// ---------------------------------------------------------------------------------------
// Reading the log back.

/// What a full read of the log found.
#[derive(Debug, Default)]
struct Verified {
    batches: u64,
    bytes: u64,
}

/// Reads every batch from the log start to the log end through `Log::read` and checks it:
/// framing and CRC, consecutive offsets, every record's bytes, and leader epochs (those
/// of batches appended before `new_from` are older than `epoch`, the others are `epoch`,
/// and the log's epoch cache agrees). Then spot-checks offset and timestamp lookups.
fn verify(log: &mut Log, new_from: i64, epoch: i32, rng: &mut Rng) -> Result<Verified, String> {
    let start = log.log_start_offset();
    let end = log.log_end_offset();
    let mut verified = Verified::default();
    let mut offset = start;
    let mut expected_base: Option<i64> = None;
    let mut previous_epoch = i32::MIN;
    while offset < end {
        let read = log
            .read(offset, 1024 * 1024, None)
            .map_err(|error| format!("read at {offset}: {error}"))?;
        let bytes = read
            .to_vec()
            .map_err(|error| format!("read at {offset}: {error}"))?;
        if bytes.is_empty() || read.next_offset <= offset {
            return Err(format!(
                "read at {offset} (log {start}..{end}) made no progress"
            ));
        }
        let mut at = 0usize;
        while at < bytes.len() {
            if bytes.len() - at < 12 {
                return Err(format!("a partial batch header after offset {offset}"));
            }
            let length = i32::from_be_bytes(bytes[at + 8..at + 12].try_into().unwrap());
            let size = 12 + usize::try_from(length).map_err(|_| "negative batch length")?;
            let batch = bytes
                .get(at..at + size)
                .ok_or_else(|| format!("a partial batch after offset {offset}"))?;
            let (base, last, batch_epoch) = check_batch(batch)?;
            match expected_base {
                Some(expected) if base != expected => {
                    return Err(format!("batch at {base} follows one ending at {expected}"));
                }
                None if base > start || last < start => {
                    return Err(format!("first batch {base}..={last}, log start {start}"));
                }
                _ => {}
            }
            expected_base = Some(last + 1);
            let wanted_epoch_ok = if base >= new_from {
                batch_epoch == epoch
            } else {
                batch_epoch < epoch
            };
            if !wanted_epoch_ok || batch_epoch < previous_epoch {
                return Err(format!(
                    "batch at {base} has leader epoch {batch_epoch} (this run {epoch}, new \
                     from {new_from}, previous batch {previous_epoch})"
                ));
            }
            previous_epoch = batch_epoch;
            let cached = log.leader_epochs().epoch_for_offset(base);
            if cached != Some(batch_epoch) {
                return Err(format!(
                    "epoch cache says {cached:?} for offset {base} of epoch {batch_epoch}: {:?}",
                    log.leader_epochs().entries()
                ));
            }
            verified.batches += 1;
            verified.bytes += size as u64;
            at += size;
        }
        offset = read.next_offset;
        if Some(offset) != expected_base {
            return Err(format!(
                "read ended at {offset}, batches at {expected_base:?}"
            ));
        }
    }
    if offset != end {
        return Err(format!("reads ended at {offset}, log end {end}"));
    }
    if end > start {
        for _ in 0..16 {
            let target = rng.range(start as u64, end as u64 - 1) as i64;
            let read = log
                .read(target, 1, None)
                .map_err(|error| format!("lookup of {target}: {error}"))?;
            let bytes = read.to_vec().map_err(|error| error.to_string())?;
            let (base, last, _) = check_batch(&bytes)?;
            if !(base..=last).contains(&target) {
                return Err(format!("lookup of {target} found batch {base}..={last}"));
            }
            let found = log
                .offset_for(OffsetSpec::Timestamp(timestamp_of(target)))
                .map_err(|error| format!("time lookup of {target}: {error}"))?;
            if found.map(|found| found.offset) != Some(target) {
                return Err(format!("time lookup of offset {target} found {found:?}"));
            }
        }
    }
    Ok(verified)
}

// ---------------------------------------------------------------------------------------
// Looking at segment files directly: a model of recovery and the power-cut simulation.

/// A batch of a segment file that recovery would keep.
#[derive(Debug, Clone, Copy)]
struct Span {
    position: usize,
    end: usize,
    last: i64,
}

/// The `.log` files of a partition, by base offset.
fn segment_files(partition_dir: &Path) -> Vec<(i64, PathBuf)> {
    let mut files: Vec<(i64, PathBuf)> = fs::read_dir(partition_dir)
        .unwrap()
        .filter_map(|entry| {
            let path = entry.unwrap().path();
            let stem = path
                .file_name()?
                .to_str()?
                .strip_suffix(".log")?
                .to_string();
            let base = stem.parse().ok().filter(|_| stem.len() == 20)?;
            Some((base, path))
        })
        .collect();
    files.sort();
    files
}

/// The valid prefix of a segment's bytes by the rules recovery applies: whole v2 batches
/// with a good CRC, increasing offsets at or above the segment base, within 2^32 of it.
fn valid_spans(bytes: &[u8], segment_base: i64) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::new();
    let mut position = 0usize;
    while let Some(header) = bytes
        .get(position..position + 61)
        .and_then(|header| BatchHeader::parse(header, position as u32))
    {
        let end = position + header.size as usize;
        let Some(batch) = bytes.get(position..end) else {
            break;
        };
        let crc_ok = RecordBatchView::new(batch).is_ok_and(|view| view.validate_crc().is_ok());
        let increasing = header.base_offset >= segment_base
            && header.last_offset - segment_base <= i64::from(u32::MAX)
            && spans
                .last()
                .is_none_or(|last| header.base_offset > last.last);
        if !crc_ok || !increasing {
            break;
        }
        spans.push(Span {
            position,
            end,
            last: header.last_offset,
        });
        position = end;
    }
    spans
}

/// The log end offset recovery should reach on the files as they are: segments in order,
/// cut at the first one with bytes after its valid prefix (the segments after it go).
fn expected_log_end(partition_dir: &Path) -> i64 {
    let files = segment_files(partition_dir);
    let mut end = 0;
    for (index, (base, path)) in files.iter().enumerate() {
        let bytes = fs::read(path).unwrap();
        let spans = valid_spans(&bytes, *base);
        end = spans.last().map_or(*base, |span| span.last + 1);
        let valid = spans.last().map_or(0, |span| span.end);
        if valid < bytes.len() && index + 1 < files.len() {
            break;
        }
    }
    end
}

/// Whether the bytes after the last valid batch of the last segment start with anything
/// but zeros: a batch the kill tore.
fn torn_tail(partition_dir: &Path) -> bool {
    let Some((base, path)) = segment_files(partition_dir).pop() else {
        return false;
    };
    let bytes = fs::read(path).unwrap();
    let valid = valid_spans(&bytes, base).last().map_or(0, |span| span.end);
    bytes[valid..(valid + 61).min(bytes.len())]
        .iter()
        .any(|&byte| byte != 0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Damage {
    Truncate,
    Zeros,
    Garbage,
}

/// A power cut: unflushed bytes of one segment lost. Only bytes of batches at or above
/// `durable` are touched. The last segment is cut short or overwritten; an earlier one
/// (already trimmed at its roll, so its length is on disk) only overwritten. Returns the
/// damage done and whether any batch lost bytes.
fn power_cut(rng: &mut Rng, partition_dir: &Path, durable: i64) -> (Damage, bool) {
    let files = segment_files(partition_dir);
    let segments: Vec<(i64, PathBuf, Vec<u8>, Vec<Span>)> = files
        .into_iter()
        .map(|(base, path)| {
            let bytes = fs::read(&path).unwrap();
            let spans = valid_spans(&bytes, base);
            (base, path, bytes, spans)
        })
        .collect();
    let last_index = segments.len() - 1;
    let earlier: Vec<usize> = (0..last_index)
        .filter(|&index| segments[index].3.iter().any(|span| span.last >= durable))
        .collect();
    let index = if earlier.is_empty() || rng.one_in(2) {
        last_index
    } else {
        earlier[rng.range(0, earlier.len() as u64 - 1) as usize]
    };
    let (_, path, before, spans) = &segments[index];
    let protected = spans
        .iter()
        .filter(|span| span.last < durable)
        .map(|span| span.end)
        .max()
        .unwrap_or(0);
    let valid = spans.last().map_or(0, |span| span.end).max(protected);
    let damage = if index != last_index {
        [Damage::Zeros, Damage::Garbage][rng.range(0, 1) as usize]
    } else {
        [
            Damage::Truncate,
            Damage::Truncate,
            Damage::Zeros,
            Damage::Garbage,
        ][rng.range(0, 3) as usize]
    };
    let mut after = before.clone();
    if damage == Damage::Truncate {
        // Anywhere from the flushed end to a little past the valid end.
        let cut = rng.range(protected as u64, (valid + 200).min(before.len()) as u64) as usize;
        after.truncate(cut.max(protected));
    } else if valid > protected || index == last_index {
        // At least 16 bytes, so the damage always reaches a CRC-covered byte of the
        // batch it starts in (only base offset and leader epoch lie outside the CRC).
        let from = rng.range(protected as u64, valid.max(protected + 1) as u64 - 1) as usize;
        let to = (from + rng.range(16, 4096) as usize).min(after.len());
        for byte in &mut after[from.min(to)..to] {
            *byte = if damage == Damage::Zeros {
                0
            } else {
                rng.next_u64() as u8
            };
        }
    }
    fs::write(path, &after).unwrap();
    let lost = spans
        .iter()
        .any(|span| after.get(span.position..span.end) != Some(&before[span.position..span.end]));
    (damage, lost)
}

// ---------------------------------------------------------------------------------------
// The broker's side: checkpoints, opening, closing.

/// Opens the partition as the broker does after a crash: recovery point and log start
/// offset from the log-dir checkpoints, the clean-shutdown marker consumed first, and
/// `had_clean_shutdown = false`.
fn open_unclean(
    log_dir: &LogDirectory,
    config: &LogConfig,
    resources: &Arc<LogResources>,
) -> (Log, OpenReport, i64) {
    let recovery_point = checkpointed(log_dir, RECOVERY_POINT_CHECKPOINT);
    let log_start_offset = checkpointed(log_dir, LOG_START_OFFSET_CHECKPOINT);
    log_dir.remove_clean_shutdown().unwrap();
    let (log, report) = Log::open(
        &log_dir.partition_path(&partition()),
        partition(),
        config.clone(),
        resources.clone(),
        OpenOptions {
            recovery_point,
            log_start_offset,
            had_clean_shutdown: false,
            now_ms: sluice_storage::background::now_ms(),
        },
        &AtomicU64::new(0),
    )
    .unwrap_or_else(|error| panic!("recovery failed: {error}"));
    (log, report, recovery_point)
}

fn checkpointed(log_dir: &LogDirectory, name: &str) -> i64 {
    read_offset_checkpoint(&log_dir.path().join(name))
        .unwrap()
        .into_iter()
        .find(|(tp, _)| *tp == partition())
        .map_or(0, |(_, offset)| offset)
}

/// Opens the partition through `LogDirectory::open_all` (clean or not, as the marker says).
fn open_all(
    log_dir: &LogDirectory,
    config: &LogConfig,
    resources: &Arc<LogResources>,
    progress: &(dyn Fn(sluice_storage::log_dir::OpenProgress) + Sync),
) -> Log {
    let config = config.clone();
    let opened = log_dir
        .open_all(&move |_| config.clone(), resources, 1, progress)
        .unwrap();
    let (_, result) = opened.into_iter().next().expect("one partition");
    result.unwrap().0
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------------------
// The child.

struct Run {
    child: Child,
    stdout: JoinHandle<Vec<String>>,
    stderr: JoinHandle<String>,
}

fn spawn(params: &Params) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_appender"))
        .args(params.to_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn crash_appender");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    Run {
        child,
        stdout: std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect()
        }),
        stderr: std::thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut text);
            text
        }),
    }
}

/// What the child said before it died.
#[derive(Debug, Default)]
struct Said {
    /// `(clean, log start, log end)` from the `open` line.
    open: Option<(bool, i64, i64)>,
    /// The last `flushed` line: `(log end, log start)`.
    flushed: Option<(i64, i64)>,
    flushes: usize,
}

fn parse_output(lines: &[String]) -> Said {
    let mut said = Said::default();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let number = |index: usize| -> i64 { fields[index].parse().unwrap() };
        match fields.first() {
            Some(&"open") => said.open = Some((fields[1] == "1", number(2), number(3))),
            Some(&"flushed") => {
                said.flushed = Some((number(1), number(2)));
                said.flushes += 1;
            }
            _ => panic!("unexpected child output: {line}"),
        }
    }
    said
}

#[derive(Debug, Default)]
struct Totals {
    kills: usize,
    early_kills: usize,
    killed_before_open_line: usize,
    clean_child_opens: usize,
    flushes: usize,
    power_cuts: usize,
    power_cuts_losing_batches: usize,
    torn_tails: usize,
    inflight_appends_lost: usize,
    partial_inflight_appends_kept: usize,
    recoveries_truncating_data: usize,
    truncated_bytes: u64,
    deleted_segments: usize,
    records_appended: i64,
    max_segments: usize,
    max_verified_bytes: u64,
}

#[test]
fn sigkill_at_random_points_loses_nothing_flushed_and_never_returns_a_bad_batch() {
    let started = Instant::now();
    let seed = std::env::var("SLUICE_CRASH_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(SEED);
    let iterations = std::env::var("SLUICE_CRASH_ITERATIONS")
        .ok()
        .and_then(|count| count.parse().ok())
        .unwrap_or(ITERATIONS);
    eprintln!("crash test: seed {seed} (SLUICE_CRASH_SEED), {iterations} iterations");
    let mut rng = Rng::new(seed);
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("logs");
    let progress = root.path().join("progress");
    let mut params = Params::new(dir.display().to_string(), progress.display().to_string());
    let config = params.config();
    let log_dir = LogDirectory::new(&dir);
    let partition_dir = log_dir.partition_path(&partition());

    // What the test knows between iterations.
    let mut durable: i64 = 0; // every offset below was flushed: it must survive anything
    let mut log_end: i64 = 0; // the log end the test left
    let mut log_start: i64 = 0; // the log start the test saw
    let mut totals = Totals::default();

    for iteration in 0..iterations {
        let epoch = iteration as i32 + 1;
        params.seed = rng.next_u64();
        params.leader_epoch = epoch;
        params.flush_every = rng.range(4, 48);
        params.checkpoint_every = rng.range(1, 6);
        fs::write(&progress, encode_progress(log_end, log_end)).unwrap();
        let context = format!("seed {seed}, iteration {iteration}, {params:?}");

        let mut run = spawn(&params);
        let early = rng.one_in(8);
        let run_ms = if early {
            rng.range(1, 20)
        } else {
            rng.range(20, 300)
        };
        std::thread::sleep(Duration::from_millis(run_ms));
        if let Some(status) = run.child.try_wait().unwrap() {
            let stderr = run.stderr.join().unwrap();
            panic!("{context}: the child exited by itself ({status}): {stderr}");
        }
        run.child.kill().unwrap(); // SIGKILL
        run.child.wait().unwrap();
        totals.kills += 1;
        totals.early_kills += usize::from(early);
        let said = parse_output(&run.stdout.join().unwrap());
        let stderr = run.stderr.join().unwrap();
        assert!(stderr.is_empty(), "{context}: child stderr: {stderr}");
        totals.flushes += said.flushes;

        // The child's open must have found exactly what the test left.
        match said.open {
            Some((clean, start, end)) => {
                assert_eq!(
                    end, log_end,
                    "{context}: the child opened at a wrong log end"
                );
                assert!(
                    start >= log_start,
                    "{context}: log start went back to {start}"
                );
                totals.clean_child_opens += usize::from(clean);
            }
            None => totals.killed_before_open_line += 1,
        }
        let mut printed_start = log_start;
        if let Some((flushed, start)) = said.flushed {
            durable = durable.max(flushed);
            printed_start = start;
        }
        // A checkpoint written just before the kill may be ahead of the last line printed:
        // it too was only written after an fsync.
        durable = durable.max(checkpointed(&log_dir, RECOVERY_POINT_CHECKPOINT));
        let (pending, acked) = decode_progress(&fs::read(&progress).unwrap()).unwrap();
        assert!(
            acked >= durable,
            "{context}: flushed {durable} > acknowledged {acked}"
        );

        let cut_power = rng.one_in(3);
        let mut power_cut_lost = false;
        if cut_power {
            let (damage, lost) = power_cut(&mut rng, &partition_dir, durable);
            eprintln!(
                "iteration {iteration}: power cut after the kill: {damage:?}, lost batches: {lost}"
            );
            totals.power_cuts += 1;
            totals.power_cuts_losing_batches += usize::from(lost);
            power_cut_lost = lost;
        } else if torn_tail(&partition_dir) {
            totals.torn_tails += 1;
        }
        let expected_end = expected_log_end(&partition_dir);

        let resources = LogResources::with_defaults();
        let (mut log, report, _) = open_unclean(&log_dir, &config, &resources);
        let recovered_end = log.log_end_offset();
        let recovered_start = log.log_start_offset();
        assert_eq!(
            recovered_end, expected_end,
            "{context}: recovery ended the log at {recovered_end}, the valid batches on \
             disk end at {expected_end} ({report:?})"
        );
        assert!(
            recovered_end >= durable,
            "{context}: flushed data lost: log end {recovered_end} < flushed {durable}"
        );
        if !cut_power {
            assert!(
                (acked..=pending).contains(&recovered_end),
                "{context}: after a SIGKILL the log end {recovered_end} must lie between the \
                 last acknowledged append ({acked}) and the one in flight ({pending})"
            );
            totals.inflight_appends_lost += usize::from(recovered_end < pending);
            totals.partial_inflight_appends_kept +=
                usize::from(recovered_end > acked && recovered_end < pending);
        } else if !power_cut_lost {
            assert!((acked..=pending).contains(&recovered_end), "{context}");
        }
        assert!(
            recovered_start >= printed_start.max(log_start) && recovered_start <= durable,
            "{context}: log start {recovered_start} (was {log_start}, printed \
             {printed_start}, flushed {durable})"
        );
        totals.recoveries_truncating_data += usize::from(recovered_end < pending);
        totals.truncated_bytes += report.truncated_bytes;
        totals.deleted_segments += report.deleted_segments;
        totals.max_segments = totals.max_segments.max(log.segment_count());
        totals.records_appended += recovered_end - log_end;

        let verified = verify(&mut log, log_end, epoch, &mut rng)
            .unwrap_or_else(|error| panic!("{context}: {error}"));
        totals.max_verified_bytes = totals.max_verified_bytes.max(verified.bytes);
        let errors = resources.take_background_errors();
        assert!(errors.is_empty(), "{context}: {errors:?}");

        log_end = recovered_end;
        log_start = recovered_start;
        if iteration % 2 == 0 {
            // A clean shutdown: checkpoints and the marker; everything is now durable.
            log_dir.close_all(vec![log], 1, i64::from(epoch)).unwrap();
            durable = log_end;
        } else {
            // A crash of the verifying broker: nothing written, nothing trimmed.
            drop(log);
        }
        drop(resources);
    }

    let elapsed = started.elapsed();
    eprintln!(
        "crash test: seed {seed}: {iterations} iterations in {:.1} s: {totals:#?}",
        elapsed.as_secs_f64()
    );
    assert!(totals.kills >= 50 || iterations < 50);
}

/// Regression: `LogDirectory::open_all` removed the clean-shutdown marker only after the
/// logs were open, but opening a log dirties its files (the active segment is reserved
/// ahead with zeros, its indexes grown to `segment.index.bytes`). A crash in between left
/// a marker that lied. The next start trusted the files: where the index sanity checks
/// pass on zero-filled indexes (a segment without index entries, e.g. records without
/// timestamps), the `.log` length including the reserved zeros was taken as the segment
/// size; the first append rolled (the zero-filled index looked full) and closed that
/// segment with the zeros inside, and the recovery after the next crash cut the log at
/// those zeros and deleted every later segment, flushed or not. Kafka removes the marker
/// before loading the logs for this reason (KAFKA-10471).
#[test]
fn a_crash_right_after_opening_a_cleanly_closed_log_is_not_taken_for_a_clean_shutdown() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("logs");
    let image = root.path().join("image");
    let config = Params::new(String::new(), String::new()).config();
    let log_dir = LogDirectory::new(&dir);
    fs::create_dir_all(log_dir.partition_path(&partition())).unwrap();
    let resources = LogResources::with_defaults();
    let leader = AppendOptions::leader(sluice_storage::background::now_ms(), 1);

    // Two small batches of records without timestamps (no index entry of either kind),
    // shut down cleanly.
    let mut log = open_all(&log_dir, &config, &resources, &|_| {});
    for _ in 0..2 {
        log.append(&mut untimed_batch(3), &leader).unwrap();
    }
    let end = log.log_end_offset();
    log_dir.close_all(vec![log], 1, 1).unwrap();
    assert!(log_dir.had_clean_shutdown());

    // The next start dies right after opening the log: the disk image of that moment.
    let log = open_all(&log_dir, &config, &resources, &|_| copy_tree(&dir, &image));
    drop(log);

    // A broker starting from that image appends (rolling segments), flushes, crashes.
    let image_dir = LogDirectory::new(&image);
    let mut log = open_all(&image_dir, &config, &resources, &|_| {});
    assert_eq!(log.log_end_offset(), end);
    for _ in 0..300 {
        log.append(&mut untimed_batch(20), &leader).unwrap();
    }
    log.flush().unwrap();
    let flushed = log.log_end_offset();
    assert!(log.segment_count() > 2);
    drop(log);

    // Closed segments are whole batches and nothing else (Kafka's format), so even a
    // recovery of everything (a partition missing from the recovery-point checkpoint,
    // or an operator deleting it to force one) keeps every flushed batch.
    let files = segment_files(&image_dir.partition_path(&partition()));
    for (base, path) in &files[..files.len() - 1] {
        let bytes = fs::read(path).unwrap();
        let valid = valid_spans(&bytes, *base).last().map_or(0, |span| span.end);
        assert_eq!(
            valid,
            bytes.len(),
            "closed segment {base} has bytes after its batches"
        );
    }
    fs::remove_file(image.join(RECOVERY_POINT_CHECKPOINT)).unwrap();
    let log = open_all(&image_dir, &config, &resources, &|_| {});
    assert_eq!(log.log_end_offset(), flushed, "flushed batches lost");
    let mut offset = 0;
    while offset < flushed {
        let read = log.read(offset, u32::MAX, None).unwrap();
        let bytes = read.to_vec().unwrap();
        let mut at = 0;
        while at < bytes.len() {
            let size = 12 + i32::from_be_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
            let view = RecordBatchView::new(&bytes[at..at + size]).unwrap();
            view.validate_crc().unwrap();
            assert_eq!(view.base_offset(), offset);
            offset += i64::from(view.last_offset_delta()) + 1;
            at += size;
        }
        assert_eq!(read.next_offset, offset);
    }
}

/// A batch of `count` 100-byte records without timestamps (-1), base offset 0.
fn untimed_batch(count: i32) -> Vec<u8> {
    let mut records = Vec::new();
    for delta in 0..count {
        // length 107: attributes, timestamp delta 0, offset delta, null key, 100-byte value
        // (varint 200 takes two bytes), no headers.
        records.extend_from_slice(&[0xD6, 0x01, 0, 0, (delta as u8) << 1, 1, 0xC8, 0x01]);
        records.extend_from_slice(&[0xAB; 100]);
        records.push(0);
    }
    let mut batch = Vec::new();
    batch.extend_from_slice(&0i64.to_be_bytes());
    batch.extend_from_slice(&((49 + records.len()) as i32).to_be_bytes());
    batch.extend_from_slice(&(-1i32).to_be_bytes());
    batch.push(2);
    batch.extend_from_slice(&[0; 4]); // crc
    batch.extend_from_slice(&0i16.to_be_bytes());
    batch.extend_from_slice(&(count - 1).to_be_bytes());
    batch.extend_from_slice(&(-1i64).to_be_bytes()); // base timestamp
    batch.extend_from_slice(&(-1i64).to_be_bytes()); // max timestamp
    batch.extend_from_slice(&(-1i64).to_be_bytes());
    batch.extend_from_slice(&(-1i16).to_be_bytes());
    batch.extend_from_slice(&(-1i32).to_be_bytes());
    batch.extend_from_slice(&count.to_be_bytes());
    batch.extend_from_slice(&records);
    let crc = sluice_storage::crc32c::crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
    batch
}
