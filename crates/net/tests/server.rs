//! The server against real TCP sockets on 127.0.0.1. A test thread plays JS: it waits for
//! wake-ups, drains events, and answers frames.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
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
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(index) = self.pending.iter().position(&wanted) {
                return self.pending.remove(index);
            }
            let (flag, condvar) = &*self.woken;
            let mut woken = flag.lock().unwrap();
            while !*woken {
                let left = deadline
                    .checked_duration_since(Instant::now())
                    .expect("event arrives in time");
                woken = condvar.wait_timeout(woken, left).unwrap().0;
            }
            *woken = false;
            drop(woken);
            if let Some(bytes) = self.server.drain_events() {
                self.pending.extend(decode_events(&bytes));
            }
        }
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
