//! memcached's authentication byte for byte: ASCII auth (`-Y`, the table in
//! `conformance/auth.rs`) and SASL PLAIN over the binary protocol (`-S`, the table
//! below), each run against stock memcached (checking the table) and memkeepd.

mod support;

#[path = "conformance/auth.rs"]
mod auth;
#[path = "conformance/case.rs"]
mod case;

use std::sync::atomic::{AtomicUsize, Ordering};

pub use case::Case;
use support::Server;

/// An auth file for both servers, removed when dropped.
struct Users(std::path::PathBuf);

impl Users {
    fn new() -> Users {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "memkeep-auth-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, "alice:secret\nbob:hunter2\n").unwrap();
        Users(path)
    }

    fn arg(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for Users {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn run_all(server: &Server) {
    let failures: Vec<String> = auth::CASES
        .iter()
        .filter_map(|c| case::check(&mut server.connect(), c, false, server.name).err())
        .collect();
    eprintln!(
        "{}: {} auth cases passed, {} failed",
        server.name,
        auth::CASES.len() - failures.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn auth_table_matches_stock_memcached() {
    let users = Users::new();
    run_all(&Server::memcached(&["-Y", &users.arg()]));
}

#[test]
fn memkeepd_matches_the_auth_table() {
    let users = Users::new();
    run_all(&Server::memkeepd(&["-Y", &users.arg()]));
}

/// A binary request (no extras) with opaque `opaque`.
fn packet(opcode: u8, key: &[u8], value: &[u8], opaque: u32) -> Vec<u8> {
    let mut p = vec![0x80, opcode];
    p.extend_from_slice(&(key.len() as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0]);
    p.extend_from_slice(&((key.len() + value.len()) as u32).to_be_bytes());
    p.extend_from_slice(&opaque.to_be_bytes());
    p.extend_from_slice(&[0; 8]);
    p.extend_from_slice(key);
    p.extend_from_slice(value);
    p
}

/// A binary reply with a body and no extras or key.
fn reply(opcode: u8, status: u16, body: &[u8], opaque: u32) -> Vec<u8> {
    let mut p = vec![0x81, opcode, 0, 0, 0, 0];
    p.extend_from_slice(&status.to_be_bytes());
    p.extend_from_slice(&(body.len() as u32).to_be_bytes());
    p.extend_from_slice(&opaque.to_be_bytes());
    p.extend_from_slice(&[0; 8]);
    p.extend_from_slice(body);
    p
}

fn leak(bytes: Vec<u8>) -> &'static [u8] {
    Box::leak(bytes.into_boxed_slice())
}

/// SASL over the binary protocol, and every binary request before it.
fn sasl_cases() -> Vec<Case> {
    const NOOP: u8 = 0x0a;
    let failure = |op: u8, opaque: u32| reply(op, 0x20, b"Auth failure.", opaque);
    let plain = |data: &[u8]| packet(0x21, b"PLAIN", data, 9);
    let case = |name: &'static str, send: Vec<u8>, expect: Vec<u8>| Case {
        name,
        send: leak(send),
        expect: leak(expect),
    };
    vec![
        case(
            "list mechanisms",
            packet(0x20, b"", b"", 7),
            reply(0x20, 0, b"PLAIN", 7),
        ),
        case(
            "PLAIN login, then a request",
            [plain(b"\0alice\0secret"), packet(NOOP, b"", b"", 3)].concat(),
            [reply(0x21, 0, b"Authenticated", 9), reply(NOOP, 0, b"", 3)].concat(),
        ),
        case(
            "PLAIN login with an authorization id",
            [plain(b"bob\0bob\0hunter2"), packet(NOOP, b"", b"", 3)].concat(),
            [reply(0x21, 0, b"Authenticated", 9), reply(NOOP, 0, b"", 3)].concat(),
        ),
        case(
            "wrong password, then a request: refused and closed",
            [plain(b"\0alice\0wrong"), packet(NOOP, b"", b"", 3)].concat(),
            [failure(0x21, 9), failure(NOOP, 3)].concat(),
        ),
        case(
            "a step with nothing begun",
            [
                packet(0x22, b"PLAIN", b"\0alice\0secret", 9),
                packet(NOOP, b"", b"", 3),
            ]
            .concat(),
            [failure(0x22, 9), failure(NOOP, 3)].concat(),
        ),
        case(
            "a mechanism not offered",
            [
                packet(0x21, b"CRAM-MD5", b"x", 9),
                packet(NOOP, b"", b"", 3),
            ]
            .concat(),
            [failure(0x21, 9), failure(NOOP, 3)].concat(),
        ),
        case(
            "GET before login",
            packet(0x00, b"foo", b"", 5),
            failure(0x00, 5),
        ),
        case(
            "GETQ before login is answered too",
            packet(0x09, b"foo", b"", 5),
            failure(0x09, 5),
        ),
        case(
            "DELETE before login",
            packet(0x04, b"foo", b"", 5),
            failure(0x04, 5),
        ),
        case(
            "STAT before login",
            packet(0x10, b"", b"", 5),
            failure(0x10, 5),
        ),
        case(
            "FLUSH before login",
            packet(0x08, b"", b"", 5),
            failure(0x08, 5),
        ),
    ]
}

/// Stock memcached with SASL (libsasl2 and its sasldb, users made with
/// `saslpasswd2`, Debian `sasl2-bin`), PLAIN only.
fn memcached_with_sasl(dir: &std::path::Path) -> Server {
    let db = dir.join("sasldb");
    for (user, password) in [("alice", "secret"), ("bob", "hunter2")] {
        let mut child = std::process::Command::new("saslpasswd2")
            .args(["-a", "memcached", "-c", "-p", "-f"])
            .arg(&db)
            .arg(user)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("saslpasswd2 (Debian sasl2-bin)");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success());
    }
    std::fs::write(
        dir.join("memcached.conf"),
        format!("mech_list: plain\nsasldb_path: {}\n", db.display()),
    )
    .unwrap();
    // libsasl2 finds memcached.conf through the environment; each test runs in a
    // process of its own, so this reaches only this memcached.
    std::env::set_var("SASL_CONF_PATH", dir);
    Server::memcached(&["-S"])
}

fn run_sasl(server: &Server) {
    let failures: Vec<String> = sasl_cases()
        .iter()
        .filter_map(|c| case::check(&mut server.connect(), c, true, server.name).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn sasl_table_matches_stock_memcached() {
    let users = Users::new();
    let dir = users.0.with_extension("sasl");
    std::fs::create_dir_all(&dir).unwrap();
    let server = memcached_with_sasl(&dir);
    run_sasl(&server);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn memkeepd_matches_the_sasl_table() {
    let users = Users::new();
    run_sasl(&Server::memkeepd(&["-S", "-Y", &users.arg()]));
}
