//! Binding of the network server (`sluice_net::Server`) as the JS class `NetServer`.
//!
//! Reactor threads own the sockets; JS is woken through `onWake` (a weak threadsafe
//! function: it never keeps the event loop alive by itself) and then calls `drain()` for
//! everything queued, packed in one Buffer (format in `sluice_net::event`). Responses come
//! back with `respond(connection, seq, parts)`; byte parts are copied at once, log slices
//! keep their segment file open until written. Listeners with `tls` are SSL listeners: TLS
//! terminates on the reactor threads (`sluice_net::tls`); `reloadTls` swaps a listener's
//! certificate for new connections.

use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::{
    AsyncTask, Buffer, BufferSlice, ClassInstance, Either, Env, Task, Unknown,
};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;
use sluice_net::{
    ClientAuth, FileRegion, ListenerConfig, Response, Server, ServerConfig, TlsSettings,
};
use sluice_storage::segment::FileSlice;

use crate::log::LogSlice;

/// One entry of `listeners`.
#[napi(object)]
pub struct NetListener {
    pub name: String,
    /// Host or address to bind; empty binds every IPv4 interface.
    pub host: String,
    /// 0 asks for an ephemeral port (see `boundListeners()`).
    pub port: u32,
    /// Set for an SSL listener (its connections are TLS); null or absent: PLAINTEXT.
    /// `boundListeners()` leaves it out.
    // Option<Option<_>>: napi reads an absent field as the outer None and null as the inner one
    // (a plain Option refuses null).
    #[napi(ts_type = "NetListenerTls | null")]
    pub tls: Option<Option<NetListenerTls>>,
    /// `listener.name.<name>.max.connection.creation.rate`: connections per second; absent or
    /// null: unlimited.
    #[napi(ts_type = "number | null")]
    pub max_connection_creation_rate: Option<Option<u32>>,
}

/// The TLS side of an SSL listener: PEM text and Kafka's `ssl.*` names. Optional fields may be
/// absent or null (both: the default).
#[napi(object)]
pub struct NetListenerTls {
    /// The server's certificate chain, PEM, leaf first.
    pub certificate_chain_pem: String,
    /// The leaf's private key, PEM, unencrypted: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
    pub private_key_pem: String,
    /// CA certificates (PEM) that verify client certificates; needed unless `clientAuth` is
    /// "none".
    #[napi(ts_type = "string | null")]
    pub trusted_certificates_pem: Option<Option<String>>,
    /// `ssl.client.auth`: "none", "requested" or "required".
    pub client_auth: String,
    /// `ssl.enabled.protocols`: "TLSv1.2", "TLSv1.3"; null: both.
    #[napi(ts_type = "string[] | null")]
    pub protocols: Option<Option<Vec<String>>>,
    /// `ssl.cipher.suites`, IANA names; unknown ones are ignored while a known one remains;
    /// null: every suite Sluice serves.
    #[napi(ts_type = "string[] | null")]
    pub cipher_suites: Option<Option<Vec<String>>>,
}

/// Kafka's socket-server configs, and optional overrides of Sluice's backpressure bounds.
#[napi(object)]
pub struct NetServerOptions {
    pub listeners: Vec<NetListener>,
    /// `num.network.threads`
    pub num_network_threads: u32,
    /// `socket.request.max.bytes`
    pub socket_request_max_bytes: u32,
    /// `socket.send.buffer.bytes`; -1: the OS default.
    pub socket_send_buffer_bytes: i32,
    /// `socket.receive.buffer.bytes`; -1: the OS default.
    pub socket_receive_buffer_bytes: i32,
    /// `max.connections`
    pub max_connections: u32,
    /// `max.connections.per.ip`
    pub max_connections_per_ip: u32,
    /// `connections.max.idle.ms`; negative: never close idle connections.
    pub connections_max_idle_ms: f64,
    /// Requests in flight on one connection above which it is not read (default 1000).
    pub in_flight_requests_per_connection_max: Option<u32>,
    /// Unwritten response bytes of one connection above which it is not read (default 64 MiB).
    pub queued_response_bytes_per_connection_max: Option<f64>,
    /// Unanswered request bytes of the broker above which nothing is read (default 512 MiB).
    pub queued_request_bytes_max: Option<f64>,
    /// `max.connection.creation.rate`, all listeners: connections per second; absent: unlimited.
    pub max_connection_creation_rate: Option<u32>,
    /// `quota.window.num` (default 11).
    pub quota_window_num: Option<u32>,
    /// `quota.window.size.seconds` (default 1).
    pub quota_window_size_seconds: Option<u32>,
}

/// One IP's `connection_creation_rate` client quota.
#[napi(object)]
pub struct IpConnectionRate {
    pub ip: String,
    pub rate: u32,
}

/// Gauges and counters of the network server.
#[napi(object)]
pub struct NetStats {
    pub connections: u32,
    pub queued_request_bytes: f64,
    pub queued_response_bytes: f64,
    pub queued_event_bytes: f64,
    pub reads_paused: bool,
    pub connections_accepted_total: f64,
    pub connections_refused_per_ip_total: f64,
    /// Closed connections by close reason code (index 0..6; 6: TLS handshake failed).
    pub connections_closed_total: Vec<f64>,
    /// TLS handshakes that failed or did not complete within 10 s (each closed its connection).
    pub tls_handshake_failures_total: f64,
    /// Seconds the reactor threads spent waiting for events, summed over the threads.
    pub reactor_idle_seconds_total: f64,
    /// Connections held back for `max.connection.creation.rate` (broker or listener).
    pub connections_accept_delayed_total: f64,
    /// Connections refused for their IP's `connection_creation_rate` quota.
    pub connections_throttled_per_ip_total: f64,
}

type WakeCallback = ThreadsafeFunction<(), Unknown<'static>, (), Status, false, true>;

/// The broker's network server: listeners, reactor threads, ordered responses.
#[napi]
pub struct NetServer {
    server: Arc<Server>,
}

#[napi]
impl NetServer {
    /// Binds every listener (throws naming the listener, host and port, e.g. EADDRINUSE; or
    /// naming the listener and what is wrong with its TLS settings) and starts the threads. `onWake` runs when events are waiting after a `drain()`.
    #[napi(constructor)]
    pub fn new(
        options: NetServerOptions,
        #[napi(ts_arg_type = "() => void")] on_wake: WakeCallback,
    ) -> napi::Result<Self> {
        let config = config_of(options)?;
        let server = Server::start(config, move || {
            on_wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
        })
        .map_err(|error| napi::Error::from_reason(error.to_string()))?;
        Ok(Self {
            server: Arc::new(server),
        })
    }

    /// The listeners with their actual ports.
    #[napi]
    pub fn bound_listeners(&self) -> Vec<NetListener> {
        self.server
            .bound_listeners()
            .iter()
            .map(|listener| NetListener {
                name: listener.name.clone(),
                host: listener.host.clone(),
                port: u32::from(listener.address.port()),
                tls: None,
                max_connection_creation_rate: None,
            })
            .collect()
    }

    /// Replaces the TLS settings of SSL listener `listenerName` (Kafka's certificate reload):
    /// connections accepted from now on use them, open connections keep theirs. Throws (and
    /// keeps the current settings) when they are invalid or the listener is not SSL.
    #[napi]
    pub fn reload_tls(&self, listener_name: String, tls: NetListenerTls) -> napi::Result<()> {
        let settings = tls_settings_of(&listener_name, tls)?;
        self.server
            .reload_tls(&listener_name, &settings)
            .map_err(|error| napi::Error::from_reason(error.to_string()))
    }

    /// Every event queued since the last drain, in one Buffer; null when none.
    #[napi]
    pub fn drain(&self) -> Option<Buffer> {
        self.server.drain_events().map(Buffer::from)
    }

    /// Copies every queued event into `target` (a buffer JS reuses) when they fit: returns
    /// their length, 0 when none. When they do not fit nothing is taken and the result is the
    /// queued length negated: call `drain()` then. Reusing one buffer keeps the event stream
    /// out of V8's external-memory accounting, whose growth otherwise starts a major GC every
    /// few dozen megabytes of requests.
    #[napi]
    pub fn drain_into(&self, mut target: BufferSlice) -> f64 {
        self.server.drain_events_into(&mut target) as f64
    }

    /// Submits the response to request `seq` of `connection`, written after every earlier
    /// seq. Buffers are copied now; a LogSlice is duplicated, so the caller may release it.
    /// False (and nothing sent) when the connection is not open.
    #[napi]
    pub fn respond(
        &self,
        connection: u32,
        seq: u32,
        parts: Vec<Either<BufferSlice, ClassInstance<LogSlice>>>,
    ) -> napi::Result<bool> {
        let mut response = Response::new();
        for part in parts {
            match part {
                Either::A(bytes) => response.push_bytes(&bytes),
                Either::B(slice) => push_slice(&mut response, &slice)?,
            }
        }
        Ok(self.server.respond(connection, seq, response))
    }

    /// Completes request `seq` of `connection` with no response (acks=0 produce).
    #[napi]
    pub fn skip(&self, connection: u32, seq: u32) -> bool {
        self.server.skip(connection, seq)
    }

    /// Closes `connection` now, dropping its queued responses; a Closed event follows.
    #[napi]
    pub fn close(&self, connection: u32) -> bool {
        self.server.close(connection)
    }

    /// Closes the listeners; open connections go on.
    /// Reads nothing more of `connection` for `durationMs` (a throttled client, KIP-219); its
    /// responses are still written. False when the connection is not open.
    #[napi]
    pub fn mute(&self, connection: u32, duration_ms: f64) -> bool {
        self.server.mute(
            connection,
            Duration::from_secs_f64(duration_ms.max(0.0) / 1000.0),
        )
    }

    /// Sets the IPs' `connection_creation_rate` quotas: `defaultRate` for every IP without an
    /// override (null: unlimited). Throws on an address that does not parse.
    #[napi]
    pub fn set_ip_connection_rates(
        &self,
        default_rate: Option<u32>,
        overrides: Vec<IpConnectionRate>,
    ) -> napi::Result<()> {
        let overrides = overrides
            .into_iter()
            .map(|entry| {
                entry
                    .ip
                    .parse::<std::net::IpAddr>()
                    .map(|ip| (ip, entry.rate))
                    .map_err(|_| {
                        napi::Error::from_reason(format!("{} is not an IP address", entry.ip))
                    })
            })
            .collect::<napi::Result<Vec<_>>>()?;
        self.server.set_ip_connection_rates(default_rate, overrides);
        Ok(())
    }

    #[napi]
    pub fn stop_accepting(&self) {
        self.server.stop_accepting();
    }

    /// Stops accepting and reading, waits (off the JS thread) until the responses to every
    /// delivered request are written or `timeoutMs` passes, then closes every connection.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn shutdown(&self, timeout_ms: f64) -> AsyncTask<ShutdownTask> {
        AsyncTask::new(ShutdownTask {
            server: self.server.clone(),
            timeout: Duration::from_secs_f64(timeout_ms.max(0.0) / 1000.0),
        })
    }

    #[napi]
    pub fn stats(&self) -> NetStats {
        let stats = self.server.stats();
        NetStats {
            connections: stats.connections as u32,
            queued_request_bytes: stats.queued_request_bytes as f64,
            queued_response_bytes: stats.queued_response_bytes as f64,
            queued_event_bytes: stats.queued_event_bytes as f64,
            reads_paused: stats.reads_paused,
            connections_accepted_total: stats.connections_accepted_total as f64,
            connections_refused_per_ip_total: stats.connections_refused_per_ip_total as f64,
            reactor_idle_seconds_total: stats.reactor_idle_nanos_total as f64 / 1e9,
            tls_handshake_failures_total: stats.tls_handshake_failures_total as f64,
            connections_accept_delayed_total: stats.connections_accept_delayed_total as f64,
            connections_throttled_per_ip_total: stats.connections_throttled_per_ip_total as f64,
            connections_closed_total: stats
                .connections_closed_total
                .iter()
                .map(|&count| count as f64)
                .collect(),
        }
    }
}

/// Shuts the server down on the libuv pool.
pub struct ShutdownTask {
    server: Arc<Server>,
    timeout: Duration,
}

impl Task for ShutdownTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<()> {
        self.server.shutdown(self.timeout);
        Ok(())
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> napi::Result<()> {
        Ok(())
    }
}

/// A slice's descriptor is duplicated: the duplicate keeps the segment's open file
/// description (and so its bytes, even if the segment is deleted) alive until written,
/// whatever JS does with the LogSlice meanwhile.
fn push_slice(response: &mut Response, slice: &LogSlice) -> napi::Result<()> {
    let Some(file_slice) = slice.file_slice() else {
        return Ok(()); // Released: nothing to send.
    };
    if file_slice.is_empty() {
        return Ok(());
    }
    // A clone shares the segment file (no syscall) and is counted by the storage engine as an
    // outstanding slice, so the file stays readable until the reactor has sent it.
    response.push_file(Box::new(SegmentRegion(file_slice.clone())));
    Ok(())
}

/// A log slice as the reactor sends it: sendfile from the segment file.
struct SegmentRegion(FileSlice);

impl FileRegion for SegmentRegion {
    fn fd(&self) -> RawFd {
        self.0.raw_fd()
    }

    fn position(&self) -> u64 {
        self.0.position()
    }

    fn len(&self) -> u64 {
        self.0.len()
    }
}

/// The settings as `sluice_net` takes them; the PEM and the names are checked when the server
/// starts or reloads (errors name the listener).
fn tls_settings_of(listener: &str, tls: NetListenerTls) -> napi::Result<TlsSettings> {
    let client_auth = ClientAuth::from_kafka_name(&tls.client_auth).ok_or_else(|| {
        napi::Error::from_reason(format!(
            "listener {listener}: TLS settings refused: client auth {:?} is not one of \
             none, requested, required",
            tls.client_auth
        ))
    })?;
    Ok(TlsSettings {
        certificate_chain_pem: tls.certificate_chain_pem,
        private_key_pem: tls.private_key_pem,
        trusted_certificates_pem: tls.trusted_certificates_pem.flatten(),
        client_auth,
        protocols: tls.protocols.flatten(),
        cipher_suites: tls.cipher_suites.flatten(),
    })
}

fn config_of(options: NetServerOptions) -> napi::Result<ServerConfig> {
    let listeners = options
        .listeners
        .into_iter()
        .map(|listener| {
            let port = u16::try_from(listener.port).map_err(|_| {
                napi::Error::from_reason(format!(
                    "listener {} port {} is out of range",
                    listener.name, listener.port
                ))
            })?;
            let tls = listener
                .tls
                .flatten()
                .map(|tls| tls_settings_of(&listener.name, tls))
                .transpose()?;
            Ok(ListenerConfig {
                name: listener.name,
                host: listener.host,
                port,
                tls,
                connection_creation_rate_max: listener.max_connection_creation_rate.flatten(),
            })
        })
        .collect::<napi::Result<Vec<_>>>()?;
    let buffer_bytes = |bytes: i32| usize::try_from(bytes).ok().filter(|&bytes| bytes > 0);
    let mut config = ServerConfig::new(listeners);
    config.network_threads = options.num_network_threads as usize;
    config.request_bytes_max = options.socket_request_max_bytes as usize;
    config.socket_send_buffer_bytes = buffer_bytes(options.socket_send_buffer_bytes);
    config.socket_receive_buffer_bytes = buffer_bytes(options.socket_receive_buffer_bytes);
    config.connections_max = options.max_connections as usize;
    config.connections_per_ip_max = options.max_connections_per_ip as usize;
    config.connections_idle_max = (options.connections_max_idle_ms >= 0.0)
        .then(|| Duration::from_secs_f64(options.connections_max_idle_ms / 1000.0));
    if let Some(max) = options.in_flight_requests_per_connection_max {
        config.in_flight_requests_per_connection_max = max as usize;
    }
    if let Some(max) = options.queued_response_bytes_per_connection_max {
        config.queued_response_bytes_per_connection_max = max as usize;
    }
    if let Some(max) = options.queued_request_bytes_max {
        config.queued_request_bytes_max = max as usize;
    }
    config.connection_creation_rate_max = options.max_connection_creation_rate;
    if let Some(samples) = options.quota_window_num {
        config.quota_window.samples = samples.max(1);
    }
    if let Some(seconds) = options.quota_window_size_seconds {
        config.quota_window.window = Duration::from_secs(u64::from(seconds.max(1)));
    }
    Ok(config)
}
