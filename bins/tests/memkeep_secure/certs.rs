//! Certificates for the `memkeep` connection tests, made at run time with rcgen: a
//! CA that signs server and client certificates with any names and validity, so the
//! tests can show memkeep a certificate for the wrong name or one that has expired.

use std::path::Path;

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};

/// A certificate authority.
pub struct Authority {
    cert: Certificate,
    key: KeyPair,
}

/// What a certificate says.
pub struct Leaf<'a> {
    /// Its subject alternative names (IP addresses or DNS names).
    pub names: &'a [&'a str],
    /// `(year, month, day)` of its last valid day; `None`: a year from now.
    pub expires: Option<(i32, u8, u8)>,
}

impl Authority {
    /// A new self-signed CA, its certificate written to `path`.
    pub fn new(name: &str, path: &Path) -> Authority {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(path, cert.pem()).unwrap();
        Authority { cert, key }
    }

    /// Signs `leaf`, for servers and clients, into `<stem>.crt` and `<stem>.key`.
    pub fn issue(&self, dir: &Path, stem: &str, leaf: Leaf<'_>) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = leaf.names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, format!("memkeep test {stem}"));
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        if let Some((y, m, d)) = leaf.expires {
            params.not_before = rcgen::date_time_ymd(y - 1, m, d);
            params.not_after = rcgen::date_time_ymd(y, m, d);
        }
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        std::fs::write(dir.join(format!("{stem}.crt")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{stem}.key")), key.serialize_pem()).unwrap();
    }
}

/// A self-signed certificate for 127.0.0.1 made by `openssl req -x509`, as operators
/// make one, into `<stem>.crt` and `<stem>.key`; `ca_false` adds
/// `basicConstraints=critical,CA:FALSE` (openssl marks it a CA by default).
pub fn openssl_self_signed(dir: &Path, stem: &str, ca_false: bool) {
    let mut command = std::process::Command::new("openssl");
    command
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=memkeep self-signed"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(dir.join(format!("{stem}.key")))
        .arg("-out")
        .arg(dir.join(format!("{stem}.crt")));
    if ca_false {
        command.args(["-addext", "basicConstraints=critical,CA:FALSE"]);
    }
    let out = command.output().expect("openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
