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

fn read_varlong(bytes: &[u8], at: &mut usize) -> Option<i64> {
    let mut value: u64 = 0;
    let mut shift = 0;
    loop {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7F) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    Some((value >> 1) as i64 ^ -((value & 1) as i64))
}

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

/// Calls `visit(timestamp, offset)` for each record until it returns `false`.
fn walk(records: &[u8], header: &BatchHeader, mut visit: impl FnMut(i64, i64) -> bool) {
    let mut at = 0usize;
    while at < records.len() {
        let Some(length) = read_varlong(records, &mut at) else {
            return;
        };
        let body_start = at;
        let mut cursor = at + 1; // attributes
        let (Some(timestamp_delta), Some(offset_delta)) = (
            read_varlong(records, &mut cursor),
            read_varlong(records, &mut cursor),
        ) else {
            return;
        };
        if !visit(
            header.base_timestamp.wrapping_add(timestamp_delta),
            header.base_offset + offset_delta,
        ) {
            return;
        }
        let Some(next) = usize::try_from(length)
            .ok()
            .and_then(|l| body_start.checked_add(l))
        else {
            return;
        };
        at = next;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varlongs_are_zigzag() {
        for (bytes, value) in [
            (&[0x00][..], 0i64),
            (&[0x01][..], -1),
            (&[0x02][..], 1),
            (&[0xAC, 0x02][..], 150),
            (
                &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01][..],
                i64::MIN,
            ),
        ] {
            let mut at = 0;
            assert_eq!(read_varlong(bytes, &mut at), Some(value));
            assert_eq!(at, bytes.len());
        }
        assert_eq!(read_varlong(&[0x80], &mut 0), None);
    }
}
