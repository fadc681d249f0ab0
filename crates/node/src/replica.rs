//! The follower's link to a partition leader (Kafka's ReplicaFetcherThread's network client,
//! `ReplicaFetcherBlockingSend`): one TCP connection on its own thread, so a replica fetch
//! never waits on the JS thread and the records it brings never become JS memory.
//!
//! JS encodes every request (the generated codec, versions agreed by ApiVersions) and hands
//! the frame over; the link thread writes it and reads the answer with blocking I/O and a
//! read timeout. `request` returns the answer's frame to JS (ApiVersions, ListOffsets: small).
//! `fetch` parses a Fetch answer (v12 to v18) here and appends each partition's records to its
//! log as a follower (origin replica: the leader's offsets and epochs kept), holding the log
//! for the append alone; JS receives one small summary per partition (error, high watermark,
//! log start offset, diverging epoch, bytes appended) and does the rest (HW, truncation,
//! throttle accounting).
//!
//! Fencing: a target carries the log end offset it was fetched from and the log's replica
//! fence as JS saw it when sending. The append happens only if, under the log's lock, both
//! still hold: a partition that became leader meanwhile (`assignLeaderEpoch` bumps the fence),
//! stopped being followed (`fenceReplicaAppends`), was truncated or is fetched from another
//! leader now never gets records from a fetch sent before that.
//!
//! A frame larger than `max_response_bytes` closes the link before anything is allocated for
//! it. After any I/O error the link is closed: later calls fail at once and JS opens a new one.
//!
//! Inter-broker security: on an SSL or SASL_SSL inter-broker listener the link speaks TLS
//! (rustls, `sluice_net::client_config`: the broker's keystore as client certificate, its
//! truststore and hostname check for the leader's), handshaking on this thread right after the
//! TCP connect. SASL needs nothing here: SaslHandshake and SaslAuthenticate are requests like
//! ApiVersions, encoded and answered in JS (`request`), so every socket read and write stays on
//! this thread while the mechanisms (PLAIN, SCRAM) live with the rest of the SASL code in JS.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use napi::bindgen_prelude::{BigInt, Buffer, Env, Object};
use napi::JsDeferred;
use napi_derive::napi;
use sluice_net::rustls::pki_types::ServerName;
use sluice_net::rustls::{ClientConfig, ClientConnection, StreamOwned};
use sluice_net::ClientTlsSettings;
use sluice_storage::log::{AppendOptions, AppendOrigin};
use sluice_storage::partition_metadata::Uuid;

use crate::log::{registered_log, LogState};

// ---------------------------------------------------------------------------------------
// The Fetch answer (v12+: flexible; v13+ names topics by id)

/// What the Fetch answer said of one partition; `records` is a range of the frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedPartition {
    pub topic: TopicRef,
    pub partition: i32,
    pub error_code: i16,
    pub high_watermark: i64,
    pub log_start_offset: i64,
    pub diverging_epoch: i32,
    pub diverging_end_offset: i64,
    pub records: std::ops::Range<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicRef {
    Name(String),
    Id([u8; 16]),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchAnswer {
    pub throttle_time_ms: i32,
    pub error_code: i16,
    pub partitions: Vec<FetchedPartition>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Malformed(pub String);

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], Malformed> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len());
        let end = end.ok_or_else(|| Malformed(format!("Fetch answer ends inside {what}")))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }
    fn i16(&mut self, what: &str) -> Result<i16, Malformed> {
        Ok(i16::from_be_bytes(self.take(2, what)?.try_into().unwrap()))
    }
    fn i32(&mut self, what: &str) -> Result<i32, Malformed> {
        Ok(i32::from_be_bytes(self.take(4, what)?.try_into().unwrap()))
    }
    fn i64(&mut self, what: &str) -> Result<i64, Malformed> {
        Ok(i64::from_be_bytes(self.take(8, what)?.try_into().unwrap()))
    }
    fn uvarint(&mut self, what: &str) -> Result<u64, Malformed> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1, what)?[0];
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Malformed(format!("{what}: varint longer than 64 bits")))
    }
    /// A compact length (N+1; 0 is null) as `None` for null; bounded by the bytes left.
    fn compact_len(&mut self, what: &str) -> Result<Option<usize>, Malformed> {
        let raw = self.uvarint(what)?;
        if raw == 0 {
            return Ok(None);
        }
        let len = usize::try_from(raw - 1).map_err(|_| Malformed(format!("{what}: length")))?;
        if len > self.bytes.len() - self.at {
            return Err(Malformed(format!(
                "{what}: {len} is more than the frame holds"
            )));
        }
        Ok(Some(len))
    }
    fn skip_tagged_fields(&mut self, what: &str) -> Result<(), Malformed> {
        let count = self.uvarint(what)?;
        for _ in 0..count {
            self.uvarint(what)?;
            let size = self.uvarint(what)? as usize;
            self.take(size, what)?;
        }
        Ok(())
    }
}

/// Parses a Fetch response frame (without its size prefix, header included) of `version`.
pub fn parse_fetch_answer(frame: &[u8], version: i16) -> Result<FetchAnswer, Malformed> {
    if !(12..=18).contains(&version) {
        return Err(Malformed(format!(
            "Fetch v{version}: the link speaks v12 to v18"
        )));
    }
    let mut cursor = Cursor {
        bytes: frame,
        at: 0,
    };
    cursor.i32("correlation id")?;
    cursor.skip_tagged_fields("header tagged fields")?;
    let throttle_time_ms = cursor.i32("throttle_time_ms")?;
    let error_code = cursor.i16("error_code")?;
    cursor.i32("session_id")?;
    let mut partitions = Vec::new();
    let topics = cursor.compact_len("responses")?.unwrap_or(0);
    for _ in 0..topics {
        let topic = if version >= 13 {
            TopicRef::Id(cursor.take(16, "topic_id")?.try_into().unwrap())
        } else {
            let len = cursor.compact_len("topic")?.unwrap_or(0);
            let name = cursor.take(len, "topic")?;
            TopicRef::Name(String::from_utf8_lossy(name).into_owned())
        };
        let count = cursor.compact_len("partitions")?.unwrap_or(0);
        for _ in 0..count {
            let partition = cursor.i32("partition_index")?;
            let error_code = cursor.i16("error_code")?;
            let high_watermark = cursor.i64("high_watermark")?;
            cursor.i64("last_stable_offset")?;
            let log_start_offset = cursor.i64("log_start_offset")?;
            if let Some(aborted) = cursor.compact_len("aborted_transactions")? {
                for _ in 0..aborted {
                    cursor.i64("producer_id")?;
                    cursor.i64("first_offset")?;
                    cursor.skip_tagged_fields("aborted transaction tagged fields")?;
                }
            }
            cursor.i32("preferred_read_replica")?;
            let records = match cursor.compact_len("records")? {
                None => cursor.at..cursor.at,
                Some(len) => {
                    let start = cursor.at;
                    cursor.take(len, "records")?;
                    start..start + len
                }
            };
            let (mut diverging_epoch, mut diverging_end_offset) = (-1, -1);
            let tags = cursor.uvarint("partition tagged fields")?;
            for _ in 0..tags {
                let tag = cursor.uvarint("partition tag")?;
                let size = cursor.uvarint("partition tag size")? as usize;
                let body = cursor.take(size, "partition tagged field")?;
                if tag == 0 {
                    let mut inner = Cursor { bytes: body, at: 0 };
                    diverging_epoch = inner.i32("diverging epoch")?;
                    diverging_end_offset = inner.i64("diverging end offset")?;
                }
            }
            partitions.push(FetchedPartition {
                topic: topic.clone(),
                partition,
                error_code,
                high_watermark,
                log_start_offset,
                diverging_epoch,
                diverging_end_offset,
                records,
            });
        }
        cursor.skip_tagged_fields("topic tagged fields")?;
    }
    cursor.skip_tagged_fields("Fetch tagged fields")?;
    if cursor.at != frame.len() {
        return Err(Malformed(format!(
            "Fetch answer has {} bytes after its end",
            frame.len() - cursor.at
        )));
    }
    Ok(FetchAnswer {
        throttle_time_ms,
        error_code,
        partitions,
    })
}

// ---------------------------------------------------------------------------------------
// The binding

/// One partition of a replica fetch: where its records go and what the append must find.
#[napi(object)]
pub struct ReplicaFetchTarget {
    /// The follower log (`NativeLog.registryId`).
    pub log: u32,
    /// The topic's id (base64) for Fetch v13+, its name for v12.
    pub topic_id: String,
    pub topic: String,
    pub partition: i32,
    /// The log end offset the fetch asked from.
    pub fetch_offset: BigInt,
    /// `NativeLog.replicaFence` when the fetch was sent.
    pub fence: u32,
}

/// What a replica fetch did for one partition the answer names.
#[napi(object, object_from_js = false)]
pub struct ReplicaFetchOutcome {
    /// Index of the partition in the targets.
    pub target: u32,
    pub error_code: i16,
    pub high_watermark: BigInt,
    pub log_start_offset: BigInt,
    pub diverging_epoch: i32,
    pub diverging_end_offset: BigInt,
    /// Bytes of records appended to the log (0: none came, or they were not appended).
    pub appended_bytes: u32,
    /// The records were not appended: the log moved since the fetch was sent (fenced).
    pub fenced: bool,
    /// The append failed: why (the log's error), with its code.
    pub append_error: Option<String>,
    pub append_error_code: Option<String>,
}

#[napi(object, object_from_js = false)]
pub struct ReplicaFetchResult {
    pub throttle_time_ms: i32,
    pub error_code: i16,
    pub partitions: Vec<ReplicaFetchOutcome>,
}

/// TLS of a link to an SSL / SASL_SSL inter-broker listener (see `ClientTlsSettings`).
#[napi(object)]
pub struct ReplicaLinkTls {
    /// The broker's certificate chain (PEM), presented when the leader asks for one.
    pub certificate_chain_pem: Option<String>,
    /// Its unencrypted private key (PEM).
    pub private_key_pem: Option<String>,
    /// The CA certificates (PEM) the leader's certificate must lead to.
    pub trusted_certificates_pem: String,
    /// `ssl.endpoint.identification.algorithm=https`: the certificate must name the host.
    pub verify_hostname: bool,
    pub protocols: Option<Vec<String>>,
    pub cipher_suites: Option<Vec<String>>,
}

type Resolver<T> = Box<dyn FnOnce(Env) -> napi::Result<T> + Send>;

enum Job {
    Request {
        frame: Vec<u8>,
        timeout: Duration,
        deferred: JsDeferred<Buffer, Resolver<Buffer>>,
    },
    Fetch {
        frame: Vec<u8>,
        timeout: Duration,
        targets: Vec<Target>,
        now_ms: i64,
        deferred: JsDeferred<ReplicaFetchResult, Resolver<ReplicaFetchResult>>,
    },
}

struct Target {
    log: Option<Arc<LogState>>,
    topic: TopicRef,
    partition: i32,
    fetch_offset: i64,
    fence: u32,
}

struct Endpoint {
    host: String,
    port: u16,
    connect_timeout: Duration,
    max_response_bytes: usize,
    /// Some on an SSL / SASL_SSL listener.
    tls: Option<Arc<ClientConfig>>,
}

/// The link's connection: plaintext, or TLS over it.
enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    fn socket(&self) -> &TcpStream {
        match self {
            Stream::Plain(socket) => socket,
            Stream::Tls(stream) => stream.get_ref(),
        }
    }

    /// Without TLS's close_notify: the link ends after an error or on close, and a write here
    /// could block on a peer that reads nothing.
    fn shutdown(&self) {
        let _ = self.socket().shutdown(Shutdown::Both);
    }
}

impl Read for Stream {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(socket) => socket.read(buffer),
            Stream::Tls(stream) => stream.read(buffer),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(socket) => socket.write(bytes),
            Stream::Tls(stream) => stream.write(bytes),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(socket) => socket.flush(),
            Stream::Tls(stream) => stream.flush(),
        }
    }
}

/// A follower's connection to one leader, on its own thread.
#[napi]
pub struct ReplicaLink {
    jobs: Mutex<Option<SyncSender<Job>>>,
    /// A clone of the connected socket, to unblock the thread on close.
    socket: Arc<Mutex<Option<TcpStream>>>,
    closed: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

fn closed_error() -> napi::Error {
    napi::Error::from_reason("the replica link is closed")
}

#[napi]
impl ReplicaLink {
    /// A link to `host:port` (connected by the first call), over TLS with `tls`. `name` names
    /// the thread. Throws when the TLS settings cannot be used.
    #[napi(constructor)]
    pub fn new(
        name: String,
        host: String,
        port: u32,
        connect_timeout_ms: u32,
        max_response_bytes: u32,
        tls: Option<ReplicaLinkTls>,
    ) -> napi::Result<Self> {
        let port = u16::try_from(port).map_err(|_| napi::Error::from_reason("bad port"))?;
        let tls = match tls {
            None => None,
            Some(tls) => {
                let settings = ClientTlsSettings {
                    certificate_chain_pem: tls.certificate_chain_pem,
                    private_key_pem: tls.private_key_pem,
                    trusted_certificates_pem: tls.trusted_certificates_pem,
                    verify_hostname: tls.verify_hostname,
                    protocols: tls.protocols,
                    cipher_suites: tls.cipher_suites,
                };
                let config = sluice_net::client_config(&settings).map_err(|error| {
                    napi::Error::from_reason(format!("inter-broker TLS: {error}"))
                })?;
                Some(config)
            }
        };
        let endpoint = Endpoint {
            host,
            port,
            connect_timeout: Duration::from_millis(u64::from(connect_timeout_ms.max(1))),
            max_response_bytes: max_response_bytes as usize,
            tls,
        };
        let (sender, receiver) = sync_channel::<Job>(4);
        let socket = Arc::new(Mutex::new(None));
        let closed = Arc::new(AtomicBool::new(false));
        let thread = {
            let socket = socket.clone();
            let closed = closed.clone();
            std::thread::Builder::new()
                .name(format!("sluice-replica-{name}"))
                .spawn(move || run(endpoint, receiver, socket, closed))
                .map_err(|error| napi::Error::from_reason(error.to_string()))?
        };
        Ok(Self {
            jobs: Mutex::new(Some(sender)),
            socket,
            closed,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Sends a request frame (header and body, no size prefix) and resolves with the answer's
    /// frame, within `timeoutMs`.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn request<'env>(
        &self,
        env: &'env Env,
        frame: Buffer,
        timeout_ms: u32,
    ) -> napi::Result<Object<'env>> {
        let (deferred, promise) = env.create_deferred::<Buffer, Resolver<Buffer>>()?;
        self.submit(Job::Request {
            frame: frame.to_vec(),
            timeout: Duration::from_millis(u64::from(timeout_ms)),
            deferred,
        });
        Ok(promise)
    }

    /// Sends a Fetch request frame (v12 to v18, replica id set) and appends what the answer
    /// brings to the targets' logs (see the module comment); resolves with a summary.
    #[napi(ts_return_type = "Promise<ReplicaFetchResult>")]
    pub fn fetch<'env>(
        &self,
        env: &'env Env,
        frame: Buffer,
        targets: Vec<ReplicaFetchTarget>,
        timeout_ms: u32,
        now_ms: f64,
    ) -> napi::Result<Object<'env>> {
        let mut resolved = Vec::with_capacity(targets.len());
        for target in targets {
            let topic = if target.topic_id.is_empty() {
                TopicRef::Name(target.topic)
            } else {
                match Uuid::from_base64(&target.topic_id) {
                    Some(id) => TopicRef::Id(id.0),
                    None => return Err(napi::Error::from_reason("bad topic id")),
                }
            };
            resolved.push(Target {
                log: registered_log(target.log),
                topic,
                partition: target.partition,
                fetch_offset: target.fetch_offset.get_i64().0,
                fence: target.fence,
            });
        }
        let (deferred, promise) =
            env.create_deferred::<ReplicaFetchResult, Resolver<ReplicaFetchResult>>()?;
        self.submit(Job::Fetch {
            frame: frame.to_vec(),
            timeout: Duration::from_millis(u64::from(timeout_ms)),
            targets: resolved,
            now_ms: now_ms as i64,
            deferred,
        });
        Ok(promise)
    }

    /// Closes the connection; a call in flight fails, later calls fail at once.
    #[napi]
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        if let Ok(socket) = self.socket.lock() {
            if let Some(socket) = socket.as_ref() {
                let _ = socket.shutdown(Shutdown::Both);
            }
        }
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
    }

    fn submit(&self, job: Job) {
        let sender = self.jobs.lock().ok().and_then(|jobs| jobs.clone());
        let Some(sender) = sender else {
            return job.fail(closed_error());
        };
        if let Err(error) = sender.try_send(job) {
            let job = match error {
                std::sync::mpsc::TrySendError::Full(job) => job,
                std::sync::mpsc::TrySendError::Disconnected(job) => job,
            };
            job.fail(napi::Error::from_reason("the replica link is busy"));
        }
    }
}

impl Drop for ReplicaLink {
    fn drop(&mut self) {
        self.close();
        // The thread ends once its queue is empty; it is not joined (it may be in a read).
        if let Ok(mut thread) = self.thread.lock() {
            thread.take();
        }
    }
}

impl Job {
    fn fail(self, error: napi::Error) {
        match self {
            Job::Request { deferred, .. } => deferred.reject(error),
            Job::Fetch { deferred, .. } => deferred.reject(error),
        }
    }
}

fn run(
    endpoint: Endpoint,
    jobs: Receiver<Job>,
    socket: Arc<Mutex<Option<TcpStream>>>,
    closed: Arc<AtomicBool>,
) {
    let mut stream: Option<Stream> = None;
    let mut broken: Option<String> = None;
    while let Ok(job) = jobs.recv() {
        if closed.load(Ordering::Acquire) {
            job.fail(closed_error());
            continue;
        }
        if let Some(reason) = &broken {
            job.fail(napi::Error::from_reason(reason.clone()));
            continue;
        }
        let (frame, timeout) = match &job {
            Job::Request { frame, timeout, .. } | Job::Fetch { frame, timeout, .. } => {
                (frame, *timeout)
            }
        };
        let answer = (|| {
            if stream.is_none() {
                let connected = connect(&endpoint)?;
                *socket.lock().unwrap_or_else(|p| p.into_inner()) = Some(connected.try_clone()?);
                if closed.load(Ordering::Acquire) {
                    let _ = connected.shutdown(Shutdown::Both);
                }
                stream = Some(secure(connected, &endpoint)?);
            }
            exchange(stream.as_mut().unwrap(), frame, timeout, &endpoint)
        })();
        let answer = match answer {
            Ok(answer) => answer,
            Err(error) => {
                let reason = format!(
                    "replica link to {}:{}: {error}",
                    endpoint.host, endpoint.port
                );
                if let Some(stream) = stream.take() {
                    stream.shutdown();
                }
                broken = Some(reason.clone());
                job.fail(napi::Error::from_reason(reason));
                continue;
            }
        };
        match job {
            Job::Request { deferred, .. } => {
                deferred.resolve(Box::new(move |_env| Ok(Buffer::from(answer))))
            }
            Job::Fetch {
                frame,
                targets,
                now_ms,
                deferred,
                ..
            } => {
                let version = i16::from_be_bytes([frame[2], frame[3]]);
                match apply_fetch(answer, version, &targets, now_ms) {
                    Ok(result) => deferred.resolve(Box::new(move |_env| Ok(result))),
                    Err(Malformed(reason)) => deferred.reject(napi::Error::from_reason(reason)),
                }
            }
        }
    }
    if let Some(stream) = stream {
        stream.shutdown();
    }
}

fn connect(endpoint: &Endpoint) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for address in (endpoint.host.as_str(), endpoint.port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&address, endpoint.connect_timeout) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(error) => last = error,
        }
    }
    Err(last)
}

/// The connection as the endpoint wants it: TLS after a handshake within the connect timeout
/// (its failure, e.g. a certificate the truststore does not vouch for, is the link's error),
/// or the socket as it is.
fn secure(socket: TcpStream, endpoint: &Endpoint) -> io::Result<Stream> {
    let Some(config) = &endpoint.tls else {
        return Ok(Stream::Plain(socket));
    };
    let name = ServerName::try_from(endpoint.host.clone()).map_err(|error| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is no host name for TLS: {error}", endpoint.host),
        )
    })?;
    let mut session = ClientConnection::new(config.clone(), name)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
    let mut socket = socket;
    socket.set_read_timeout(Some(endpoint.connect_timeout))?;
    socket.set_write_timeout(Some(endpoint.connect_timeout))?;
    while session.is_handshaking() {
        session.complete_io(&mut socket).map_err(|error| {
            io::Error::new(error.kind(), format!("TLS handshake failed: {error}"))
        })?;
    }
    Ok(Stream::Tls(Box::new(StreamOwned::new(session, socket))))
}

/// Writes one request and reads its answer (the frame after the size prefix).
fn exchange(
    stream: &mut Stream,
    frame: &[u8],
    timeout: Duration,
    endpoint: &Endpoint,
) -> io::Result<Vec<u8>> {
    let timeout = Some(timeout.max(Duration::from_millis(1)));
    stream.socket().set_write_timeout(timeout)?;
    stream.socket().set_read_timeout(timeout)?;
    let correlation_id = frame.get(4..8).map(|id| id.to_vec());
    stream.write_all(&(frame.len() as u32).to_be_bytes())?;
    stream.write_all(frame)?;
    // TLS: the records rustls holds go out now (a no-op on plaintext).
    stream.flush()?;
    let mut size = [0u8; 4];
    stream.read_exact(&mut size)?;
    let size = i32::from_be_bytes(size);
    if size < 4 || size as usize > endpoint.max_response_bytes {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("an answer of {size} bytes"),
        ));
    }
    let mut answer = vec![0u8; size as usize];
    stream.read_exact(&mut answer)?;
    if correlation_id.as_deref() != Some(&answer[..4]) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "an answer to another request (correlation id)",
        ));
    }
    Ok(answer)
}

fn apply_fetch(
    mut frame: Vec<u8>,
    version: i16,
    targets: &[Target],
    now_ms: i64,
) -> Result<ReplicaFetchResult, Malformed> {
    let answer = parse_fetch_answer(&frame, version)?;
    let mut outcomes = Vec::with_capacity(answer.partitions.len());
    for fetched in answer.partitions {
        let Some(index) = targets
            .iter()
            .position(|t| t.partition == fetched.partition && t.topic == fetched.topic)
        else {
            continue;
        };
        let target = &targets[index];
        let mut outcome = ReplicaFetchOutcome {
            target: index as u32,
            error_code: fetched.error_code,
            high_watermark: fetched.high_watermark.into(),
            log_start_offset: fetched.log_start_offset.into(),
            diverging_epoch: fetched.diverging_epoch,
            diverging_end_offset: fetched.diverging_end_offset.into(),
            appended_bytes: 0,
            fenced: false,
            append_error: None,
            append_error_code: None,
        };
        let diverged = fetched.diverging_epoch >= 0 || fetched.diverging_end_offset >= 0;
        if fetched.error_code == 0 && !diverged && !fetched.records.is_empty() {
            append(target, &mut frame[fetched.records], now_ms, &mut outcome);
        }
        outcomes.push(outcome);
    }
    Ok(ReplicaFetchResult {
        throttle_time_ms: answer.throttle_time_ms,
        error_code: answer.error_code,
        partitions: outcomes,
    })
}

fn append(target: &Target, records: &mut [u8], now_ms: i64, outcome: &mut ReplicaFetchOutcome) {
    let Some(state) = target.log.as_ref() else {
        outcome.fenced = true;
        return;
    };
    let mut guard = match state.log() {
        Ok(guard) => guard,
        Err(_) => {
            outcome.fenced = true;
            return;
        }
    };
    let log = guard.as_mut().expect("open");
    if state.replica_fence() != target.fence || log.log_end_offset() != target.fetch_offset {
        outcome.fenced = true;
        return;
    }
    let options = AppendOptions {
        origin: AppendOrigin::Replica,
        transaction_version: sluice_storage::producer_state::TV_UNKNOWN,
        now_ms,
        leader_epoch: None,
    };
    match log.append(records, &options) {
        Ok(_) => outcome.appended_bytes = records.len() as u32,
        Err(error) => {
            let code = crate::errors::ErrorCode::of(&error);
            outcome.append_error = Some(error.to_string());
            outcome.append_error_code = Some(code.name().to_string());
        }
    }
    state.publish(log);
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Writer(Vec<u8>);
    impl Writer {
        fn uvarint(&mut self, mut value: u64) {
            while value >= 0x80 {
                self.0.push((value as u8) | 0x80);
                value >>= 7;
            }
            self.0.push(value as u8);
        }
        fn i16(&mut self, v: i16) {
            self.0.extend_from_slice(&v.to_be_bytes());
        }
        fn i32(&mut self, v: i32) {
            self.0.extend_from_slice(&v.to_be_bytes());
        }
        fn i64(&mut self, v: i64) {
            self.0.extend_from_slice(&v.to_be_bytes());
        }
    }

    /// A v13+ answer: one topic, two partitions (records; a diverging epoch and an unknown tag).
    fn answer(records: &[u8]) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        w.i32(7); // correlation id
        w.uvarint(0); // header tags
        w.i32(0); // throttle
        w.i16(0);
        w.i32(0); // session
        w.uvarint(2); // one topic
        w.0.extend_from_slice(&[9u8; 16]);
        w.uvarint(3); // two partitions
                      // partition 0: records
        w.i32(0);
        w.i16(0);
        w.i64(10);
        w.i64(10);
        w.i64(0);
        w.uvarint(1); // aborted: empty array
        w.i32(-1);
        w.uvarint(records.len() as u64 + 1);
        w.0.extend_from_slice(records);
        w.uvarint(0);
        // partition 1: diverging epoch (tag 0) and current leader (tag 1), null records
        w.i32(1);
        w.i16(0);
        w.i64(5);
        w.i64(5);
        w.i64(2);
        w.uvarint(0); // aborted: null
        w.i32(-1);
        w.uvarint(0); // records: null
        w.uvarint(2);
        w.uvarint(0);
        w.uvarint(13);
        w.i32(3);
        w.i64(42);
        w.uvarint(0);
        w.uvarint(1);
        w.uvarint(9);
        w.i32(2);
        w.i32(4);
        w.uvarint(0);
        w.uvarint(0); // topic tags
        w.uvarint(0); // top-level tags
        w.0
    }

    #[test]
    fn parses_partitions_records_and_diverging_epochs() {
        let frame = answer(b"abc");
        let parsed = parse_fetch_answer(&frame, 17).unwrap();
        assert_eq!(parsed.error_code, 0);
        assert_eq!(parsed.partitions.len(), 2);
        let first = &parsed.partitions[0];
        assert_eq!(first.topic, TopicRef::Id([9; 16]));
        assert_eq!((first.high_watermark, first.diverging_epoch), (10, -1));
        assert_eq!(&frame[first.records.clone()], b"abc");
        let second = &parsed.partitions[1];
        assert_eq!(second.partition, 1);
        assert_eq!(
            (second.diverging_epoch, second.diverging_end_offset),
            (3, 42)
        );
        assert_eq!(second.log_start_offset, 2);
        assert!(second.records.is_empty());
    }

    #[test]
    fn refuses_truncated_and_oversized_answers() {
        let frame = answer(b"abcdef");
        for end in 0..frame.len() {
            assert!(
                parse_fetch_answer(&frame[..end], 17).is_err(),
                "cut at {end}"
            );
        }
        let mut longer = frame.clone();
        longer.push(0);
        assert!(parse_fetch_answer(&longer, 17).is_err());
        assert!(parse_fetch_answer(&frame, 11).is_err());
    }
}
