//! The encoders against Kafka's layouts, and the decoders against responses built here
//! field by field (as the Kafka message specs lay them out).

use super::*;
use crate::wire::{Decoder, Encoder};

/// A response frame body: correlation id, empty header tagged fields, then `body`.
fn response(correlation_id: i32, body: impl FnOnce(&mut Encoder)) -> Vec<u8> {
    let mut encoder = Encoder { buf: Vec::new() };
    encoder.i32(correlation_id);
    encoder.tagged_fields();
    body(&mut encoder);
    encoder.buf
}

fn produce_partition_response(
    encoder: &mut Encoder,
    partition: i32,
    code: i16,
    message: Option<&str>,
) {
    encoder.i32(partition);
    encoder.i16(code);
    encoder.i64(100);
    encoder.i64(-1);
    encoder.i64(0);
    encoder.compact_len(0); // record_errors
    encoder.compact_nullable_string(message);
    encoder.tagged_fields();
}

#[test]
fn produce_request_v9_layout() {
    let mut encoder = produce_start(42, "c", -1, 30_000, "topic", 2, 0);
    produce_partition(&mut encoder, 0, &[1, 2, 3]);
    produce_partition(&mut encoder, 5, &[]);
    let frame = produce_finish(encoder);
    let mut decoder = Decoder::new(&frame);
    assert_eq!(decoder.i32("size").unwrap() as usize, frame.len() - 4);
    assert_eq!(
        (decoder.i16("key").unwrap(), decoder.i16("version").unwrap()),
        PRODUCE
    );
    assert_eq!(decoder.i32("correlation").unwrap(), 42);
    assert_eq!(decoder.i16("client id length").unwrap(), 1);
    assert_eq!(decoder.i8("client id").unwrap(), b'c' as i8);
    decoder.tagged_fields("header").unwrap();
    assert_eq!(
        decoder.compact_nullable_string("transactional_id").unwrap(),
        None
    );
    assert_eq!(decoder.i16("acks").unwrap(), -1);
    assert_eq!(decoder.i32("timeout").unwrap(), 30_000);
    assert_eq!(decoder.array_len("topics").unwrap(), 1);
    assert_eq!(decoder.compact_string("name").unwrap(), "topic");
    assert_eq!(decoder.array_len("partitions").unwrap(), 2);
    assert_eq!(decoder.i32("index").unwrap(), 0);
    assert_eq!(
        decoder.compact_nullable_bytes("records").unwrap(),
        Some(&[1u8, 2, 3][..])
    );
    decoder.tagged_fields("partition").unwrap();
    assert_eq!(decoder.i32("index").unwrap(), 5);
    assert_eq!(
        decoder.compact_nullable_bytes("records").unwrap(),
        Some(&[][..])
    );
    decoder.tagged_fields("partition").unwrap();
    decoder.tagged_fields("topic").unwrap();
    decoder.tagged_fields("request").unwrap();
    decoder.end("produce").unwrap();
}

#[test]
fn produce_response_errors_are_reported() {
    let body = |code: i16| {
        response(7, |encoder| {
            encoder.compact_len(1);
            encoder.compact_string("t");
            encoder.compact_len(2);
            produce_partition_response(encoder, 0, 0, None);
            produce_partition_response(encoder, 1, code, Some("too big"));
            encoder.tagged_fields();
            encoder.i32(12); // throttle
            encoder.tagged_fields();
        })
    };
    assert_eq!(produce_response(&body(0), 7, "t", 2).unwrap(), 12);
    let failure = produce_response(&body(10), 7, "t", 2).unwrap_err();
    assert_eq!(
        failure.0,
        "Produce t-1: error 10 MESSAGE_TOO_LARGE: too big"
    );
    // A wrong correlation id, a missing partition, a truncated body, trailing bytes.
    assert!(produce_response(&body(0), 8, "t", 2)
        .unwrap_err()
        .0
        .contains("correlation id"));
    assert!(produce_response(&body(0), 7, "t", 3)
        .unwrap_err()
        .0
        .contains("2 partitions answered"));
    let frame = body(0);
    assert!(produce_response(&frame[..frame.len() - 2], 7, "t", 2).is_err());
    let mut longer = frame.clone();
    longer.push(0);
    assert!(produce_response(&longer, 7, "t", 2)
        .unwrap_err()
        .0
        .contains("left after"));
}

#[test]
fn fetch_response_v12_records_and_errors() {
    let body = |code: i16| {
        response(3, |encoder| {
            encoder.i32(0); // throttle
            encoder.i16(0);
            encoder.i32(0); // session
            encoder.compact_len(1);
            encoder.compact_string("t");
            encoder.compact_len(1);
            encoder.i32(2);
            encoder.i16(code);
            encoder.i64(77); // high watermark
            encoder.i64(77);
            encoder.i64(0);
            encoder.uvarint(0); // aborted transactions: null
            encoder.i32(-1);
            encoder.compact_bytes(&[9, 9]);
            // a tagged field (tag 1, current_leader) is skipped
            encoder.uvarint(1);
            encoder.uvarint(1);
            encoder.uvarint(3);
            encoder.buf.extend_from_slice(&[0, 0, 0]);
            encoder.tagged_fields();
            encoder.tagged_fields();
        })
    };
    let frame = body(0);
    let fetched = fetch_response(&frame, 3, "t").unwrap();
    assert_eq!(fetched.len(), 1);
    assert_eq!(
        (
            fetched[0].partition,
            fetched[0].high_watermark,
            fetched[0].records
        ),
        (2, 77, &[9u8, 9][..])
    );
    let failure = fetch_response(&body(1), 3, "t").err().unwrap();
    assert_eq!(failure.0, "Fetch t-2: error 1 OFFSET_OUT_OF_RANGE");
}

#[test]
fn metadata_v12_response() {
    let frame = response(1, |encoder| {
        encoder.i32(0);
        encoder.compact_len(1);
        encoder.i32(4);
        encoder.compact_string("127.0.0.1");
        encoder.i32(9092);
        encoder.compact_nullable_string(None);
        encoder.tagged_fields();
        encoder.compact_nullable_string(Some("cluster"));
        encoder.i32(4);
        encoder.compact_len(1);
        encoder.i16(0);
        encoder.compact_nullable_string(Some("t"));
        encoder.uuid([1; 16]);
        encoder.bool(false);
        encoder.compact_len(2);
        for partition in [1, 0] {
            encoder.i16(0);
            encoder.i32(partition);
            encoder.i32(4);
            encoder.i32(0);
            for _ in 0..3 {
                encoder.compact_len(1);
                encoder.i32(4);
            }
            encoder.tagged_fields();
        }
        encoder.i32(i32::MIN);
        encoder.tagged_fields();
        encoder.tagged_fields();
    });
    let metadata = metadata_response(&frame, 1, "t").unwrap();
    assert_eq!(
        metadata.brokers,
        vec![Broker {
            node_id: 4,
            host: "127.0.0.1".into(),
            port: 9092
        }]
    );
    assert_eq!(
        metadata
            .partitions
            .iter()
            .map(|partition| partition.partition)
            .collect::<Vec<_>>(),
        vec![0, 1]
    );
    assert!(metadata_response(&frame, 1, "other").is_err());
}

#[test]
fn api_versions_are_checked() {
    let apis = [(0, 3, 13), (1, 4, 18)];
    assert!(check_versions(&apis, &[("Produce", PRODUCE), ("Fetch", FETCH)]).is_ok());
    assert!(check_versions(&[(0, 10, 13)], &[("Produce", PRODUCE)])
        .unwrap_err()
        .0
        .contains("v10-13"));
    assert!(check_versions(&apis, &[("ListOffsets", LIST_OFFSETS)])
        .unwrap_err()
        .0
        .contains("does not serve"));
}
