//! A blocking connection for the one-shot commands (`stats`, `check`, `dump`,
//! `load`): TCP, TLS over it when asked, the login exchange, each step bounded in
//! time.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::BytesMut;
use rustls::{ClientConnection, StreamOwned};

use super::{Exchange, Explain, Next, Security};

/// An open, logged-in connection.
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => tls.get_ref(),
        }
    }

    /// Bounds every later read.
    pub fn set_read_timeout(&self, limit: Duration) -> io::Result<()> {
        self.tcp().set_read_timeout(Some(limit))
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// Resolves `host:port` to its first address.
pub fn resolve(server: &str) -> Result<SocketAddr, String> {
    server
        .to_socket_addrs()
        .map_err(|e| format!("{server}: {e}"))?
        .next()
        .ok_or_else(|| format!("{server}: no address"))
}

/// Connects to `server`, runs the TLS handshake and the login as `security` says;
/// each read and write is bounded by `timeout`. Errors start with the server's name.
pub fn open(server: &str, timeout: Duration, security: &Security) -> Result<Stream, String> {
    let at = |e: String| format!("{server}: {e}");
    let addr = resolve(server)?;
    let mut tcp = TcpStream::connect_timeout(&addr, timeout).map_err(|e| at(e.to_string()))?;
    tcp.set_read_timeout(Some(timeout))
        .and_then(|()| tcp.set_write_timeout(Some(timeout)))
        .and_then(|()| tcp.set_nodelay(true))
        .map_err(|e| at(e.to_string()))?;
    let explain = &security.explain;
    let mut stream = match &security.tls {
        None => Stream::Plain(tcp),
        Some(config) => {
            let name = crate::tls::server_name(server)?;
            let mut conn = ClientConnection::new(config.clone(), name)
                .map_err(|e| at(explain.tls_error(&e)))?;
            // The handshake now, so its failures are told as such.
            while conn.is_handshaking() {
                conn.complete_io(&mut tcp).map_err(|e| at(explain.io(&e)))?;
            }
            Stream::Tls(Box::new(StreamOwned::new(conn, tcp)))
        }
    };
    exchange(&mut stream, security, explain).map_err(at)?;
    Ok(stream)
}

/// Drives the opening exchange ([`Exchange`]) over the blocking stream.
fn exchange(stream: &mut Stream, security: &Security, explain: &Explain) -> Result<(), String> {
    let (mut exchange, first) = Exchange::start(security.login.as_ref());
    stream.write_all(&first).map_err(|e| explain.io(&e))?;
    let mut buf = BytesMut::with_capacity(256);
    loop {
        match exchange.feed(&mut buf) {
            Next::Done => return Ok(()),
            Next::Failed(why) => {
                return Err(explain.tls_bytes_on_plain(&buf).unwrap_or(why));
            }
            Next::Send(bytes) => stream.write_all(&bytes).map_err(|e| explain.io(&e))?,
            Next::NeedMore => {
                if let Some(words) = explain.tls_bytes_on_plain(&buf) {
                    return Err(words);
                }
                let mut chunk = [0u8; 512];
                let n = stream.read(&mut chunk).map_err(|e| explain.io(&e))?;
                if n == 0 {
                    return Err(explain.closed());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
}
