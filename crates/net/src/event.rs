//! Events from the reactors to JS, packed into one byte stream.
//!
//! Reactor threads append events to a shared queue; JS takes everything queued in one
//! call ([`Server::drain_events`](crate::Server::drain_events)) after one wake-up, so a
//! burst of many frames costs one crossing into JS. The stream is a sequence of records,
//! all integers little-endian:
//!
//! ```text
//! kind        u8    1 Opened, 2 Frame, 3 Closed, 4 TlsHandshakeFailed
//! connection  u32
//! Opened:  listener_index u16, peer_port u16, ip_length u8, ip (UTF-8, ip_length bytes),
//!          security u8 (bit 0: TLS; bit 1: a client certificate subject follows),
//!          [subject_length u32, subject (UTF-8, subject_length bytes)]  (only with bit 1)
//! Frame:   seq u32, length u32, frame (length bytes: the payload after the size prefix)
//! Closed:  reason u8 (a CloseReason)
//! TlsHandshakeFailed:  listener_index u16, peer_port u16, ip_length u8, ip (UTF-8),
//!          message_length u16, message (UTF-8: why, e.g. "peer sent no certificates")
//! ```
//!
//! Per connection the order is always Opened, Frames in seq order, Closed: each connection
//! lives on one reactor, which appends its events in the order they happen. A connection id
//! is reused only after its Closed event is in the queue.
//!
//! A PLAINTEXT connection is Opened when accepted. A TLS connection is Opened when its
//! handshake completes, so Opened carries the client certificate's subject (Java's
//! `X500Principal.getName()`, RFC 2253, for Kafka's `User:<subject>` principal; no subject
//! when the client sent no certificate). A TLS connection that closes before its handshake
//! completes was never announced and has no Opened or Closed: a failed handshake (a TLS
//! error, no handshake within [`HANDSHAKE_TIMEOUT`](crate::tls::HANDSHAKE_TIMEOUT)) leaves one
//! TlsHandshakeFailed record, for the log; a client that just went away (or went idle) leaves
//! nothing but the server's counters.

use std::net::SocketAddr;
use std::sync::Mutex;

pub const EVENT_OPENED: u8 = 1;
pub const EVENT_FRAME: u8 = 2;
pub const EVENT_CLOSED: u8 = 3;
pub const EVENT_TLS_HANDSHAKE_FAILED: u8 = 4;

/// Opened's security bits.
const SECURITY_TLS: u8 = 1;
const SECURITY_PEER_SUBJECT: u8 = 2;

/// Bytes of a TlsHandshakeFailed message kept (a longer one is cut at a character boundary).
const HANDSHAKE_FAILURE_MESSAGE_BYTES_MAX: usize = 1024;

/// Why a connection closed; the code is the byte in a Closed record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CloseReason {
    /// The client closed (or reset) the connection.
    PeerClosed = 0,
    /// No bytes read or written for `connections.max.idle.ms`, with nothing in flight.
    Idle = 1,
    /// A size prefix that is negative or over `socket.request.max.bytes`, or (TLS) a record
    /// that does not decrypt or parse after the handshake.
    InvalidFrame = 2,
    /// JS asked for it ([`Server::close`](crate::Server::close)).
    ClosedByServer = 3,
    /// A socket error, or a file region that came up short (the file was truncated).
    IoError = 4,
    /// The server shut down.
    Shutdown = 5,
    /// The TLS handshake failed (bad or missing client certificate, no protocol or cipher
    /// suite in common, a malformed message) or did not complete within
    /// [`HANDSHAKE_TIMEOUT`](crate::tls::HANDSHAKE_TIMEOUT). Counted, never in a Closed record
    /// (the connection was never announced): see the TlsHandshakeFailed record.
    TlsHandshakeFailed = 6,
}

/// How many close reasons there are (the length of the per-reason counters).
pub const CLOSE_REASON_COUNT: usize = 7;

/// How a connection is secured, as Opened reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security<'a> {
    Plaintext,
    /// TLS, with the client certificate's subject (RFC 2253) when the client sent one.
    Tls {
        peer_subject: Option<&'a str>,
    },
}

impl CloseReason {
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::PeerClosed,
            1 => Self::Idle,
            2 => Self::InvalidFrame,
            3 => Self::ClosedByServer,
            4 => Self::IoError,
            5 => Self::Shutdown,
            6 => Self::TlsHandshakeFailed,
            _ => return None,
        })
    }
}

pub(crate) fn encode_opened(
    out: &mut Vec<u8>,
    connection: u32,
    listener_index: u16,
    peer: SocketAddr,
    security: Security<'_>,
) {
    out.push(EVENT_OPENED);
    out.extend_from_slice(&connection.to_le_bytes());
    encode_origin(out, listener_index, peer);
    match security {
        Security::Plaintext => out.push(0),
        Security::Tls { peer_subject: None } => out.push(SECURITY_TLS),
        Security::Tls {
            peer_subject: Some(subject),
        } => {
            out.push(SECURITY_TLS | SECURITY_PEER_SUBJECT);
            // A subject comes from a certificate that fit in a TLS handshake: far below 4 GiB.
            out.extend_from_slice(&(subject.len() as u32).to_le_bytes());
            out.extend_from_slice(subject.as_bytes());
        }
    }
}

/// Listener index, peer port, peer IP (Opened and TlsHandshakeFailed).
fn encode_origin(out: &mut Vec<u8>, listener_index: u16, peer: SocketAddr) {
    let ip = peer.ip().to_string();
    out.extend_from_slice(&listener_index.to_le_bytes());
    out.extend_from_slice(&peer.port().to_le_bytes());
    // An IPv6 address prints in at most 45 characters, so the length fits a u8.
    out.push(ip.len() as u8);
    out.extend_from_slice(ip.as_bytes());
}

pub(crate) fn encode_tls_handshake_failed(
    out: &mut Vec<u8>,
    connection: u32,
    listener_index: u16,
    peer: SocketAddr,
    message: &str,
) {
    let mut length = message.len().min(HANDSHAKE_FAILURE_MESSAGE_BYTES_MAX);
    while !message.is_char_boundary(length) {
        length -= 1;
    }
    out.push(EVENT_TLS_HANDSHAKE_FAILED);
    out.extend_from_slice(&connection.to_le_bytes());
    encode_origin(out, listener_index, peer);
    out.extend_from_slice(&(length as u16).to_le_bytes());
    out.extend_from_slice(&message.as_bytes()[..length]);
}

pub(crate) fn encode_frame(out: &mut Vec<u8>, connection: u32, seq: u32, frame: &[u8]) {
    // Frames are bounded by socket.request.max.bytes, an i32.
    let length = u32::try_from(frame.len()).expect("a frame is shorter than 4 GiB");
    out.reserve(13 + frame.len());
    out.push(EVENT_FRAME);
    out.extend_from_slice(&connection.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(frame);
}

pub(crate) fn encode_closed(out: &mut Vec<u8>, connection: u32, reason: CloseReason) {
    out.push(EVENT_CLOSED);
    out.extend_from_slice(&connection.to_le_bytes());
    out.push(reason.code());
}

/// One decoded record of the event stream (for tests and Rust consumers; JS parses the
/// bytes itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Opened {
        connection: u32,
        listener_index: u16,
        peer_ip: String,
        peer_port: u16,
        tls: bool,
        /// The client certificate's subject (RFC 2253), for a TLS client that sent one.
        peer_subject: Option<String>,
    },
    Frame {
        connection: u32,
        seq: u32,
        frame: Vec<u8>,
    },
    Closed {
        connection: u32,
        reason: CloseReason,
    },
    TlsHandshakeFailed {
        connection: u32,
        listener_index: u16,
        peer_ip: String,
        peer_port: u16,
        message: String,
    },
}

/// Decodes a whole drained event stream. Panics on malformed input: the stream is produced
/// by this crate, so a bad one is a bug.
pub fn decode_events(mut bytes: &[u8]) -> Vec<Event> {
    fn take<'a>(bytes: &mut &'a [u8], count: usize) -> &'a [u8] {
        let (head, tail) = bytes.split_at(count);
        *bytes = tail;
        head
    }
    fn u16_of(bytes: &mut &[u8]) -> u16 {
        u16::from_le_bytes(take(bytes, 2).try_into().unwrap())
    }
    fn u32_of(bytes: &mut &[u8]) -> u32 {
        u32::from_le_bytes(take(bytes, 4).try_into().unwrap())
    }
    fn string_of(bytes: &mut &[u8], length: usize) -> String {
        String::from_utf8(take(bytes, length).to_vec()).unwrap()
    }
    fn origin_of(bytes: &mut &[u8]) -> (u16, u16, String) {
        let listener_index = u16_of(bytes);
        let peer_port = u16_of(bytes);
        let ip_length = take(bytes, 1)[0] as usize;
        (listener_index, peer_port, string_of(bytes, ip_length))
    }
    let mut events = Vec::new();
    while !bytes.is_empty() {
        let kind = take(&mut bytes, 1)[0];
        let connection = u32_of(&mut bytes);
        events.push(match kind {
            EVENT_OPENED => {
                let (listener_index, peer_port, peer_ip) = origin_of(&mut bytes);
                let security = take(&mut bytes, 1)[0];
                let peer_subject = (security & SECURITY_PEER_SUBJECT != 0).then(|| {
                    let length = u32_of(&mut bytes) as usize;
                    string_of(&mut bytes, length)
                });
                Event::Opened {
                    connection,
                    listener_index,
                    peer_ip,
                    peer_port,
                    tls: security & SECURITY_TLS != 0,
                    peer_subject,
                }
            }
            EVENT_FRAME => {
                let seq = u32_of(&mut bytes);
                let length = u32_of(&mut bytes) as usize;
                let frame = take(&mut bytes, length).to_vec();
                Event::Frame {
                    connection,
                    seq,
                    frame,
                }
            }
            EVENT_CLOSED => Event::Closed {
                connection,
                reason: CloseReason::from_code(take(&mut bytes, 1)[0]).expect("a close reason"),
            },
            EVENT_TLS_HANDSHAKE_FAILED => {
                let (listener_index, peer_port, peer_ip) = origin_of(&mut bytes);
                let length = u16_of(&mut bytes) as usize;
                Event::TlsHandshakeFailed {
                    connection,
                    listener_index,
                    peer_ip,
                    peer_port,
                    message: string_of(&mut bytes, length),
                }
            }
            other => panic!("unknown event kind {other}"),
        });
    }
    events
}

/// Capacity a reactor's batch or the queue keeps between batches; a larger buffer (a burst of
/// large frames) is freed once drained.
const RETAINED_BATCH_BYTES_MAX: usize = 4 * 1024 * 1024;

/// The queue of encoded events between the reactors and JS, with the wake-up protocol:
/// the wake callback runs once when the queue goes from drained to non-empty, and not
/// again until JS drains it. Both the flag and the bytes live under one lock, so a wake
/// can never be lost between a drain and the next publish.
pub(crate) struct EventQueue {
    state: Mutex<QueueState>,
    wake: Box<dyn Fn() + Send + Sync>,
}

#[derive(Default)]
struct QueueState {
    bytes: Vec<u8>,
    wake_pending: bool,
}

impl EventQueue {
    pub(crate) fn new(wake: Box<dyn Fn() + Send + Sync>) -> Self {
        Self {
            state: Mutex::new(QueueState::default()),
            wake,
        }
    }

    /// Moves a reactor's batch of encoded events to the end of the queue, leaving `batch`
    /// empty (with some capacity to reuse).
    pub(crate) fn publish(&self, batch: &mut Vec<u8>) {
        if batch.is_empty() {
            return;
        }
        let wake = {
            let mut state = self.state.lock().expect("event queue lock");
            if state.bytes.is_empty() {
                std::mem::swap(&mut state.bytes, batch);
            } else {
                state.bytes.extend_from_slice(batch);
            }
            !std::mem::replace(&mut state.wake_pending, true)
        };
        batch.clear();
        if batch.capacity() > RETAINED_BATCH_BYTES_MAX {
            *batch = Vec::new(); // a burst of large frames does not stay allocated
        }
        if wake {
            (self.wake)();
        }
    }

    /// Takes everything queued; the next publish wakes JS again.
    pub(crate) fn drain(&self) -> Option<Vec<u8>> {
        let mut state = self.state.lock().expect("event queue lock");
        state.wake_pending = false;
        if state.bytes.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut state.bytes))
        }
    }

    /// Copies everything queued into `target` and takes it, when it fits: returns the byte
    /// count (0 when nothing is queued; the next publish wakes JS again, as after
    /// [`drain`](Self::drain)). When it does not fit nothing is taken and the result is the
    /// queued length negated, for the caller to [`drain`](Self::drain) instead. The queue keeps
    /// its buffer, so the reactors and JS circulate the same memory instead of handing JS a
    /// fresh allocation per batch.
    pub(crate) fn drain_into(&self, target: &mut [u8]) -> i64 {
        let mut state = self.state.lock().expect("event queue lock");
        let length = state.bytes.len();
        if length > target.len() {
            return -(length as i64);
        }
        state.wake_pending = false;
        target[..length].copy_from_slice(&state.bytes);
        state.bytes.clear();
        if state.bytes.capacity() > RETAINED_BATCH_BYTES_MAX {
            state.bytes = Vec::new();
        }
        length as i64
    }

    pub(crate) fn queued_bytes(&self) -> usize {
        self.state.lock().expect("event queue lock").bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn events_round_trip_through_the_byte_stream() {
        let mut bytes = Vec::new();
        encode_opened(
            &mut bytes,
            7,
            1,
            "127.0.0.1:5555".parse().unwrap(),
            Security::Plaintext,
        );
        encode_frame(&mut bytes, 7, 0, b"request");
        encode_frame(&mut bytes, 7, 1, b"");
        encode_opened(
            &mut bytes,
            8,
            0,
            "[::1]:80".parse().unwrap(),
            Security::Tls {
                peer_subject: Some("CN=client,O=Acme\\, Inc."),
            },
        );
        encode_closed(&mut bytes, 7, CloseReason::Idle);
        encode_opened(
            &mut bytes,
            9,
            0,
            "10.0.0.1:9".parse().unwrap(),
            Security::Tls { peer_subject: None },
        );
        encode_tls_handshake_failed(
            &mut bytes,
            10,
            2,
            "10.0.0.2:10".parse().unwrap(),
            "peer sent no certificates",
        );
        assert_eq!(
            decode_events(&bytes),
            vec![
                Event::Opened {
                    connection: 7,
                    listener_index: 1,
                    peer_ip: "127.0.0.1".into(),
                    peer_port: 5555,
                    tls: false,
                    peer_subject: None,
                },
                Event::Frame {
                    connection: 7,
                    seq: 0,
                    frame: b"request".to_vec()
                },
                Event::Frame {
                    connection: 7,
                    seq: 1,
                    frame: Vec::new()
                },
                Event::Opened {
                    connection: 8,
                    listener_index: 0,
                    peer_ip: "::1".into(),
                    peer_port: 80,
                    tls: true,
                    peer_subject: Some("CN=client,O=Acme\\, Inc.".into()),
                },
                Event::Closed {
                    connection: 7,
                    reason: CloseReason::Idle
                },
                Event::Opened {
                    connection: 9,
                    listener_index: 0,
                    peer_ip: "10.0.0.1".into(),
                    peer_port: 9,
                    tls: true,
                    peer_subject: None,
                },
                Event::TlsHandshakeFailed {
                    connection: 10,
                    listener_index: 2,
                    peer_ip: "10.0.0.2".into(),
                    peer_port: 10,
                    message: "peer sent no certificates".into(),
                },
            ]
        );
    }

    #[test]
    fn a_long_handshake_failure_message_is_cut_at_a_character_boundary() {
        let mut bytes = Vec::new();
        let message = "é".repeat(HANDSHAKE_FAILURE_MESSAGE_BYTES_MAX);
        encode_tls_handshake_failed(&mut bytes, 1, 0, "127.0.0.1:1".parse().unwrap(), &message);
        let [Event::TlsHandshakeFailed { message, .. }] = &decode_events(&bytes)[..] else {
            panic!("one record");
        };
        assert_eq!(message.len(), HANDSHAKE_FAILURE_MESSAGE_BYTES_MAX);
        for code in 0..CLOSE_REASON_COUNT as u8 {
            assert_eq!(CloseReason::from_code(code).unwrap().code(), code);
        }
        assert_eq!(CloseReason::from_code(CLOSE_REASON_COUNT as u8), None);
    }

    #[test]
    fn drain_into_copies_what_fits_and_leaves_what_does_not() {
        let wakes = Arc::new(AtomicUsize::new(0));
        let counter = wakes.clone();
        let queue = EventQueue::new(Box::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        let mut target = [0u8; 8];
        assert_eq!(queue.drain_into(&mut target), 0);
        queue.publish(&mut b"0123456789".to_vec());
        assert_eq!(queue.drain_into(&mut target), -10, "too big: left queued");
        assert_eq!(queue.queued_bytes(), 10);
        queue.publish(&mut b"x".to_vec());
        assert_eq!(
            wakes.load(Ordering::SeqCst),
            1,
            "still pending: no second wake"
        );
        assert_eq!(queue.drain().as_deref(), Some(&b"0123456789x"[..]));
        queue.publish(&mut b"abc".to_vec());
        assert_eq!(wakes.load(Ordering::SeqCst), 2);
        assert_eq!(queue.drain_into(&mut target), 3);
        assert_eq!(&target[..3], b"abc");
        assert_eq!(queue.queued_bytes(), 0);
        queue.publish(&mut b"d".to_vec());
        assert_eq!(
            wakes.load(Ordering::SeqCst),
            3,
            "drain_into re-arms the wake"
        );
    }

    #[test]
    fn one_wake_until_drained_then_the_next_publish_wakes_again() {
        let wakes = Arc::new(AtomicUsize::new(0));
        let counter = wakes.clone();
        let queue = EventQueue::new(Box::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        let mut batch = Vec::new();
        for connection in 0..3 {
            encode_closed(&mut batch, connection, CloseReason::PeerClosed);
            queue.publish(&mut batch);
            assert!(batch.is_empty());
        }
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        assert_eq!(decode_events(&queue.drain().unwrap()).len(), 3);
        assert_eq!(queue.drain(), None);
        encode_closed(&mut batch, 9, CloseReason::PeerClosed);
        queue.publish(&mut batch);
        assert_eq!(wakes.load(Ordering::SeqCst), 2);
    }
}
