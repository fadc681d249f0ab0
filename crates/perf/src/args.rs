//! Command-line options (`--name value` or `--name=value`), parsed by hand: a dozen options
//! do not need an argument-parser dependency.

use sluice_storage::compression::Compression;

use crate::wire::{error, Result};

pub const USAGE: &str = "\
usage: sluice-perf produce --topic T [options]
       sluice-perf consume --topic T [options]

common options:
  --bootstrap HOST:PORT[,...]   brokers to ask for metadata (default 127.0.0.1:9092)
  --topic NAME                  the topic (required)
  --partitions all|N|P,P,...    all partitions (default), the first N, or these
  --create                      create the topic if it is missing (with N partitions from
                                --partitions, 1 for all; --replication-factor, default 1)
  --records N                   stop after N records
  --duration SECONDS            stop after this long (produce: default 10 when no --records)
  --connections N               connections to each leader broker (default 1); the
                                partitions are spread over them
  --quiet                       no progress line (the final JSON line is still printed)

produce:
  --record-size BYTES           value size (default 100; keys are null)
  --batch-size BYTES            batch size, as Kafka's batch.size (default 16384)
  --batch-records N             records per batch (instead of --batch-size)
  --compression none|gzip|snappy|lz4|zstd   (default none)
  --acks 0|1|-1|all             (default 1)
  --max-in-flight N             requests in flight per connection (default 5)
  --rate RECORDS_PER_S          cap the send rate (default: none)
  --idempotent                  InitProducerId, producer ids and sequences (max in flight <= 5)
  --timeout-ms MS               the Produce request timeout (default 30000)

consume:
  --from earliest|latest        where to start (default earliest); with neither --records
                                nor --duration, reads up to the end offsets at the start
  --max-bytes BYTES             Fetch max_bytes (default 52428800, fetch.max.bytes)
  --partition-max-bytes BYTES   per partition (default 1048576, max.partition.fetch.bytes)
  --max-wait-ms MS              Fetch max_wait_ms (default 500)
  --no-crc-check                do not check each batch's CRC32C

Prints a progress line every second on stderr and one JSON line with every figure on stdout.
Exit code 0 on success, 1 when a request fails or the broker answers with an error, 2 on bad
options.";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionSpec {
    All,
    Count(usize),
    List(Vec<i32>),
}

#[derive(Debug, Clone)]
pub struct Common {
    pub bootstrap: String,
    pub topic: String,
    pub partitions: PartitionSpec,
    pub create: bool,
    pub replication_factor: i16,
    pub records: Option<u64>,
    pub duration: Option<f64>,
    pub connections: usize,
    pub quiet: bool,
}

#[derive(Debug, Clone)]
pub struct ProduceOptions {
    pub common: Common,
    pub record_size: usize,
    pub batch_size: usize,
    pub batch_records: Option<usize>,
    pub compression: Compression,
    pub acks: i16,
    pub max_in_flight: usize,
    pub rate: Option<f64>,
    pub idempotent: bool,
    pub timeout_ms: i32,
}

#[derive(Debug, Clone)]
pub struct ConsumeOptions {
    pub common: Common,
    pub from_earliest: bool,
    pub max_bytes: i32,
    pub partition_max_bytes: i32,
    pub max_wait_ms: i32,
    pub check_crc: bool,
}

pub enum Command {
    Produce(ProduceOptions),
    Consume(ConsumeOptions),
    Help,
}

const FLAGS: [&str; 5] = [
    "--create",
    "--quiet",
    "--idempotent",
    "--no-crc-check",
    "--help",
];

fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T> {
    value
        .parse()
        .or_else(|_| error(format!("{name}: not a valid number: {value:?}")))
}

fn positive(name: &str, value: &str) -> Result<usize> {
    let parsed: usize = number(name, value)?;
    if parsed == 0 {
        return error(format!("{name} must be at least 1"));
    }
    Ok(parsed)
}

pub fn parse(arguments: &[String]) -> Result<Command> {
    let Some(mode) = arguments.first() else {
        return error("produce or consume?");
    };
    if mode == "--help" || mode == "-h" || mode == "help" {
        return Ok(Command::Help);
    }
    if mode != "produce" && mode != "consume" {
        return error(format!("unknown command {mode:?}: produce or consume"));
    }
    let produce = mode == "produce";
    let mut pairs: Vec<(String, Option<String>)> = Vec::new();
    let mut rest = arguments[1..].iter();
    while let Some(argument) = rest.next() {
        if argument == "-h" {
            return Ok(Command::Help);
        }
        if !argument.starts_with("--") {
            return error(format!("unexpected argument {argument:?}"));
        }
        if let Some((name, value)) = argument.split_once('=') {
            pairs.push((name.to_owned(), Some(value.to_owned())));
        } else if FLAGS.contains(&argument.as_str()) {
            pairs.push((argument.clone(), None));
        } else {
            let Some(value) = rest.next() else {
                return error(format!("{argument} needs a value"));
            };
            pairs.push((argument.clone(), Some(value.clone())));
        }
    }
    let mut common = Common {
        bootstrap: "127.0.0.1:9092".into(),
        topic: String::new(),
        partitions: PartitionSpec::All,
        create: false,
        replication_factor: 1,
        records: None,
        duration: None,
        connections: 1,
        quiet: false,
    };
    let mut produce_options = ProduceOptions {
        common: common.clone(),
        record_size: 100,
        batch_size: 16_384,
        batch_records: None,
        compression: Compression::None,
        acks: 1,
        max_in_flight: 5,
        rate: None,
        idempotent: false,
        timeout_ms: 30_000,
    };
    let mut consume_options = ConsumeOptions {
        common: common.clone(),
        from_earliest: true,
        max_bytes: 52_428_800,
        partition_max_bytes: 1_048_576,
        max_wait_ms: 500,
        check_crc: true,
    };
    for (name, value) in pairs {
        let flag = value.is_none();
        let value = value.unwrap_or_default();
        let name = name.as_str();
        match (name, produce) {
            ("--help", _) => return Ok(Command::Help),
            ("--create", _) if flag => common.create = true,
            ("--quiet", _) if flag => common.quiet = true,
            ("--idempotent", true) if flag => produce_options.idempotent = true,
            ("--no-crc-check", false) if flag => consume_options.check_crc = false,
            ("--create" | "--quiet" | "--idempotent" | "--no-crc-check", _) if !flag => {
                return error(format!("{name} takes no value"))
            }
            ("--bootstrap" | "--bootstrap-server", _) => common.bootstrap = value,
            ("--topic", _) => common.topic = value,
            ("--partitions", _) => common.partitions = parse_partitions(&value)?,
            ("--replication-factor", _) => common.replication_factor = number(name, &value)?,
            ("--records", _) => common.records = Some(positive(name, &value)? as u64),
            ("--duration", _) => {
                let seconds: f64 = number(name, &value)?;
                if !(seconds > 0.0 && seconds.is_finite()) {
                    return error("--duration must be a positive number of seconds");
                }
                common.duration = Some(seconds);
            }
            ("--connections", _) => common.connections = positive(name, &value)?,
            ("--record-size", true) => produce_options.record_size = number(name, &value)?,
            ("--batch-size", true) => produce_options.batch_size = positive(name, &value)?,
            ("--batch-records", true) => {
                produce_options.batch_records = Some(positive(name, &value)?)
            }
            ("--compression", true) => {
                produce_options.compression = Compression::from_name(&value).map_or_else(
                    || {
                        error(format!(
                            "--compression: none, gzip, snappy, lz4 or zstd, not {value:?}"
                        ))
                    },
                    Ok,
                )?
            }
            ("--acks", true) => {
                produce_options.acks = match value.as_str() {
                    "0" => 0,
                    "1" => 1,
                    "-1" | "all" => -1,
                    _ => return error(format!("--acks: 0, 1, -1 or all, not {value:?}")),
                }
            }
            ("--max-in-flight", true) => produce_options.max_in_flight = positive(name, &value)?,
            ("--rate", true) => {
                let rate: f64 = number(name, &value)?;
                if !(rate > 0.0 && rate.is_finite()) {
                    return error("--rate must be a positive number of records per second");
                }
                produce_options.rate = Some(rate);
            }
            ("--timeout-ms", true) => produce_options.timeout_ms = number(name, &value)?,
            ("--from", false) => {
                consume_options.from_earliest = match value.as_str() {
                    "earliest" => true,
                    "latest" => false,
                    _ => return error(format!("--from: earliest or latest, not {value:?}")),
                }
            }
            ("--max-bytes", false) => consume_options.max_bytes = number(name, &value)?,
            ("--partition-max-bytes", false) => {
                consume_options.partition_max_bytes = number(name, &value)?
            }
            ("--max-wait-ms", false) => consume_options.max_wait_ms = number(name, &value)?,
            _ => return error(format!("unknown option {name} for {mode}")),
        }
    }
    if common.topic.is_empty() {
        return error("--topic is required");
    }
    if produce {
        if common.records.is_none() && common.duration.is_none() {
            common.duration = Some(10.0);
        }
        if produce_options.idempotent && produce_options.max_in_flight > 5 {
            return error("--idempotent allows at most 5 requests in flight per connection (as Kafka's producer)");
        }
        if produce_options.idempotent && produce_options.acks != -1 {
            return error("--idempotent needs --acks all (as Kafka's producer)");
        }
        produce_options.common = common;
        Ok(Command::Produce(produce_options))
    } else {
        if !consume_options.from_earliest && common.records.is_none() && common.duration.is_none() {
            return error("--from latest needs --records or --duration");
        }
        consume_options.common = common;
        Ok(Command::Consume(consume_options))
    }
}

fn parse_partitions(value: &str) -> Result<PartitionSpec> {
    if value == "all" {
        return Ok(PartitionSpec::All);
    }
    if !value.contains(',') {
        return Ok(PartitionSpec::Count(positive("--partitions", value)?));
    }
    let mut list = Vec::new();
    for item in value.split(',') {
        let partition: i32 = number("--partitions", item.trim())?;
        if partition < 0 || list.contains(&partition) {
            return error(format!(
                "--partitions: bad or repeated partition {partition}"
            ));
        }
        list.push(partition);
    }
    Ok(PartitionSpec::List(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(arguments: &[&str]) -> Vec<String> {
        arguments
            .iter()
            .map(|argument| argument.to_string())
            .collect()
    }

    #[test]
    fn produce_options() {
        let Command::Produce(options) = parse(&strings(&[
            "produce",
            "--topic",
            "t",
            "--partitions=3",
            "--compression",
            "zstd",
            "--acks",
            "all",
            "--records",
            "1000",
            "--create",
            "--idempotent",
        ]))
        .unwrap() else {
            panic!("not produce")
        };
        assert_eq!(options.common.partitions, PartitionSpec::Count(3));
        assert_eq!(options.compression, Compression::Zstd);
        assert_eq!(
            (
                options.acks,
                options.common.records,
                options.common.duration
            ),
            (-1, Some(1000), None)
        );
        assert!(options.common.create && options.idempotent);
    }

    #[test]
    fn bad_options_are_errors() {
        for arguments in [
            &["produce"][..],
            &["produce", "--topic", "t", "--acks", "2"],
            &["produce", "--topic", "t", "--compression", "brotli"],
            &["consume", "--topic", "t", "--record-size", "5"],
            &["consume", "--topic", "t", "--from", "latest"],
            &[
                "produce",
                "--topic",
                "t",
                "--idempotent",
                "--max-in-flight",
                "6",
                "--acks",
                "all",
            ],
            &["produce", "--topic", "t", "--partitions", "1,1"],
            &["produce", "--topic"],
            &["fetch"],
        ] {
            assert!(parse(&strings(arguments)).is_err(), "{arguments:?}");
        }
        let Command::Consume(options) = parse(&strings(&[
            "consume",
            "--topic",
            "t",
            "--partitions",
            "0,2",
        ]))
        .unwrap() else {
            panic!("not consume")
        };
        assert_eq!(options.common.partitions, PartitionSpec::List(vec![0, 2]));
        assert!(options.from_earliest && options.check_crc);
    }
}
