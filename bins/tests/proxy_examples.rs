//! The examples of the memkeep-proxy crate (`crates/proxy/examples/`), each built and
//! run as a user would run it, in front of real memkeepd servers: keys set through
//! them are read back through them and found where each example puts them.

#[path = "proxy/harness.rs"]
mod harness;
mod support;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use harness::{get, set, Node, NodeKind};
use support::{wait_for, Server};

/// Builds the crate's examples (once per test process; cargo does nothing when they
/// are fresh) and returns the directory cargo put them in.
fn examples_dir() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            // This test runs from <target>/<profile>/deps/; the examples land in
            // <target>/<profile>/examples/.
            let profile_dir = std::env::current_exe()
                .unwrap()
                .parent()
                .and_then(|deps| deps.parent())
                .unwrap()
                .to_path_buf();
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut build = Command::new(cargo);
            build.args(["build", "--quiet", "-p", "memkeep-proxy", "--examples"]);
            // What cargo sets for this test's own package would make the build
            // scripts that watch them (ring's) run again, and so rebuild what the
            // test run just built.
            for (name, _) in std::env::vars_os() {
                let name = name.to_string_lossy();
                let set_for_this_test = [
                    "CARGO_PKG_",
                    "CARGO_MANIFEST_",
                    "CARGO_CRATE_",
                    "CARGO_BIN_",
                ]
                .iter()
                .any(|prefix| name.starts_with(prefix))
                    || ["OUT_DIR", "CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR"]
                        .contains(&&*name);
                if set_for_this_test {
                    build.env_remove(&*name);
                }
            }
            if profile_dir.ends_with("release") {
                build.arg("--release");
            }
            let status = build
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .unwrap();
            assert!(status.success(), "cargo build --examples: {status}");
            profile_dir.join("examples")
        })
        .clone()
}

/// A running example, killed when dropped.
struct Example {
    child: Child,
    /// Where it listens.
    port: u16,
}

impl Example {
    /// Starts example `name` listening on a port of its choosing, with `args` after
    /// the listen address, and waits for its "listening on ADDR" line.
    fn start(name: &str, args: &[String]) -> Example {
        let mut child = Command::new(examples_dir().join(name))
            .arg("127.0.0.1:0")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start example {name}: {e}"));
        let stdout = child.stdout.take().unwrap();
        let (line_tx, line) = mpsc::channel();
        std::thread::spawn(move || {
            let mut first = String::new();
            let _ = BufReader::new(stdout).read_line(&mut first);
            let _ = line_tx.send(first);
        });
        let first = line
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_default();
        let Some(addr) = first.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            panic!("example {name} did not start: {first:?} {:?}", child.wait());
        };
        let port = addr.rsplit_once(':').unwrap().1.parse().unwrap();
        Example { child, port }
    }

    fn connect(&self) -> TcpStream {
        TcpStream::connect(("127.0.0.1", self.port)).unwrap()
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `key` read directly from a server.
fn read_from(addr: &str, key: &str) -> Option<String> {
    let mut conn = TcpStream::connect(addr).unwrap();
    get(&mut conn, key).unwrap()
}

#[test]
fn sharding_spreads_keys_over_the_servers() {
    let servers = [Server::memkeepd(&[]), Server::memkeepd(&[])];
    let addrs: Vec<String> = servers.iter().map(Server::addr).collect();
    let proxy = Example::start("sharding", &addrs);
    let mut conn = proxy.connect();
    let keys: Vec<String> = (0..40).map(|i| format!("key-{i}")).collect();
    for key in &keys {
        assert_eq!(set(&mut conn, key, &format!("v-{key}")), "STORED\r\n");
    }
    let mut held = [0, 0];
    for key in &keys {
        assert_eq!(get(&mut conn, key), Ok(Some(format!("v-{key}"))));
        let on: Vec<usize> = (0..2)
            .filter(|&s| read_from(&addrs[s], key).is_some())
            .collect();
        assert_eq!(on.len(), 1, "{key} is on exactly one server: {on:?}");
        held[on[0]] += 1;
    }
    assert!(
        held.iter().all(|&n| n > 0),
        "both servers hold keys: {held:?}"
    );
}

#[test]
fn main_backup_reads_hit_with_the_main_server_killed() {
    let mut main = Node::start(NodeKind::Memkeepd);
    let backup = Node::start(NodeKind::Memkeepd);
    let proxy = Example::start("main_backup", &[main.addr(), backup.addr()]);
    let mut conn = proxy.connect();
    let keys: Vec<String> = (0..20).map(|i| format!("key-{i}")).collect();
    for key in &keys {
        assert_eq!(set(&mut conn, key, &format!("v-{key}")), "STORED\r\n");
    }
    // Answered by the first server to take it; the other one has it soon after.
    for key in &keys {
        assert!(wait_for(Duration::from_secs(10), || {
            read_from(&main.addr(), key).is_some() && read_from(&backup.addr(), key).is_some()
        }));
    }
    main.kill();
    for key in &keys {
        assert_eq!(get(&mut conn, key), Ok(Some(format!("v-{key}"))));
    }
    // Back, empty: reads fill it again.
    main.restart();
    let key = &keys[0];
    assert!(wait_for(Duration::from_secs(20), || {
        let mut conn = proxy.connect();
        get(&mut conn, key) == Ok(Some(format!("v-{key}")))
            && read_from(&main.addr(), key) == Some(format!("v-{key}"))
    }));
}

#[test]
fn read_repair_copies_a_hit_to_the_server_that_lost_it() {
    let servers = [
        Server::memkeepd(&[]),
        Server::memkeepd(&[]),
        Server::memkeepd(&[]),
    ];
    let addrs: Vec<String> = servers.iter().map(Server::addr).collect();
    let proxy = Example::start("read_repair", &addrs);
    let mut conn = proxy.connect();
    assert_eq!(set(&mut conn, "k", "hello"), "STORED\r\n");
    // Answered once a majority took it; every server has it soon after.
    assert!(wait_for(Duration::from_secs(10), || {
        addrs.iter().all(|a| read_from(a, "k").is_some())
    }));
    servers[0].flush_all();
    assert_eq!(read_from(&addrs[0], "k"), None);
    assert_eq!(get(&mut conn, "k"), Ok(Some("hello".into())));
    assert!(wait_for(Duration::from_secs(10), || {
        read_from(&addrs[0], "k") == Some("hello".into())
    }));
}

#[test]
fn custom_layer_stores_keys_under_the_tenant_prefix() {
    let server = Server::memkeepd(&[]);
    let proxy = Example::start("custom_layer", &["tenant1:".into(), server.addr()]);
    let mut conn = proxy.connect();
    assert_eq!(set(&mut conn, "k", "hello"), "STORED\r\n");
    assert_eq!(read_from(&server.addr(), "tenant1:k"), Some("hello".into()));
    assert_eq!(read_from(&server.addr(), "k"), None);
    // The client sees its own key in the reply.
    let reply = harness::exchange(&mut conn, b"get k\r\n", b"END\r\n");
    assert_eq!(reply, b"VALUE k 0 5\r\nhello\r\nEND\r\n");
}
