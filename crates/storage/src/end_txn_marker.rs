//! End-transaction markers: the control batches a transaction coordinator writes to every
//! partition of a transaction to commit or abort it (Kafka's `EndTransactionMarker`,
//! `ControlRecordType`, `MemoryRecords.withEndTransactionMarker`).
//!
//! ```text
//! record batch v2   attributes = transactional | control (0x30), uncompressed, CreateTime
//!                   producer id and epoch of the transaction, base sequence -1,
//!                   last offset delta 0, base and max timestamp = the marker's time
//!   one record      attributes 0, timestamp delta 0, offset delta 0, no headers
//!     key           version int16 (0), type int16 (0 = ABORT, 1 = COMMIT)
//!     value         version int16 (0), coordinator_epoch int32
//! ```
//!
//! 78 bytes in all, byte for byte what Kafka writes (the log stamps the base offset and
//! the partition leader epoch on append). Reading accepts what Kafka reads: any key
//! version ≥ 0 and any value version ≥ 0 (a newer value is read as version 0).

use crate::crc32c::crc32c;
use crate::record_batch::{
    ATTRIBUTES_OFFSET, COMPRESSION_ATTRIBUTE_MASK, CONTROL_ATTRIBUTE, CRC_OFFSET, CRC_START_OFFSET,
    HEADER_BYTES, LOG_OVERHEAD_BYTES, MAGIC_V2, RECORDS_COUNT_OFFSET, TRANSACTIONAL_ATTRIBUTE,
};

/// The type of a control record (Kafka's `ControlRecordType`), the markers' two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlRecordType {
    Abort,
    Commit,
}

impl ControlRecordType {
    /// The type id in the record key.
    pub fn id(self) -> i16 {
        match self {
            Self::Abort => 0,
            Self::Commit => 1,
        }
    }

    fn from_id(id: i16) -> Option<Self> {
        match id {
            0 => Some(Self::Abort),
            1 => Some(Self::Commit),
            _ => None,
        }
    }
}

/// One end-transaction marker (Kafka's `EndTransactionMarker`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndTransactionMarker {
    pub control_type: ControlRecordType,
    /// The epoch of the transaction coordinator (its `__transaction_state` partition's
    /// leader epoch) that wrote the marker: markers of an older coordinator are fenced.
    pub coordinator_epoch: i32,
}

/// Size of a marker batch as Kafka writes it.
pub const END_TXN_MARKER_BATCH_BYTES: usize = 78;

const CONTROL_KEY_BYTES: usize = 4;
const MARKER_VALUE_BYTES: usize = 6;

fn read_varint(bytes: &[u8], at: &mut usize) -> Option<i64> {
    let mut value: u64 = 0;
    let mut shift = 0u32;
    loop {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    Some(((value >> 1) as i64) ^ -((value & 1) as i64))
}

impl EndTransactionMarker {
    pub fn new(control_type: ControlRecordType, coordinator_epoch: i32) -> Self {
        Self {
            control_type,
            coordinator_epoch,
        }
    }

    pub fn is_abort(&self) -> bool {
        self.control_type == ControlRecordType::Abort
    }

    /// The marker in a whole control batch (its first record, as Kafka's
    /// `ProducerAppendInfo.append` reads it). `None` when the batch is not a readable
    /// marker: not a control batch, compressed, no record, or a key or value that is not
    /// a marker's.
    pub fn from_batch(batch: &[u8]) -> Option<Self> {
        if batch.len() < HEADER_BYTES {
            return None;
        }
        let attributes =
            i16::from_be_bytes([batch[ATTRIBUTES_OFFSET], batch[ATTRIBUTES_OFFSET + 1]]);
        if attributes & CONTROL_ATTRIBUTE == 0 || attributes & COMPRESSION_ATTRIBUTE_MASK != 0 {
            return None;
        }
        let count = i32::from_be_bytes(
            batch[RECORDS_COUNT_OFFSET..RECORDS_COUNT_OFFSET + 4]
                .try_into()
                .unwrap(),
        );
        if count < 1 {
            return None;
        }
        let mut at = HEADER_BYTES;
        let length = usize::try_from(read_varint(batch, &mut at)?).ok()?;
        let end = at.checked_add(length).filter(|&end| end <= batch.len())?;
        let record = &batch[..end];
        at += 1; // attributes
        read_varint(record, &mut at)?; // timestamp delta
        read_varint(record, &mut at)?; // offset delta
        let key_length = usize::try_from(read_varint(record, &mut at)?).ok()?;
        let key = record.get(at..at.checked_add(key_length)?)?;
        at += key_length;
        if key.len() < CONTROL_KEY_BYTES || i16::from_be_bytes([key[0], key[1]]) < 0 {
            return None;
        }
        let control_type = ControlRecordType::from_id(i16::from_be_bytes([key[2], key[3]]))?;
        let value_length = usize::try_from(read_varint(record, &mut at)?).ok()?;
        let value = record.get(at..at.checked_add(value_length)?)?;
        if value.len() < MARKER_VALUE_BYTES || i16::from_be_bytes([value[0], value[1]]) < 0 {
            return None;
        }
        let coordinator_epoch = i32::from_be_bytes(value[2..6].try_into().unwrap());
        Some(Self::new(control_type, coordinator_epoch))
    }

    /// The marker as a whole batch at base offset 0 (Kafka's
    /// `MemoryRecords.withEndTransactionMarker`), to append with coordinator origin.
    pub fn to_batch(&self, producer_id: i64, producer_epoch: i16, timestamp: i64) -> Vec<u8> {
        let mut out = Vec::with_capacity(END_TXN_MARKER_BATCH_BYTES);
        let batch_length = (END_TXN_MARKER_BATCH_BYTES - LOG_OVERHEAD_BYTES) as i32;
        out.extend_from_slice(&0i64.to_be_bytes()); // base offset
        out.extend_from_slice(&batch_length.to_be_bytes());
        out.extend_from_slice(&(-1i32).to_be_bytes()); // partition leader epoch
        out.push(MAGIC_V2 as u8);
        out.extend_from_slice(&0u32.to_be_bytes()); // crc, below
        out.extend_from_slice(&(TRANSACTIONAL_ATTRIBUTE | CONTROL_ATTRIBUTE).to_be_bytes());
        out.extend_from_slice(&0i32.to_be_bytes()); // last offset delta
        out.extend_from_slice(&timestamp.to_be_bytes()); // base timestamp
        out.extend_from_slice(&timestamp.to_be_bytes()); // max timestamp
        out.extend_from_slice(&producer_id.to_be_bytes());
        out.extend_from_slice(&producer_epoch.to_be_bytes());
        out.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
        out.extend_from_slice(&1i32.to_be_bytes()); // records
                                                    // The record: length 16 as a zigzag varint, then its fields.
        out.push(32);
        out.push(0); // attributes
        out.push(0); // timestamp delta
        out.push(0); // offset delta
        out.push((CONTROL_KEY_BYTES * 2) as u8);
        out.extend_from_slice(&0i16.to_be_bytes());
        out.extend_from_slice(&self.control_type.id().to_be_bytes());
        out.push((MARKER_VALUE_BYTES * 2) as u8);
        out.extend_from_slice(&0i16.to_be_bytes());
        out.extend_from_slice(&self.coordinator_epoch.to_be_bytes());
        out.push(0); // headers
        debug_assert_eq!(out.len(), END_TXN_MARKER_BATCH_BYTES);
        let crc = crc32c(&out[CRC_START_OFFSET..]);
        out[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record_batch::RecordBatchView;

    #[test]
    fn a_marker_batch_is_kafkas_78_bytes_and_reads_back() {
        let marker = EndTransactionMarker::new(ControlRecordType::Abort, 7);
        let batch = marker.to_batch(0x0102_0304_0506_0708, 3, 1_700_000_000_123);
        assert_eq!(batch.len(), 78);
        let view = RecordBatchView::new(&batch).unwrap();
        view.validate_crc().unwrap();
        assert_eq!(view.attributes(), 0x30);
        assert_eq!(view.producer_id(), 0x0102_0304_0506_0708);
        assert_eq!(view.producer_epoch(), 3);
        assert_eq!(view.base_sequence(), -1);
        assert_eq!(view.records_count(), 1);
        assert_eq!(view.max_timestamp(), 1_700_000_000_123);
        // Record: length 16, attributes, deltas, key (version 0, type 0), value
        // (version 0, epoch 7), no headers.
        assert_eq!(
            &batch[61..],
            &[32, 0, 0, 0, 8, 0, 0, 0, 0, 12, 0, 0, 0, 0, 0, 7, 0]
        );
        assert_eq!(EndTransactionMarker::from_batch(&batch), Some(marker));
        let commit = EndTransactionMarker::new(ControlRecordType::Commit, -1);
        assert_eq!(
            EndTransactionMarker::from_batch(&commit.to_batch(1, 0, 0)),
            Some(commit)
        );
    }

    #[test]
    fn anything_else_is_not_a_marker() {
        let marker = EndTransactionMarker::new(ControlRecordType::Commit, 1);
        let mut batch = marker.to_batch(1, 0, 0);
        batch[ATTRIBUTES_OFFSET + 1] = TRANSACTIONAL_ATTRIBUTE as u8; // not control
        assert_eq!(EndTransactionMarker::from_batch(&batch), None);
        let mut batch = marker.to_batch(1, 0, 0);
        batch[69] = 2; // type 2: not a marker
        assert_eq!(EndTransactionMarker::from_batch(&batch), None);
        let batch = marker.to_batch(1, 0, 0);
        assert_eq!(EndTransactionMarker::from_batch(&batch[..70]), None);
    }
}
