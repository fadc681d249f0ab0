//! TLS termination for SSL listeners, on the reactor threads, with rustls (the `ring`
//! provider).
//!
//! A TLS connection reads ciphertext from its socket into the reactor's read buffer, feeds it
//! to its `rustls::ServerConnection`, and hands the plaintext to the same frame decoder a
//! plaintext connection uses. Responses are encrypted on the reactor: byte parts as they are,
//! file regions read with `pread` in chunks of the reactor's read buffer (`sendfile` cannot
//! encrypt), so at most one chunk of a region is in memory at a time. rustls holds at most
//! [`SENDABLE_BYTES_MAX`] of ciphertext per connection; the reactor's write budget bounds the
//! work per turn as for plaintext. PLAINTEXT listeners never touch this module.
//!
//! The handshake is non-blocking like everything else; a connection that has not completed it
//! within [`HANDSHAKE_TIMEOUT`] is closed, so a client that stalls mid-handshake holds a
//! socket for at most that long and never holds a thread.
//!
//! [`client_config`] is the other direction: the rustls configuration of connections this
//! broker opens to another broker's inter-broker listener (the replica fetchers' links, on
//! their own threads with blocking I/O; see `crates/node/src/replica.rs`).

use std::io::{self, BufRead};
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::ring as provider;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, SupportedCipherSuite};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};

use crate::config::{ClientAuth, ClientTlsSettings, TlsSettings};
use crate::framing::FrameError;

/// A TLS connection that has not completed its handshake this long after it was accepted is
/// closed ([`CloseReason::TlsHandshakeFailed`](crate::CloseReason::TlsHandshakeFailed)).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// rustls' bound on the ciphertext (and pre-handshake plaintext) one connection buffers: the
/// reactor encrypts more only once this is written to the socket. Also the most plaintext
/// one call encrypts, so a file chunk of the read buffer's size is taken whole.
pub(crate) const SENDABLE_BYTES_MAX: usize = 64 * 1024;

/// Why TLS settings cannot be used; the message says what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfigError(pub String);

impl std::fmt::Display for TlsConfigError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for TlsConfigError {}

fn invalid(message: impl Into<String>) -> TlsConfigError {
    TlsConfigError(message.into())
}

/// Kafka's `ssl.cipher.suites` names (IANA, as JSSE spells them) of the suites rustls serves.
const CIPHER_SUITES: [(&str, SupportedCipherSuite); 9] = [
    (
        "TLS_AES_128_GCM_SHA256",
        provider::cipher_suite::TLS13_AES_128_GCM_SHA256,
    ),
    (
        "TLS_AES_256_GCM_SHA384",
        provider::cipher_suite::TLS13_AES_256_GCM_SHA384,
    ),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        provider::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        provider::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        provider::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        provider::cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        provider::cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        provider::cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        provider::cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// rustls' ring provider: X25519, P-256 and P-384 key exchange, no post-quantum hybrid
/// (X25519MLKEM768 needs the aws-lc-rs provider and its C/assembly build). rustls marks the
/// provider deprecated for that reason alone; the JVMs Kafka runs on offer no post-quantum key
/// exchange before Java 24 either.
#[allow(deprecated)]
fn ring_provider() -> CryptoProvider {
    provider::default_provider()
}

/// Checks `settings` and builds the rustls configuration every new connection of the listener
/// starts from. Errors name the problem (not the listener: the caller adds it).
pub(crate) fn server_config(settings: &TlsSettings) -> Result<Arc<ServerConfig>, TlsConfigError> {
    let provider = Arc::new(CryptoProvider {
        cipher_suites: cipher_suites(settings.cipher_suites.as_deref())?,
        ..ring_provider()
    });
    let versions = protocol_versions(settings.protocols.as_deref())?;
    let chain = certificates(&settings.certificate_chain_pem, "certificate chain")?;
    let key =
        PrivateKeyDer::from_pem_slice(settings.private_key_pem.as_bytes()).map_err(|error| {
            invalid(format!(
                "the private key PEM holds no unencrypted PKCS#8, PKCS#1 or SEC1 key ({error})"
            ))
        })?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|error| invalid(format!("protocols and cipher suites: {error}")))?;
    let builder =
        match settings.client_auth {
            ClientAuth::None => builder.with_no_client_auth(),
            auth @ (ClientAuth::Requested | ClientAuth::Required) => {
                let pem =
                    settings
                        .trusted_certificates_pem
                        .as_deref()
                        .ok_or_else(|| {
                            invalid(format!(
                    "client auth {} needs trusted certificates (a truststore) to verify \
                     client certificates",
                    if auth == ClientAuth::Required { "required" } else { "requested" }
                ))
                        })?;
                let mut roots = RootCertStore::empty();
                for certificate in certificates(pem, "trusted certificates")? {
                    roots.add(certificate).map_err(|error| {
                        invalid(format!("a trusted certificate cannot be used: {error}"))
                    })?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
                let verifier = if auth == ClientAuth::Requested {
                    verifier.allow_unauthenticated()
                } else {
                    verifier
                };
                let verifier = verifier
                    .build()
                    .map_err(|error| invalid(format!("client certificate verifier: {error}")))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
    let config = builder.with_single_cert(chain, key).map_err(|error| {
        invalid(format!(
            "the certificate chain and private key cannot be used: {error}"
        ))
    })?;
    Ok(Arc::new(config))
}

/// Checks `settings` and builds the rustls configuration of a client connection to another
/// broker (see [`ClientTlsSettings`]). Errors name the problem.
pub fn client_config(settings: &ClientTlsSettings) -> Result<Arc<ClientConfig>, TlsConfigError> {
    let provider = Arc::new(CryptoProvider {
        cipher_suites: cipher_suites(settings.cipher_suites.as_deref())?,
        ..ring_provider()
    });
    let versions = protocol_versions(settings.protocols.as_deref())?;
    let mut roots = RootCertStore::empty();
    for certificate in certificates(&settings.trusted_certificates_pem, "trusted certificates")? {
        roots
            .add(certificate)
            .map_err(|error| invalid(format!("a trusted certificate cannot be used: {error}")))?;
    }
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|error| invalid(format!("server certificate verifier: {error}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = if settings.verify_hostname {
        verifier
    } else {
        Arc::new(AnyHostName(verifier))
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|error| invalid(format!("protocols and cipher suites: {error}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match (&settings.certificate_chain_pem, &settings.private_key_pem) {
        (Some(chain), Some(key)) => {
            let chain = certificates(chain, "certificate chain")?;
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|error| {
                invalid(format!(
                    "the private key PEM holds no unencrypted PKCS#8, PKCS#1 or SEC1 key ({error})"
                ))
            })?;
            builder.with_client_auth_cert(chain, key).map_err(|error| {
                invalid(format!(
                    "the certificate chain and private key cannot be used: {error}"
                ))
            })?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(invalid(
                "a client certificate chain needs its private key and a key its chain",
            ))
        }
    };
    Ok(Arc::new(config))
}

/// Kafka's `ssl.endpoint.identification.algorithm=` (empty): the server's chain must lead to a
/// trusted CA, but its certificate need not name the host. webpki checks the name last, after
/// the chain, so a name mismatch is the only error this verifier forgives.
#[derive(Debug)]
struct AnyHostName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0
            .verify_tls12_signature(message, certificate, signature)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0
            .verify_tls13_signature(message, certificate, signature)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Every certificate of a PEM text; an error when there is none or one is malformed.
fn certificates(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let certificates = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| invalid(format!("the {what} PEM is malformed: {error}")))?;
    if certificates.is_empty() {
        return Err(invalid(format!(
            "the {what} PEM holds no certificate (-----BEGIN CERTIFICATE-----)"
        )));
    }
    Ok(certificates)
}

fn protocol_versions(
    names: Option<&[String]>,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, TlsConfigError> {
    let Some(names) = names else {
        return Ok(vec![&rustls::version::TLS13, &rustls::version::TLS12]);
    };
    let mut versions = Vec::new();
    let mut refused = Vec::new();
    for name in names {
        match name.trim() {
            "TLSv1.3" => versions.push(&rustls::version::TLS13),
            "TLSv1.2" => versions.push(&rustls::version::TLS12),
            other => refused.push(other.to_string()),
        }
    }
    if !refused.is_empty() {
        return Err(invalid(format!(
            "protocols {} are not supported (only TLSv1.2 and TLSv1.3)",
            refused.join(", ")
        )));
    }
    if versions.is_empty() {
        return Err(invalid("no protocol is enabled"));
    }
    versions.dedup();
    Ok(versions)
}

/// The named suites rustls knows; names it does not know are left out, as Kafka leaves out
/// suites its JVM lacks, unless none is left.
fn cipher_suites(names: Option<&[String]>) -> Result<Vec<SupportedCipherSuite>, TlsConfigError> {
    let Some(names) = names else {
        return Ok(ring_provider().cipher_suites);
    };
    let mut suites = Vec::new();
    for name in names {
        let name = name.trim();
        if let Some((_, suite)) = CIPHER_SUITES
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
        {
            if !suites.contains(suite) {
                suites.push(*suite);
            }
        }
    }
    if suites.is_empty() {
        return Err(invalid(format!(
            "none of the cipher suites {} is supported (supported: {})",
            names.join(", "),
            CIPHER_SUITES.map(|(name, _)| name).join(", ")
        )));
    }
    Ok(suites)
}

/// What [`TlsSession::receive`] hands its caller, in order.
pub(crate) enum TlsEvent<'a> {
    /// The handshake completed; the client certificate's subject (RFC 2253) if it sent one.
    Established { peer_subject: Option<&'a str> },
    /// Decrypted bytes of the client's stream.
    Plaintext(&'a [u8]),
}

/// What one [`TlsSession::receive`] learned besides plaintext.
#[derive(Debug, Default)]
pub(crate) struct Received {
    /// The peer sent `close_notify` (or the socket reached its end): no more plaintext.
    pub(crate) peer_closed: bool,
}

/// A connection's TLS state on its reactor.
pub(crate) struct TlsSession {
    session: ServerConnection,
    /// The handshake completed and the connection was announced to JS.
    established: bool,
}

/// Why a TLS connection cannot go on.
#[derive(Debug)]
pub(crate) enum TlsFailure {
    /// The handshake failed (the alert is queued for the peer): `message` says why.
    Handshake(String),
    /// A record after the handshake was bad (the alert is queued for the peer).
    Protocol(String),
    /// The plaintext does not frame (a bad size prefix).
    Frame(FrameError),
    Io(io::Error),
}

impl TlsSession {
    pub(crate) fn new(config: Arc<ServerConfig>) -> Result<Self, rustls::Error> {
        let mut session = ServerConnection::new(config)?;
        session.set_buffer_limit(Some(SENDABLE_BYTES_MAX));
        Ok(Self {
            session,
            established: false,
        })
    }

    /// Ciphertext (handshake, alerts, responses) waits to be written.
    pub(crate) fn wants_write(&self) -> bool {
        self.session.wants_write()
    }

    /// Feeds one read's ciphertext to rustls and hands `on` what it yields: the completion of
    /// the handshake, then each piece of plaintext in order (they may come from the same read:
    /// a client may send its first request right behind its last handshake message).
    pub(crate) fn receive(
        &mut self,
        mut ciphertext: &[u8],
        mut on: impl FnMut(TlsEvent<'_>) -> Result<(), TlsFailure>,
    ) -> Result<Received, TlsFailure> {
        let mut received = Received::default();
        // Never hand rustls an empty slice: it takes a read of 0 bytes as the socket's end.
        while !ciphertext.is_empty() {
            let taken = self
                .session
                .read_tls(&mut ciphertext)
                .map_err(TlsFailure::Io)?;
            if taken == 0 {
                // Only after close_notify: what follows it is ignored.
                received.peer_closed = true;
                return Ok(received);
            }
            if let Err(error) = self.session.process_new_packets() {
                return Err(if self.established {
                    TlsFailure::Protocol(error.to_string())
                } else {
                    TlsFailure::Handshake(error.to_string())
                });
            }
            if !self.established && !self.session.is_handshaking() {
                let subject = match self.session.peer_certificates() {
                    None => None,
                    Some(chain) => Some(
                        chain
                            .first()
                            .and_then(|leaf| crate::x500::certificate_subject(leaf))
                            .ok_or_else(|| {
                                TlsFailure::Handshake(
                                    "the client certificate's subject cannot be read".into(),
                                )
                            })?,
                    ),
                };
                self.established = true;
                on(TlsEvent::Established {
                    peer_subject: subject.as_deref(),
                })?;
            }
            loop {
                let mut reader = self.session.reader();
                match reader.fill_buf() {
                    Ok([]) => {
                        received.peer_closed = true;
                        break;
                    }
                    Ok(plaintext) => {
                        let length = plaintext.len();
                        on(TlsEvent::Plaintext(plaintext))?;
                        reader.consume(length);
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                    Err(error) => return Err(TlsFailure::Io(error)),
                }
            }
        }
        Ok(received)
    }

    /// Writes queued ciphertext until none is left or the socket would block; the bytes
    /// written.
    pub(crate) fn write_pending(&mut self, socket: RawFd) -> io::Result<u64> {
        let mut written = 0;
        while self.session.wants_write() {
            match self.session.write_tls(&mut SocketWriter(socket)) {
                Ok(count) => written += count as u64,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) => return Err(error),
            }
        }
        Ok(written)
    }

    /// Encrypts up to [`SENDABLE_BYTES_MAX`] of `plaintext`; the bytes taken.
    pub(crate) fn encrypt(&mut self, plaintext: &[u8]) -> io::Result<usize> {
        io::Write::write(&mut self.session.writer(), plaintext)
    }

    /// Queues `close_notify` and writes what the socket takes now (best effort: the
    /// connection is closing).
    pub(crate) fn close(&mut self, socket: RawFd) {
        if self.established {
            self.session.send_close_notify();
        }
        let _ = self.write_pending(socket);
    }
}

/// `io::Write` on a socket descriptor with `sendmsg` and `MSG_NOSIGNAL` (a peer that went
/// away is an EPIPE error, not a SIGPIPE), vectored: rustls hands over its queued records
/// at once.
struct SocketWriter(RawFd);

/// Records gathered into one `sendmsg`.
const IOVECS_PER_WRITE_MAX: usize = 64;

impl io::Write for SocketWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[io::IoSlice::new(bytes)])
    }

    fn write_vectored(&mut self, slices: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let count = slices.len().min(IOVECS_PER_WRITE_MAX);
        // SAFETY: a zeroed msghdr is valid (no address, no control data); `IoSlice` has the
        // layout of `iovec` on Unix, and the slices are alive and unchanged for the call.
        let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
        message.msg_iov = slices.as_ptr() as *mut libc::iovec;
        message.msg_iovlen = count as _;
        let sent = unsafe { libc::sendmsg(self.0, &message, libc::MSG_NOSIGNAL) };
        if sent < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(sent as usize)
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(key_pem: String, chain_pem: String) -> TlsSettings {
        TlsSettings {
            certificate_chain_pem: chain_pem,
            private_key_pem: key_pem,
            trusted_certificates_pem: None,
            client_auth: ClientAuth::None,
            protocols: None,
            cipher_suites: None,
        }
    }

    fn valid() -> TlsSettings {
        let key = rcgen::KeyPair::generate().unwrap();
        let certificate = rcgen::CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        settings(key.serialize_pem(), certificate.pem())
    }

    fn error_of(settings: &TlsSettings) -> String {
        server_config(settings).expect_err("refused").0
    }

    #[test]
    fn good_settings_build_a_config() {
        assert!(server_config(&valid()).is_ok());
    }

    #[test]
    fn bad_pem_and_a_key_of_another_certificate_are_refused() {
        let mut bad = valid();
        bad.certificate_chain_pem = "not a certificate".into();
        assert!(
            error_of(&bad).contains("holds no certificate"),
            "{}",
            error_of(&bad)
        );

        let mut bad = valid();
        bad.private_key_pem =
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into();
        assert!(error_of(&bad).contains("private key"), "{}", error_of(&bad));

        let mut bad = valid();
        bad.private_key_pem = rcgen::KeyPair::generate().unwrap().serialize_pem();
        assert!(
            error_of(&bad).contains("cannot be used"),
            "{}",
            error_of(&bad)
        );
    }

    #[test]
    fn client_auth_without_trusted_certificates_is_refused() {
        for auth in [ClientAuth::Requested, ClientAuth::Required] {
            let mut bad = valid();
            bad.client_auth = auth;
            assert!(error_of(&bad).contains("needs trusted certificates"));
        }
    }

    #[test]
    fn protocols_other_than_tls_1_2_and_1_3_are_refused_by_name() {
        let mut bad = valid();
        bad.protocols = Some(vec!["TLSv1.2".into(), "TLSv1.1".into(), "SSLv3".into()]);
        assert_eq!(
            error_of(&bad),
            "protocols TLSv1.1, SSLv3 are not supported (only TLSv1.2 and TLSv1.3)"
        );
        bad.protocols = Some(vec![]);
        assert_eq!(error_of(&bad), "no protocol is enabled");
    }

    #[test]
    fn unknown_cipher_suites_are_ignored_while_a_known_one_remains() {
        let mut settings = valid();
        settings.cipher_suites = Some(vec![
            "TLS_RSA_WITH_AES_128_CBC_SHA".into(),
            "TLS_AES_256_GCM_SHA384".into(),
        ]);
        let config = server_config(&settings).unwrap();
        assert_eq!(config.crypto_provider().cipher_suites.len(), 1);

        settings.cipher_suites = Some(vec!["TLS_RSA_WITH_AES_128_CBC_SHA".into()]);
        assert!(error_of(&settings).starts_with("none of the cipher suites"));

        // Only TLS 1.3 suites with only TLS 1.2 enabled: nothing usable.
        settings.cipher_suites = Some(vec!["TLS_AES_128_GCM_SHA256".into()]);
        settings.protocols = Some(vec!["TLSv1.2".into()]);
        assert!(error_of(&settings).contains("no usable cipher suites"));
    }

    /// A CA, and a certificate it signed for `names` (its PEM chain and key).
    struct Pki {
        ca_pem: String,
        chain_pem: String,
        key_pem: String,
    }

    fn signed_for(names: &[&str]) -> Pki {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        // A name of its own: a chain is matched to its CA by name first.
        static CAS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let serial = CAS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("Test CA {serial}"));
        let ca =
            rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
                .unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let leaf = rcgen::CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        Pki {
            ca_pem: ca.pem(),
            chain_pem: leaf.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    fn client_settings(trusted: &str, verify_hostname: bool) -> ClientTlsSettings {
        ClientTlsSettings {
            certificate_chain_pem: None,
            private_key_pem: None,
            trusted_certificates_pem: trusted.to_string(),
            verify_hostname,
            protocols: None,
            cipher_suites: None,
        }
    }

    /// Runs a handshake in memory; the client's error if it fails.
    fn handshake(
        client: Arc<ClientConfig>,
        server: Arc<ServerConfig>,
        name: &str,
    ) -> Result<(), rustls::Error> {
        let name = ServerName::try_from(name.to_string()).unwrap();
        let mut client = rustls::ClientConnection::new(client, name)?;
        let mut server = ServerConnection::new(server)?;
        for _ in 0..16 {
            let mut bytes = Vec::new();
            while client.wants_write() {
                client.write_tls(&mut bytes).unwrap();
            }
            if !bytes.is_empty() {
                server.read_tls(&mut bytes.as_slice()).unwrap();
                if server.process_new_packets().is_err() {
                    // The alert goes to the client, whose error says why.
                }
            }
            let mut bytes = Vec::new();
            while server.wants_write() {
                server.write_tls(&mut bytes).unwrap();
            }
            if !bytes.is_empty() {
                client.read_tls(&mut bytes.as_slice()).unwrap();
                client.process_new_packets()?;
            }
            if !client.is_handshaking() && !server.is_handshaking() {
                return Ok(());
            }
        }
        panic!("the handshake did not complete");
    }

    #[test]
    fn a_client_verifies_the_chain_and_with_https_identification_the_host_name() {
        let pki = signed_for(&["localhost", "127.0.0.1"]);
        let server = server_config(&settings(pki.key_pem.clone(), pki.chain_pem.clone())).unwrap();
        let verifying = client_config(&client_settings(&pki.ca_pem, true)).unwrap();
        assert!(handshake(verifying.clone(), server.clone(), "localhost").is_ok());
        assert!(handshake(verifying.clone(), server.clone(), "127.0.0.1").is_ok());
        let wrong_name = handshake(verifying, server.clone(), "broker-9.example").unwrap_err();
        assert!(
            matches!(
                wrong_name,
                rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                )
            ),
            "{wrong_name:?}"
        );
        // ssl.endpoint.identification.algorithm= (empty): any name, but still a trusted chain.
        let lenient = client_config(&client_settings(&pki.ca_pem, false)).unwrap();
        assert!(handshake(lenient, server.clone(), "broker-9.example").is_ok());
        let other = signed_for(&["localhost"]);
        let untrusting = client_config(&client_settings(&other.ca_pem, false)).unwrap();
        let untrusted = handshake(untrusting, server, "localhost").unwrap_err();
        assert!(
            matches!(
                untrusted,
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
            ),
            "{untrusted:?}"
        );
    }

    #[test]
    fn a_client_presents_its_certificate_to_a_server_that_requires_one() {
        let server_pki = signed_for(&["localhost"]);
        let client_pki = signed_for(&["broker-2"]);
        let mut required = settings(server_pki.key_pem.clone(), server_pki.chain_pem.clone());
        required.client_auth = ClientAuth::Required;
        required.trusted_certificates_pem = Some(client_pki.ca_pem.clone());
        let server = server_config(&required).unwrap();
        let anonymous = client_config(&client_settings(&server_pki.ca_pem, true)).unwrap();
        assert!(handshake(anonymous, server.clone(), "localhost").is_err());
        let mut with_certificate = client_settings(&server_pki.ca_pem, true);
        with_certificate.certificate_chain_pem = Some(client_pki.chain_pem);
        with_certificate.private_key_pem = Some(client_pki.key_pem);
        let client = client_config(&with_certificate).unwrap();
        assert!(handshake(client, server, "localhost").is_ok());
    }

    #[test]
    fn a_client_key_without_its_chain_is_refused() {
        let pki = signed_for(&["localhost"]);
        let mut half = client_settings(&pki.ca_pem, true);
        half.private_key_pem = Some(pki.key_pem);
        assert!(client_config(&half)
            .expect_err("refused")
            .0
            .contains("needs its private key"));
    }
}
