//! Sluice storage: the on-disk side of the broker, in Kafka's formats.
//!
//! Pure Rust with no napi dependency; `crates/node` is the thin binding that exposes it
//! to the TypeScript control plane.

pub mod background;
pub mod checkpoint;
pub mod cleaner;
pub mod compression;
pub mod config;
pub mod crc32c;
pub mod end_txn_marker;
pub mod leader_epoch;
pub mod log;
pub mod log_dir;
pub mod map_budget;
pub mod offset_index;
pub mod partition_metadata;
pub mod produce;
pub mod producer_state;
pub mod record_batch;
mod records;
pub mod segment;
pub mod time_index;
pub mod transaction_index;
pub mod validation;
