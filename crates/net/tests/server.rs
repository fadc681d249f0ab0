//! The server against real TCP sockets on 127.0.0.1. A test thread plays JS: it waits for
//! wake-ups, drains events, and answers frames.

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use sluice_net::{
    decode_events, CloseReason, Event, ListenerConfig, OwnedFileRegion, Response, Server,
    ServerConfig,
};

/// Generous bound on waiting for something that should happen promptly.
const PATIENCE: Duration = Duration::from_secs(10);

/// The JS side of a test: wake-ups from the server and the events drained so far.
struct Harness {
    server: Server,
    woken: Arc<(Mutex<bool>, Condvar)>,
    pending: Vec<Event>,
}

impl Harness {
    fn start(configure: impl FnOnce(&mut ServerConfig)) -> Self {
        let mut config = ServerConfig::new(vec![ListenerConfig {
            name: "PLAINTEXT".into(),
            host: "127.0.0.1".into(),
            port: 0,
            tls: None,
            connection_creation_rate_max: None,
        }]);
        config.network_threads = 2;
        configure(&mut config);
        let woken = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = woken.clone();
        let server = Server::start(config, move || {
            *signal.0.lock().unwrap() = true;
            signal.1.notify_all();
        })
        .expect("server starts");
        Self {
            server,
            woken,
            pending: Vec::new(),
        }
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.server.bound_listeners()[0].address).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
    }

    /// Waits for the next event matching `wanted`, keeping the others for later.
    fn next(&mut self, wanted: impl Fn(&Event) -> bool) -> Event {
        self.next_within(PATIENCE, wanted)
            .expect("the event arrives in time")
    }

    /// The next event matching `wanted` if one comes within `wait`.
    fn next_within(&mut self, wait: Duration, wanted: impl Fn(&Event) -> bool) -> Option<Event> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(index) = self.pending.iter().position(&wanted) {
                return Some(self.pending.remove(index));
            }
            let (flag, condvar) = &*self.woken;
            let mut woken = flag.lock().unwrap();
            while !*woken {
                let left = deadline.checked_duration_since(Instant::now())?;
                woken = condvar.wait_timeout(woken, left).unwrap().0;
            }
            *woken = false;
            drop(woken);
            if let Some(bytes) = self.server.drain_events() {
                self.pending.extend(decode_events(&bytes));
            }
        }
    }

    /// True if a frame of `connection` arrives within `wait` (used to show one does not).
    fn frame_within(&mut self, connection: u32, wait: Duration) -> bool {
        self.next_within(
            wait,
            |event| matches!(event, Event::Frame { connection: c, .. } if *c == connection),
        )
        .map(|event| self.pending.insert(0, event))
        .is_some()
    }

    fn opened(&mut self) -> u32 {
        match self.next(|event| matches!(event, Event::Opened { .. })) {
            Event::Opened { connection, .. } => connection,
            _ => unreachable!(),
        }
    }

    fn frame(&mut self, connection: u32) -> (u32, Vec<u8>) {
        match self
            .next(|event| matches!(event, Event::Frame { connection: c, .. } if *c == connection))
        {
            Event::Frame { seq, frame, .. } => (seq, frame),
            _ => unreachable!(),
        }
    }

    fn closed(&mut self, connection: u32) -> CloseReason {
        match self
            .next(|event| matches!(event, Event::Closed { connection: c, .. } if *c == connection))
        {
            Event::Closed { reason, .. } => reason,
            _ => unreachable!(),
        }
    }
}

fn framed(payload: &[u8]) -> Vec<u8> {
    let mut bytes = (payload.len() as i32).to_be_bytes().to_vec();
    bytes.extend_from_slice(payload);
    bytes
}

fn bytes_response(bytes: &[u8]) -> Response {
    let mut response = Response::new();
    response.push_bytes(bytes);
    response
}

fn read_exactly(stream: &mut TcpStream, count: usize) -> Vec<u8> {
    let mut bytes = vec![0; count];
    stream
        .read_exact(&mut bytes)
        .expect("response bytes arrive");
    bytes
}

/// True when the server closed `stream` (EOF or reset) within the patience.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.read(&mut byte), Ok(0) | Err(_))
}

#[test]
fn a_frame_split_across_reads_is_delivered_whole_and_answered() {
    let mut harness = Harness::start(|_| {});
    let mut client = harness.connect();
    let connection = harness.opened();
    let bytes = framed(b"hello, broker");
    client.write_all(&bytes[..2]).unwrap();
    client.flush().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    client.write_all(&bytes[2..9]).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    client.write_all(&bytes[9..]).unwrap();
    let (seq, frame) = harness.frame(connection);
    assert_eq!((seq, frame.as_slice()), (0, &b"hello, broker"[..]));
    assert!(harness
        .server
        .respond(connection, seq, bytes_response(b"reply")));
    assert_eq!(read_exactly(&mut client, 5), b"reply");
}

/// How long a test waits to see that something does NOT happen. Passing never depends on it
/// being long enough; a too-short wait can only let a broken bound pass unnoticed.
const QUIET: Duration = Duration::from_millis(200);

fn file_response(head: &[u8], file: &File, position: u64, length: u64, tail: &[u8]) -> Response {
    let mut response = Response::new();
    response.push_bytes(head);
    let fd: OwnedFd = file.try_clone().unwrap().into();
    response.push_file(Box::new(OwnedFileRegion::new(fd, position, length)));
    response.push_bytes(tail);
    response
}

fn temp_file(bytes: &[u8]) -> File {
    let path = std::env::temp_dir().join(format!(
        "sluice-net-test-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&path, bytes).unwrap();
    let file = File::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    file
}

#[test]
fn a_size_prefix_over_the_limit_closes_the_connection_and_others_carry_on() {
    let mut harness = Harness::start(|config| config.request_bytes_max = 1024);
    let mut hostile = harness.connect();
    let hostile_id = harness.opened();
    let mut good = harness.connect();
    let good_id = harness.opened();

    hostile.write_all(&(1025i32).to_be_bytes()).unwrap();
    assert_eq!(harness.closed(hostile_id), CloseReason::InvalidFrame);
    assert!(closed_by_server(&mut hostile));

    good.write_all(&framed(&[9u8; 1024])).unwrap();
    let (seq, frame) = harness.frame(good_id);
    assert_eq!(frame.len(), 1024);
    harness.server.respond(good_id, seq, bytes_response(b"ok"));
    assert_eq!(read_exactly(&mut good, 2), b"ok");
}

#[test]
fn a_negative_size_prefix_closes_the_connection_after_the_frames_before_it() {
    let mut harness = Harness::start(|_| {});
    let mut client = harness.connect();
    let id = harness.opened();
    let mut bytes = framed(b"fine");
    bytes.extend_from_slice(&(-1i32).to_be_bytes());
    client.write_all(&bytes).unwrap();
    assert_eq!(harness.frame(id), (0, b"fine".to_vec()));
    assert_eq!(harness.closed(id), CloseReason::InvalidFrame);
    assert!(closed_by_server(&mut client));
}

#[test]
fn responses_submitted_out_of_order_are_written_in_request_order_skipping_the_unanswered() {
    let mut harness = Harness::start(|_| {});
    let mut client = harness.connect();
    let id = harness.opened();
    let stream: Vec<u8> = (0..10u8).flat_map(|index| framed(&[index])).collect();
    client.write_all(&stream).unwrap();
    let frames: Vec<(u32, Vec<u8>)> = (0..10).map(|_| harness.frame(id)).collect();
    let seqs: Vec<u32> = frames.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, (0..10).collect::<Vec<_>>());
    for (seq, frame) in frames.iter().rev() {
        if seq % 4 == 2 {
            assert!(harness.server.skip(id, *seq));
        } else {
            assert!(harness
                .server
                .respond(id, *seq, bytes_response(&[b'a' + frame[0]])));
        }
    }
    assert_eq!(read_exactly(&mut client, 8), b"abdefhij");
}

#[test]
fn file_regions_go_out_with_sendfile_between_byte_parts() {
    let content: Vec<u8> = (0..4 * 1024 * 1024u32)
        .map(|index| (index % 251) as u8)
        .collect();
    let file = temp_file(&content);
    let mut harness = Harness::start(|_| {});
    let mut client = harness.connect();
    let id = harness.opened();
    client.write_all(&framed(b"fetch")).unwrap();
    client.write_all(&framed(b"fetch")).unwrap();
    let (first, _) = harness.frame(id);
    let (second, _) = harness.frame(id);
    // The whole file, larger than the socket buffers: sendfile resumes after EAGAIN.
    let length = content.len() as u64;
    harness
        .server
        .respond(id, second, file_response(b"[2", &file, 10, 100, b"]"));
    harness
        .server
        .respond(id, first, file_response(b"[1", &file, 0, length, b"]"));
    let expected: Vec<u8> = [&b"[1"[..], &content, b"]", b"[2", &content[10..110], b"]"].concat();
    assert!(read_exactly(&mut client, expected.len()) == expected);
}

#[test]
fn a_file_region_past_the_end_of_its_file_closes_the_connection() {
    let file = temp_file(&[1u8; 100]);
    let mut harness = Harness::start(|_| {});
    let mut client = harness.connect();
    let id = harness.opened();
    client.write_all(&framed(b"fetch")).unwrap();
    let (seq, _) = harness.frame(id);
    harness
        .server
        .respond(id, seq, file_response(b"", &file, 0, 200, b""));
    assert_eq!(harness.closed(id), CloseReason::IoError);
    let mut received = Vec::new();
    let _ = client.read_to_end(&mut received);
    assert!(received.len() <= 100, "never more than the file holds");
}

#[test]
fn a_connection_at_its_in_flight_limit_is_read_again_once_a_request_is_answered() {
    let mut harness = Harness::start(|config| config.in_flight_requests_per_connection_max = 2);
    let mut client = harness.connect();
    let id = harness.opened();
    client
        .write_all(&[framed(b"0"), framed(b"1")].concat())
        .unwrap();
    let (first, _) = harness.frame(id);
    harness.frame(id);
    client.write_all(&framed(b"2")).unwrap();
    assert!(
        !harness.frame_within(id, QUIET),
        "two requests are in flight"
    );
    harness.server.respond(id, first, bytes_response(b"r0"));
    assert_eq!(harness.frame(id), (2, b"2".to_vec()));
    assert_eq!(read_exactly(&mut client, 2), b"r0");
}

#[test]
fn over_the_broker_wide_request_bytes_every_connection_waits_until_an_answer() {
    let mut harness = Harness::start(|config| config.queued_request_bytes_max = 1);
    let mut first = harness.connect();
    let first_id = harness.opened();
    let mut second = harness.connect();
    let second_id = harness.opened();
    first.write_all(&framed(b"big request")).unwrap();
    let (seq, _) = harness.frame(first_id);
    second.write_all(&framed(b"waits")).unwrap();
    assert!(
        !harness.frame_within(second_id, QUIET),
        "the broker is over its bound"
    );
    assert!(harness.server.stats().reads_paused);
    harness
        .server
        .respond(first_id, seq, bytes_response(b"done"));
    assert_eq!(harness.frame(second_id), (0, b"waits".to_vec()));
    assert_eq!(read_exactly(&mut first, 4), b"done");
    drop(second);
}

#[test]
fn a_connection_with_too_many_response_bytes_queued_is_read_again_once_they_are_written() {
    let mut harness = Harness::start(|config| config.queued_response_bytes_per_connection_max = 0);
    let mut client = harness.connect();
    let id = harness.opened();
    client.write_all(&framed(b"fetch")).unwrap();
    let (seq, _) = harness.frame(id);
    // Far more than the socket buffers hold while the client does not read.
    let big = vec![7u8; 64 * 1024 * 1024];
    harness.server.respond(id, seq, bytes_response(&big));
    client.write_all(&framed(b"next")).unwrap();
    assert!(
        !harness.frame_within(id, QUIET),
        "the response is still queued"
    );
    assert!(read_exactly(&mut client, big.len()) == big);
    assert_eq!(harness.frame(id), (1, b"next".to_vec()));
}

#[test]
fn a_new_connection_from_an_address_at_its_limit_is_closed_at_once() {
    let mut harness = Harness::start(|config| config.connections_per_ip_max = 1);
    let mut first = harness.connect();
    let first_id = harness.opened();
    let mut refused = harness.connect();
    assert!(closed_by_server(&mut refused));
    assert_eq!(harness.server.stats().connections_refused_per_ip_total, 1);
    first.write_all(&framed(b"still fine")).unwrap();
    let (seq, _) = harness.frame(first_id);
    harness
        .server
        .respond(first_id, seq, bytes_response(b"yes"));
    assert_eq!(read_exactly(&mut first, 3), b"yes");
    drop(first);
    harness.closed(first_id);
    let _again = harness.connect();
    harness.opened();
}

#[test]
fn at_max_connections_the_next_client_waits_until_one_closes() {
    let mut harness = Harness::start(|config| config.connections_max = 1);
    let first = harness.connect();
    let first_id = harness.opened();
    let _waiting = harness.connect(); // Completes in the listen backlog.
    assert!(
        harness
            .next_within(QUIET, |event| matches!(event, Event::Opened { .. }))
            .is_none(),
        "no room for a second connection"
    );
    drop(first);
    assert_eq!(harness.closed(first_id), CloseReason::PeerClosed);
    harness.opened();
}

#[test]
fn idle_connections_close_but_not_while_a_request_is_in_flight() {
    let idle_max = Duration::from_millis(100);
    let mut harness = Harness::start(|config| config.connections_idle_max = Some(idle_max));
    let mut busy = harness.connect();
    let busy_id = harness.opened();
    let mut idle = harness.connect();
    let idle_id = harness.opened();
    busy.write_all(&framed(b"slow request")).unwrap();
    let (seq, _) = harness.frame(busy_id);
    assert_eq!(harness.closed(idle_id), CloseReason::Idle);
    assert!(closed_by_server(&mut idle));
    std::thread::sleep(idle_max * 3);
    harness
        .server
        .respond(busy_id, seq, bytes_response(b"finally"));
    assert_eq!(read_exactly(&mut busy, 7), b"finally");
    assert_eq!(harness.closed(busy_id), CloseReason::Idle);
}

#[test]
fn shutdown_writes_submitted_responses_before_closing() {
    let mut harness = Harness::start(|_| {});
    let mut client = harness.connect();
    let id = harness.opened();
    client.write_all(&framed(b"one")).unwrap();
    client.write_all(&framed(b"two")).unwrap();
    let (first, _) = harness.frame(id);
    let (second, _) = harness.frame(id);
    harness
        .server
        .respond(id, second, bytes_response(b"second"));
    harness.server.respond(id, first, bytes_response(b"first"));
    harness.server.shutdown(PATIENCE);
    let mut received = Vec::new();
    client.read_to_end(&mut received).unwrap();
    assert_eq!(received, b"firstsecond");
    assert_eq!(harness.closed(id), CloseReason::Shutdown);
    assert!(TcpStream::connect(harness.server.bound_listeners()[0].address).is_err());
}

#[test]
fn shutdown_closes_connections_with_unanswered_requests_at_the_deadline() {
    let mut harness = Harness::start(|_| {});
    let mut client = harness.connect();
    let id = harness.opened();
    client.write_all(&framed(b"never answered")).unwrap();
    harness.frame(id);
    harness.server.shutdown(Duration::from_millis(50));
    assert!(closed_by_server(&mut client));
    assert_eq!(harness.closed(id), CloseReason::Shutdown);
    assert_eq!(harness.server.stats().queued_request_bytes, 0);
}

#[test]
fn close_drops_queued_responses_and_reports_the_closed_connection() {
    let mut harness = Harness::start(|_| {});
    let mut client = harness.connect();
    let id = harness.opened();
    client.write_all(&framed(b"x")).unwrap();
    harness.frame(id);
    assert!(harness.server.close(id));
    assert_eq!(harness.closed(id), CloseReason::ClosedByServer);
    assert!(closed_by_server(&mut client));
    assert!(!harness.server.respond(id, 0, bytes_response(b"late")));
    assert_eq!(harness.server.stats().connections, 0);
}

#[test]
fn a_muted_connection_is_not_read_until_its_mute_ends_and_others_are_served_meanwhile() {
    let mut harness = Harness::start(|_| {});
    let mut throttled = harness.connect();
    let throttled_id = harness.opened();
    let mut other = harness.connect();
    let other_id = harness.opened();
    let mute = Duration::from_millis(600);
    assert!(harness.server.mute(throttled_id, mute));
    let muted_at = Instant::now();
    throttled.write_all(&framed(b"while muted")).unwrap();
    other.write_all(&framed(b"not muted")).unwrap();
    let (_, frame) = harness.frame(other_id);
    assert_eq!(frame, b"not muted");
    // The muted connection's frame waits in its socket for the rest of the mute.
    let (_, frame) = harness.frame(throttled_id);
    assert_eq!(frame, b"while muted");
    assert!(muted_at.elapsed() >= mute, "read before the mute ended");
    // A connection that is not open cannot be muted.
    assert!(!harness.server.mute(u32::MAX - 7, mute));
}

#[test]
fn connections_over_an_ip_connection_creation_rate_are_closed_unannounced_and_others_are_not() {
    let mut harness = Harness::start(|config| {
        config.quota_window = sluice_net::QuotaWindow {
            samples: 3,
            window: Duration::from_secs(1),
        };
    });
    harness
        .server
        .set_ip_connection_rates(None, [("127.0.0.1".parse().unwrap(), 1)]);
    // 1/s over a 2 s minimum window: the first 2 come in, the third is refused.
    let mut admitted = Vec::new();
    for _ in 0..2 {
        admitted.push(harness.connect());
        harness.opened();
    }
    let mut refused = harness.connect();
    let mut byte = [0u8; 1];
    assert_eq!(
        refused.read(&mut byte).unwrap_or(0),
        0,
        "closed, never served"
    );
    assert!(harness
        .next_within(Duration::from_millis(200), |event| matches!(
            event,
            Event::Opened { .. }
        ))
        .is_none());
    assert_eq!(harness.server.stats().connections_throttled_per_ip_total, 1);
    // Without the quota, connections come in again.
    harness.server.set_ip_connection_rates(None, []);
    let _again = harness.connect();
    harness.opened();
}
