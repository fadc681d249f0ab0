//! Sluice storage: the on-disk side of the broker, in Kafka's formats.
//!
//! Pure Rust with no napi dependency; `crates/node` is the thin binding that exposes it
//! to the TypeScript control plane.

pub mod compression;
pub mod crc32c;
pub mod record_batch;
pub mod validation;
