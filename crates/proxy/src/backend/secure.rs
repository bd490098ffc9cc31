//! Opening a backend connection securely: TCP (or a Unix socket, for an address that
//! is a path), then TLS when configured, then the server's authentication exchange (memcached's ASCII auth or SASL PLAIN) before any
//! request is pipelined on it. A refused login fails the connection like a refused
//! connect, so the backend backs off and retries.

use std::fmt;
use std::io;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

/// How the proxy proves itself to a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AuthMechanism {
    /// memcached's ASCII auth (`-Y`): a `set` whose value is `user password`.
    #[default]
    Ascii,
    /// SASL PLAIN over the binary protocol (`-S`).
    SaslPlain,
}

/// A login on the servers.
#[derive(Clone)]
pub struct BackendAuth {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
    /// Which exchange the servers expect.
    pub mechanism: AuthMechanism,
}

impl fmt::Debug for BackendAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the password.
        f.debug_struct("BackendAuth")
            .field("username", &self.username)
            .field("mechanism", &self.mechanism)
            .finish_non_exhaustive()
    }
}

/// TLS and login settings for a pool's servers.
#[derive(Clone, Default)]
pub struct BackendSecurity {
    /// TLS to the servers: the client configuration (trusted CA, client certificate).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The login sent on every new connection.
    pub auth: Option<BackendAuth>,
}

impl fmt::Debug for BackendSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendSecurity")
            .field("tls", &self.tls.is_some())
            .field("auth", &self.auth)
            .finish()
    }
}

/// A byte stream to a server.
pub(super) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// An open connection, ready for requests.
pub(super) enum Opened {
    /// Plain TCP: split without a lock.
    Plain(TcpStream),
    /// A plain Unix socket: split without a lock too.
    Local(UnixStream),
    /// TLS, or a stream that went through a login.
    Secured(Box<dyn Stream>),
}

/// Connects to `addr` (`host:port`, or the path of a Unix socket) and runs TLS and
/// the login as configured.
pub(super) async fn open(addr: &str, security: Option<&BackendSecurity>) -> io::Result<Opened> {
    if addr.starts_with('/') {
        let local = UnixStream::connect(addr).await?;
        return match security {
            None => Ok(Opened::Local(local)),
            Some(security) if security.tls.is_some() => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no TLS over a Unix socket",
            )),
            Some(security) => {
                let mut stream: Box<dyn Stream> = Box::new(local);
                if let Some(auth) = &security.auth {
                    login(&mut stream, auth).await?;
                }
                Ok(Opened::Secured(stream))
            }
        };
    }
    let tcp = TcpStream::connect(addr).await?;
    let _ = tcp.set_nodelay(true);
    // A server that vanished without a FIN (power loss, a dropped route) is found
    // out on an idle connection too (twemproxy's `tcpkeepalive`).
    let _ = socket2::SockRef::from(&tcp).set_keepalive(true);
    let Some(security) = security else {
        return Ok(Opened::Plain(tcp));
    };
    let mut stream: Box<dyn Stream> = match &security.tls {
        None => Box::new(tcp),
        Some(config) => {
            let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let name = ServerName::try_from(host.to_owned())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let connector = tokio_rustls::TlsConnector::from(config.clone());
            Box::new(connector.connect(name, tcp).await?)
        }
    };
    if let Some(auth) = &security.auth {
        login(&mut stream, auth).await?;
    }
    Ok(Opened::Secured(stream))
}

/// Longest login reply read (memcached's are a line or a small packet).
const MAX_LOGIN_REPLY: usize = 1024;

async fn login(stream: &mut Box<dyn Stream>, auth: &BackendAuth) -> io::Result<()> {
    match auth.mechanism {
        AuthMechanism::Ascii => {
            let token = format!("{} {}", auth.username, auth.password);
            let request = format!("set auth 0 0 {}\r\n{token}\r\n", token.len());
            stream.write_all(request.as_bytes()).await?;
            let reply = read_reply(stream, |got| got.ends_with(b"\r\n")).await?;
            if reply != b"STORED\r\n" {
                return Err(refused(String::from_utf8_lossy(&reply).trim_end()));
            }
        }
        AuthMechanism::SaslPlain => {
            let data = format!("\0{}\0{}", auth.username, auth.password);
            stream
                .write_all(&sasl_plain_packet(data.as_bytes()))
                .await?;
            let reply = read_reply(stream, |got| {
                got.len() >= 24
                    && got.len()
                        >= 24 + u32::from_be_bytes([got[8], got[9], got[10], got[11]]) as usize
            })
            .await?;
            let status = u16::from_be_bytes([reply[6], reply[7]]);
            if reply[0] != 0x81 || status != 0 {
                return Err(refused(&format!("SASL status {status:#06x}")));
            }
        }
    }
    Ok(())
}

fn refused(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("the server refused the login: {what}"),
    )
}

/// A binary SASL_AUTH request for PLAIN carrying `data`.
fn sasl_plain_packet(data: &[u8]) -> Vec<u8> {
    const MECHANISM: &[u8] = b"PLAIN";
    let mut packet = vec![0x80, 0x21, 0, MECHANISM.len() as u8, 0, 0, 0, 0];
    let body = (MECHANISM.len() + data.len()) as u32;
    packet.extend_from_slice(&body.to_be_bytes());
    packet.extend_from_slice(&[0; 12]); // opaque and CAS
    packet.extend_from_slice(MECHANISM);
    packet.extend_from_slice(data);
    packet
}

async fn read_reply(
    stream: &mut Box<dyn Stream>,
    done: impl Fn(&[u8]) -> bool,
) -> io::Result<Vec<u8>> {
    let mut got = Vec::with_capacity(64);
    while !done(&got) {
        if got.len() > MAX_LOGIN_REPLY {
            return Err(refused("an oversized reply"));
        }
        if stream.read_buf(&mut got).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sasl_packet_layout() {
        let p = sasl_plain_packet(b"\0u\0p");
        assert_eq!(&p[..4], &[0x80, 0x21, 0, 5]);
        assert_eq!(u32::from_be_bytes(p[8..12].try_into().unwrap()), 9);
        assert_eq!(&p[24..], b"PLAIN\0u\0p");
    }

    #[tokio::test]
    async fn ascii_login_and_refusal() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move {
            for reply in [
                &b"STORED\r\n"[..],
                b"CLIENT_ERROR authentication failure\r\n",
            ] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = vec![0; 64];
                let mut got = Vec::new();
                while !got.ends_with(b"u p\r\n") {
                    let n = s.read(&mut buf).await.unwrap();
                    got.extend_from_slice(&buf[..n]);
                }
                assert_eq!(got, b"set auth 0 0 3\r\nu p\r\n");
                s.write_all(reply).await.unwrap();
            }
        });
        let security = BackendSecurity {
            tls: None,
            auth: Some(BackendAuth {
                username: "u".into(),
                password: "p".into(),
                mechanism: AuthMechanism::Ascii,
            }),
        };
        assert!(open(&addr, Some(&security)).await.is_ok());
        let err = open(&addr, Some(&security)).await.err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        server.await.unwrap();
    }
}
