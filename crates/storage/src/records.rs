//! Just enough record-level decoding for timestamp lookups (ListOffsets): walking the
//! records of a batch for their timestamps and offsets. Records (format v2):
//!
//! ```text
//! length          varint   bytes after this field
//! attributes      int8
//! timestampDelta  varlong  from the batch's baseTimestamp
//! offsetDelta     varint   from the batch's baseOffset
//! …               key, value, headers (skipped)
//! ```
//!
//! Compressed batches are decompressed through the [`Decompressor`] the broker supplies;
//! without one, a lookup answers at batch granularity.

use std::borrow::Cow;
use std::io;

use crate::background::Decompressor;
use crate::record_batch::HEADER_BYTES;
use crate::segment::BatchHeader;
use crate::validation::records::{read_record_shape, ByteSource, SliceSource};

fn records_of<'a>(
    batch: &'a [u8],
    header: &BatchHeader,
    decompressor: Option<&Decompressor>,
) -> io::Result<Option<Cow<'a, [u8]>>> {
    let records = &batch[HEADER_BYTES..];
    if header.compression() == 0 {
        return Ok(Some(Cow::Borrowed(records)));
    }
    match decompressor {
        Some(decompress) => Ok(Some(Cow::Owned(decompress(header.compression(), records)?))),
        None => Ok(None),
    }
}

/// Calls `visit(timestamp, offset)` for each record until it returns `false` or a record
/// cannot be read (the log validated every batch on append, so that means a damaged one).
fn walk(records: &[u8], header: &BatchHeader, mut visit: impl FnMut(i64, i64) -> bool) {
    let mut source = SliceSource::new(records);
    while !matches!(source.at_end(), Ok(true) | Err(_)) {
        let Ok(record) = read_record_shape(&mut source) else {
            return;
        };
        let timestamp = header.base_timestamp.wrapping_add(record.timestamp_delta);
        if !visit(
            timestamp,
            header.base_offset + i64::from(record.offset_delta),
        ) {
            return;
        }
    }
}

/// The first record with timestamp at least `target` and offset at least
/// `starting_offset` (Kafka's `searchForTimestamp` inside one batch).
pub(crate) fn first_record_at_or_after(
    batch: &[u8],
    header: &BatchHeader,
    target: i64,
    starting_offset: i64,
    decompressor: Option<&Decompressor>,
) -> io::Result<Option<(i64, i64)>> {
    let Some(records) = records_of(batch, header, decompressor)? else {
        return Ok(Some((
            header.max_timestamp,
            header.base_offset.max(starting_offset),
        )));
    };
    let mut found = None;
    walk(&records, header, |timestamp, offset| {
        if timestamp >= target && offset >= starting_offset {
            found = Some((timestamp, offset));
            return false;
        }
        true
    });
    Ok(found)
}

/// The offset of the first record carrying `timestamp` (Kafka's `offsetOfMaxTimestamp`).
pub(crate) fn offset_of_timestamp(
    batch: &[u8],
    header: &BatchHeader,
    timestamp: i64,
    decompressor: Option<&Decompressor>,
) -> io::Result<Option<i64>> {
    let Some(records) = records_of(batch, header, decompressor)? else {
        return Ok(None);
    };
    let mut found = None;
    walk(&records, header, |record_timestamp, offset| {
        if record_timestamp == timestamp {
            found = Some(offset);
            return false;
        }
        true
    });
    Ok(found)
}
