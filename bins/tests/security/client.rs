//! A blocking client connection over plain TCP, TLS or a Unix socket, and the
//! exchanges the security tests repeat: read until a condition, authenticate.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// One client connection.
pub enum Conn {
    /// Plain TCP.
    Tcp(TcpStream),
    /// TLS over TCP.
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    /// A Unix socket.
    Unix(UnixStream),
}

impl Conn {
    /// Connects to 127.0.0.1:`port`, in TLS when `tls` is given.
    pub fn tcp(port: u16, tls: Option<&Arc<rustls::ClientConfig>>) -> Conn {
        let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
        tcp.set_nodelay(true).unwrap();
        match tls {
            None => Conn::Tcp(tcp),
            Some(config) => {
                let name = "127.0.0.1".try_into().unwrap();
                let conn = rustls::ClientConnection::new(config.clone(), name).unwrap();
                Conn::Tls(Box::new(rustls::StreamOwned::new(conn, tcp)))
            }
        }
    }

    /// Connects to the Unix socket at `path`.
    pub fn unix(path: &Path) -> Conn {
        Conn::Unix(UnixStream::connect(path).unwrap())
    }

    /// Runs the TLS handshake now (a plain connection has none).
    pub fn handshake(&mut self) -> std::io::Result<()> {
        if let Conn::Tls(s) = self {
            while s.conn.is_handshaking() {
                s.conn.complete_io(&mut s.sock)?;
            }
        }
        Ok(())
    }

    fn set_read_timeout(&self, t: Duration) {
        let _ = match self {
            Conn::Tcp(s) => s.set_read_timeout(Some(t)),
            Conn::Tls(s) => s.sock.set_read_timeout(Some(t)),
            Conn::Unix(s) => s.set_read_timeout(Some(t)),
        };
    }

    /// Writes all of `bytes`.
    pub fn send(&mut self, bytes: &[u8]) {
        self.write_all(bytes).unwrap();
        self.flush().unwrap();
    }

    /// Closes the sending side (after a TLS close_notify): the server answers all it
    /// was sent, then closes, so the end of the stream marks the end of its replies.
    pub fn close_write(&mut self) {
        match self {
            Conn::Tcp(s) => s.shutdown(Shutdown::Write),
            Conn::Tls(s) => {
                s.conn.send_close_notify();
                s.flush().unwrap();
                s.sock.shutdown(Shutdown::Write)
            }
            Conn::Unix(s) => s.shutdown(Shutdown::Write),
        }
        .unwrap();
    }

    /// Reads until `done(bytes so far)`, the peer closes, or `limit` passes; returns
    /// the bytes and whether the peer closed.
    pub fn read_until(&mut self, limit: Duration, done: impl Fn(&[u8]) -> bool) -> (Vec<u8>, bool) {
        crate::support::read_until(self, limit, done)
    }

    /// Sends `request` and reads until the reply ends with `end`.
    pub fn call(&mut self, request: &[u8], end: &[u8]) -> Vec<u8> {
        self.send(request);
        self.read_until(Duration::from_secs(10), |g| g.ends_with(end))
            .0
    }

    /// memcached's ASCII auth exchange; panics unless it says STORED.
    pub fn ascii_auth(&mut self, user: &str, password: &str) {
        let token = format!("{user} {password}");
        let request = format!("set auth 0 0 {}\r\n{token}\r\n", token.len());
        assert_eq!(self.call(request.as_bytes(), b"\r\n"), b"STORED\r\n");
    }

    /// SASL PLAIN over the binary protocol; returns the reply's status and body.
    pub fn sasl_plain(&mut self, user: &str, password: &str) -> (u16, Vec<u8>) {
        let data = format!("\0{user}\0{password}");
        self.send(&binary(0x21, b"PLAIN", data.as_bytes()));
        let (reply, _) = self.read_until(Duration::from_secs(10), binary_complete);
        let status = u16::from_be_bytes([reply[6], reply[7]]);
        (status, reply[24..].to_vec())
    }
}

impl crate::support::TimedRead for Conn {
    fn read_timeout(&mut self, limit: Duration) {
        self.set_read_timeout(limit);
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
            Conn::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
            Conn::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Tcp(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
            Conn::Unix(s) => s.flush(),
        }
    }
}

/// A binary request packet with no extras.
pub fn binary(opcode: u8, key: &[u8], value: &[u8]) -> Vec<u8> {
    binary_with_extras(opcode, &[], key, value)
}

/// A binary request packet.
pub fn binary_with_extras(opcode: u8, extras: &[u8], key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, opcode];
    p.extend_from_slice(&(key.len() as u16).to_be_bytes());
    p.push(extras.len() as u8);
    p.extend_from_slice(&[0, 0, 0]);
    let body = extras.len() + key.len() + value.len();
    p.extend_from_slice(&(body as u32).to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend_from_slice(&[0; 8]);
    p.extend_from_slice(extras);
    p.extend_from_slice(key);
    p.extend_from_slice(value);
    p
}

/// Whether `bytes` hold at least one whole binary response.
pub fn binary_complete(bytes: &[u8]) -> bool {
    bytes.len() >= 24
        && bytes.len() >= 24 + u32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize
}
