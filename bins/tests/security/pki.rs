//! Test certificates, made at run time with rcgen into a fresh temporary directory:
//! a CA, server certificates for 127.0.0.1, client certificates. Nothing private is
//! kept in the repository.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new, empty directory under the system's temporary directory.
    pub fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("memkeep-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    /// A path inside the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The path as a `&str`, for command lines.
    pub fn arg(&self, name: &str) -> String {
        self.file(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A certificate authority that signs test certificates.
pub struct Ca {
    cert: Certificate,
    key: KeyPair,
}

impl Ca {
    /// A new self-signed CA named `name`.
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    /// Writes the CA certificate to `path`.
    pub fn write(&self, path: &Path) {
        std::fs::write(path, self.cert.pem()).unwrap();
    }

    /// Signs a certificate for 127.0.0.1 and localhost, usable by servers and clients,
    /// with `name` as its common name; writes `<stem>.crt` and `<stem>.key` to `dir`.
    pub fn issue(&self, dir: &TempDir, stem: &str, name: &str) {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        std::fs::write(dir.file(&format!("{stem}.crt")), cert.pem()).unwrap();
        std::fs::write(dir.file(&format!("{stem}.key")), key.serialize_pem()).unwrap();
    }
}

/// A rustls client trusting the CA in `ca`, optionally presenting `<cert>.crt`.
pub fn client_config(ca: &Path, cert: Option<(&Path, &Path)>) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    Arc::new(match cert {
        None => builder.with_no_client_auth(),
        Some((crt, key)) => {
            let chain = CertificateDer::pem_file_iter(crt)
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            builder
                .with_client_auth_cert(chain, PrivateKeyDer::from_pem_file(key).unwrap())
                .unwrap()
        }
    })
}

/// The common name of the certificate a TLS client connection was shown.
pub fn peer_common_name(conn: &rustls::ClientConnection) -> String {
    let cert = &conn.peer_certificates().expect("a server certificate")[0];
    // The test certificates are small: find the subject CN (after the issuer's) as
    // it is encoded (OID 2.5.4.3,
    // then a UTF8String) rather than pulling in an X.509 parser.
    let der = cert.as_ref();
    let oid = [0x06, 0x03, 0x55, 0x04, 0x03];
    let at = der
        .windows(oid.len())
        .rposition(|w| w == oid)
        .expect("a common name");
    let len = der[at + oid.len() + 1] as usize;
    let start = at + oid.len() + 2;
    String::from_utf8_lossy(&der[start..start + len]).into_owned()
}
