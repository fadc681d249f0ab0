//! Sluice network I/O: the reactor side of the broker that owns client sockets.
//!
//! Pure Rust with no napi dependency; `crates/node` is the thin binding that exposes it
//! to the TypeScript control plane. Start with [`Server`]: it binds the listeners, frames
//! requests ([`framing`]), hands them to JS as an event stream ([`event`]), and writes
//! [`Response`]s in request order per connection (`response_queue`) with `writev` and
//! `sendfile` (`transmit`).
//!
//! Threads and their modules: `acceptor` (listeners, `max.connections`, per-IP limits),
//! `reactor` (one per `num.network.threads`: sockets, backpressure, idle timeout),
//! `connection` (one socket's decoder and responses), `registry` (open connection ids).
//! SSL listeners terminate TLS on the reactor threads with rustls ([`tls`]); the client
//! certificate's subject is formatted as Kafka (Java) does by `x500`. [`client_config`] is the
//! rustls configuration of the broker's own connections to other brokers (replica fetchers).

mod acceptor;
pub mod config;
mod connection;
pub mod event;
pub mod framing;
pub mod rate;
mod reactor;
mod registry;
pub mod response;
mod response_queue;
mod server;
pub mod tls;
mod transmit;
mod x500;

pub use config::{
    ClientAuth, ClientTlsSettings, ListenerConfig, QuotaWindow, ServerConfig, TlsSettings,
};
pub use event::{decode_events, CloseReason, Event, CLOSE_REASON_COUNT};
pub use response::{FileRegion, OwnedFileRegion, Part, Response};
/// The TLS library, for the binding's client connections (`rustls::StreamOwned`).
pub use rustls;
pub use server::{BoundListener, Server, Stats};
pub use tls::{client_config, TlsConfigError, HANDSHAKE_TIMEOUT};
