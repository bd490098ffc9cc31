//! What the security tests share: a CA and a server certificate for 127.0.0.1 in a
//! fresh directory, the users file, and memkeepd's TLS flags for them.

#![allow(dead_code)] // each test binary uses a different part of this module

use crate::pki::{Ca, TempDir};

/// The users of the auth file: `alice secret` and `bob hunter2`.
pub const USERS: &str = "alice:secret\nbob:hunter2\n";

/// A CA, a server certificate `server.{crt,key}` signed by it, and the auth file.
pub fn setup() -> (TempDir, Ca) {
    let dir = TempDir::new();
    let ca = Ca::new("memkeep test CA");
    ca.write(&dir.file("ca.crt"));
    ca.issue(&dir, "server", "server-one");
    std::fs::write(dir.file("users"), USERS).unwrap();
    (dir, ca)
}

/// memkeepd's `-Z` flags for the server certificate of [`setup`].
pub fn tls_flags(dir: &TempDir) -> Vec<String> {
    vec![
        "-Z".into(),
        "-o".into(),
        format!(
            "ssl_chain_cert={},ssl_key={}",
            dir.arg("server.crt"),
            dir.arg("server.key")
        ),
    ]
}

/// Borrowed flags, for `Server::memkeepd`.
pub fn as_strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}
