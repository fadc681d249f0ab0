//! sluice-perf: a native Kafka-protocol load generator, `sluice perf produce|consume`.
//!
//! It exists to find a broker's ceiling where Kafka's Java perf tools are the bottleneck,
//! and runs unchanged against Sluice and Apache Kafka (4.x), so the figures compare.
//!
//! Design:
//! - Plain threads and blocking sockets, no async runtime: each connection has a writer
//!   thread and (produce with acks != 0) a reader thread; a small semaphore bounds the
//!   requests in flight (--max-in-flight, pipelining as Kafka allows); responses on a
//!   connection come in request order, so the reader matches them by a FIFO of what was
//!   sent. With a handful of connections this is as fast as an event loop and simpler.
//! - Requests are hand-encoded, one flexible version each, all served by Sluice and by
//!   Kafka 4.x: ApiVersions v3, Metadata v12, CreateTopics v7, InitProducerId v4,
//!   Produce v9, Fetch v12 (full fetches, no sessions), ListOffsets v7. ApiVersions is
//!   checked first; every response is parsed to its last byte (framing, correlation id)
//!   and any non-zero error code ends the run with exit code 1, naming it.
//! - Batches come from the storage crate (`write_batch`, the broker's own codecs and CRC32C):
//!   a few distinct batches are built and compressed once; before each send only the
//!   header's timestamps (and producer id, epoch and sequence with --idempotent) and the
//!   CRC change, so the generator spends its CPU on a copy and a CRC per batch, not on
//!   compression: the broker is what is measured (it still decompresses to validate).
//! - Consume counts records from batch headers (recordCount), checks CRCs, and does not
//!   decode records.
//! - Figures: records/s, MB/s (record batch bytes, as sent or fetched, 10^6 B), request
//!   latency p50/p99/p99.9/max (HdrHistogram, µs precision), a progress line each second
//!   on stderr and one JSON line on stdout.

mod args;
mod batch;
mod conn;
mod consume;
mod produce;
mod protocol;
mod setup;
mod stats;
mod wire;

use std::process::ExitCode;

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let command = match args::parse(&arguments) {
        Ok(command) => command,
        Err(failure) => {
            eprintln!("sluice-perf: {failure}\n\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    let outcome = match command {
        args::Command::Help => {
            println!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        args::Command::Produce(options) => produce::run(options),
        args::Command::Consume(options) => consume::run(options),
    };
    match outcome {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("sluice-perf: error: {failure}");
            ExitCode::FAILURE
        }
    }
}
