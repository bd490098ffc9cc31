//! Replication links over mutual TLS: a pair replicates through it, and a node whose
//! certificate comes from another CA is refused (as client and as server).

mod support;

#[path = "security/client.rs"]
mod client;
#[path = "security/pki.rs"]
mod pki;

use std::process::{Command, Stdio};
use std::time::Duration;

use client::Conn;
use pki::{Ca, TempDir};
use support::{free_port, wait_for, Server};

/// memkeepd's replication TLS flags for the certificate `<stem>.crt` and `ca`.
fn link_flags(dir: &TempDir, stem: &str, ca: &str) -> Vec<String> {
    vec![
        "--replication-tls-cert".into(),
        dir.arg(&format!("{stem}.crt")),
        "--replication-tls-key".into(),
        dir.arg(&format!("{stem}.key")),
        "--replication-tls-ca".into(),
        dir.arg(ca),
    ]
}

fn start(args: Vec<String>) -> Server {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::memkeepd(&args)
}

fn get(server: &Server, key: &str) -> Vec<u8> {
    let mut conn = Conn::tcp(server.port, None);
    conn.send(format!("get {key}\r\n").as_bytes());
    let (reply, _) = conn.read_until(Duration::from_secs(10), |g| {
        g.ends_with(b"END\r\n") || g.starts_with(b"SERVER_ERROR") && g.ends_with(b"\r\n")
    });
    reply
}

fn set(server: &Server, key: &str, value: &str) {
    let mut conn = Conn::tcp(server.port, None);
    let request = format!("set {key} 0 0 {}\r\n{value}\r\n", value.len());
    assert_eq!(conn.call(request.as_bytes(), b"\r\n"), b"STORED\r\n");
}

/// `openssl s_client` to `port` presenting `<stem>.crt`; true when the server took it
/// (TLS 1.2, where a refused client certificate fails the handshake itself).
fn openssl_with_cert(dir: &TempDir, port: u16, stem: &str) -> bool {
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-tls1_2",
            "-connect",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["-CAfile", &dir.arg("ca.crt")])
        .args(["-cert", &dir.arg(&format!("{stem}.crt"))])
        .args(["-key", &dir.arg(&format!("{stem}.key"))])
        .stdin(Stdio::null())
        .output()
        .expect("openssl");
    let stdout = String::from_utf8_lossy(&out.stdout);
    out.status.success() && stdout.contains("Verify return code: 0 (ok)")
}

#[test]
fn replication_links_use_mutual_tls_and_refuse_an_unknown_ca() {
    let dir = TempDir::new();
    let ca = Ca::new("memkeep replication CA");
    ca.write(&dir.file("ca.crt"));
    ca.issue(&dir, "node-a", "node-a");
    ca.issue(&dir, "node-b", "node-b");
    ca.issue(&dir, "node-d", "node-d");
    let stranger = Ca::new("someone else's CA");
    stranger.write(&dir.file("stranger-ca.crt"));
    stranger.issue(&dir, "stranger", "stranger");

    let (ra, rb) = (free_port(), free_port());
    let a = start(
        [
            vec!["-X".into(), ra.to_string()],
            link_flags(&dir, "node-a", "ca.crt"),
        ]
        .concat(),
    );
    let b = start(
        [
            vec![
                "-X".into(),
                rb.to_string(),
                "-x".into(),
                format!("127.0.0.1:{ra}"),
            ],
            link_flags(&dir, "node-b", "ca.crt"),
        ]
        .concat(),
    );
    // Both ways through the TLS link.
    set(&a, "from-a", "one");
    set(&b, "from-b", "two");
    assert!(
        wait_for(Duration::from_secs(15), || get(&b, "from-a")
            == b"VALUE from-a 0 3\r\none\r\nEND\r\n"),
        "A's write never reached B"
    );
    assert!(
        wait_for(Duration::from_secs(15), || get(&a, "from-b")
            == b"VALUE from-b 0 3\r\ntwo\r\nEND\r\n"),
        "B's write never reached A"
    );

    // The replication port refuses a client certificate from another CA and takes
    // one from its own.
    assert!(!openssl_with_cert(&dir, ra, "stranger"));
    assert!(openssl_with_cert(&dir, ra, "node-d"));

    // A replica holding the stranger's certificate (and trusting only the stranger's
    // CA) never gets the stream, while one from the right CA does.
    let c = start(
        [
            vec!["--replica-of".into(), format!("127.0.0.1:{ra}")],
            link_flags(&dir, "stranger", "stranger-ca.crt"),
        ]
        .concat(),
    );
    let d = start(
        [
            vec!["--replica-of".into(), format!("127.0.0.1:{ra}")],
            link_flags(&dir, "node-d", "ca.crt"),
        ]
        .concat(),
    );
    assert!(
        wait_for(Duration::from_secs(15), || get(&d, "from-a")
            == b"VALUE from-a 0 3\r\none\r\nEND\r\n"),
        "the replica with a known certificate never synced"
    );
    assert_eq!(get(&c, "from-a"), b"SERVER_ERROR warming\r\n");
    // A plain replica, no TLS at all, is refused too: by the time a later write has
    // streamed to the good replica, it is still waiting for its first copy.
    let e = start(vec!["--replica-of".into(), format!("127.0.0.1:{ra}")]);
    set(&a, "late", "x");
    assert!(
        wait_for(Duration::from_secs(15), || get(&d, "late")
            == b"VALUE late 0 1\r\nx\r\nEND\r\n"),
        "the good replica stopped following"
    );
    assert_eq!(get(&e, "from-a"), b"SERVER_ERROR warming\r\n");
    assert_eq!(get(&c, "late"), b"SERVER_ERROR warming\r\n");
}
