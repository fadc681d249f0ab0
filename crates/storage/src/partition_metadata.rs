//! `partition.metadata`: the topic id of a partition directory, Kafka's format.
//!
//! ```text
//! version: 0
//! topic_id: <topic id>
//! ```
//!
//! The topic id is Kafka's `Uuid.toString()`: the 16 bytes in URL-safe base64 without
//! padding (22 characters). Written atomically (temp file, fsync, rename).

use std::fmt;
use std::fs;
use std::io;
use std::path::Path;

use crate::checkpoint::write_atomically;

pub const PARTITION_METADATA_FILE: &str = "partition.metadata";

/// A Kafka `Uuid` (topic id, directory id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Uuid(pub [u8; 16]);

const BASE64_URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

impl Uuid {
    /// Kafka's printed form: URL-safe base64, no padding.
    pub fn to_base64(&self) -> String {
        let mut text = String::with_capacity(22);
        for chunk in self.0.chunks(3) {
            let mut group = [0u8; 3];
            group[..chunk.len()].copy_from_slice(chunk);
            let bits = u32::from(group[0]) << 16 | u32::from(group[1]) << 8 | u32::from(group[2]);
            for index in 0..=chunk.len() {
                let sextet = (bits >> (18 - 6 * index)) & 0x3F;
                text.push(BASE64_URL[sextet as usize] as char);
            }
        }
        text
    }

    /// Parses Kafka's printed form.
    pub fn from_base64(text: &str) -> Option<Self> {
        let text = text.trim_end_matches('=');
        if text.len() != 22 {
            return None;
        }
        let mut bits: u32 = 0;
        let mut bit_count = 0;
        let mut bytes = Vec::with_capacity(16);
        for character in text.bytes() {
            let value = BASE64_URL.iter().position(|&c| c == character)? as u32;
            bits = bits << 6 | value;
            bit_count += 6;
            if bit_count >= 8 {
                bit_count -= 8;
                bytes.push((bits >> bit_count) as u8);
                bits &= (1 << bit_count) - 1;
            }
        }
        Some(Self(bytes.try_into().ok()?))
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_base64())
    }
}

pub(crate) fn invalid_data(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Writes `partition.metadata` in `partition_directory`.
pub fn write_partition_metadata(partition_directory: &Path, topic_id: Uuid) -> io::Result<()> {
    let text = format!("version: 0\ntopic_id: {topic_id}\n");
    write_atomically(
        &partition_directory.join(PARTITION_METADATA_FILE),
        text.as_bytes(),
    )
}

/// Reads the topic id from `partition.metadata`, `None` if the file does not exist.
pub fn read_partition_metadata(partition_directory: &Path) -> io::Result<Option<Uuid>> {
    let path = partition_directory.join(PARTITION_METADATA_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let bad = || invalid_data(format!("{}: malformed: {text:?}", path.display()));
    let mut lines = text.lines();
    let version = lines.next().and_then(|line| line.strip_prefix("version:"));
    if version.map(str::trim) != Some("0") {
        return Err(bad());
    }
    let topic_id = lines
        .next()
        .and_then(|line| line.strip_prefix("topic_id:"))
        .and_then(|id| Uuid::from_base64(id.trim()))
        .ok_or_else(bad)?;
    Ok(Some(topic_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_prints_like_kafka() {
        // Kafka: new Uuid(0x0102030405060708L, 0x090a0b0c0d0e0f10L).toString()
        let uuid = Uuid([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
        assert_eq!(uuid.to_base64(), "AQIDBAUGBwgJCgsMDQ4PEA");
        assert_eq!(Uuid::from_base64("AQIDBAUGBwgJCgsMDQ4PEA"), Some(uuid));
        let all_ones = Uuid([0xFF; 16]);
        assert_eq!(all_ones.to_base64(), "_____________________w");
        assert_eq!(Uuid::from_base64(&all_ones.to_base64()), Some(all_ones));
        assert_eq!(Uuid::from_base64("short"), None);
        assert_eq!(Uuid::from_base64("AQIDBAUGBwgJCgsMDQ4P+A"), None);
    }

    #[test]
    fn partition_metadata_round_trips_in_kafkas_layout() {
        let directory = tempfile::tempdir().unwrap();
        assert_eq!(read_partition_metadata(directory.path()).unwrap(), None);
        let topic_id = Uuid([7; 16]);
        write_partition_metadata(directory.path(), topic_id).unwrap();
        let text = fs::read_to_string(directory.path().join(PARTITION_METADATA_FILE)).unwrap();
        assert_eq!(text, format!("version: 0\ntopic_id: {}\n", topic_id));
        assert_eq!(
            read_partition_metadata(directory.path()).unwrap(),
            Some(topic_id)
        );
    }
}
