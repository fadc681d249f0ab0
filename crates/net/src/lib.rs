//! Sluice network I/O: the reactor side of the broker that owns client sockets.
//!
//! Pure Rust with no napi dependency; `crates/node` is the thin binding that exposes it
//! to the TypeScript control plane.

pub mod framing;
