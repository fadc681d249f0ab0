//! `sluice-perf produce`: pipelined Produce requests on N connections.
//!
//! Each connection has a writer (this thread) and a reader thread. The writer builds a
//! request with one batch for each of its partitions (as Kafka's producer does when every
//! partition has a full batch), takes an in-flight slot (at most --max-in-flight per
//! connection), notes the send time and writes it; the reader reads the responses in order
//! (Kafka answers a connection's requests in order), checks every partition's error code,
//! records the latency and frees the slot. With acks=0 there is no response: records count
//! once written.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;

use crate::args::ProduceOptions;
use crate::batch::{records_per_batch, stamp, BatchTemplate, Rng};
use crate::conn::{Connection, CLIENT_ID};
use crate::protocol::{self, produce_finish, produce_partition, produce_start};
use crate::setup::{self, Target};
use crate::stats::{self, histogram, Json, Slots, Stats};
use crate::wire::{read_frame, Result};

/// Distinct batch contents per run (each compressed once).
const TEMPLATES: usize = 8;

/// Records still to send with --records; unlimited otherwise.
struct Budget(Option<AtomicU64>);

impl Budget {
    fn claim(&self, wanted: usize) -> usize {
        let Some(remaining) = &self.0 else {
            return wanted;
        };
        let mut taken = 0;
        let _ = remaining.fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
            taken = left.min(wanted as u64);
            Some(left - taken)
        });
        taken as usize
    }
}

struct InFlight {
    correlation_id: i32,
    sent: Instant,
    records: u64,
    bytes: u64,
    partitions: usize,
}

struct Shared {
    options: ProduceOptions,
    templates: Vec<BatchTemplate>,
    per_batch: usize,
    budget: Budget,
    stats: Stats,
    deadline: Option<Instant>,
    producer: Option<(i64, i16)>,
    rate_per_connection: Option<f64>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

pub fn run(options: ProduceOptions) -> Result<String> {
    let common = &options.common;
    let mut needed = vec![("Produce", protocol::PRODUCE)];
    if options.idempotent {
        needed.push(("InitProducerId", protocol::INIT_PRODUCER_ID));
    }
    let mut plan = setup::plan(common, &needed, !options.idempotent)?;
    let producer = if options.idempotent {
        Some(init_producer_id(&mut plan.connection)?)
    } else {
        None
    };
    let per_batch = options
        .batch_records
        .unwrap_or_else(|| records_per_batch(options.batch_size, options.record_size));
    let mut rng = Rng::new(0x5eed_1234_abcd_0001);
    let templates = (0..TEMPLATES)
        .map(|_| {
            BatchTemplate::new(
                per_batch,
                options.record_size,
                options.compression,
                &mut rng,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    // Every connection opened (and its ApiVersions checked) before the clock starts.
    let mut connections = Vec::new();
    for target in &plan.targets {
        let mut connection = Connection::open(&target.address)?;
        connection.negotiate(&needed)?;
        connections.push((connection, target.clone()));
    }
    let connection_count = connections.len();
    if !common.quiet {
        let uncompressed = per_batch * crate::batch::record_bytes(options.record_size);
        eprintln!(
            "producing to {} partition(s) of {} over {connection_count} connection(s): {per_batch} records of {} B per batch \
             ({} B as sent, {uncompressed} B of records before {}), acks={}, {} in flight per connection",
            plan.partitions.len(),
            common.topic,
            options.record_size,
            templates[0].bytes.len(),
            options.compression,
            options.acks,
            options.max_in_flight
        );
    }
    let cpu_before = stats::own_cpu_seconds();
    let started = Instant::now();
    let shared = Arc::new(Shared {
        per_batch,
        templates,
        budget: Budget(common.records.map(AtomicU64::new)),
        stats: Stats::default(),
        deadline: common
            .duration
            .map(|seconds| started + Duration::from_secs_f64(seconds)),
        producer,
        rate_per_connection: options.rate.map(|rate| rate / connection_count as f64),
        options: options.clone(),
    });
    let workers: Vec<_> = connections
        .into_iter()
        .map(|(connection, target)| {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name(format!("produce {}", target.address))
                .spawn(move || connection_loop(&shared, connection, &target, started))
                .expect("spawn a connection thread")
        })
        .collect();
    stats::progress(&shared.stats, started, common.quiet, || {
        workers.iter().all(|worker| worker.is_finished())
    });
    let mut latencies = histogram();
    let mut last_ack = started;
    for worker in workers {
        let (histogram, last) = worker.join().expect("a connection thread panicked");
        latencies.add(&histogram).expect("same histogram bounds");
        last_ack = last_ack.max(last);
    }
    if let Some(failure) = shared.stats.failure() {
        return Err(failure);
    }
    let elapsed = last_ack.duration_since(started).as_secs_f64().max(1e-9);
    let stats = &shared.stats;
    let records = stats.records.load(Ordering::Relaxed);
    let bytes = stats.bytes.load(Ordering::Relaxed);
    let mut json = Json::default();
    json.string("mode", "produce")
        .string("topic", &common.topic)
        .int("partitions", plan.partitions.len() as i64)
        .int("connections", connection_count as i64)
        .int("max_in_flight", options.max_in_flight as i64)
        .string("compression", options.compression.name())
        .int("acks", i64::from(options.acks))
        .int("idempotent", i64::from(options.idempotent))
        .int("record_size", options.record_size as i64)
        .int("records_per_batch", per_batch as i64)
        .int("records", records as i64)
        .int("requests", stats.requests.load(Ordering::Relaxed) as i64)
        .int("batch_bytes", bytes as i64)
        .float("elapsed_s", elapsed, 3)
        .float("records_per_s", records as f64 / elapsed, 0)
        .float("mb_per_s", bytes as f64 / elapsed / 1e6, 2)
        .float(
            "payload_mb_per_s",
            (records * options.record_size as u64) as f64 / elapsed / 1e6,
            2,
        )
        .latencies("latency", &latencies)
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

/// InitProducerId, waiting out what a broker answers while it gets ready (Kafka 4 answers
/// COORDINATOR_LOAD_IN_PROGRESS until its first block of producer ids is allocated; its Java
/// client retries too). Any other error, or the same for 30 s, fails.
fn init_producer_id(connection: &mut Connection) -> Result<(i64, i16)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let id = connection.next_correlation_id();
        let request = protocol::init_producer_id_request(id, CLIENT_ID);
        match connection.call(&request, id, protocol::init_producer_id_response) {
            Ok(producer) => return Ok(producer),
            Err(failure) => {
                let retriable = [
                    "COORDINATOR_LOAD_IN_PROGRESS",
                    "COORDINATOR_NOT_AVAILABLE",
                    "NOT_COORDINATOR",
                ]
                .iter()
                .any(|name| failure.0.contains(name));
                if !retriable || Instant::now() > deadline {
                    return Err(failure);
                }
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// One connection: writes requests (this thread), reads responses (a reader thread).
/// Returns the latencies and when the last response (or write, with acks=0) came.
fn connection_loop(
    shared: &Arc<Shared>,
    connection: Connection,
    target: &Target,
    started: Instant,
) -> (Histogram<u64>, Instant) {
    let Connection {
        mut stream,
        mut reader,
        ..
    } = connection;
    let mut correlation = Connection::open_counter();
    let acks = shared.options.acks;
    let slots = Arc::new(Slots::new(shared.options.max_in_flight));
    let (sender, receiver) = mpsc::channel::<InFlight>();
    let reader_thread = (acks != 0).then(|| {
        let shared = Arc::clone(shared);
        let slots = Arc::clone(&slots);
        let stream = stream.try_clone().expect("clone a socket");
        let topic = shared.options.common.topic.clone();
        thread::Builder::new()
            .name("produce responses".into())
            .spawn(move || {
                let mut latencies = histogram();
                let mut last = Instant::now();
                let mut frame = Vec::new();
                while let Ok(request) = receiver.recv() {
                    let outcome = read_frame(&mut reader, &mut frame).and_then(|()| {
                        protocol::produce_response(
                            &frame,
                            request.correlation_id,
                            &topic,
                            request.partitions,
                        )
                    });
                    match outcome {
                        Ok(throttle) => {
                            last = Instant::now();
                            let latency = last.duration_since(request.sent);
                            latencies.saturating_record(latency.as_micros() as u64);
                            shared.stats.latency(latency);
                            shared.stats.add(request.records, request.bytes);
                            shared
                                .stats
                                .max_throttle_ms
                                .fetch_max(throttle.max(0) as u64, Ordering::Relaxed);
                            slots.release();
                        }
                        Err(failure) => {
                            shared.stats.fail(failure);
                            slots.close();
                            let _ = stream.shutdown(std::net::Shutdown::Both);
                            break;
                        }
                    }
                }
                (latencies, last)
            })
            .expect("spawn a reader thread")
    });
    let options = &shared.options;
    let topic = options.common.topic.as_str();
    let mut sequences = vec![0i32; target.partitions.len()];
    let mut sent_records = 0u64;
    let mut request_index = 0usize;
    let mut claimed = Vec::with_capacity(target.partitions.len());
    let mut last_write = started;
    let mut rng = Rng::new(0x1234_5678 ^ target.partitions[0] as u64);
    loop {
        if shared.stats.stopped()
            || shared
                .deadline
                .is_some_and(|deadline| Instant::now() >= deadline)
        {
            break;
        }
        claimed.clear();
        for (index, &partition) in target.partitions.iter().enumerate() {
            let records = shared.budget.claim(shared.per_batch);
            if records == 0 {
                break;
            }
            claimed.push((index, partition, records));
        }
        if claimed.is_empty() {
            break;
        }
        let records: usize = claimed.iter().map(|(_, _, records)| records).sum();
        if let Some(rate) = shared.rate_per_connection {
            let due =
                started + Duration::from_secs_f64((sent_records + records as u64) as f64 / rate);
            let now = Instant::now();
            if due > now {
                if shared.deadline.is_some_and(|deadline| due >= deadline) {
                    break;
                }
                thread::sleep(due - now);
            }
        }
        if acks != 0 && !slots.acquire() {
            break;
        }
        let capacity = claimed.len() * (shared.templates[0].bytes.len() + 16);
        let correlation_id = correlation.next();
        let mut encoder = produce_start(
            correlation_id,
            CLIENT_ID,
            acks,
            options.timeout_ms,
            topic,
            claimed.len(),
            capacity,
        );
        let timestamp = now_ms();
        let mut bytes = 0u64;
        for &(index, partition, count) in &claimed {
            let template = if count == shared.per_batch {
                None
            } else {
                // The last, short batch of a --records run.
                match BatchTemplate::new(count, options.record_size, options.compression, &mut rng)
                {
                    Ok(template) => Some(template),
                    Err(failure) => {
                        shared.stats.fail(failure);
                        break;
                    }
                }
            };
            let batch = template
                .as_ref()
                .unwrap_or(&shared.templates[(request_index + index) % TEMPLATES]);
            produce_partition(&mut encoder, partition, &batch.bytes);
            let end = encoder.buf.len() - 1; // before the partition's tagged fields
            let start = end - batch.bytes.len();
            let producer = shared
                .producer
                .map(|(id, epoch)| (id, epoch, sequences[index]));
            stamp(&mut encoder.buf[start..end], timestamp, producer);
            sequences[index] = sequences[index].wrapping_add(count as i32) & i32::MAX;
            bytes += batch.bytes.len() as u64;
        }
        if shared.stats.stopped() {
            break;
        }
        let frame = produce_finish(encoder);
        if acks != 0 {
            let _ = sender.send(InFlight {
                correlation_id,
                sent: Instant::now(),
                records: records as u64,
                bytes,
                partitions: claimed.len(),
            });
        }
        if let Err(failure) = stream.write_all(&frame) {
            if !shared.stats.stopped() {
                shared.stats.fail(failure.into());
            }
            break;
        }
        shared.stats.requests.fetch_add(1, Ordering::Relaxed);
        if acks == 0 {
            shared.stats.add(records as u64, bytes);
            last_write = Instant::now();
        }
        sent_records += records as u64;
        request_index += claimed.len();
    }
    drop(sender);
    match reader_thread {
        Some(reader) => reader.join().expect("the reader thread panicked"),
        None => {
            let _ = stream.flush();
            (histogram(), last_write)
        }
    }
}
