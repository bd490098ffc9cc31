//! TLS end to end: real memkeepd processes and real TLS clients (rustls, `openssl
//! s_client`, pymemcache, memkeep bench), certificates made at run time.

mod support;

#[path = "security/client.rs"]
mod client;
#[path = "security/fixtures.rs"]
mod fixtures;
#[path = "proxy/harness.rs"]
mod harness;
#[path = "security/pki.rs"]
mod pki;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use client::Conn;
use fixtures::{as_strs, setup, tls_flags};
use pki::{Ca, TempDir};
use support::{wait_for, Server};

/// `openssl s_client` against `port` with extra flags; true when the handshake
/// completed.
fn openssl_handshake(port: u16, ca: &Path, flags: &[&str]) -> bool {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .arg("-CAfile")
        .arg(ca)
        .args(flags)
        .stdin(Stdio::null())
        .output()
        .expect("openssl");
    let stdout = String::from_utf8_lossy(&out.stdout);
    out.status.success() && stdout.contains("Verify return code: 0 (ok)")
}

#[test]
fn tls_below_1_2_is_refused() {
    let (dir, _ca) = setup();
    let server = Server::memkeepd(&as_strs(&tls_flags(&dir)));
    let ca = dir.file("ca.crt");
    // Security level 0 lets this openssl offer TLS 1.0 and 1.1 at all: the refusal
    // must come from the server.
    assert!(!openssl_handshake(
        server.port,
        &ca,
        &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]
    ));
    assert!(!openssl_handshake(
        server.port,
        &ca,
        &["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"]
    ));
    assert!(openssl_handshake(server.port, &ca, &["-tls1_2"]));
    assert!(openssl_handshake(server.port, &ca, &["-tls1_3"]));
    // ssl_min_version=3 refuses TLS 1.2 as well.
    let mut flags = tls_flags(&dir);
    flags.extend(["-o".into(), "ssl_min_version=3".into()]);
    let tls13 = Server::memkeepd(&as_strs(&flags));
    assert!(!openssl_handshake(tls13.port, &ca, &["-tls1_2"]));
    assert!(openssl_handshake(tls13.port, &ca, &["-tls1_3"]));
}

#[test]
fn client_certificates_from_an_unknown_ca_are_refused() {
    let (dir, ca) = setup();
    ca.issue(&dir, "client", "client-known");
    let stranger = Ca::new("someone else's CA");
    stranger.issue(&dir, "stranger", "client-unknown");
    let mut flags = tls_flags(&dir);
    flags.extend([
        "-o".into(),
        format!("ssl_ca_cert={},ssl_verify_mode=2", dir.arg("ca.crt")),
    ]);
    let server = Server::memkeepd(&as_strs(&flags));
    let ca_file = dir.file("ca.crt");
    let try_with = |cert: Option<&str>| {
        let files = cert.map(|c| (dir.file(&format!("{c}.crt")), dir.file(&format!("{c}.key"))));
        let config = pki::client_config(
            &ca_file,
            files.as_ref().map(|(c, k)| (c.as_path(), k.as_path())),
        );
        let mut conn = Conn::tcp(server.port, Some(&config));
        // TLS 1.3 clients learn of a refused certificate on their first read.
        if conn.handshake().is_err() {
            return Vec::new();
        }
        conn.send(b"version\r\n");
        conn.read_until(Duration::from_secs(10), |g| g.ends_with(b"\r\n"))
            .0
    };
    assert!(try_with(Some("client")).starts_with(b"VERSION "));
    assert_eq!(try_with(Some("stranger")), b"");
    assert_eq!(try_with(None), b"");
}

#[test]
fn pymemcache_over_tls() {
    let (dir, _ca) = setup();
    let server = Server::memkeepd(&as_strs(&tls_flags(&dir)));
    let script = r#"
import ssl, sys
from pymemcache.client.base import Client
context = ssl.create_default_context(cafile=sys.argv[2])
client = Client(("127.0.0.1", int(sys.argv[1])), tls_context=context)
for i in range(200):
    assert client.set(f"key{i}", f"value{i}" * 50)
assert client.get_many([f"key{i}" for i in range(200)]) == {
    f"key{i}": f"value{i}".encode() * 50 for i in range(200)}
assert client.incr("n", 1) is None
client.set("n", "41")
assert client.incr("n", 1) == 42
assert client.delete("key0")
assert client.get("key0") is None
print("pymemcache over TLS: ok")
"#;
    let out = Command::new("/usr/bin/python3")
        .args(["-c", script, &server.port.to_string(), &dir.arg("ca.crt")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn certificates_reload_on_sighup_without_dropping_connections() {
    let (dir, ca) = setup();
    let server = Server::memkeepd(&as_strs(&tls_flags(&dir)));
    let client = pki::client_config(&dir.file("ca.crt"), None);
    let common_name = || {
        let mut conn = Conn::tcp(server.port, Some(&client));
        conn.handshake().unwrap();
        match &conn {
            Conn::Tls(s) => pki::peer_common_name(&s.conn),
            _ => unreachable!(),
        }
    };
    assert_eq!(common_name(), "server-one");

    // Load: four TLS connections, each a closed loop of set + get, opened once.
    let stop = Arc::new(AtomicBool::new(false));
    let done: Arc<Vec<AtomicU64>> = Arc::new((0..4).map(|_| AtomicU64::new(0)).collect());
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let (stop, done, client) = (stop.clone(), done.clone(), client.clone());
            let port = server.port;
            std::thread::spawn(move || {
                let mut conn = Conn::tcp(port, Some(&client));
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let value = format!("{i}-{n}");
                    let request =
                        format!("set k{i} 0 0 {}\r\n{value}\r\nget k{i}\r\n", value.len());
                    let expected = format!(
                        "STORED\r\nVALUE k{i} 0 {}\r\n{value}\r\nEND\r\n",
                        value.len()
                    );
                    let reply = conn.call(request.as_bytes(), b"END\r\n");
                    assert_eq!(String::from_utf8_lossy(&reply), expected, "connection {i}");
                    n += 1;
                    done[i].store(n, Ordering::Relaxed);
                }
                n
            })
        })
        .collect();
    let all_past = |marks: &[u64]| {
        wait_for(Duration::from_secs(30), || {
            done.iter()
                .zip(marks)
                .all(|(d, m)| d.load(Ordering::Relaxed) > *m + 100)
        })
    };
    assert!(all_past(&[0; 4]), "the load did not start");

    // New certificate files in place (renamed over the old ones), then SIGHUP.
    let staging = TempDir::new();
    ca.issue(&staging, "server", "server-two");
    for f in ["server.crt", "server.key"] {
        std::fs::copy(staging.file(f), dir.file(&format!("{f}.new"))).unwrap();
        std::fs::rename(dir.file(&format!("{f}.new")), dir.file(f)).unwrap();
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.pid() as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    assert!(
        wait_for(Duration::from_secs(10), || common_name() == "server-two"),
        "new handshakes did not get the new certificate"
    );
    // The connections opened before the reload carry on.
    let marks: Vec<u64> = done.iter().map(|d| d.load(Ordering::Relaxed)).collect();
    assert!(all_past(&marks), "connections stalled after the reload");
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        assert!(w.join().expect("a load connection failed") > 200);
    }
    // A broken file on the next SIGHUP keeps the running certificate.
    std::fs::write(dir.file("server.key"), "not a key").unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.pid() as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    let mut conn = Conn::tcp(server.port, Some(&client));
    assert_eq!(conn.call(b"version\r\n", b"\r\n")[..8], *b"VERSION ");
    assert_eq!(common_name(), "server-two");
}

#[test]
fn memkeep_bench_speaks_tls_to_memkeepd_and_memcached() {
    let (dir, _ca) = setup();
    let servers = [
        Server::memkeepd(&as_strs(&tls_flags(&dir))),
        Server::memcached(&as_strs(&tls_flags(&dir))),
    ];
    for server in &servers {
        for protocol in ["text", "meta", "binary"] {
            let out = Command::new(env!("CARGO_BIN_EXE_memkeep"))
                .args(["bench", "--json", "--no-progress", "-s", &server.addr()])
                .args(["-P", protocol, "-n", "2000", "--keys", "100", "--preload"])
                .args(["--tls", "--tls-ca", &dir.arg("ca.crt")])
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{} {protocol}: {stderr}", server.name);
            let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(report["requests"], 2000, "{report}");
            assert_eq!(report["errors"], 0, "{report}");
            assert_eq!(report["workload"]["tls"], true, "{report}");
        }
    }
    // Without the CA the server's certificate is refused; --tls-insecure takes it.
    let out = Command::new(env!("CARGO_BIN_EXE_memkeep"))
        .args([
            "bench",
            "--no-progress",
            "-s",
            &servers[0].addr(),
            "-n",
            "10",
        ])
        .arg("--tls")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let out = Command::new(env!("CARGO_BIN_EXE_memkeep"))
        .args([
            "bench",
            "--json",
            "--no-progress",
            "-s",
            &servers[0].addr(),
            "-n",
            "10",
        ])
        .args(["--tls", "--tls-insecure"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn notls_keeps_one_listener_plain_under_tls() {
    let (dir, _ca) = setup();
    let (secure, plain) = (support::free_port(), support::free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_memkeepd"))
        .args(tls_flags(&dir))
        .arg("-l")
        .arg(format!("127.0.0.1:{secure},notls:127.0.0.1:{plain}"))
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    assert!(support::wait_until_accepting(secure, &mut child));
    assert!(support::wait_until_accepting(plain, &mut child));
    let client = pki::client_config(&dir.file("ca.crt"), None);
    let mut conn = Conn::tcp(secure, Some(&client));
    assert!(conn.call(b"version\r\n", b"\r\n").starts_with(b"VERSION "));
    let mut conn = Conn::tcp(plain, None);
    assert!(conn.call(b"version\r\n", b"\r\n").starts_with(b"VERSION "));
    // Plain text on the TLS listener is not a handshake: closed, nothing answered.
    let mut conn = Conn::tcp(secure, None);
    conn.send(b"version\r\n");
    let (got, closed) = conn.read_until(Duration::from_secs(10), |_| false);
    assert!(closed && !got.starts_with(b"VERSION"), "{got:?}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn memkeep_proxy_reloads_its_listener_certificates_on_sighup() {
    let (dir, ca) = setup();
    let backend = Server::memkeepd(&[]);
    let (cert, key) = (dir.arg("server.crt"), dir.arg("server.key"));
    let proxy = harness::Proxy::memkeep("--config", "route.toml", |port| {
        format!(
            "[pools.p]\nservers = [\"{}\"]\n\n[[listeners]]\nlisten = \"127.0.0.1:{port}\"\n\
             route = \"p\"\ntls = {{ cert = \"{cert}\", key = \"{key}\" }}\n",
            backend.addr()
        )
    });
    let client = pki::client_config(&dir.file("ca.crt"), None);
    let common_name = || {
        let mut conn = Conn::tcp(proxy.port, Some(&client));
        conn.handshake().unwrap();
        match &conn {
            Conn::Tls(s) => pki::peer_common_name(&s.conn),
            _ => unreachable!(),
        }
    };
    assert_eq!(common_name(), "server-one");
    let mut before = Conn::tcp(proxy.port, Some(&client));
    assert_eq!(before.call(b"set k 0 0 1\r\nv\r\n", b"\r\n"), b"STORED\r\n");

    let staging = TempDir::new();
    ca.issue(&staging, "server", "server-two");
    for f in ["server.crt", "server.key"] {
        std::fs::copy(staging.file(f), dir.file(&format!("{f}.new"))).unwrap();
        std::fs::rename(dir.file(&format!("{f}.new")), dir.file(f)).unwrap();
    }
    proxy.signal(nix::sys::signal::Signal::SIGHUP);
    assert!(
        wait_for(Duration::from_secs(10), || common_name() == "server-two"),
        "new handshakes did not get the new certificate"
    );
    // The connection opened before the reload carries on.
    assert_eq!(
        before.call(b"get k\r\n", b"END\r\n"),
        b"VALUE k 0 1\r\nv\r\nEND\r\n"
    );
}
