//! `sluice-perf consume`: Fetch requests on N connections, one in flight per connection
//! (as Kafka's consumer has per broker), full fetches without sessions; the partitions are
//! spread over the connections. Records are counted from the batch headers (recordCount),
//! not decoded; each batch's CRC32C is checked unless --no-crc-check.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::args::ConsumeOptions;
use crate::batch::count_batches;
use crate::conn::{Connection, CLIENT_ID};
use crate::protocol::{self, FetchLimits};
use crate::setup::{self, Target};
use crate::stats::{self, histogram, Json, Stats};
use crate::wire::{read_frame, Result};

struct Shared {
    options: ConsumeOptions,
    stats: Stats,
    deadline: Option<Instant>,
    /// Where each partition starts, and (reading to the end) where it stops.
    starts: BTreeMap<i32, i64>,
    ends: Option<BTreeMap<i32, i64>>,
}

pub fn run(options: ConsumeOptions) -> Result<String> {
    let common = &options.common;
    let needed = [
        ("Fetch", protocol::FETCH),
        ("ListOffsets", protocol::LIST_OFFSETS),
    ];
    let mut plan = setup::plan(common, &needed, false)?;
    let timestamp = if options.from_earliest {
        protocol::EARLIEST_TIMESTAMP
    } else {
        protocol::LATEST_TIMESTAMP
    };
    let starts = setup::list_offsets(&mut plan, &common.topic, timestamp)?;
    let until_end = common.records.is_none() && common.duration.is_none();
    let ends = if until_end {
        Some(setup::list_offsets(
            &mut plan,
            &common.topic,
            protocol::LATEST_TIMESTAMP,
        )?)
    } else {
        None
    };
    let mut connections = Vec::new();
    for target in &plan.targets {
        let mut connection = Connection::open(&target.address)?;
        connection.negotiate(&needed)?;
        connections.push((connection, target.clone()));
    }
    let connection_count = connections.len();
    if !common.quiet {
        let what = match (&ends, common.records, common.duration) {
            (Some(ends), _, _) => format!(
                "up to the end offsets ({} records)",
                ends.iter().map(|(p, end)| end - starts[p]).sum::<i64>()
            ),
            (None, Some(records), _) => format!("{records} records"),
            (None, None, Some(seconds)) => format!("for {seconds} s"),
            _ => unreachable!("consume has a limit"),
        };
        eprintln!(
            "consuming {} partition(s) of {} from {} over {connection_count} connection(s), {what}",
            plan.partitions.len(),
            common.topic,
            if options.from_earliest {
                "earliest"
            } else {
                "latest"
            },
        );
    }
    let cpu_before = stats::own_cpu_seconds();
    let started = Instant::now();
    let shared = Arc::new(Shared {
        options: options.clone(),
        stats: Stats::default(),
        deadline: common
            .duration
            .map(|seconds| started + Duration::from_secs_f64(seconds)),
        starts,
        ends,
    });
    let workers: Vec<_> = connections
        .into_iter()
        .map(|(connection, target)| {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name(format!("consume {}", target.address))
                .spawn(move || connection_loop(&shared, connection, &target))
                .expect("spawn a connection thread")
        })
        .collect();
    stats::progress(&shared.stats, started, common.quiet, || {
        workers.iter().all(|worker| worker.is_finished())
    });
    let mut latencies = histogram();
    let mut last_record = started;
    for worker in workers {
        let (histogram, last) = worker.join().expect("a connection thread panicked");
        latencies.add(&histogram).expect("same histogram bounds");
        last_record = last_record.max(last);
    }
    if let Some(failure) = shared.stats.failure() {
        return Err(failure);
    }
    let stats = &shared.stats;
    let records = stats.records.load(Ordering::Relaxed);
    let bytes = stats.bytes.load(Ordering::Relaxed);
    let elapsed = last_record.duration_since(started).as_secs_f64().max(1e-9);
    let mut json = Json::default();
    json.string("mode", "consume")
        .string("topic", &common.topic)
        .int("partitions", plan.partitions.len() as i64)
        .int("connections", connection_count as i64)
        .string(
            "from",
            if options.from_earliest {
                "earliest"
            } else {
                "latest"
            },
        )
        .int("records", records as i64)
        .int("fetches", stats.requests.load(Ordering::Relaxed) as i64)
        .int("batch_bytes", bytes as i64)
        .float("elapsed_s", elapsed, 3)
        .float("records_per_s", records as f64 / elapsed, 0)
        .float("mb_per_s", bytes as f64 / elapsed / 1e6, 2)
        .latencies("fetch_latency", &latencies)
        .int(
            "max_throttle_ms",
            stats.max_throttle_ms.load(Ordering::Relaxed) as i64,
        );
    match (cpu_before, stats::own_cpu_seconds()) {
        (Some(before), Some(after)) => json.float("client_cpu_s", after - before, 2),
        _ => json.null("client_cpu_s"),
    };
    Ok(json.finish())
}

/// One connection's fetch loop; returns fetch latencies and when the last record came.
fn connection_loop(
    shared: &Shared,
    connection: Connection,
    target: &Target,
) -> (Histogram<u64>, Instant) {
    let mut latencies = histogram();
    let mut last_record = Instant::now();
    let outcome = fetch_loop(shared, connection, target, &mut latencies, &mut last_record);
    if let Err(failure) = outcome {
        shared.stats.fail(failure);
    }
    (latencies, last_record)
}

fn fetch_loop(
    shared: &Shared,
    mut connection: Connection,
    target: &Target,
    latencies: &mut Histogram<u64>,
    last_record: &mut Instant,
) -> Result<()> {
    let options = &shared.options;
    let topic = options.common.topic.as_str();
    let limits = FetchLimits {
        max_wait_ms: options.max_wait_ms,
        min_bytes: 1,
        max_bytes: options.max_bytes,
        partition_max_bytes: options.partition_max_bytes,
    };
    let mut offsets: BTreeMap<i32, i64> = target
        .partitions
        .iter()
        .map(|partition| (*partition, shared.starts[partition]))
        .collect();
    let mut frame = Vec::new();
    let mut asked = Vec::with_capacity(offsets.len());
    loop {
        if shared.stats.stopped()
            || shared
                .deadline
                .is_some_and(|deadline| Instant::now() >= deadline)
        {
            return Ok(());
        }
        asked.clear();
        asked.extend(
            offsets
                .iter()
                .filter(|(partition, offset)| {
                    shared
                        .ends
                        .as_ref()
                        .is_none_or(|ends| **offset < ends[partition])
                })
                .map(|(partition, offset)| (*partition, *offset)),
        );
        if asked.is_empty() {
            return Ok(());
        }
        let correlation_id = connection.next_correlation_id();
        let request = protocol::fetch_request(correlation_id, CLIENT_ID, topic, &asked, &limits);
        let sent = Instant::now();
        connection.stream.write_all(&request)?;
        read_frame(&mut connection.reader, &mut frame)?;
        let fetched = protocol::fetch_response(&frame, correlation_id, topic)?;
        let received = Instant::now();
        latencies.saturating_record(received.duration_since(sent).as_micros() as u64);
        shared.stats.latency(received.duration_since(sent));
        shared.stats.requests.fetch_add(1, Ordering::Relaxed);
        for partition in fetched {
            let Some(offset) = offsets.get_mut(&partition.partition) else {
                return crate::wire::error(format!(
                    "Fetch: answer for partition {} not asked for",
                    partition.partition
                ));
            };
            let counted = count_batches(partition.records, *offset, options.check_crc).map_err(
                |failure| crate::wire::Error(format!("{topic}-{}: {failure}", partition.partition)),
            )?;
            if counted.batches == 0
                && !partition.records.is_empty()
                && partition.records.len() >= options.partition_max_bytes as usize
            {
                return crate::wire::error(format!(
                    "{topic}-{} at offset {offset}: a batch larger than --partition-max-bytes came partial",
                    partition.partition
                ));
            }
            if let Some(next) = counted.next_offset {
                *offset = next.max(*offset);
            } else if partition.records.is_empty()
                && *offset > partition.high_watermark
                && shared.ends.is_some()
            {
                return crate::wire::error(format!(
                    "{topic}-{}: offset {offset} past the high watermark",
                    partition.partition
                ));
            }
            if counted.records > 0 {
                *last_record = received;
            }
            shared.stats.add(counted.records, counted.bytes);
        }
        if let Some(limit) = options.common.records {
            if shared.stats.records.load(Ordering::Relaxed) >= limit {
                shared.stats.stop();
            }
        }
    }
}
