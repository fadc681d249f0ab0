//! Per-partition log configuration, with Kafka's topic config names and defaults.
//!
//! Each field names the Kafka key it carries (`segment.bytes`, …); the TypeScript side
//! parses `server.properties` and topic configs and hands the resolved values down here.

/// Kafka's `message.timestamp.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    /// Keep the producer's timestamps.
    CreateTime,
    /// The broker stamps each batch's max timestamp with its append time.
    LogAppendTime,
}

pub const MEBIBYTE: u32 = 1024 * 1024;

/// Configuration of one partition log.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// `segment.bytes`: roll when the active segment would grow past this. Kafka: 1 GiB.
    pub segment_bytes: u32,
    /// `segment.ms`: roll when the active segment's first batch is this old. Kafka: 7 days.
    pub segment_ms: i64,
    /// `segment.jitter.ms`: the most a segment's roll time is randomly moved earlier, so that
    /// partitions created together do not all roll together. Kafka: 0.
    pub segment_jitter_ms: i64,
    /// `segment.index.bytes`: size each index file is preallocated to. Kafka: 10 MiB.
    pub segment_index_bytes: u32,
    /// `index.interval.bytes`: log bytes between two offset index entries. Kafka: 4096.
    pub index_interval_bytes: u32,
    /// `flush.messages`: fsync once this many messages are unflushed. Kafka: `i64::MAX` (never;
    /// replication is the durability, the OS writes back on its own).
    pub flush_messages: i64,
    /// `flush.ms`: fsync data older than this. Kafka: `i64::MAX`.
    pub flush_ms: i64,
    /// `retention.ms`: delete segments whose largest timestamp is older. -1: keep forever.
    /// Kafka: 7 days.
    pub retention_ms: i64,
    /// `retention.bytes`: delete the oldest segments while the log is larger. -1: no limit.
    pub retention_bytes: i64,
    /// `message.timestamp.type`.
    pub message_timestamp_type: TimestampType,
    /// Sluice's own knob: how many bytes of the active `.log` are reserved on disk
    /// (`fallocate`) ahead of the write position, so an append does not fail for lack of space
    /// halfway through a batch; reserving in chunks, not whole segments, keeps 100,000
    /// partitions from reserving 100 TB.
    pub preallocate_chunk_bytes: u32,
    /// `producer.id.expiration.ms` (a broker config in Kafka): a producer id whose last
    /// batch is older than this, with no transaction open, is forgotten by
    /// `Log::remove_expired_producers` and left out when a snapshot is loaded. Kafka: 1 day.
    pub producer_id_expiration_ms: i64,
    /// `file.delete.delay.ms`: how long a deleted segment's files stay on disk, renamed
    /// `.deleted`, before they are unlinked (readers hold open descriptors either way).
    /// Kafka: 60 s.
    pub file_delete_delay_ms: i64,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            segment_bytes: 1024 * MEBIBYTE,
            segment_ms: 7 * 24 * 60 * 60 * 1000,
            segment_jitter_ms: 0,
            segment_index_bytes: 10 * MEBIBYTE,
            index_interval_bytes: 4096,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            retention_ms: 7 * 24 * 60 * 60 * 1000,
            retention_bytes: -1,
            message_timestamp_type: TimestampType::CreateTime,
            preallocate_chunk_bytes: 8 * MEBIBYTE,
            producer_id_expiration_ms: crate::producer_state::DEFAULT_PRODUCER_ID_EXPIRATION_MS,
            file_delete_delay_ms: 60_000,
        }
    }
}

impl LogConfig {
    /// Kafka's `randomSegmentJitter`: a per-segment amount in `[0, min(jitter, segment.ms))`.
    /// `seed` varies per segment (its base offset and creation time), so no RNG is needed.
    pub fn random_segment_jitter_ms(&self, seed: u64) -> i64 {
        if self.segment_jitter_ms <= 0 {
            return 0;
        }
        let bound = self.segment_jitter_ms.min(self.segment_ms).max(1) as u64;
        (split_mix_64(seed) % bound) as i64
    }
}

fn split_mix_64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kafkas() {
        let config = LogConfig::default();
        assert_eq!(config.segment_bytes, 1_073_741_824);
        assert_eq!(config.segment_ms, 604_800_000);
        assert_eq!(config.segment_index_bytes, 10_485_760);
        assert_eq!(config.index_interval_bytes, 4096);
        assert_eq!(config.retention_ms, 604_800_000);
        assert_eq!(config.retention_bytes, -1);
        assert_eq!(config.producer_id_expiration_ms, 86_400_000);
    }

    #[test]
    fn jitter_stays_below_its_bound() {
        let config = LogConfig {
            segment_jitter_ms: 1000,
            ..LogConfig::default()
        };
        for seed in 0..1000 {
            let jitter = config.random_segment_jitter_ms(seed);
            assert!((0..1000).contains(&jitter));
        }
        assert_eq!(LogConfig::default().random_segment_jitter_ms(7), 0);
    }
}
