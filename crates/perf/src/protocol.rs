//! The handful of Kafka requests the load generator sends, hand-written (the generated
//! codec lives in TypeScript). One version of each, all flexible (KIP-482), all served by
//! both Sluice and Apache Kafka 4.x; [`check_versions`] checks them against the broker's
//! ApiVersions answer before anything else is sent.

use crate::wire::{error, response_body, Encoder, Error, Result};

pub const PRODUCE: (i16, i16) = (0, 9);
pub const FETCH: (i16, i16) = (1, 12);
pub const LIST_OFFSETS: (i16, i16) = (2, 7);
pub const METADATA: (i16, i16) = (3, 12);
pub const API_VERSIONS: (i16, i16) = (18, 3);
pub const CREATE_TOPICS: (i16, i16) = (19, 7);
pub const INIT_PRODUCER_ID: (i16, i16) = (22, 4);

/// Kafka's name of an error code, for messages (the codes a load run can meet).
pub fn error_name(code: i16) -> &'static str {
    match code {
        -1 => "UNKNOWN_SERVER_ERROR",
        1 => "OFFSET_OUT_OF_RANGE",
        2 => "CORRUPT_MESSAGE",
        3 => "UNKNOWN_TOPIC_OR_PARTITION",
        4 => "INVALID_FETCH_SIZE",
        5 => "LEADER_NOT_AVAILABLE",
        6 => "NOT_LEADER_OR_FOLLOWER",
        7 => "REQUEST_TIMED_OUT",
        10 => "MESSAGE_TOO_LARGE",
        14 => "COORDINATOR_LOAD_IN_PROGRESS",
        15 => "COORDINATOR_NOT_AVAILABLE",
        16 => "NOT_COORDINATOR",
        18 => "RECORD_LIST_TOO_LARGE",
        19 => "NOT_ENOUGH_REPLICAS",
        20 => "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
        32 => "INVALID_TIMESTAMP",
        35 => "UNSUPPORTED_VERSION",
        36 => "TOPIC_ALREADY_EXISTS",
        37 => "INVALID_PARTITIONS",
        38 => "INVALID_REPLICATION_FACTOR",
        41 => "NOT_CONTROLLER",
        42 => "INVALID_REQUEST",
        45 => "OUT_OF_ORDER_SEQUENCE_NUMBER",
        46 => "DUPLICATE_SEQUENCE_NUMBER",
        47 => "INVALID_PRODUCER_EPOCH",
        59 => "UNKNOWN_PRODUCER_ID",
        74 => "FENCED_LEADER_EPOCH",
        75 => "UNKNOWN_LEADER_EPOCH",
        76 => "UNSUPPORTED_COMPRESSION_TYPE",
        87 => "INVALID_RECORD",
        _ => "(another error)",
    }
}

/// A broker's error code as an error, naming where it came from.
pub fn broker_error(code: i16, context: &str, message: Option<&str>) -> Error {
    let detail = message
        .map(|message| format!(": {message}"))
        .unwrap_or_default();
    Error(format!(
        "{context}: error {code} {}{detail}",
        error_name(code)
    ))
}

fn request(api: (i16, i16), correlation_id: i32, client_id: &str, capacity: usize) -> Encoder {
    Encoder::request(api.0, api.1, correlation_id, client_id, capacity)
}

// ---------------------------------------------------------------------------------------
// ApiVersions v3

pub fn api_versions_request(correlation_id: i32, client_id: &str) -> Vec<u8> {
    let mut encoder = request(API_VERSIONS, correlation_id, client_id, 32);
    encoder.compact_string("sluice-perf");
    encoder.compact_string(env!("CARGO_PKG_VERSION"));
    encoder.tagged_fields();
    encoder.finish_frame()
}

/// (api key, min version, max version) of each API the broker serves.
pub fn api_versions_response(frame: &[u8], correlation_id: i32) -> Result<Vec<(i16, i16, i16)>> {
    // ApiVersions responses keep header v0 at every version (KIP-511).
    let mut decoder = response_body(frame, correlation_id, false, "ApiVersions")?;
    let code = decoder.i16("error_code")?;
    if code != 0 {
        return Err(broker_error(code, "ApiVersions", None));
    }
    let count = decoder.array_len("api_keys")?;
    let mut apis = Vec::with_capacity(count);
    for _ in 0..count {
        let key = decoder.i16("api_key")?;
        let min = decoder.i16("min_version")?;
        let max = decoder.i16("max_version")?;
        decoder.tagged_fields("api_keys tagged fields")?;
        apis.push((key, min, max));
    }
    decoder.i32("throttle_time_ms")?;
    decoder.tagged_fields("ApiVersions tagged fields")?;
    decoder.end("ApiVersions")?;
    Ok(apis)
}

/// Fails unless the broker serves each of `needed` (api key, version).
pub fn check_versions(apis: &[(i16, i16, i16)], needed: &[(&str, (i16, i16))]) -> Result<()> {
    for (name, (key, version)) in needed {
        match apis.iter().find(|(api, _, _)| api == key) {
            Some((_, min, max)) if (*min..=*max).contains(version) => {}
            Some((_, min, max)) => {
                return error(format!(
                    "the broker serves {name} v{min}-{max}; sluice-perf needs v{version}"
                ))
            }
            None => return error(format!("the broker does not serve {name} (api key {key})")),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Metadata v12

pub fn metadata_request(correlation_id: i32, client_id: &str, topic: &str) -> Vec<u8> {
    let mut encoder = request(METADATA, correlation_id, client_id, 64);
    encoder.compact_len(1);
    encoder.uuid([0; 16]);
    encoder.compact_nullable_string(Some(topic));
    encoder.tagged_fields();
    encoder.bool(false); // allow_auto_topic_creation: --create says so explicitly
    encoder.bool(false); // include_topic_authorized_operations
    encoder.tagged_fields();
    encoder.finish_frame()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    pub node_id: i32,
    pub host: String,
    pub port: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    pub error_code: i16,
    pub partition: i32,
    pub leader: i32,
    pub leader_epoch: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub brokers: Vec<Broker>,
    /// The topic's error code (0, or e.g. UNKNOWN_TOPIC_OR_PARTITION).
    pub topic_error: i16,
    pub partitions: Vec<PartitionMetadata>,
}

pub fn metadata_response(frame: &[u8], correlation_id: i32, topic: &str) -> Result<Metadata> {
    let mut decoder = response_body(frame, correlation_id, true, "Metadata")?;
    decoder.i32("throttle_time_ms")?;
    let broker_count = decoder.array_len("brokers")?;
    let mut brokers = Vec::with_capacity(broker_count);
    for _ in 0..broker_count {
        let node_id = decoder.i32("node_id")?;
        let host = decoder.compact_string("host")?.to_owned();
        let port = decoder.i32("port")?;
        decoder.compact_nullable_string("rack")?;
        decoder.tagged_fields("broker tagged fields")?;
        brokers.push(Broker {
            node_id,
            host,
            port,
        });
    }
    decoder.compact_nullable_string("cluster_id")?;
    decoder.i32("controller_id")?;
    let topic_count = decoder.array_len("topics")?;
    let mut found = None;
    for _ in 0..topic_count {
        let topic_error = decoder.i16("topic error_code")?;
        let name = decoder
            .compact_nullable_string("topic name")?
            .map(str::to_owned);
        decoder.uuid("topic_id")?;
        decoder.bool("is_internal")?;
        let partition_count = decoder.array_len("partitions")?;
        let mut partitions = Vec::with_capacity(partition_count);
        for _ in 0..partition_count {
            let error_code = decoder.i16("partition error_code")?;
            let partition = decoder.i32("partition_index")?;
            let leader = decoder.i32("leader_id")?;
            let leader_epoch = decoder.i32("leader_epoch")?;
            for field in ["replica_nodes", "isr_nodes", "offline_replicas"] {
                let nodes = decoder.array_len(field)?;
                for _ in 0..nodes {
                    decoder.i32(field)?;
                }
            }
            decoder.tagged_fields("partition tagged fields")?;
            partitions.push(PartitionMetadata {
                error_code,
                partition,
                leader,
                leader_epoch,
            });
        }
        decoder.i32("topic_authorized_operations")?;
        decoder.tagged_fields("topic tagged fields")?;
        if name.as_deref() == Some(topic) {
            partitions.sort_by_key(|partition| partition.partition);
            found = Some((topic_error, partitions));
        }
    }
    decoder.tagged_fields("Metadata tagged fields")?;
    decoder.end("Metadata")?;
    let Some((topic_error, partitions)) = found else {
        return error(format!(
            "Metadata: the response does not name topic {topic:?}"
        ));
    };
    Ok(Metadata {
        brokers,
        topic_error,
        partitions,
    })
}

// ---------------------------------------------------------------------------------------
// CreateTopics v7

pub fn create_topics_request(
    correlation_id: i32,
    client_id: &str,
    topic: &str,
    partitions: i32,
    replication_factor: i16,
) -> Vec<u8> {
    let mut encoder = request(CREATE_TOPICS, correlation_id, client_id, 64);
    encoder.compact_len(1);
    encoder.compact_string(topic);
    encoder.i32(partitions);
    encoder.i16(replication_factor);
    encoder.compact_len(0); // assignments
    encoder.compact_len(0); // configs
    encoder.tagged_fields();
    encoder.i32(30_000); // timeout_ms
    encoder.bool(false); // validate_only
    encoder.tagged_fields();
    encoder.finish_frame()
}

/// The topic's error code and message (0 when created; 36 TOPIC_ALREADY_EXISTS is for the
/// caller to judge).
pub fn create_topics_response(frame: &[u8], correlation_id: i32) -> Result<(i16, Option<String>)> {
    let mut decoder = response_body(frame, correlation_id, true, "CreateTopics")?;
    decoder.i32("throttle_time_ms")?;
    let count = decoder.array_len("topics")?;
    if count != 1 {
        return error(format!(
            "CreateTopics: {count} topics in the response, asked for 1"
        ));
    }
    decoder.compact_string("name")?;
    decoder.uuid("topic_id")?;
    let code = decoder.i16("error_code")?;
    let message = decoder
        .compact_nullable_string("error_message")?
        .map(str::to_owned);
    decoder.i32("num_partitions")?;
    decoder.i16("replication_factor")?;
    if let Some(configs) = decoder.compact_len("configs")? {
        for _ in 0..configs {
            decoder.compact_string("config name")?;
            decoder.compact_nullable_string("config value")?;
            decoder.bool("read_only")?;
            decoder.i8("config_source")?;
            decoder.bool("is_sensitive")?;
            decoder.tagged_fields("config tagged fields")?;
        }
    }
    decoder.tagged_fields("topic tagged fields")?;
    decoder.tagged_fields("CreateTopics tagged fields")?;
    decoder.end("CreateTopics")?;
    Ok((code, message))
}

// ---------------------------------------------------------------------------------------
// InitProducerId v4 (idempotent producer, no transactional id)

pub fn init_producer_id_request(correlation_id: i32, client_id: &str) -> Vec<u8> {
    let mut encoder = request(INIT_PRODUCER_ID, correlation_id, client_id, 32);
    encoder.compact_nullable_string(None);
    encoder.i32(60_000); // transaction_timeout_ms
    encoder.i64(-1);
    encoder.i16(-1);
    encoder.tagged_fields();
    encoder.finish_frame()
}

/// (producer id, producer epoch).
pub fn init_producer_id_response(frame: &[u8], correlation_id: i32) -> Result<(i64, i16)> {
    let mut decoder = response_body(frame, correlation_id, true, "InitProducerId")?;
    decoder.i32("throttle_time_ms")?;
    let code = decoder.i16("error_code")?;
    let producer_id = decoder.i64("producer_id")?;
    let producer_epoch = decoder.i16("producer_epoch")?;
    decoder.tagged_fields("InitProducerId tagged fields")?;
    decoder.end("InitProducerId")?;
    if code != 0 {
        return Err(broker_error(code, "InitProducerId", None));
    }
    Ok((producer_id, producer_epoch))
}

// ---------------------------------------------------------------------------------------
// ListOffsets v7

pub const LATEST_TIMESTAMP: i64 = -1;
pub const EARLIEST_TIMESTAMP: i64 = -2;

pub fn list_offsets_request(
    correlation_id: i32,
    client_id: &str,
    topic: &str,
    partitions: &[i32],
    timestamp: i64,
) -> Vec<u8> {
    let mut encoder = request(
        LIST_OFFSETS,
        correlation_id,
        client_id,
        64 + partitions.len() * 20,
    );
    encoder.i32(-1); // replica_id: a consumer
    encoder.i8(0); // isolation_level: read uncommitted (the high watermark)
    encoder.compact_len(1);
    encoder.compact_string(topic);
    encoder.compact_len(partitions.len());
    for &partition in partitions {
        encoder.i32(partition);
        encoder.i32(-1); // current_leader_epoch: unknown
        encoder.i64(timestamp);
        encoder.tagged_fields();
    }
    encoder.tagged_fields();
    encoder.tagged_fields();
    encoder.finish_frame()
}

/// (partition, offset) for each partition asked; any error code fails.
pub fn list_offsets_response(frame: &[u8], correlation_id: i32) -> Result<Vec<(i32, i64)>> {
    let mut decoder = response_body(frame, correlation_id, true, "ListOffsets")?;
    decoder.i32("throttle_time_ms")?;
    let mut offsets = Vec::new();
    for _ in 0..decoder.array_len("topics")? {
        let topic = decoder.compact_string("name")?.to_owned();
        for _ in 0..decoder.array_len("partitions")? {
            let partition = decoder.i32("partition_index")?;
            let code = decoder.i16("error_code")?;
            decoder.i64("timestamp")?;
            let offset = decoder.i64("offset")?;
            decoder.i32("leader_epoch")?;
            decoder.tagged_fields("partition tagged fields")?;
            if code != 0 {
                return Err(broker_error(
                    code,
                    &format!("ListOffsets {topic}-{partition}"),
                    None,
                ));
            }
            offsets.push((partition, offset));
        }
        decoder.tagged_fields("topic tagged fields")?;
    }
    decoder.tagged_fields("ListOffsets tagged fields")?;
    decoder.end("ListOffsets")?;
    Ok(offsets)
}

// ---------------------------------------------------------------------------------------
// Produce v9

/// Starts a Produce request; the caller appends partitions with [`produce_partition`] and
/// ends it with [`produce_finish`].
pub fn produce_start(
    correlation_id: i32,
    client_id: &str,
    acks: i16,
    timeout_ms: i32,
    topic: &str,
    partitions: usize,
    capacity: usize,
) -> Encoder {
    let mut encoder = request(PRODUCE, correlation_id, client_id, capacity + 64);
    encoder.compact_nullable_string(None); // transactional_id
    encoder.i16(acks);
    encoder.i32(timeout_ms);
    encoder.compact_len(1);
    encoder.compact_string(topic);
    encoder.compact_len(partitions);
    encoder
}

pub fn produce_partition(encoder: &mut Encoder, partition: i32, batch: &[u8]) {
    encoder.i32(partition);
    encoder.compact_bytes(batch);
    encoder.tagged_fields();
}

pub fn produce_finish(mut encoder: Encoder) -> Vec<u8> {
    encoder.tagged_fields(); // topic
    encoder.tagged_fields(); // request
    encoder.finish_frame()
}

/// Checks a Produce response: every partition asked for answered, with error code 0.
/// Returns the throttle time.
pub fn produce_response(
    frame: &[u8],
    correlation_id: i32,
    topic: &str,
    partitions: usize,
) -> Result<i32> {
    let mut decoder = response_body(frame, correlation_id, true, "Produce")?;
    let mut answered = 0;
    let mut failure: Option<Error> = None;
    for _ in 0..decoder.array_len("responses")? {
        let name = decoder.compact_string("name")?;
        if name != topic {
            return error(format!(
                "Produce: response for topic {name:?}, sent {topic:?}"
            ));
        }
        for _ in 0..decoder.array_len("partition_responses")? {
            let partition = decoder.i32("index")?;
            let code = decoder.i16("error_code")?;
            decoder.i64("base_offset")?;
            decoder.i64("log_append_time_ms")?;
            decoder.i64("log_start_offset")?;
            let mut record_errors = Vec::new();
            for _ in 0..decoder.array_len("record_errors")? {
                let index = decoder.i32("batch_index")?;
                let message = decoder.compact_nullable_string("batch_index_error_message")?;
                decoder.tagged_fields("record error tagged fields")?;
                record_errors.push(format!("record {index}: {}", message.unwrap_or("")));
            }
            let message = decoder.compact_nullable_string("error_message")?;
            decoder.tagged_fields("partition tagged fields")?;
            answered += 1;
            if code != 0 && failure.is_none() {
                let mut detail = message.unwrap_or("").to_owned();
                if !record_errors.is_empty() {
                    detail = format!("{detail} [{}]", record_errors.join("; "));
                }
                failure = Some(broker_error(
                    code,
                    &format!("Produce {topic}-{partition}"),
                    Some(&detail),
                ));
            }
        }
        decoder.tagged_fields("topic tagged fields")?;
    }
    let throttle = decoder.i32("throttle_time_ms")?;
    decoder.tagged_fields("Produce tagged fields")?;
    decoder.end("Produce")?;
    if let Some(failure) = failure {
        return Err(failure);
    }
    if answered != partitions {
        return error(format!(
            "Produce: {answered} partitions answered, sent {partitions}"
        ));
    }
    Ok(throttle)
}

// ---------------------------------------------------------------------------------------
// Fetch v12 (full fetch requests, no sessions)

pub struct FetchLimits {
    pub max_wait_ms: i32,
    pub min_bytes: i32,
    pub max_bytes: i32,
    pub partition_max_bytes: i32,
}

pub fn fetch_request(
    correlation_id: i32,
    client_id: &str,
    topic: &str,
    partitions: &[(i32, i64)],
    limits: &FetchLimits,
) -> Vec<u8> {
    let mut encoder = request(FETCH, correlation_id, client_id, 64 + partitions.len() * 40);
    encoder.i32(-1); // replica_id: a consumer
    encoder.i32(limits.max_wait_ms);
    encoder.i32(limits.min_bytes);
    encoder.i32(limits.max_bytes);
    encoder.i8(0); // isolation_level: read uncommitted
    encoder.i32(0); // session_id: no session
    encoder.i32(-1); // session_epoch: full fetch, no session
    encoder.compact_len(1);
    encoder.compact_string(topic);
    encoder.compact_len(partitions.len());
    for &(partition, offset) in partitions {
        encoder.i32(partition);
        encoder.i32(-1); // current_leader_epoch
        encoder.i64(offset);
        encoder.i32(-1); // last_fetched_epoch
        encoder.i64(-1); // log_start_offset (a follower's)
        encoder.i32(limits.partition_max_bytes);
        encoder.tagged_fields();
    }
    encoder.tagged_fields();
    encoder.compact_len(0); // forgotten_topics_data
    encoder.compact_string(""); // rack_id
    encoder.tagged_fields();
    encoder.finish_frame()
}

/// One partition of a Fetch response; `records` borrows from the frame.
pub struct FetchedPartition<'a> {
    pub partition: i32,
    pub high_watermark: i64,
    pub records: &'a [u8],
}

pub fn fetch_response<'a>(
    frame: &'a [u8],
    correlation_id: i32,
    topic: &str,
) -> Result<Vec<FetchedPartition<'a>>> {
    let mut decoder = response_body(frame, correlation_id, true, "Fetch")?;
    decoder.i32("throttle_time_ms")?;
    let code = decoder.i16("error_code")?;
    if code != 0 {
        return Err(broker_error(code, "Fetch", None));
    }
    decoder.i32("session_id")?;
    let mut fetched = Vec::new();
    for _ in 0..decoder.array_len("responses")? {
        let name = decoder.compact_string("topic")?;
        if name != topic {
            return error(format!(
                "Fetch: response for topic {name:?}, asked for {topic:?}"
            ));
        }
        for _ in 0..decoder.array_len("partitions")? {
            let partition = decoder.i32("partition_index")?;
            let code = decoder.i16("error_code")?;
            let high_watermark = decoder.i64("high_watermark")?;
            decoder.i64("last_stable_offset")?;
            decoder.i64("log_start_offset")?;
            if let Some(aborted) = decoder.compact_len("aborted_transactions")? {
                for _ in 0..aborted {
                    decoder.i64("producer_id")?;
                    decoder.i64("first_offset")?;
                    decoder.tagged_fields("aborted transaction tagged fields")?;
                }
            }
            decoder.i32("preferred_read_replica")?;
            let records = decoder.compact_nullable_bytes("records")?.unwrap_or(&[]);
            decoder.tagged_fields("partition tagged fields")?;
            if code != 0 {
                return Err(broker_error(
                    code,
                    &format!("Fetch {topic}-{partition}"),
                    None,
                ));
            }
            fetched.push(FetchedPartition {
                partition,
                high_watermark,
                records,
            });
        }
        decoder.tagged_fields("topic tagged fields")?;
    }
    decoder.tagged_fields("Fetch tagged fields")?;
    decoder.end("Fetch")?;
    Ok(fetched)
}

#[cfg(test)]
mod tests;
