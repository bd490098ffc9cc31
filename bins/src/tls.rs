//! TLS settings as files on disk, turned into rustls configurations: the server side
//! of memkeepd's and memkeep-proxy's listeners and of replication ports, the client
//! side of proxy backends, replication links and `memkeep bench`. Files are read on
//! every [`ServerTls::load`], so a reload picks up renewed certificates.
//! TLS 1.2 is the oldest version either side speaks.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};

/// Whether a server asks its clients for a certificate (memcached's
/// `ssl_verify_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientCerts {
    /// Never asked for (mode 0).
    #[default]
    None,
    /// Asked for, and checked against the CA when given, but not required (mode 1).
    Optional,
    /// Required and checked against the CA (modes 2 and 3).
    Required,
}

/// The oldest TLS version accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MinVersion {
    /// TLS 1.2 and 1.3.
    #[default]
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

static TLS12_AND_13: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];
static TLS13_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

impl MinVersion {
    fn versions(self) -> &'static [&'static rustls::SupportedProtocolVersion] {
        match self {
            MinVersion::Tls12 => TLS12_AND_13,
            MinVersion::Tls13 => TLS13_ONLY,
        }
    }
}

/// A TLS server's files and policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerTls {
    /// The certificate chain, PEM, leaf first (may hold the key too).
    pub chain: PathBuf,
    /// The private key, PEM; `None` when it is in `chain`.
    pub key: Option<PathBuf>,
    /// CAs that sign acceptable client certificates, PEM.
    pub client_ca: Option<PathBuf>,
    /// Whether clients must present a certificate.
    pub client_certs: ClientCerts,
    /// The oldest version accepted.
    pub min_version: MinVersion,
}

impl ServerTls {
    /// Reads the files and builds the server configuration.
    pub fn load(&self) -> Result<ServerConfig, String> {
        let provider = provider();
        let chain = certificates(&self.chain)?;
        let key = private_key(self.key.as_deref().unwrap_or(&self.chain))?;
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(self.min_version.versions())
            .map_err(|e| format!("TLS: {e}"))?;
        let builder = match (self.client_certs, &self.client_ca) {
            (ClientCerts::None, _) => builder.with_no_client_auth(),
            (_, None) => {
                return Err("client certificates are checked against a CA: set its file".into())
            }
            (mode, Some(ca)) => {
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca)?), provider);
                let verifier = match mode {
                    ClientCerts::Optional => verifier.allow_unauthenticated(),
                    _ => verifier,
                };
                let verifier = verifier
                    .build()
                    .map_err(|e| format!("TLS client CA {}: {e}", ca.display()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        builder
            .with_single_cert(chain, key)
            .map_err(|e| format!("TLS certificate {}: {e}", self.chain.display()))
    }
}

/// A TLS client's files and policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTls {
    /// CAs that sign acceptable server certificates, PEM. Required unless `insecure`.
    pub ca: Option<PathBuf>,
    /// A client certificate chain to present (mutual TLS), PEM.
    pub cert: Option<PathBuf>,
    /// The client certificate's key; `None` when it is in `cert`.
    pub key: Option<PathBuf>,
    /// Accept any server certificate: for benchmarks against a test server only.
    pub insecure: bool,
}

impl ClientTls {
    /// Reads the files and builds the client configuration.
    pub fn load(&self) -> Result<ClientConfig, String> {
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(MinVersion::Tls12.versions())
            .map_err(|e| format!("TLS: {e}"))?;
        let builder = match (&self.ca, self.insecure) {
            (_, true) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyServerCert(provider))),
            (Some(ca), false) => builder.with_root_certificates(roots(ca)?),
            (None, false) => {
                return Err("TLS to a server needs the CA that signed its certificate".into())
            }
        };
        match &self.cert {
            None => Ok(builder.with_no_client_auth()),
            Some(cert) => {
                let key = private_key(self.key.as_deref().unwrap_or(cert))?;
                builder
                    .with_client_auth_cert(certificates(cert)?, key)
                    .map_err(|e| format!("TLS client certificate {}: {e}", cert.display()))
            }
        }
    }
}

/// The name a client checks the server's certificate against: the host part of
/// `host:port` (an IP address matches an IP SAN).
pub fn server_name(addr: &str) -> Result<ServerName<'static>, String> {
    let host = match addr.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => host,
        _ => addr,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned()).map_err(|e| format!("TLS server name {host}: {e}"))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| format!("cannot read certificates from {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", path.display()));
    }
    Ok(certs)
}

/// Reads the first private key in a PEM file. A PKCS#8 key under an algorithm's own
/// label ("RSA PRIVATE KEY", "EC PRIVATE KEY"), which OpenSSL (and so memcached)
/// reads, is read as PKCS#8; a key that is neither is refused here, naming the key
/// file rather than the certificate.
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let key = PrivateKeyDer::from_pem_file(path)
        .map_err(|e| format!("cannot read a private key from {}: {e}", path.display()))?;
    let keys = provider().key_provider;
    let error = match keys.load_private_key(key.clone_key()) {
        Ok(_) => return Ok(key),
        Err(e) => e,
    };
    if let PrivateKeyDer::Pkcs1(_) | PrivateKeyDer::Sec1(_) = key {
        let pkcs8 = PrivateKeyDer::Pkcs8(key.secret_der().to_vec().into());
        if keys.load_private_key(pkcs8.clone_key()).is_ok() {
            return Ok(pkcs8);
        }
    }
    Err(format!("TLS key {}: {error}", path.display()))
}

fn roots(path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(path)? {
        roots
            .add(cert)
            .map_err(|e| format!("CA file {}: {e}", path.display()))?;
    }
    Ok(roots)
}

/// Accepts every server certificate while still checking the handshake signatures:
/// only `memkeep bench --tls-insecure` uses it, against a server the operator runs.
#[derive(Debug)]
struct AnyServerCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
