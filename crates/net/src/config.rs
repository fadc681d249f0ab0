//! What a [`Server`](crate::Server) is told at start: its listeners (and the TLS settings of
//! SSL listeners), Kafka's socket-server configs, and the bounds that make reading stop
//! (backpressure).
//!
//! Every limit names its unit last. Kafka's own configs keep Kafka's defaults; the
//! backpressure bounds are Sluice's, chosen so that a well-behaved pipelining client
//! (librdkafka keeps up to 1,000,000 requests in flight per connection by default, in
//! practice a few hundred) never meets them, while a flood costs bounded memory.

use std::time::Duration;

pub use crate::rate::QuotaWindow;

/// Kafka's `socket.request.max.bytes` default: 100 MiB.
pub const REQUEST_BYTES_MAX_DEFAULT: usize = 100 * 1024 * 1024;

/// Requests of one connection delivered to JS and not yet answered (or answered but still
/// waiting behind an earlier one) above which that connection stops being read.
pub const IN_FLIGHT_REQUESTS_PER_CONNECTION_MAX_DEFAULT: usize = 1000;

/// Response bytes (owned byte parts, not file regions) a connection holds but has not
/// written yet, above which it stops being read: 64 MiB.
pub const QUEUED_RESPONSE_BYTES_PER_CONNECTION_MAX_DEFAULT: usize = 64 * 1024 * 1024;

/// Bytes of request frames delivered to JS (or queued for it) and not yet answered, across
/// the whole broker, above which every connection stops being read: 512 MiB.
pub const QUEUED_REQUEST_BYTES_MAX_DEFAULT: usize = 512 * 1024 * 1024;

/// One entry of Kafka's `listeners`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerConfig {
    /// The listener name (`PLAINTEXT`), reported with each accepted connection.
    pub name: String,
    /// Host or address to bind; empty binds every IPv4 interface.
    pub host: String,
    /// 0 binds an ephemeral port; see [`Server::bound_listeners`](crate::Server::bound_listeners).
    pub port: u16,
    /// `Some` for an SSL listener: its connections are TLS, terminated on the reactor threads
    /// (see [`crate::tls`]). `None` serves plaintext.
    pub tls: Option<TlsSettings>,
    /// `listener.name.<listener>.max.connection.creation.rate`: new connections per second this
    /// listener accepts before it holds the next one back (Kafka's `ConnectionQuotas`); `None`:
    /// unlimited.
    pub connection_creation_rate_max: Option<u32>,
}

/// Kafka's `ssl.client.auth`: whether an SSL listener asks clients for a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// No client certificate is asked for (`none`, Kafka's default).
    None,
    /// A certificate is asked for; a client without one is still served (`requested`), one
    /// with a certificate the trusted CAs do not vouch for is not.
    Requested,
    /// A client without a certificate the trusted CAs vouch for fails the handshake
    /// (`required`).
    Required,
}

impl ClientAuth {
    /// Kafka's name (`none`, `requested`, `required`; any case); `None` for anything else.
    pub fn from_kafka_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "none" => Some(Self::None),
            "requested" => Some(Self::Requested),
            "required" => Some(Self::Required),
            _ => None,
        }
    }
}

/// The TLS side of an SSL listener, as PEM text and Kafka's names; checked and turned into a
/// rustls configuration by [`Server::start`](crate::Server::start) and
/// [`Server::reload_tls`](crate::Server::reload_tls).
#[derive(Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The server's certificate chain, PEM, leaf first.
    pub certificate_chain_pem: String,
    /// The leaf's private key, PEM, unencrypted: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
    pub private_key_pem: String,
    /// CA certificates (PEM) that vouch for client certificates; needed unless `client_auth`
    /// is [`ClientAuth::None`].
    pub trusted_certificates_pem: Option<String>,
    pub client_auth: ClientAuth,
    /// Kafka's `ssl.enabled.protocols` (`TLSv1.2`, `TLSv1.3`); `None`: both.
    pub protocols: Option<Vec<String>>,
    /// Kafka's `ssl.cipher.suites`, IANA names; `None`: every suite rustls offers.
    pub cipher_suites: Option<Vec<String>>,
}

impl std::fmt::Debug for TlsSettings {
    /// Everything but the private key.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TlsSettings")
            .field(
                "certificate_chain_pem",
                &format_args!("{} bytes", self.certificate_chain_pem.len()),
            )
            .field("private_key_pem", &format_args!("(redacted)"))
            .field(
                "trusted_certificates_pem",
                &self
                    .trusted_certificates_pem
                    .as_ref()
                    .map(|pem| format!("{} bytes", pem.len())),
            )
            .field("client_auth", &self.client_auth)
            .field("protocols", &self.protocols)
            .field("cipher_suites", &self.cipher_suites)
            .finish()
    }
}

/// TLS settings of a connection this broker makes to another broker's inter-broker listener
/// (Kafka uses that listener's own `ssl.*` settings for it): the keystore as the client
/// certificate, the truststore to verify the other broker's certificate, and Kafka's
/// `ssl.endpoint.identification.algorithm` (`https`: the certificate must name the host
/// connected to; empty: only the chain is verified). Built by [`crate::tls::client_config`].
#[derive(Clone, PartialEq, Eq)]
pub struct ClientTlsSettings {
    /// The client certificate chain (PEM, leaf first), sent when the server asks for one.
    pub certificate_chain_pem: Option<String>,
    /// Its unencrypted private key (PEM); given with `certificate_chain_pem` or not at all.
    pub private_key_pem: Option<String>,
    /// CA certificates (PEM) that vouch for the server's certificate.
    pub trusted_certificates_pem: String,
    /// Check that the server's certificate names the host connected to.
    pub verify_hostname: bool,
    /// Kafka's `ssl.enabled.protocols` (`TLSv1.2`, `TLSv1.3`); `None`: both.
    pub protocols: Option<Vec<String>>,
    /// Kafka's `ssl.cipher.suites`, IANA names; `None`: every suite rustls offers.
    pub cipher_suites: Option<Vec<String>>,
}

impl std::fmt::Debug for ClientTlsSettings {
    /// Everything but the private key.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ClientTlsSettings")
            .field(
                "certificate_chain_pem",
                &self
                    .certificate_chain_pem
                    .as_ref()
                    .map(|pem| format!("{} bytes", pem.len())),
            )
            .field("private_key_pem", &format_args!("(redacted)"))
            .field(
                "trusted_certificates_pem",
                &format_args!("{} bytes", self.trusted_certificates_pem.len()),
            )
            .field("verify_hostname", &self.verify_hostname)
            .field("protocols", &self.protocols)
            .field("cipher_suites", &self.cipher_suites)
            .finish()
    }
}

/// The configuration of one [`Server`](crate::Server).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listeners: Vec<ListenerConfig>,
    /// `num.network.threads`: reactor threads, each owning a share of the connections.
    pub network_threads: usize,
    /// `socket.request.max.bytes`: a larger size prefix closes the connection before
    /// anything is allocated for the frame.
    pub request_bytes_max: usize,
    /// `socket.send.buffer.bytes` (`SO_SNDBUF`); `None` keeps the OS default (Kafka's -1).
    pub socket_send_buffer_bytes: Option<usize>,
    /// `socket.receive.buffer.bytes` (`SO_RCVBUF`); `None` keeps the OS default (Kafka's -1).
    pub socket_receive_buffer_bytes: Option<usize>,
    /// `max.connections`: at this many open connections the acceptor stops accepting (new
    /// clients wait in the listen backlog) until one closes.
    pub connections_max: usize,
    /// `max.connections.per.ip`: a new connection from an address that already has this
    /// many is closed at once.
    pub connections_per_ip_max: usize,
    /// `connections.max.idle.ms`: a connection with no bytes read or written for this long,
    /// and nothing in flight, is closed. `None` never closes idle connections.
    pub connections_idle_max: Option<Duration>,
    /// See [`IN_FLIGHT_REQUESTS_PER_CONNECTION_MAX_DEFAULT`].
    pub in_flight_requests_per_connection_max: usize,
    /// See [`QUEUED_RESPONSE_BYTES_PER_CONNECTION_MAX_DEFAULT`].
    pub queued_response_bytes_per_connection_max: usize,
    /// See [`QUEUED_REQUEST_BYTES_MAX_DEFAULT`].
    pub queued_request_bytes_max: usize,
    /// `max.connection.creation.rate`: new connections per second, all listeners together,
    /// above which the acceptor holds new connections back (delays their acceptance, by at most
    /// one quota window); `None`: unlimited.
    pub connection_creation_rate_max: Option<u32>,
    /// `quota.window.num` × `quota.window.size.seconds`: the window connection creation rates
    /// are measured over.
    pub quota_window: QuotaWindow,
}

impl ServerConfig {
    /// Kafka's defaults for one listener (`num.network.threads` 3, idle 10 minutes,
    /// 100 KiB socket buffers, no connection limits).
    pub fn new(listeners: Vec<ListenerConfig>) -> Self {
        Self {
            listeners,
            network_threads: 3,
            request_bytes_max: REQUEST_BYTES_MAX_DEFAULT,
            socket_send_buffer_bytes: Some(100 * 1024),
            socket_receive_buffer_bytes: Some(100 * 1024),
            connections_max: i32::MAX as usize,
            connections_per_ip_max: i32::MAX as usize,
            connections_idle_max: Some(Duration::from_millis(600_000)),
            in_flight_requests_per_connection_max: IN_FLIGHT_REQUESTS_PER_CONNECTION_MAX_DEFAULT,
            queued_response_bytes_per_connection_max:
                QUEUED_RESPONSE_BYTES_PER_CONNECTION_MAX_DEFAULT,
            queued_request_bytes_max: QUEUED_REQUEST_BYTES_MAX_DEFAULT,
            connection_creation_rate_max: None,
            quota_window: QuotaWindow::default(),
        }
    }
}
