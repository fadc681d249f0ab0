//! SSL listeners against real TCP sockets on 127.0.0.1, with a rustls client. Certificates are
//! made here with rcgen: a CA, a server certificate for localhost and 127.0.0.1, and client
//! certificates. A test thread plays JS: it waits for wake-ups, drains events, and answers
//! frames (as in `tests/server.rs`).

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use sluice_net::{
    decode_events, ClientAuth, CloseReason, Event, ListenerConfig, OwnedFileRegion, Response,
    Server, ServerConfig, TlsSettings, HANDSHAKE_TIMEOUT,
};

/// Generous bound on waiting for something that should happen promptly.
const PATIENCE: Duration = Duration::from_secs(10);

/// A CA and what it signs.
struct Authority {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its key, as PEM.
struct Identity {
    chain_pem: String,
    key_pem: String,
}

impl Authority {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self { issuer }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A certificate for `names` (DNS names or IPs) with the subject `subject` (top-down).
    fn issue(&self, names: &[&str], subject: &[(DnType, &str)]) -> Identity {
        let mut params = CertificateParams::new(
            names
                .iter()
                .map(|name| name.to_string())
                .collect::<Vec<_>>(),
        )
        .unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (kind, value) in subject {
            params.distinguished_name.push(kind.clone(), *value);
        }
        let key = KeyPair::generate().unwrap();
        let certificate = params.signed_by(&key, &self.issuer).unwrap();
        Identity {
            chain_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    fn server(&self) -> Identity {
        self.issue(
            &["localhost", "127.0.0.1"],
            &[(DnType::CommonName, "localhost")],
        )
    }
}

fn settings(
    server: &Identity,
    client_auth: ClientAuth,
    trusted: Option<&Authority>,
) -> TlsSettings {
    TlsSettings {
        certificate_chain_pem: server.chain_pem.clone(),
        private_key_pem: server.key_pem.clone(),
        trusted_certificates_pem: trusted.map(Authority::pem),
        client_auth,
        protocols: None,
        cipher_suites: None,
    }
}

/// The JS side of a test: wake-ups from the server and the events drained so far.
struct Harness {
    server: Server,
    woken: Arc<(Mutex<bool>, Condvar)>,
    pending: Vec<Event>,
}

impl Harness {
    /// A server with a PLAINTEXT listener (index 0) and an SSL one (index 1).
    fn start(tls: TlsSettings, configure: impl FnOnce(&mut ServerConfig)) -> Self {
        let listener = |name: &str, tls| ListenerConfig {
            name: name.into(),
            host: "127.0.0.1".into(),
            port: 0,
            tls,
            connection_creation_rate_max: None,
        };
        let mut config = ServerConfig::new(vec![
            listener("PLAINTEXT", None),
            listener("SSL", Some(tls)),
        ]);
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

    fn address(&self, index: usize) -> SocketAddr {
        self.server.bound_listeners()[index].address
    }

    fn tcp(&self, index: usize) -> TcpStream {
        let stream = TcpStream::connect(self.address(index)).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
    }

    /// A TLS client on the SSL listener; the handshake runs on its first read or write.
    fn tls(&self, client: &Arc<ClientConfig>) -> StreamOwned<ClientConnection, TcpStream> {
        let name = ServerName::try_from("localhost").unwrap();
        let session = ClientConnection::new(client.clone(), name).unwrap();
        StreamOwned::new(session, self.tcp(1))
    }

    /// Waits for the next event matching `wanted`, keeping the others for later.
    fn next(&mut self, wanted: impl Fn(&Event) -> bool) -> Event {
        self.next_within(PATIENCE, wanted)
            .expect("the event arrives in time")
    }

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

    /// The next Opened: (connection, listener index, tls, peer subject).
    fn opened(&mut self) -> (u32, u16, bool, Option<String>) {
        match self.next(|event| matches!(event, Event::Opened { .. })) {
            Event::Opened {
                connection,
                listener_index,
                tls,
                peer_subject,
                ..
            } => (connection, listener_index, tls, peer_subject),
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

    fn handshake_failed(&mut self) -> String {
        self.handshake_failed_within(PATIENCE)
    }

    fn handshake_failed_within(&mut self, wait: Duration) -> String {
        let event = self.next_within(wait, |event| {
            matches!(event, Event::TlsHandshakeFailed { .. })
        });
        match event.expect("the handshake failure is reported in time") {
            Event::TlsHandshakeFailed {
                listener_index,
                message,
                ..
            } => {
                assert_eq!(listener_index, 1);
                message
            }
            _ => unreachable!(),
        }
    }

    /// Answers the next frame of `connection` with `reply`, after checking it is `request`.
    fn answer(&mut self, connection: u32, request: &[u8], reply: Response) {
        let (seq, frame) = self.frame(connection);
        assert_eq!(frame, request);
        assert!(self.server.respond(connection, seq, reply));
    }
}

fn client_config(
    trusted: &Authority,
    identity: Option<&Identity>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(trusted.pem().as_bytes()).unwrap())
        .unwrap();
    #[allow(deprecated)] // ring: no post-quantum key exchange, as on the server
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some(identity) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(identity.chain_pem.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap(),
                PrivateKeyDer::from_pem_slice(identity.key_pem.as_bytes()).unwrap(),
            )
            .unwrap(),
    };
    Arc::new(config)
}

const BOTH: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

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

fn read_exactly(stream: &mut impl Read, count: usize) -> Vec<u8> {
    let mut bytes = vec![0; count];
    stream
        .read_exact(&mut bytes)
        .expect("response bytes arrive");
    bytes
}

/// Sends a frame and expects `reply` back (the harness answers on the test thread, so the
/// client writes first and reads after the answer).
fn round_trip(
    harness: &mut Harness,
    client: &mut impl ReadWrite,
    connection: u32,
    request: &[u8],
    reply: &[u8],
) {
    client.write_all(&framed(request)).unwrap();
    client.flush().unwrap();
    harness.answer(connection, request, bytes_response(reply));
    assert_eq!(read_exactly(client, reply.len()), reply);
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// True when the TLS handshake of `client` fails (or the server closes it).
fn handshake_fails(client: &mut StreamOwned<ClientConnection, TcpStream>) -> bool {
    // With TLS 1.3 the client finishes its side first: the refusal shows on the next read.
    if client.write_all(&framed(b"hello")).is_err() {
        return true;
    }
    let _ = client.flush();
    let mut byte = [0u8; 1];
    matches!(client.read(&mut byte), Ok(0) | Err(_))
}

#[test]
fn a_request_round_trips_over_tls_beside_a_plaintext_listener() {
    let ca = Authority::new("Sluice test CA");
    let mut harness = Harness::start(settings(&ca.server(), ClientAuth::None, None), |_| {});

    let mut plain = harness.tcp(0);
    let (plain_id, listener, tls, subject) = harness.opened();
    assert_eq!((listener, tls, subject), (0, false, None));
    round_trip(&mut harness, &mut plain, plain_id, b"plain", b"PLAIN");

    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let mut client = harness.tls(&client_config(&ca, None, versions));
        client.write_all(&framed(b"hello, broker")).unwrap();
        let (connection, listener, tls, subject) = harness.opened();
        assert_eq!((listener, tls, subject), (1, true, None));
        harness.answer(connection, b"hello, broker", bytes_response(b"reply"));
        assert_eq!(read_exactly(&mut client, 5), b"reply");
        assert_eq!(
            client.conn.protocol_version(),
            Some(versions[0].version),
            "the version the client asked for"
        );
        round_trip(&mut harness, &mut client, connection, b"again", b"AGAIN");
    }
    assert_eq!(harness.server.stats().tls_handshake_failures_total, 0);
}

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
        "sluice-net-tls-test-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&path, bytes).unwrap();
    let file = File::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    file
}

#[test]
fn a_file_region_of_several_mebibytes_goes_out_encrypted_byte_for_byte() {
    let ca = Authority::new("Sluice test CA");
    // Small socket buffers: the writes meet a full socket many times.
    let mut harness = Harness::start(settings(&ca.server(), ClientAuth::None, None), |config| {
        config.socket_send_buffer_bytes = Some(32 * 1024);
    });
    let content: Vec<u8> = (0..9_000_000u32)
        .map(|index| (index.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let file = temp_file(&content);
    let mut client = harness.tls(&client_config(&ca, None, BOTH));
    client.write_all(&framed(b"fetch")).unwrap();
    let (connection, ..) = harness.opened();
    let (seq, _) = harness.frame(connection);
    let (position, length) = (7u64, content.len() as u64 - 100);
    assert!(harness.server.respond(
        connection,
        seq,
        file_response(b"head:", &file, position, length, b":tail")
    ));
    // A second response behind the large one keeps its order.
    client.write_all(&framed(b"next")).unwrap();
    let (next_seq, _) = harness.frame(connection);
    assert!(harness
        .server
        .respond(connection, next_seq, bytes_response(b"second")));

    let expected = [
        &b"head:"[..],
        &content[position as usize..(position + length) as usize],
        b":tail",
        b"second",
    ]
    .concat();
    let received = read_exactly(&mut client, expected.len());
    assert!(received == expected, "the bytes differ");
    let stats = harness.server.stats();
    assert_eq!(stats.queued_response_bytes, 0);
}

#[test]
fn required_client_auth_refuses_a_client_without_a_certificate_and_serves_the_others() {
    let ca = Authority::new("Sluice test CA");
    let stranger_ca = Authority::new("Someone else's CA");
    let mut harness = Harness::start(
        settings(&ca.server(), ClientAuth::Required, Some(&ca)),
        |_| {},
    );
    let identity = ca.issue(&[], &[(DnType::CommonName, "good client")]);
    let mut good = harness.tls(&client_config(&ca, Some(&identity), BOTH));
    good.write_all(&framed(b"first")).unwrap();
    let (good_id, _, _, subject) = harness.opened();
    assert_eq!(subject.as_deref(), Some("CN=good client"));

    // No certificate, in TLS 1.3 and 1.2; then a certificate from a CA the server does not trust.
    let mut anonymous = harness.tls(&client_config(&ca, None, BOTH));
    assert!(handshake_fails(&mut anonymous));
    assert!(harness.handshake_failed().contains("no certificates"));
    let mut anonymous = harness.tls(&client_config(&ca, None, &[&rustls::version::TLS12]));
    assert!(handshake_fails(&mut anonymous));
    harness.handshake_failed();
    let outsider = stranger_ca.issue(&[], &[(DnType::CommonName, "outsider")]);
    let mut outsider = harness.tls(&client_config(&ca, Some(&outsider), BOTH));
    assert!(handshake_fails(&mut outsider));
    assert!(harness.handshake_failed().contains("UnknownIssuer"));

    // The good client was not disturbed.
    harness.answer(good_id, b"first", bytes_response(b"one"));
    assert_eq!(read_exactly(&mut good, 3), b"one");
    round_trip(&mut harness, &mut good, good_id, b"second", b"two");

    let stats = harness.server.stats();
    assert_eq!(stats.tls_handshake_failures_total, 3);
    assert_eq!(
        stats.connections_closed_total[CloseReason::TlsHandshakeFailed.code() as usize],
        3
    );
    assert!(
        harness
            .next_within(Duration::from_millis(100), |event| matches!(
                event,
                Event::Closed { .. } | Event::Opened { .. }
            ))
            .is_none(),
        "refused connections are never opened or closed"
    );
}

#[test]
fn opened_carries_the_client_certificate_subject_as_java_prints_it() {
    let ca = Authority::new("Sluice test CA");
    let mut harness = Harness::start(
        settings(&ca.server(), ClientAuth::Requested, Some(&ca)),
        |_| {},
    );
    let identity = ca.issue(
        &[],
        &[
            (DnType::CountryName, "US"),
            (DnType::OrganizationName, "Acme, Inc."),
            (DnType::OrganizationalUnitName, "eng"),
            (DnType::CommonName, "client"),
        ],
    );
    let mut client = harness.tls(&client_config(&ca, Some(&identity), BOTH));
    client.write_all(&framed(b"who am i")).unwrap();
    let (connection, _, tls, subject) = harness.opened();
    assert!(tls);
    assert_eq!(
        subject.as_deref(),
        Some(r"CN=client,OU=eng,O=Acme\, Inc.,C=US")
    );
    harness.answer(connection, b"who am i", bytes_response(b"ok"));
    assert_eq!(read_exactly(&mut client, 2), b"ok");

    // Requested, not required: a client without a certificate is served, with no subject.
    let mut anonymous = harness.tls(&client_config(&ca, None, BOTH));
    anonymous.write_all(&framed(b"anyone")).unwrap();
    let (anonymous_id, _, tls, subject) = harness.opened();
    assert_eq!((tls, subject), (true, None));
    harness.answer(anonymous_id, b"anyone", bytes_response(b"yes"));
    assert_eq!(read_exactly(&mut anonymous, 3), b"yes");
}

#[test]
fn a_stalled_handshake_delays_no_one_and_is_closed_after_the_timeout() {
    let ca = Authority::new("Sluice test CA");
    let mut harness = Harness::start(settings(&ca.server(), ClientAuth::None, None), |config| {
        config.network_threads = 1; // the stalled clients and the good one share the reactor
    });
    let started = Instant::now();
    let mut silent = harness.tcp(1);
    let mut partial = harness.tcp(1);
    partial
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .unwrap(); // a ClientHello's start

    let mut client = harness.tls(&client_config(&ca, None, BOTH));
    client.write_all(&framed(b"quick")).unwrap();
    let (connection, ..) = harness.opened();
    harness.answer(connection, b"quick", bytes_response(b"served"));
    assert_eq!(read_exactly(&mut client, 6), b"served");
    assert!(started.elapsed() < Duration::from_secs(2), "served at once");

    let message = harness.handshake_failed_within(HANDSHAKE_TIMEOUT + PATIENCE);
    assert_eq!(message, "no TLS handshake within 10 s");
    harness.handshake_failed_within(PATIENCE);
    assert!(started.elapsed() >= HANDSHAKE_TIMEOUT);
    let mut byte = [0u8; 1];
    assert!(matches!(silent.read(&mut byte), Ok(0) | Err(_)));
    assert!(matches!(partial.read(&mut byte), Ok(0) | Err(_)));
    assert_eq!(harness.server.stats().tls_handshake_failures_total, 2);
    // The established client is untouched by the sweep.
    round_trip(&mut harness, &mut client, connection, b"still", b"here");
}

#[test]
fn reload_tls_switches_the_certificate_for_new_connections_only() {
    let old_ca = Authority::new("Old CA");
    let new_ca = Authority::new("New CA");
    let mut harness = Harness::start(settings(&old_ca.server(), ClientAuth::None, None), |_| {});
    let mut before = harness.tls(&client_config(&old_ca, None, BOTH));
    before.write_all(&framed(b"before")).unwrap();
    let (before_id, ..) = harness.opened();
    harness.answer(before_id, b"before", bytes_response(b"1"));
    assert_eq!(read_exactly(&mut before, 1), b"1");

    harness
        .server
        .reload_tls("SSL", &settings(&new_ca.server(), ClientAuth::None, None))
        .unwrap();
    let mut trusting_new = harness.tls(&client_config(&new_ca, None, BOTH));
    trusting_new.write_all(&framed(b"new")).unwrap();
    let (new_id, ..) = harness.opened();
    harness.answer(new_id, b"new", bytes_response(b"2"));
    assert_eq!(read_exactly(&mut trusting_new, 1), b"2");
    let mut trusting_old = harness.tls(&client_config(&old_ca, None, BOTH));
    assert!(
        handshake_fails(&mut trusting_old),
        "the old certificate is gone"
    );
    harness.handshake_failed();
    // The connection made before the reload goes on with its session.
    round_trip(&mut harness, &mut before, before_id, b"later", b"3");

    // Refused settings leave the current ones in place.
    let mut broken = settings(&new_ca.server(), ClientAuth::None, None);
    broken.private_key_pem = old_ca.server().key_pem;
    let error = harness.server.reload_tls("SSL", &broken).unwrap_err();
    assert!(error.to_string().starts_with("listener SSL: "), "{error}");
    let error = harness
        .server
        .reload_tls(
            "PLAINTEXT",
            &settings(&new_ca.server(), ClientAuth::None, None),
        )
        .unwrap_err();
    assert!(error.to_string().contains("not an SSL listener"), "{error}");
    assert!(harness.server.reload_tls("NOPE", &broken).is_err());
    let mut still_new = harness.tls(&client_config(&new_ca, None, BOTH));
    still_new.write_all(&framed(b"after")).unwrap();
    let (after_id, ..) = harness.opened();
    harness.answer(after_id, b"after", bytes_response(b"4"));
    assert_eq!(read_exactly(&mut still_new, 1), b"4");
}

#[test]
fn invalid_settings_stop_the_server_from_starting_and_name_the_listener() {
    let ca = Authority::new("Sluice test CA");
    let mut bad = settings(&ca.server(), ClientAuth::Required, None);
    let config = |tls: TlsSettings| {
        ServerConfig::new(vec![ListenerConfig {
            name: "INTERNAL_SSL".into(),
            host: "127.0.0.1".into(),
            port: 0,
            tls: Some(tls),
            connection_creation_rate_max: None,
        }])
    };
    let error = Server::start(config(bad.clone()), || {}).err().unwrap();
    assert!(
        error
            .to_string()
            .starts_with("listener INTERNAL_SSL: TLS settings refused: client auth required"),
        "{error}"
    );
    bad.client_auth = ClientAuth::None;
    bad.certificate_chain_pem =
        "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n".into();
    let error = Server::start(config(bad), || {}).err().unwrap();
    assert!(error.to_string().contains("INTERNAL_SSL"), "{error}");
}

#[test]
fn a_client_that_stops_reading_mid_handshake_is_closed_by_the_idle_sweep_too() {
    // connections.max.idle.ms below the handshake bound: the idle sweep gets there first.
    let ca = Authority::new("Sluice test CA");
    let mut harness = Harness::start(settings(&ca.server(), ClientAuth::None, None), |config| {
        config.connections_idle_max = Some(Duration::from_millis(200));
    });
    let mut silent = harness.tcp(1);
    let mut byte = [0u8; 1];
    let started = Instant::now();
    assert!(matches!(silent.read(&mut byte), Ok(0) | Err(_)));
    assert!(started.elapsed() < Duration::from_secs(5));
    let stats = harness.server.stats();
    assert_eq!(
        stats.connections_closed_total[CloseReason::Idle.code() as usize],
        1
    );
    // Never announced: no event at all.
    assert!(harness
        .next_within(Duration::from_millis(100), |_| true)
        .is_none());
}
