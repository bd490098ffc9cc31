//! TLS and authentication end to end: real memkeepd processes, real TLS clients
//! (rustls, `openssl s_client`, pymemcache), certificates made at run time.

mod support;

#[path = "security/client.rs"]
mod client;
#[path = "proxy/harness.rs"]
mod harness;
#[path = "security/pki.rs"]
mod pki;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use client::{binary, binary_complete, binary_with_extras, Conn};
use pki::{Ca, TempDir};
use support::{wait_for, Server};

const USERS: &str = "alice:secret\nbob:hunter2\n";
const UNAUTHENTICATED: &[u8] = b"CLIENT_ERROR unauthenticated\r\n";

/// A CA, a server certificate `server.{crt,key}` signed by it, and the auth file.
fn setup() -> (TempDir, Ca) {
    let dir = TempDir::new();
    let ca = Ca::new("memkeep test CA");
    ca.write(&dir.file("ca.crt"));
    ca.issue(&dir, "server", "server-one");
    std::fs::write(dir.file("users"), USERS).unwrap();
    (dir, ca)
}

fn tls_flags(dir: &TempDir) -> Vec<String> {
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

fn as_strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A memkeepd on a Unix socket (which turns TCP off), killed when dropped.
struct UnixServer(Child);

impl UnixServer {
    fn start(socket: &Path, extra: &[&str]) -> UnixServer {
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
fn check_listener(name: &str, connect: &dyn Fn() -> Conn) {
    // Text and meta, pipelined on one connection.
    let mut conn = connect();
    let sent: Vec<u8> = TEXT_AND_META.iter().flat_map(|(s, _)| s.to_vec()).collect();
    let expected: Vec<u8> = TEXT_AND_META.iter().flat_map(|(_, e)| e.to_vec()).collect();
    conn.send(&sent);
    let (got, _) = conn.read_until(Duration::from_secs(10), |g| g.len() >= expected.len());
    let (more, _) = conn.read_until(Duration::from_millis(50), |g| !g.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&[got, more].concat()),
        String::from_utf8_lossy(&expected),
        "{name}: text and meta before authentication"
    );
    // Binary: each request on a fresh connection, which is closed after the error
    // (but for a failed SASL step, which leaves room for another try, as memcached).
    for request in binary_requests() {
        let mut conn = connect();
        conn.send(&request);
        let sasl = request[1] == 0x22;
        let expected = auth_failure(&request).len();
        let limit = if request.len() < 24 {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(10)
        };
        let (got, closed) = conn.read_until(limit, |g| sasl && g.len() >= expected);
        if request.len() < 24 {
            // Nothing to answer until the header is whole.
            assert_eq!(got, b"", "{name}: truncated binary header");
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

#[test]
fn no_request_before_authentication_gets_anything_but_an_auth_error() {
    let (dir, _ca) = setup();
    let users = dir.arg("users");
    let auth = ["-Y", users.as_str(), "-S"];

    let plain = Server::memkeepd(&auth);
    check_listener("tcp", &|| Conn::tcp(plain.port, None));
    // memcached's counters: six logins with a user and a password (the refused text
    // one, the SASL step, the two SASL ones, the text one, and this), three refused;
    // the malformed text token is not counted.
    let mut conn = Conn::tcp(plain.port, None);
    conn.ascii_auth("alice", "secret");
    let stats = String::from_utf8(conn.call(b"stats\r\n", b"END\r\n")).unwrap();
    assert!(
        stats.contains("STAT auth_cmds 6\r\nSTAT auth_errors 3\r\n"),
        "{stats}"
    );

    let mut flags = tls_flags(&dir);
    flags.extend(auth.iter().map(|s| s.to_string()));
    let tls = Server::memkeepd(&as_strs(&flags));
    let client = pki::client_config(&dir.file("ca.crt"), None);
    check_listener("tls", &|| Conn::tcp(tls.port, Some(&client)));

    let socket = dir.file("memkeepd.sock");
    let _unix = UnixServer::start(&socket, &auth);
    check_listener("unix", &|| Conn::unix(&socket));
}

#[test]
fn ascii_auth_alone_refuses_sasl_and_sasl_alone_refuses_ascii_auth() {
    let (dir, _ca) = setup();
    let users = dir.arg("users");
    let ascii_only = Server::memkeepd(&["-Y", &users]);
    let mut conn = Conn::tcp(ascii_only.port, None);
    assert_eq!(conn.sasl_plain("alice", "secret").0, 0x20);
    let sasl_only = Server::memkeepd(&["-S", "-Y", &users]);
    drop(sasl_only);
    let out = Command::new(env!("CARGO_BIN_EXE_memkeepd"))
        .args(["-S", "-p", "0"])
        .env_remove("MEMCACHED_SASL_PWDB")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("-S needs users"));
    // MEMCACHED_SASL_PWDB supplies SASL users without -Y; text clients then have no
    // way in.
    let port = support::free_port().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_memkeepd"))
        .args(["-S", "-l", "127.0.0.1", "-p", &port])
        .env("MEMCACHED_SASL_PWDB", dir.file("users"))
        .spawn()
        .unwrap();
    let port: u16 = port.parse().unwrap();
    assert!(support::wait_until_accepting(port, &mut child));
    let mut conn = Conn::tcp(port, None);
    assert_eq!(
        conn.call(b"set a 0 0 12\r\nalice secret\r\n", b"\r\n"),
        UNAUTHENTICATED
    );
    let mut conn = Conn::tcp(port, None);
    assert_eq!(conn.sasl_plain("alice", "secret").0, 0);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn bad_security_flags_are_refused_with_a_message() {
    let (dir, _ca) = setup();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["-Z".into()], "ssl_chain_cert"),
        (
            vec![
                "-o".into(),
                format!("ssl_chain_cert={}", dir.arg("server.crt")),
            ],
            "need -Z",
        ),
        (
            [
                tls_flags(&dir),
                vec!["-o".into(), "ssl_min_version=1".into()],
            ]
            .concat(),
            "TLS 1.2",
        ),
        (
            [
                tls_flags(&dir),
                vec!["-o".into(), "ssl_ciphers=HIGH".into()],
            ]
            .concat(),
            "not supported",
        ),
        (
            [
                tls_flags(&dir),
                vec!["-o".into(), "ssl_verify_mode=2".into()],
            ]
            .concat(),
            "CA",
        ),
        (
            vec!["-Y".into(), dir.arg("missing")],
            "cannot read auth file",
        ),
    ];
    for (args, message) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_memkeepd"))
            .args(["-p", "0"])
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

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

/// Stock memcached with TLS (`-Z`, this Debian build has it) and ASCII auth.
fn memcached_with_tls_and_auth(dir: &TempDir) -> Server {
    let mut flags = tls_flags(dir);
    flags.extend(["-Y".into(), dir.arg("users")]);
    Server::memcached(&as_strs(&flags))
}

/// How many of `keys` `server` holds, asked over TLS after logging in.
fn keys_held(server: &Server, client: &Arc<rustls::ClientConfig>, keys: &[String]) -> usize {
    let mut conn = Conn::tcp(server.port, Some(client));
    conn.ascii_auth("alice", "secret");
    let reply = conn.call(format!("get {}\r\n", keys.join(" ")).as_bytes(), b"END\r\n");
    String::from_utf8_lossy(&reply).matches("VALUE ").count()
}

#[test]
fn the_proxy_requires_auth_and_tls_from_clients_and_uses_both_to_its_servers() {
    let (dir, _ca) = setup();
    let users = dir.arg("users");
    let mut flags = tls_flags(&dir);
    flags.extend(["-Y".into(), users.clone()]);
    let memkeepd = Server::memkeepd(&as_strs(&flags));
    let memcached = memcached_with_tls_and_auth(&dir);
    let sasl_backend = Server::memkeepd(&["-S", "-Y", &users]);
    let (beta_port, gamma_port) = (support::free_port(), support::free_port());
    let config = |port: u16| {
        format!(
            r#"
[pools.alpha]
servers = ["127.0.0.1:{a}:1", "127.0.0.1:{b}:1"]
# md5 spreads keys that differ in one character (twemproxy's fnv1a_64 keeps
# key0..key39 close together, often on one server).
hash = "md5"
[pools.alpha.tls]
ca = "{ca}"
[pools.alpha.auth]
username = "alice"
password = "secret"

[pools.beta]
servers = ["127.0.0.1:{c}:1"]
[pools.beta.auth]
username = "bob"
password = "hunter2"
mechanism = "sasl"

[[listeners]]
listen = "127.0.0.1:{port}"
pool = "alpha"
authfile = "{users}"
[listeners.tls]
cert = "{crt}"
key = "{key}"

[[listeners]]
listen = "127.0.0.1:{beta_port}"
pool = "beta"

[[listeners]]
listen = "127.0.0.1:{gamma_port}"
pool = "alpha"
authfile = "{users}"
"#,
            a = memkeepd.port,
            b = memcached.port,
            c = sasl_backend.port,
            ca = dir.arg("ca.crt"),
            crt = dir.arg("server.crt"),
            key = dir.arg("server.key"),
        )
    };
    let proxy = harness::Proxy::memkeep("--config", "route.toml", config);
    let client = pki::client_config(&dir.file("ca.crt"), None);

    // Clients: nothing but auth errors before logging in, in every dialect, on the
    // TLS listener and on a plain one.
    check_listener("proxy over TLS", &|| Conn::tcp(proxy.port, Some(&client)));
    let mut conn = Conn::tcp(proxy.port, Some(&client));
    conn.ascii_auth("alice", "secret");
    assert_eq!(conn.call(b"flush_all\r\n", b"\r\n"), b"OK\r\n");
    check_listener("proxy", &|| Conn::tcp(gamma_port, None));

    // Servers: the proxy reached both over TLS, logged in (they refuse anything
    // else), and the keys landed on both.
    let mut conn = Conn::tcp(proxy.port, Some(&client));
    conn.ascii_auth("alice", "secret");
    let keys: Vec<String> = (0..40).map(|i| format!("key{i}")).collect();
    for k in &keys {
        let request = format!("set {k} 0 0 2\r\nok\r\n");
        assert_eq!(conn.call(request.as_bytes(), b"\r\n"), b"STORED\r\n");
    }
    let (on_memkeepd, on_memcached) = (
        keys_held(&memkeepd, &client, &keys),
        keys_held(&memcached, &client, &keys),
    );
    assert_eq!(on_memkeepd + on_memcached, keys.len());
    assert!(
        on_memkeepd > 0 && on_memcached > 0,
        "{on_memkeepd} / {on_memcached}"
    );

    // SASL PLAIN to a server: the plain listener of pool beta works end to end.
    let mut beta = Conn::tcp(beta_port, None);
    assert_eq!(
        beta.call(b"set b 0 0 1\r\nx\r\nget b\r\n", b"END\r\n"),
        b"STORED\r\nVALUE b 0 1\r\nx\r\nEND\r\n"
    );
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
