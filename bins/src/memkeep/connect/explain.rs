//! Connection failures in words an operator can act on: what went wrong and which
//! flag fixes it, instead of rustls's variant names (`UnknownIssuer`,
//! `CaUsedAsEndEntity`, ...).

use std::io;
use std::path::PathBuf;

use rustls::{AlertDescription, CertificateError};

use super::Mechanism;

/// What the messages need to know about the flags given.
#[derive(Debug, Clone, Default)]
pub struct Explain {
    /// The CA file trusted, if any.
    pub ca: Option<PathBuf>,
    /// Whether a client certificate is presented.
    pub client_cert: bool,
    /// Whether the connection speaks TLS.
    pub tls: bool,
    /// The user logging in, and how.
    pub login: Option<(String, Mechanism)>,
}

impl Explain {
    /// Words for an I/O error on a connection (TLS errors arrive inside them).
    pub fn io(&self, e: &io::Error) -> String {
        if let Some(tls) = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return self.tls_error(tls);
        }
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => "timed out".into(),
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => self.closed(),
            _ => e.to_string(),
        }
    }

    /// Words for the server closing the connection when a reply was expected.
    pub fn closed(&self) -> String {
        if !self.tls {
            "the server closed the connection (if it serves TLS, pass --tls and --tls-ca FILE)"
                .into()
        } else if !self.client_cert {
            "the server closed the connection (it may require a client certificate: \
             pass --tls-cert FILE and --tls-key FILE)"
                .into()
        } else {
            "the server closed the connection (it may have refused our client \
             certificate: it must be signed by the CA the server trusts)"
                .into()
        }
    }

    /// When a plain-text connection receives a TLS record (an alert, most often: the
    /// server expected a handshake), says so.
    pub fn tls_bytes_on_plain(&self, got: &[u8]) -> Option<String> {
        let is_tls_record = got.len() >= 2 && (0x14..=0x17).contains(&got[0]) && got[1] == 0x03;
        (!self.tls && is_tls_record).then(|| {
            "the server speaks TLS and this connection does not: pass --tls and \
             --tls-ca FILE (the CA that signed its certificate)"
                .into()
        })
    }

    /// Words for a rustls error.
    pub fn tls_error(&self, e: &rustls::Error) -> String {
        match e {
            rustls::Error::InvalidCertificate(c) => self.certificate(c),
            rustls::Error::AlertReceived(alert) => self.alert(*alert),
            rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
                "the server did not answer the TLS handshake in TLS: it may serve plain \
                 text on this port (then drop --tls), or not be a memcached server"
                    .into()
            }
            rustls::Error::NoCertificatesPresented => "the server presented no certificate".into(),
            rustls::Error::PeerIncompatible(_) => {
                "the server and memkeep have no TLS version or cipher suite in common \
                 (memkeep speaks TLS 1.2 and 1.3)"
                    .into()
            }
            other => format!("TLS: {other}"),
        }
    }

    fn certificate(&self, c: &CertificateError) -> String {
        let ca = match &self.ca {
            Some(path) => format!(" ({} does not hold it)", path.display()),
            None => String::new(),
        };
        match c {
            CertificateError::UnknownIssuer => format!(
                "the server's certificate is not signed by a CA we trust{ca}: pass \
                 --tls-ca FILE with the CA that signed it (for a self-signed certificate, \
                 the certificate itself)"
            ),
            CertificateError::NotValidForName => {
                "the server's certificate is not made out for the name or address \
                 connected to: connect by a name the certificate lists, or issue one that \
                 lists this address"
                    .into()
            }
            CertificateError::NotValidForNameContext {
                expected,
                presented,
            } => format!(
                "the server's certificate is not made out for {}: it lists {}; connect by \
                 one of those names, or issue a certificate that lists {}",
                expected.to_str(),
                if presented.is_empty() {
                    "no names".to_owned()
                } else {
                    presented
                        .iter()
                        .map(|n| plain_name(n))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                expected.to_str()
            ),
            CertificateError::Expired => {
                "the server's certificate has expired: renew it on the server".into()
            }
            CertificateError::ExpiredContext { time, not_after } => format!(
                "the server's certificate expired {} ago: renew it on the server",
                days(time.as_secs().saturating_sub(not_after.as_secs()))
            ),
            CertificateError::NotValidYet => {
                "the server's certificate is not valid yet: check the clocks of both \
                 machines"
                    .into()
            }
            CertificateError::NotValidYetContext { time, not_before } => format!(
                "the server's certificate is only valid {} from now: check the clocks of \
                 both machines",
                days(not_before.as_secs().saturating_sub(time.as_secs()))
            ),
            CertificateError::BadSignature => format!(
                "the server's certificate's signature does not match the CA it names{ca}: \
                 it was signed by another key of the same name (another self-signed \
                 certificate?) or altered; pass --tls-ca FILE with the CA that signed it \
                 (for a self-signed certificate, the certificate itself)"
            ),
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "the server's certificate is not meant for a TLS server (its extended key \
                 usage lacks serverAuth)"
                    .into()
            }
            CertificateError::BadEncoding => "the server's certificate is malformed".into(),
            CertificateError::Revoked => "the server's certificate has been revoked".into(),
            CertificateError::UnsupportedSignatureAlgorithmContext { .. }
            | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
                "the server's certificate is signed with an algorithm memkeep does not \
                 accept (use RSA, ECDSA P-256/P-384 or Ed25519)"
                    .into()
            }
            CertificateError::Other(other) if other.to_string().contains("CaUsedAsEndEntity") => {
                // webpki's error reaches us only as text inside `Other`.
                "the server's own certificate is a CA certificate (basicConstraints \
                 CA:TRUE, which `openssl req -x509` sets by default), and a CA certificate \
                 is not accepted as a server's: make the server a certificate signed by \
                 that CA, or a self-signed one with `-addext \
                 basicConstraints=critical,CA:FALSE`, and pass it with --tls-ca FILE"
                    .into()
            }
            CertificateError::Other(other) if other.to_string().contains("UnknownIssuer") => {
                self.certificate(&CertificateError::UnknownIssuer)
            }
            other => format!("the server's certificate was refused: {other}"),
        }
    }

    fn alert(&self, alert: AlertDescription) -> String {
        let cert_hint = if self.client_cert {
            "the server refused our client certificate: it must be signed by the CA the \
             server trusts (memkeepd's ssl_ca_cert, the proxy's client_ca)"
        } else {
            "the server requires a client certificate: pass --tls-cert FILE and \
             --tls-key FILE"
        };
        match alert {
            AlertDescription::CertificateRequired => {
                "the server requires a client certificate: pass --tls-cert FILE and \
                 --tls-key FILE"
                    .into()
            }
            AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::AccessDenied => cert_hint.into(),
            AlertDescription::CertificateExpired => {
                "the server refused our client certificate: it has expired".into()
            }
            AlertDescription::HandshakeFailure => format!(
                "the TLS handshake failed: no TLS version or cipher suite in common, or {cert_hint}"
            ),
            AlertDescription::ProtocolVersion => {
                "the server refused the TLS version (memkeep speaks TLS 1.2 and 1.3)".into()
            }
            other => format!("the server ended the TLS handshake ({other:?})"),
        }
    }
}

/// A certificate name as webpki prints it (`DnsName("a.example")`,
/// `IpAddress(127.0.0.1)`) without the wrapping.
fn plain_name(name: &str) -> &str {
    ["DnsName(", "IpAddress(", "UniformResourceIdentifier("]
        .iter()
        .find_map(|p| name.strip_prefix(p)?.strip_suffix(')'))
        .map_or(name, |inner| inner.trim_matches('"'))
}

/// A span of seconds in whole days, or hours under two days.
fn days(seconds: u64) -> String {
    if seconds >= 2 * 86_400 {
        format!("{} days", seconds / 86_400)
    } else {
        format!("{} hours", seconds / 3600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_errors_name_no_rustls_variant() {
        let explain = Explain {
            ca: Some("ca.crt".into()),
            tls: true,
            ..Explain::default()
        };
        let cases = [
            CertificateError::UnknownIssuer,
            CertificateError::NotValidForName,
            CertificateError::Expired,
            CertificateError::NotValidYet,
            CertificateError::BadSignature,
            CertificateError::InvalidPurpose,
            CertificateError::Other(rustls::OtherError(std::sync::Arc::new(io::Error::other(
                "CaUsedAsEndEntity",
            )))),
        ];
        for c in cases {
            let words = explain.tls_error(&rustls::Error::InvalidCertificate(c.clone()));
            assert!(!words.contains(&format!("{c:?}")), "{c:?}: {words}");
            assert!(words.starts_with("the server's "), "{words}");
        }
        let unknown = explain.certificate(&CertificateError::UnknownIssuer);
        assert!(unknown.contains("--tls-ca FILE") && unknown.contains("ca.crt does not hold it"));
    }

    #[test]
    fn certificate_names_without_their_wrapping() {
        assert_eq!(plain_name("DnsName(\"cache.example\")"), "cache.example");
        assert_eq!(plain_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(plain_name("DirectoryName"), "DirectoryName");
    }

    #[test]
    fn alerts_say_which_flag() {
        let without = Explain {
            tls: true,
            ..Explain::default()
        };
        let with = Explain {
            client_cert: true,
            ..without.clone()
        };
        assert!(without
            .alert(AlertDescription::CertificateRequired)
            .contains("--tls-cert FILE"));
        assert!(with
            .alert(AlertDescription::UnknownCA)
            .contains("refused our client certificate"));
    }

    #[test]
    fn tls_bytes_on_a_plain_connection() {
        let plain = Explain::default();
        assert!(plain
            .tls_bytes_on_plain(&[0x15, 0x03, 0x03, 0, 2, 2, 0x32])
            .is_some_and(|w| w.contains("--tls")));
        assert!(plain.tls_bytes_on_plain(b"VERSION 1.6\r\n").is_none());
    }
}
