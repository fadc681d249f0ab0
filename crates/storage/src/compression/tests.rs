use super::*;
use crate::record_batch::{validate_record_batch_crc, RecordBatchView};
use crate::validation::records::encode_record;

const CODECS: [Compression; 4] = [
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];
const NO_LIMIT: u64 = u64::MAX;

/// Text-like bytes that compress, with enough variety to span several codec blocks.
fn sample(length: usize) -> Vec<u8> {
    let mut state = 0x1234_5678u32;
    (0..length)
        .map(|index| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            if index % 7 == 0 {
                (state >> 24) as u8
            } else {
                b"kafka record "[index % 13]
            }
        })
        .collect()
}

#[test]
fn every_codec_round_trips_inputs_of_every_size_class() {
    for codec in Compression::ALL {
        for length in [0, 1, 13, 32 * 1024, 64 * 1024, 64 * 1024 + 1, 300_000] {
            let input = sample(length);
            let compressed = compress(codec, &input, None).unwrap();
            let output = decompress(codec, &compressed, NO_LIMIT).unwrap();
            assert_eq!(output, input, "{codec} with {length} bytes");
        }
    }
}

#[test]
fn levels_are_checked_and_change_only_the_ratio() {
    let input = sample(100_000);
    for level in [1, 9] {
        let compressed = compress(Compression::Gzip, &input, Some(level)).unwrap();
        assert_eq!(
            decompress(Compression::Gzip, &compressed, NO_LIMIT).unwrap(),
            input
        );
    }
    for level in [-5, 1, 19] {
        let compressed = compress(Compression::Zstd, &input, Some(level)).unwrap();
        assert_eq!(
            decompress(Compression::Zstd, &compressed, NO_LIMIT).unwrap(),
            input
        );
    }
    assert_eq!(
        compress(Compression::Gzip, &input, Some(10)),
        Err(CompressionError::InvalidLevel {
            compression: Compression::Gzip,
            level: 10
        })
    );
    assert!(compress(Compression::Zstd, &input, Some(23)).is_err());
}

#[test]
fn codec_ids_and_names_are_kafkas() {
    let expected = [
        (0, "none"),
        (1, "gzip"),
        (2, "snappy"),
        (3, "lz4"),
        (4, "zstd"),
    ];
    for (codec, (id, name)) in Compression::ALL.into_iter().zip(expected) {
        assert_eq!(codec.id(), id);
        assert_eq!(codec.name(), name);
        assert_eq!(Compression::from_id(id), Some(codec));
        assert_eq!(Compression::from_name(name), Some(codec));
        assert_eq!(
            Compression::from_attributes(0x30 | i16::from(id)),
            Ok(codec)
        );
    }
    for id in 5..=7u8 {
        assert_eq!(
            Compression::from_attributes(i16::from(id)),
            Err(CompressionError::UnknownCodec { id })
        );
    }
}

#[test]
fn snappy_output_has_the_xerial_header_and_32_kib_blocks() {
    let input = sample(70_000);
    let compressed = compress(Compression::Snappy, &input, None).unwrap();
    assert_eq!(compressed[..8], XERIAL_SNAPPY_MAGIC);
    assert_eq!(compressed[8..12], 1i32.to_be_bytes());
    assert_eq!(compressed[12..16], 1i32.to_be_bytes());
    let mut rest = &compressed[16..];
    let mut block_sizes = Vec::new();
    while !rest.is_empty() {
        let length = i32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        let block = &rest[4..4 + length];
        block_sizes.push(snap::raw::decompress_len(block).unwrap());
        rest = &rest[4 + length..];
    }
    assert_eq!(block_sizes, [32 * 1024, 32 * 1024, 70_000 - 64 * 1024]);
}

#[test]
fn snappy_reader_accepts_raw_snappy_and_concatenated_streams_as_snappy_java_does() {
    let input = sample(50_000);
    let raw = snap::raw::Encoder::new().compress_vec(&input).unwrap();
    assert_eq!(
        decompress(Compression::Snappy, &raw, NO_LIMIT).unwrap(),
        input
    );

    let mut concatenated = compress(Compression::Snappy, &input[..20_000], None).unwrap();
    concatenated.extend(compress(Compression::Snappy, &input[20_000..], None).unwrap());
    assert_eq!(
        decompress(Compression::Snappy, &concatenated, NO_LIMIT).unwrap(),
        input
    );
}

#[test]
fn lz4_output_is_a_standard_frame_kafka_reads() {
    let compressed = compress(Compression::Lz4, &sample(200_000), None).unwrap();
    assert_eq!(compressed[..4], [0x04, 0x22, 0x4D, 0x18]); // magic 0x184D2204, little-endian
                                                           // FLG: version 01, independent blocks, no block checksum, no content size or checksum.
    assert_eq!(compressed[4], 0b0110_0000);
    // BD: 64 KiB maximum block size, as KafkaLZ4BlockOutputStream writes.
    assert_eq!(compressed[5], 0x40);
    let header_checksum = (twox_hash::XxHash32::oneshot(0, &compressed[4..6]) >> 8) as u8;
    assert_eq!(compressed[6], header_checksum);
    assert_eq!(compressed[compressed.len() - 4..], [0, 0, 0, 0]); // end mark, no checksum
}

#[test]
fn lz4_of_magic_0_is_read_despite_kafkas_old_header_checksum() {
    let input = sample(10_000);
    let mut frame = compress(Compression::Lz4, &input, None).unwrap();
    // Kafka 0.8-0.9 hashed the magic bytes too (KAFKA-3160).
    frame[6] = (twox_hash::XxHash32::oneshot(0, &frame[..6]) >> 8) as u8;
    assert!(decompress(Compression::Lz4, &frame, NO_LIMIT).is_err());
    let output = Decompressor::for_magic(Compression::Lz4, &frame, 0, NO_LIMIT)
        .unwrap()
        .read_to_end()
        .unwrap();
    assert_eq!(output, input);
}

#[test]
fn gzip_and_zstd_readers_accept_concatenated_members_and_frames() {
    for codec in [Compression::Gzip, Compression::Zstd] {
        let mut concatenated = compress(codec, b"first ", None).unwrap();
        concatenated.extend(compress(codec, b"second", None).unwrap());
        assert_eq!(
            decompress(codec, &concatenated, NO_LIMIT).unwrap(),
            b"first second",
            "{codec}"
        );
    }
    // KafkaLZ4BlockInputStream stops at the first frame's end mark; so does the reader.
    let mut concatenated = compress(Compression::Lz4, b"first ", None).unwrap();
    concatenated.extend(compress(Compression::Lz4, b"second", None).unwrap());
    assert_eq!(
        decompress(Compression::Lz4, &concatenated, NO_LIMIT).unwrap(),
        b"first "
    );
}

#[test]
fn a_zstd_context_reused_after_a_failure_decodes_the_next_stream_cleanly() {
    let data = sample(200_000);
    let frame = compress(Compression::Zstd, &data, None).unwrap();
    for _ in 0..3 {
        // Each failure returns its context to this thread's pool mid-frame...
        assert!(decompress(Compression::Zstd, &frame[..frame.len() / 2], NO_LIMIT).is_err());
        assert!(decompress(Compression::Zstd, &frame[..frame.len() / 2], 1000).is_err());
        assert!(decompress(Compression::Zstd, b"", NO_LIMIT).is_err());
        // ...and the next stream on it starts from a clean session.
        assert_eq!(
            decompress(Compression::Zstd, &frame, NO_LIMIT).unwrap(),
            data
        );
        let mut reader = Decompressor::new(Compression::Zstd, &frame, NO_LIMIT).unwrap();
        let mut first = vec![0u8; 10];
        reader.read_decompressed(&mut first).unwrap();
        drop(reader); // abandoned after 10 bytes
        assert_eq!(
            decompress(Compression::Zstd, &frame, NO_LIMIT).unwrap(),
            data
        );
    }
}

/// A stream that decompresses to `frames` MiB of zeros, built from one compressed MiB
/// repeated: gzip members and zstd frames may follow each other, snappy and lz4 blocks
/// repeat inside one stream.
fn bomb(codec: Compression, frames: usize) -> Vec<u8> {
    let mebibyte = compress(codec, &vec![0u8; 1 << 20], None).unwrap();
    let mut stream = Vec::with_capacity(mebibyte.len() * frames);
    match codec {
        Compression::Snappy => {
            stream.extend_from_slice(&mebibyte);
            let blocks = &mebibyte[XERIAL_SNAPPY_HEADER_BYTES..];
            for _ in 1..frames {
                stream.extend_from_slice(blocks);
            }
        }
        Compression::Lz4 => {
            // Header (7 bytes), blocks, end mark (4 bytes): repeat the blocks.
            let blocks = &mebibyte[7..mebibyte.len() - 4];
            stream.extend_from_slice(&mebibyte[..7]);
            for _ in 0..frames {
                stream.extend_from_slice(blocks);
            }
            stream.extend_from_slice(&[0, 0, 0, 0]);
        }
        _ => {
            for _ in 0..frames {
                stream.extend_from_slice(&mebibyte);
            }
        }
    }
    stream
}

#[test]
fn a_decompression_bomb_stops_at_the_limit_with_a_typed_error() {
    const LIMIT: u64 = 8 << 20;
    for codec in CODECS {
        // 1 GiB of zeros in a few megabytes at most (snappy cannot do better than about
        // 21:1, so 64 MiB in 3 MB).
        let mebibytes = if codec == Compression::Snappy {
            64
        } else {
            1024
        };
        let compressed = bomb(codec, mebibytes);
        assert!(compressed.len() < 8 << 20, "{codec}: {}", compressed.len());
        let mut decompressor = Decompressor::new(codec, &compressed, LIMIT).unwrap();
        let mut buffer = vec![0u8; 64 * 1024];
        let error = loop {
            match decompressor.read_decompressed(&mut buffer) {
                Ok(0) => panic!("{codec}: the bomb ended under the limit"),
                Ok(_) => assert!(decompressor.produced_bytes() <= LIMIT),
                Err(error) => break error,
            }
        };
        assert_eq!(
            error,
            CompressionError::TooLarge {
                decompressed_bytes_max: LIMIT
            },
            "{codec}"
        );
        assert!(decompressor.produced_bytes() <= LIMIT + 1);
    }
}

#[test]
fn a_raw_snappy_block_claiming_a_huge_size_is_refused_before_allocating() {
    // A varint length of 2^32 - 1 and nothing else.
    let claim = [0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00];
    assert_eq!(
        decompress(Compression::Snappy, &claim, 1 << 20),
        Err(CompressionError::TooLarge {
            decompressed_bytes_max: 1 << 20
        })
    );
}

#[test]
fn output_exactly_at_the_limit_is_accepted() {
    let input = sample(100_000);
    for codec in Compression::ALL {
        let compressed = compress(codec, &input, None).unwrap();
        assert_eq!(
            decompress(codec, &compressed, input.len() as u64).unwrap(),
            input
        );
        assert!(matches!(
            decompress(codec, &compressed, input.len() as u64 - 1),
            Err(CompressionError::TooLarge { .. })
        ));
    }
}

#[test]
fn garbage_and_every_truncation_give_errors_never_panics() {
    let input = sample(3_000);
    for codec in CODECS {
        let compressed = compress(codec, &input, None).unwrap();
        for length in 0..compressed.len() {
            // Some prefixes end on a block boundary and decode to a prefix of the input;
            // none may panic or produce bytes that are not the input's.
            if let Ok(output) = decompress(codec, &compressed[..length], NO_LIMIT) {
                assert!(input.starts_with(&output), "{codec} truncated to {length}");
            }
        }
        let mut state = 7u32;
        for round in 0..200 {
            let garbage: Vec<u8> = (0..round * 3)
                .map(|_| {
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (state >> 24) as u8
                })
                .collect();
            let _ = decompress(codec, &garbage, 1 << 20);
        }
        let mut flipped = compressed.clone();
        for position in 0..flipped.len() {
            flipped[position] ^= 0x55;
            let _ = decompress(codec, &flipped, 1 << 20);
            flipped[position] ^= 0x55;
        }
    }
}

#[test]
fn garbage_in_each_codec_is_a_corrupt_error() {
    let garbage = b"this is not compressed at all, not even a little bit";
    for codec in [Compression::Gzip, Compression::Lz4, Compression::Zstd] {
        assert!(
            matches!(
                decompress(codec, garbage, NO_LIMIT),
                Err(CompressionError::Corrupt { compression, .. }) if compression == codec
            ),
            "{codec}"
        );
    }
    assert!(matches!(
        decompress(Compression::Snappy, &[], NO_LIMIT),
        Err(CompressionError::Corrupt { .. })
    ));
    let mut truncated_block = compress(Compression::Snappy, &sample(1000), None).unwrap();
    truncated_block.truncate(truncated_block.len() - 1);
    assert!(matches!(
        decompress(Compression::Snappy, &truncated_block, NO_LIMIT),
        Err(CompressionError::Corrupt { .. })
    ));
    // Kafka's reader fails on an lz4 frame without its end mark, so the codec does too.
    let frame = compress(Compression::Lz4, &sample(1000), None).unwrap();
    assert!(matches!(
        decompress(Compression::Lz4, &frame[..frame.len() - 4], NO_LIMIT),
        Err(CompressionError::Corrupt { .. })
    ));
    let mut truncated_gzip = compress(Compression::Gzip, &sample(1000), None).unwrap();
    truncated_gzip.truncate(truncated_gzip.len() - 3);
    assert!(matches!(
        decompress(Compression::Gzip, &truncated_gzip, NO_LIMIT),
        Err(CompressionError::Corrupt { .. })
    ));
}

fn records_section(count: i32) -> Vec<u8> {
    let mut records = Vec::new();
    for index in 0..count {
        let key = format!("key-{index}");
        let value = sample(100 + index as usize * 37);
        let headers: &[(&[u8], Option<&[u8]>)] = &[(b"h", Some(b"v")), (b"null", None)];
        encode_record(
            &mut records,
            index,
            i64::from(index) * 5,
            (index % 3 != 0).then_some(key.as_bytes()),
            (index != 2).then_some(value.as_slice()),
            headers,
        );
    }
    records
}

fn header(count: i32) -> BatchHeader {
    BatchHeader {
        base_offset: 0,
        partition_leader_epoch: 5,
        attributes: 0x10, // transactional
        last_offset_delta: count - 1,
        base_timestamp: 1_700_000_000_000,
        max_timestamp: 1_700_000_000_000 + i64::from(count - 1) * 5,
        producer_id: 42,
        producer_epoch: 3,
        base_sequence: 100,
        records_count: count,
    }
}

#[test]
fn write_batch_frames_a_valid_batch_in_every_codec() {
    let records = records_section(20);
    for codec in Compression::ALL {
        let batch = write_batch(&header(20), &records, codec, None).unwrap();
        assert_eq!(validate_record_batch_crc(&batch), Ok(()), "{codec}");
        let view = RecordBatchView::new(&batch).unwrap();
        assert_eq!(view.attributes(), 0x10 | i16::from(codec.id()));
        assert_eq!(BatchHeader::of(&view).records_count, 20);
        assert_eq!(
            BatchHeader {
                attributes: 0x10,
                ..BatchHeader::of(&view)
            },
            header(20)
        );
        assert_eq!(&*decompress_records(&view, NO_LIMIT).unwrap(), &records[..]);
    }
}

#[test]
fn recompressing_through_every_codec_and_back_gives_the_original_batch() {
    let original = write_batch(&header(7), &records_section(7), Compression::None, None).unwrap();
    for codec in CODECS {
        let compressed = recompress_batch(&original, codec, None, NO_LIMIT).unwrap();
        assert_ne!(compressed, original);
        for other in CODECS {
            let again = recompress_batch(&compressed, other, None, NO_LIMIT).unwrap();
            let back = recompress_batch(&again, Compression::None, None, NO_LIMIT).unwrap();
            assert_eq!(back, original, "{codec} then {other}");
        }
    }
}

#[test]
fn recompressing_checks_the_input_crc_and_framing() {
    let mut batch = write_batch(&header(3), &records_section(3), Compression::None, None).unwrap();
    batch[70] ^= 1;
    assert!(matches!(
        recompress_batch(&batch, Compression::Gzip, None, NO_LIMIT),
        Err(CompressionError::InvalidBatch(
            RecordBatchError::CrcMismatch { .. }
        ))
    ));
    assert!(matches!(
        recompress_batch(&batch[..30], Compression::Gzip, None, NO_LIMIT),
        Err(CompressionError::InvalidBatch(
            RecordBatchError::TooShort { .. }
        ))
    ));
}

#[test]
fn errors_explain_themselves() {
    assert_eq!(
        CompressionError::TooLarge {
            decompressed_bytes_max: 10
        }
        .to_string(),
        "decompressed records exceed the limit of 10 bytes"
    );
    assert_eq!(
        corrupt(Compression::Zstd, "bad frame").to_string(),
        "invalid zstd data: bad frame"
    );
}
