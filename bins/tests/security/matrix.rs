//! The authentication matrix: every kind of request in every dialect, sent before
//! logging in, must get nothing but memcached's auth error; then both logins work.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::client::{binary, binary_complete, binary_with_extras, Conn};
use crate::support::wait_for;

pub const UNAUTHENTICATED: &[u8] = b"CLIENT_ERROR unauthenticated\r\n";

/// A memkeepd on a Unix socket (which turns TCP off), killed when dropped.
pub struct UnixServer(Child);

impl UnixServer {
    /// Starts it and waits until the socket accepts.
    pub fn start(socket: &Path, extra: &[&str]) -> UnixServer {
        let child = Command::new(env!("CARGO_BIN_EXE_memkeepd"))
            .arg("-s")
            .arg(socket)
            .args(extra)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let mut server = UnixServer(child);
        assert!(
            wait_for(Duration::from_secs(10), || {
                std::os::unix::net::UnixStream::connect(socket).is_ok()
            }),
            "memkeepd on {} did not start",
            socket.display()
        );
        assert!(server.0.try_wait().unwrap().is_none());
        server
    }
}

impl Drop for UnixServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Text and meta requests of every kind, each with the auth error memcached gives
/// before authentication.
const TEXT_AND_META: &[(&[u8], &[u8])] = &[
    (b"get a\r\n", UNAUTHENTICATED),
    (b"gets a b\r\n", UNAUTHENTICATED),
    (b"gat 0 a\r\n", UNAUTHENTICATED),
    (b"add a 0 0 1\r\nx\r\n", UNAUTHENTICATED),
    (b"append a 0 0 1\r\nx\r\n", UNAUTHENTICATED),
    (b"cas a 0 0 1 1\r\nx\r\n", UNAUTHENTICATED),
    (
        b"set a 0 0 3\r\nx y\r\n",
        b"CLIENT_ERROR authentication failure\r\n",
    ),
    (
        b"set a 0 0 1 noreply\r\nx\r\n",
        b"CLIENT_ERROR bad authentication token format\r\n",
    ),
    (b"delete a\r\n", UNAUTHENTICATED),
    (b"incr a 1\r\n", UNAUTHENTICATED),
    (b"decr a 1\r\n", UNAUTHENTICATED),
    (b"touch a 0\r\n", UNAUTHENTICATED),
    (b"flush_all\r\n", UNAUTHENTICATED),
    (b"stats\r\n", UNAUTHENTICATED),
    (b"stats settings\r\n", UNAUTHENTICATED),
    (b"version\r\n", UNAUTHENTICATED),
    (b"verbosity 1\r\n", UNAUTHENTICATED),
    (b"shutdown\r\n", UNAUTHENTICATED),
    (b"quit\r\n", UNAUTHENTICATED),
    (b"bogus\r\n", UNAUTHENTICATED),
    (b"set a 0 0 abc\r\n", UNAUTHENTICATED),
    (b"mg a v\r\n", UNAUTHENTICATED),
    (b"mg a v q\r\n", UNAUTHENTICATED),
    (b"ms a 1\r\nx\r\n", UNAUTHENTICATED),
    (b"ms a 1 q\r\nx\r\n", UNAUTHENTICATED),
    (b"md a\r\n", UNAUTHENTICATED),
    (b"ma a\r\n", UNAUTHENTICATED),
    (b"mn\r\n", UNAUTHENTICATED),
    (b"me a\r\n", UNAUTHENTICATED),
];

/// Binary requests of every kind (opcode, extras, key, value).
fn binary_requests() -> Vec<Vec<u8>> {
    let set_extras = [0u8; 8];
    let incr_extras = [0u8; 20];
    let touch_extras = [0u8; 4];
    vec![
        binary(0x00, b"a", b""),                            // GET
        binary_with_extras(0x01, &set_extras, b"a", b"x"),  // SET
        binary_with_extras(0x02, &set_extras, b"a", b"x"),  // ADD
        binary(0x04, b"a", b""),                            // DELETE
        binary_with_extras(0x05, &incr_extras, b"a", b""),  // INCREMENT
        binary(0x07, b"", b""),                             // QUIT
        binary(0x08, b"", b""),                             // FLUSH
        binary(0x09, b"a", b""),                            // GETQ
        binary(0x0a, b"", b""),                             // NOOP
        binary(0x0b, b"", b""),                             // VERSION
        binary(0x0e, b"a", b"x"),                           // APPEND
        binary(0x10, b"", b""),                             // STAT
        binary_with_extras(0x11, &set_extras, b"a", b"x"),  // SETQ
        binary_with_extras(0x1c, &touch_extras, b"a", b""), // TOUCH
        binary_with_extras(0x1d, &touch_extras, b"a", b""), // GAT
        binary(0x22, b"PLAIN", b"\0alice\0secret"),         // SASL_STEP
        vec![0x80, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],     // a truncated header
    ]
}

/// The binary auth error for `request`: its opcode and opaque, status 0x20.
fn auth_failure(request: &[u8]) -> Vec<u8> {
    let mut reply = vec![0x81, request[1], 0, 0, 0, 0, 0, 0x20, 0, 0, 0, 13];
    reply.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    reply.extend_from_slice(&[0; 8]);
    reply.extend_from_slice(b"Auth failure.");
    reply
}

/// Checks one listener: nothing before authentication gets anything but an auth
/// error, in any dialect, and nothing it sent changed the cache; then both auth
/// exchanges work and requests go through.
pub fn check_listener(name: &str, connect: &dyn Fn() -> Conn) {
    // Text and meta, pipelined on one connection.
    let mut conn = connect();
    let sent: Vec<u8> = TEXT_AND_META.iter().flat_map(|(s, _)| s.to_vec()).collect();
    let expected: Vec<u8> = TEXT_AND_META.iter().flat_map(|(_, e)| e.to_vec()).collect();
    conn.send(&sent);
    // The server answers all it was sent, then closes: its replies end there.
    conn.close_write();
    let (got, _) = conn.read_until(Duration::from_secs(10), |_| false);
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&expected),
        "{name}: text and meta before authentication"
    );
    // Binary: each request on a fresh connection, which is closed after the error
    // (but for a failed SASL step, which leaves room for another try, as memcached).
    for request in binary_requests() {
        let mut conn = connect();
        conn.send(&request);
        if request.len() < 24 {
            // Nothing to answer until the header is whole: completed, it gets one
            // reply (one sent early would come before it), then the close.
            conn.send(&[0; 12]);
            let (got, closed) = conn.read_until(Duration::from_secs(10), |_| false);
            let mut expected = auth_failure(&request);
            expected[12..16].fill(0); // the opaque the completed header carries
            assert_eq!(got, expected, "{name}: binary header completed");
            assert!(
                closed,
                "{name}: still open after an unauthenticated request"
            );
            continue;
        }
        let sasl = request[1] == 0x22;
        let expected = auth_failure(&request).len();
        let (got, closed) =
            conn.read_until(Duration::from_secs(10), |g| sasl && g.len() >= expected);
        assert_eq!(
            got,
            auth_failure(&request),
            "{name}: binary opcode {:#04x} before authentication",
            request[1]
        );
        assert!(
            closed || sasl,
            "{name}: opcode {:#04x} left the connection open",
            request[1]
        );
    }
    // A wrong SASL password is refused and the connection stays open for another try.
    let mut conn = connect();
    let (status, body) = conn.sasl_plain("alice", "wrong");
    assert_eq!(
        (status, body.as_slice()),
        (0x20, &b"Auth failure."[..]),
        "{name}"
    );
    let (status, body) = conn.sasl_plain("alice", "secret");
    assert_eq!(
        (status, body.as_slice()),
        (0, &b"Authenticated"[..]),
        "{name}"
    );
    conn.send(&binary(0x00, b"a", b""));
    let (reply, _) = conn.read_until(Duration::from_secs(10), binary_complete);
    assert_eq!(
        reply[7], 0x01,
        "{name}: GET after SASL: a miss (nothing was stored)"
    );
    // ASCII auth, then the cache is usable, and none of the refused writes landed.
    let mut conn = connect();
    conn.ascii_auth("bob", "hunter2");
    assert_eq!(conn.call(b"get a\r\n", b"END\r\n"), b"END\r\n", "{name}");
    assert_eq!(
        conn.call(b"set a 0 0 1\r\nz\r\nmg a v\r\n", b"\r\nz\r\n"),
        b"STORED\r\nVA 1\r\nz\r\n",
        "{name}"
    );
    // The binary dialect on the authenticated connection works too.
    conn.send(&binary(0x0a, b"", b""));
    let (reply, _) = conn.read_until(Duration::from_secs(10), binary_complete);
    assert_eq!(&reply[..8], &[0x81, 0x0a, 0, 0, 0, 0, 0, 0], "{name}: NOOP");
}
