//! Record batches v2 to send, and counting the records of fetched ones.
//!
//! A produced batch is built once per distinct content ([`BatchTemplate`]): records of
//! `record_size` pseudo-random uppercase letters (the alphabet of Kafka's
//! ProducerPerformance, but a different value per record, so compression sees real text-like
//! entropy rather than one repeated payload), no key, no headers, compressed with the storage
//! crate's codecs (the broker's own, byte-compatible with the Java client). Before each send
//! only the header changes: timestamps (now), producer id/epoch and base sequence when
//! idempotent, then the CRC32C again. So the generator's cost per batch is a copy and a
//! CRC, not a compression: what is measured is the broker.

use sluice_storage::compression::{write_batch, BatchHeader, Compression};
use sluice_storage::crc32c::crc32c;
use sluice_storage::record_batch::{
    ATTRIBUTES_OFFSET, BASE_SEQUENCE_OFFSET, BASE_TIMESTAMP_OFFSET, CONTROL_ATTRIBUTE, CRC_OFFSET,
    CRC_START_OFFSET, HEADER_BYTES, LAST_OFFSET_DELTA_OFFSET, LOG_OVERHEAD_BYTES, MAGIC_OFFSET,
    MAX_TIMESTAMP_OFFSET, PRODUCER_EPOCH_OFFSET, PRODUCER_ID_OFFSET, RECORDS_COUNT_OFFSET,
};

use crate::wire::{error, put_varint, Result};

/// xorshift64*: fast, seedable, good enough for payload bytes.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The uncompressed records section of a batch: `count` records with null keys and values
/// of `record_size` bytes (A-Z), offset deltas 0..count, timestamp deltas 0.
pub fn encode_records(count: usize, record_size: usize, rng: &mut Rng) -> Vec<u8> {
    let mut records = Vec::with_capacity(count * (record_size + 16));
    let mut body = Vec::with_capacity(record_size + 16);
    for offset_delta in 0..count {
        body.clear();
        body.push(0); // attributes
        put_varint(&mut body, 0); // timestamp delta
        put_varint(&mut body, offset_delta as i64);
        put_varint(&mut body, -1); // key: null
        put_varint(&mut body, record_size as i64);
        let start = body.len();
        body.resize(start + record_size, 0);
        for chunk in body[start..].chunks_mut(8) {
            let random = rng.next().to_le_bytes();
            for (byte, bits) in chunk.iter_mut().zip(random) {
                *byte = b'A' + (bits % 26);
            }
        }
        put_varint(&mut body, 0); // headers
        put_varint(&mut records, body.len() as i64);
        records.extend_from_slice(&body);
    }
    records
}

/// The encoded size of one record of `record_size` bytes (offset delta 0; larger deltas
/// may take a byte or two more), for sizing batches from a byte budget.
pub fn record_bytes(record_size: usize) -> usize {
    encode_records(1, record_size, &mut Rng::new(1)).len()
}

/// How many records fit a batch of `batch_bytes` (Kafka's batch.size counts the whole
/// batch, header included); at least one.
pub fn records_per_batch(batch_bytes: usize, record_size: usize) -> usize {
    (batch_bytes.saturating_sub(HEADER_BYTES) / (record_bytes(record_size) + 1)).max(1)
}

/// A whole batch v2, ready but for its header's per-send fields.
pub struct BatchTemplate {
    pub bytes: Vec<u8>,
}

impl BatchTemplate {
    pub fn new(
        records: usize,
        record_size: usize,
        compression: Compression,
        rng: &mut Rng,
    ) -> Result<Self> {
        let uncompressed = encode_records(records, record_size, rng);
        let header = BatchHeader {
            base_offset: 0,
            partition_leader_epoch: -1,
            attributes: 0,
            last_offset_delta: records as i32 - 1,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            records_count: records as i32,
        };
        let bytes = write_batch(&header, &uncompressed, compression, None).map_err(|failure| {
            crate::wire::Error(format!(
                "compressing a batch with {compression}: {failure:?}"
            ))
        })?;
        Ok(BatchTemplate { bytes })
    }
}

/// Sets the per-send header fields of a batch (in place) and its CRC32C.
pub fn stamp(batch: &mut [u8], timestamp_ms: i64, producer: Option<(i64, i16, i32)>) {
    batch[BASE_TIMESTAMP_OFFSET..BASE_TIMESTAMP_OFFSET + 8]
        .copy_from_slice(&timestamp_ms.to_be_bytes());
    batch[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8]
        .copy_from_slice(&timestamp_ms.to_be_bytes());
    let (producer_id, producer_epoch, base_sequence) = producer.unwrap_or((-1, -1, -1));
    batch[PRODUCER_ID_OFFSET..PRODUCER_ID_OFFSET + 8].copy_from_slice(&producer_id.to_be_bytes());
    batch[PRODUCER_EPOCH_OFFSET..PRODUCER_EPOCH_OFFSET + 2]
        .copy_from_slice(&producer_epoch.to_be_bytes());
    batch[BASE_SEQUENCE_OFFSET..BASE_SEQUENCE_OFFSET + 4]
        .copy_from_slice(&base_sequence.to_be_bytes());
    let crc = crc32c(&batch[CRC_START_OFFSET..]);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}

fn be_i32(bytes: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(bytes[at..at + 4].try_into().unwrap())
}

fn be_i64(bytes: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(bytes[at..at + 8].try_into().unwrap())
}

/// What the whole batches of a fetched records blob hold.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counted {
    /// Data records at or after the fetch offset (control batches not counted).
    pub records: u64,
    pub batches: u64,
    /// Bytes of the whole batches.
    pub bytes: u64,
    /// The offset after the last whole batch (the next fetch offset), if any batch was whole.
    pub next_offset: Option<i64>,
}

/// Counts the records of the whole batches in `records` from their headers (recordCount),
/// without decoding records; a trailing partial batch (Kafka cuts responses at the size
/// limit) is left for the next fetch. Records before `fetch_offset` (a compressed batch
/// is returned whole) are not counted. With `check_crc`, each batch's CRC32C is checked,
/// as Kafka's consumer does by default (check.crcs).
pub fn count_batches(records: &[u8], fetch_offset: i64, check_crc: bool) -> Result<Counted> {
    let mut counted = Counted::default();
    let mut position = 0;
    while records.len() - position >= LOG_OVERHEAD_BYTES {
        let base_offset = be_i64(records, position);
        let batch_length = be_i32(records, position + 8);
        if batch_length < 0 {
            return error(format!(
                "fetched batch at offset {base_offset} has length {batch_length}"
            ));
        }
        let size = LOG_OVERHEAD_BYTES + batch_length as usize;
        if records.len() - position < size {
            break;
        }
        let batch = &records[position..position + size];
        if size < HEADER_BYTES {
            return error(format!(
                "fetched batch at offset {base_offset} is {size} bytes, shorter than a v2 header"
            ));
        }
        let magic = batch[MAGIC_OFFSET] as i8;
        if magic != 2 {
            return error(format!("fetched batch at offset {base_offset} has magic {magic}; sluice-perf reads v2 only"));
        }
        if check_crc {
            let stored = u32::from_be_bytes(batch[CRC_OFFSET..CRC_OFFSET + 4].try_into().unwrap());
            let computed = crc32c(&batch[CRC_START_OFFSET..]);
            if stored != computed {
                return error(format!(
                    "fetched batch at offset {base_offset}: CRC {stored:#010x}, computed {computed:#010x}"
                ));
            }
        }
        let attributes = i16::from_be_bytes(
            batch[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2]
                .try_into()
                .unwrap(),
        );
        let last_offset_delta = be_i32(batch, LAST_OFFSET_DELTA_OFFSET);
        let count = be_i32(batch, RECORDS_COUNT_OFFSET).max(0) as u64;
        let next = base_offset + i64::from(last_offset_delta) + 1;
        if attributes & CONTROL_ATTRIBUTE == 0 && next > fetch_offset {
            let skipped = (fetch_offset - base_offset).max(0) as u64;
            counted.records += count.saturating_sub(skipped);
        }
        counted.batches += 1;
        counted.bytes += size as u64;
        counted.next_offset = Some(next);
        position += size;
    }
    Ok(counted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_storage::compression::decompress_records;
    use sluice_storage::record_batch::RecordBatchView;
    use sluice_storage::validation::{validate_produce_batches, ValidationConfig};

    fn validate(batch: &[u8]) -> i64 {
        let config = ValidationConfig::kafka_defaults();
        let now = 1_700_000_000_000;
        let summary = validate_produce_batches(batch, &config, now)
            .expect("the broker's validation accepts the batch");
        summary.record_count
    }

    #[test]
    fn every_codec_makes_a_batch_the_broker_validation_accepts() {
        for compression in Compression::ALL {
            let mut rng = Rng::new(7);
            let template = BatchTemplate::new(150, 100, compression, &mut rng).unwrap();
            let mut batch = template.bytes.clone();
            stamp(&mut batch, 1_700_000_000_000, None);
            assert_eq!(validate(&batch), 150, "{compression}");
            let view = RecordBatchView::new(&batch).unwrap();
            view.validate_crc().unwrap();
            assert_eq!(view.records_count(), 150);
            assert_eq!(view.last_offset_delta(), 149);
            assert_eq!(view.base_timestamp(), 1_700_000_000_000);
            assert_eq!(view.producer_id(), -1);
            let records = decompress_records(&view, 1 << 24).unwrap();
            assert_eq!(
                records.as_ref(),
                encode_records(150, 100, &mut Rng::new(7)).as_slice(),
                "{compression}"
            );
        }
    }

    #[test]
    fn idempotent_stamp_sets_the_producer_fields_and_a_valid_crc() {
        let template = BatchTemplate::new(10, 30, Compression::Lz4, &mut Rng::new(3)).unwrap();
        let mut batch = template.bytes.clone();
        stamp(&mut batch, 1_700_000_000_123, Some((42, 3, 1000)));
        let view = RecordBatchView::new(&batch).unwrap();
        view.validate_crc().unwrap();
        assert_eq!(
            (
                view.producer_id(),
                view.producer_epoch(),
                view.base_sequence()
            ),
            (42, 3, 1000)
        );
        assert_eq!(view.max_timestamp(), 1_700_000_000_123);
        assert_eq!(validate(&batch), 10);
    }

    #[test]
    fn values_are_uppercase_letters_of_the_asked_size() {
        let records = encode_records(3, 100, &mut Rng::new(9));
        // length 107 (zigzag varint 0xd6 0x01), attributes 0, timestamp delta 0, offset delta 0,
        // key -1 (null), value length 100 (0xc8 0x01), the value, no headers
        assert_eq!(&records[..8], &[0xd6, 0x01, 0, 0, 0, 1, 0xc8, 0x01]);
        assert!(records[8..108].iter().all(|byte| byte.is_ascii_uppercase()));
        assert_eq!(records[108], 0);
        assert_eq!(record_bytes(100), 109);
        assert_eq!(records_per_batch(16_384, 100), 16_323 / 110);
        assert_eq!(records_per_batch(10, 100), 1);
    }

    #[test]
    fn counting_fetched_batches_stops_at_a_partial_one_and_skips_control_batches() {
        let mut rng = Rng::new(5);
        let mut blob = Vec::new();
        for (base, count) in [(0i64, 5usize), (5, 7)] {
            let mut batch = BatchTemplate::new(count, 20, Compression::None, &mut rng)
                .unwrap()
                .bytes;
            batch[..8].copy_from_slice(&base.to_be_bytes());
            stamp(&mut batch, 1, None);
            blob.extend_from_slice(&batch);
        }
        let mut control = BatchTemplate::new(1, 4, Compression::None, &mut rng)
            .unwrap()
            .bytes;
        control[..8].copy_from_slice(&12i64.to_be_bytes());
        control[ATTRIBUTES_OFFSET + 1] |= CONTROL_ATTRIBUTE as u8;
        stamp(&mut control, 1, None);
        blob.extend_from_slice(&control);
        let whole = blob.len();
        blob.extend_from_within(..30); // a partial batch
        let counted = count_batches(&blob, 0, true).unwrap();
        assert_eq!(
            counted,
            Counted {
                records: 12,
                batches: 3,
                bytes: whole as u64,
                next_offset: Some(13)
            }
        );
        // Fetched from offset 3: the first batch's records 0-2 are not counted.
        assert_eq!(count_batches(&blob, 3, true).unwrap().records, 9);
        // A flipped byte fails the CRC check.
        blob[70] ^= 1;
        assert!(count_batches(&blob, 0, true).unwrap_err().0.contains("CRC"));
        assert!(count_batches(&blob, 0, false).is_ok());
    }
}
