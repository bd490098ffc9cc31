//! memkeep-proxy and nutcracker processes for the proxy tests: start with a config
//! written to a temporary file on reserved ports, wait until they listen, kill on
//! drop.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::io::Write;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{free_port, read_until, spawn_listening, wait_for, wait_until_accepting};

/// A proxy process listening on `port`.
pub struct Proxy {
    child: Child,
    /// The pool's port.
    pub port: u16,
    /// The stats port, when it has one.
    pub stats_port: Option<u16>,
    /// Where its configuration file is.
    pub dir: TempDir,
}

/// A directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "memkeep-proxy-test-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A nutcracker.yml with one pool `alpha` listening on `port` over `servers`
/// (`host:port`), plus extra lines for the pool.
pub fn nutcracker_yml(port: u16, servers: &[String], extra: &str) -> String {
    let mut yml =
        format!("alpha:\n  listen: 127.0.0.1:{port}\n  hash: fnv1a_64\n  distribution: ketama\n");
    for line in extra.lines().filter(|l| !l.trim().is_empty()) {
        yml.push_str(&format!("  {}\n", line.trim()));
    }
    yml.push_str("  servers:\n");
    for s in servers {
        yml.push_str(&format!("   - {s}:1\n"));
    }
    yml
}

impl Proxy {
    /// memkeep-proxy with `args` and a config made by `config(port)`, written to
    /// `name` in a fresh directory and passed as `flag FILE`.
    pub fn memkeep(flag: &str, name: &str, config: impl Fn(u16) -> String) -> Proxy {
        Self::start(env!("CARGO_BIN_EXE_memkeep-proxy"), flag, name, config)
    }

    /// twemproxy (Debian `nutcracker`) with a nutcracker.yml made by `config(port)`.
    pub fn nutcracker(config: impl Fn(u16) -> String) -> Proxy {
        Self::start("nutcracker", "-c", "nutcracker.yml", config)
    }

    /// memkeep-proxy with magent's flags: `-p PORT -l 127.0.0.1` and `args`.
    pub fn magent(args: &[&str]) -> Proxy {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_memkeep-proxy"));
        command
            .args(["-p", &port.to_string(), "-l", "127.0.0.1"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        Proxy {
            child: spawn_listening(&mut command, port),
            port,
            stats_port: None,
            dir: TempDir::new(),
        }
    }

    fn start(program: &str, flag: &str, name: &str, config: impl Fn(u16) -> String) -> Proxy {
        let dir = TempDir::new();
        let port = free_port();
        let path = dir.0.join(name);
        std::fs::write(&path, config(port)).unwrap();
        let mut command = Command::new(program);
        command.arg(flag).arg(&path);
        // twemproxy's stats port defaults to 22222: pick one.
        let stats_port = free_port();
        command
            .arg("-s")
            .arg(stats_port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let child = if program == "nutcracker" {
            command
                .arg("-p")
                .arg(dir.0.join("pid"))
                .arg("-o")
                .arg(dir.0.join("log"));
            // It writes no port file: wait until it accepts a connection (on a
            // reserved port, one try is enough).
            let mut child = command
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
            if !wait_until_accepting(port, &mut child) {
                let _ = child.kill();
                panic!("{program} did not start: {:?}", child.wait());
            }
            child
        } else {
            spawn_listening(&mut command, port)
        };
        Proxy {
            child,
            port,
            stats_port: Some(stats_port),
            dir,
        }
    }

    /// A new client connection.
    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal to the process.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let mut status = None;
        wait_for(Duration::from_secs(10), || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        status.expect("did not exit on SIGTERM")
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `request` and reads until the reply ends with `end` (or 5 s pass).
pub fn exchange(conn: &mut TcpStream, request: &[u8], end: &[u8]) -> Vec<u8> {
    conn.write_all(request).unwrap();
    read_until(conn, Duration::from_secs(5), |got| got.ends_with(end)).0
}

/// Waits until the proxy's `stats` shows a connection to `addr` in `pool` (a
/// restarted server is reconnected to after a backoff).
pub fn wait_connected(proxy: &Proxy, pool: &str, addr: &str) -> bool {
    let mut conn = proxy.connect();
    let line = format!("STAT server:{pool}:{addr}:connections 1\r\n");
    wait_for(Duration::from_secs(10), || {
        let stats = exchange(&mut conn, b"stats\r\n", b"END\r\n");
        String::from_utf8_lossy(&stats).contains(&line)
    })
}

/// `set` then read one reply line.
pub fn set(conn: &mut TcpStream, key: &str, value: &str) -> String {
    let request = format!("set {key} 0 0 {}\r\n{value}\r\n", value.len());
    String::from_utf8(exchange(conn, request.as_bytes(), b"\r\n")).unwrap()
}

/// `get` of one key: the value, or `None` on a miss; panics on anything else.
pub fn get(conn: &mut TcpStream, key: &str) -> Result<Option<String>, String> {
    let reply = exchange(conn, format!("get {key}\r\n").as_bytes(), b"\r\n");
    let mut reply = String::from_utf8(reply).unwrap();
    if reply.starts_with("VALUE") {
        while !reply.ends_with("END\r\n") {
            let more = read_until(conn, Duration::from_secs(5), |g| g.ends_with(b"END\r\n")).0;
            reply.push_str(&String::from_utf8(more).unwrap());
        }
        let value = reply.lines().nth(1).unwrap().to_owned();
        return Ok(Some(value));
    }
    match reply.as_str() {
        "END\r\n" => Ok(None),
        other => Err(other.to_owned()),
    }
}

/// Stock memcached on a given port (to restart a killed backend where it was: the
/// port stays reserved by [`free_port`] meanwhile).
pub fn memcached_on(port: u16) -> Child {
    let mut command = Command::new("memcached");
    command.args(["-U", "0", "-l", "127.0.0.1", "-p", &port.to_string()]);
    if nix::unistd::Uid::effective().is_root() {
        command.args(["-u", "root"]);
    }
    command.stdin(Stdio::null()).stdout(Stdio::null());
    spawn_listening(&mut command, port)
}

/// Clients that set and read back keys in a loop, one request in flight each, and
/// count what they saw.
pub struct Load {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ops: std::sync::Arc<std::sync::atomic::AtomicU64>,
    threads: Vec<std::thread::JoinHandle<ClientTally>>,
}

/// What one load client saw.
#[derive(Debug, Default, Clone)]
pub struct ClientTally {
    /// Requests answered.
    pub ops: u64,
    /// Replies that were errors (`SERVER_ERROR ...`), or reads of a wrong value.
    pub errors: u64,
    /// Gets that missed a key once stored (a key whose only set failed may miss).
    pub misses: u64,
}

impl Load {
    /// `clients` connections to `port`, each on its own keys (`load:CLIENT:N`, N
    /// cycling over `keys`).
    pub fn start(port: u16, clients: usize, keys: usize) -> Load {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        use std::sync::Arc;
        let stop = Arc::new(AtomicBool::new(false));
        let ops = Arc::new(AtomicU64::new(0));
        let threads = (0..clients)
            .map(|client| {
                let (stop, ops) = (stop.clone(), ops.clone());
                std::thread::spawn(move || {
                    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
                    conn.set_nodelay(true).unwrap();
                    let mut tally = ClientTally::default();
                    // Which keys a set was acknowledged for.
                    let mut acked = vec![false; keys];
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let key = format!("load:{client}:{}", i % keys);
                        let value = format!("v{i}");
                        let stored = set(&mut conn, &key, &value);
                        tally.ops += 1;
                        if stored == "STORED\r\n" {
                            acked[i % keys] = true;
                        } else {
                            assert!(stored.starts_with("SERVER_ERROR "), "{stored}");
                            tally.errors += 1;
                        }
                        match get(&mut conn, &key) {
                            Ok(Some(v)) if v == value => {}
                            Ok(Some(_)) if stored != "STORED\r\n" => {}
                            Ok(Some(v)) => panic!("{key}: read {v}, wrote {value}"),
                            // A slow client may still be on its first round of keys.
                            Ok(None) if !acked[i % keys] => {}
                            Ok(None) => tally.misses += 1,
                            Err(e) => {
                                assert!(e.starts_with("SERVER_ERROR "), "{e}");
                                tally.errors += 1;
                            }
                        }
                        tally.ops += 1;
                        ops.fetch_add(2, Ordering::Relaxed);
                        i += 1;
                    }
                    tally
                })
            })
            .collect();
        Load { stop, ops, threads }
    }

    /// Waits until `n` more requests were answered (false after 20 s).
    pub fn wait_ops(&self, n: u64) -> bool {
        use std::sync::atomic::Ordering;
        let target = self.ops.load(Ordering::Relaxed) + n;
        wait_for(Duration::from_secs(20), || {
            self.ops.load(Ordering::Relaxed) >= target
        })
    }

    /// Stops the clients; what each saw.
    pub fn finish(self) -> Vec<ClientTally> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.threads
            .into_iter()
            .map(|t| t.join().expect("load client panicked"))
            .collect()
    }
}

/// Which cache server a [`Node`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// Stock memcached.
    Memcached,
    /// memkeepd built by this workspace.
    Memkeepd,
}

/// A cache server on a reserved port that a test can kill -9, restart empty on
/// the same port, or stop and continue.
pub struct Node {
    /// What runs.
    pub kind: NodeKind,
    /// Its port on 127.0.0.1.
    pub port: u16,
    child: Option<Child>,
}

impl Node {
    /// Starts one on a fresh port.
    pub fn start(kind: NodeKind) -> Node {
        let mut node = Node {
            kind,
            port: free_port(),
            child: None,
        };
        node.restart();
        node
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// kill -9, and wait for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again, empty, on the same port (after [`Self::kill`]).
    pub fn restart(&mut self) {
        self.kill();
        self.child = Some(match self.kind {
            NodeKind::Memcached => memcached_on(self.port),
            NodeKind::Memkeepd => {
                let mut command = Command::new(env!("CARGO_BIN_EXE_memkeepd"));
                command
                    .args(["-l", "127.0.0.1", "-p", &self.port.to_string()])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null());
                spawn_listening(&mut command, self.port)
            }
        });
    }

    /// Sends SIGSTOP (`true`) or SIGCONT (`false`).
    pub fn pause(&self, stop: bool) {
        use nix::sys::signal::{kill, Signal};
        let pid = self.child.as_ref().expect("running").id();
        let signal = if stop {
            Signal::SIGSTOP
        } else {
            Signal::SIGCONT
        };
        kill(nix::unistd::Pid::from_raw(pid as i32), signal).unwrap();
    }

    /// A new client connection.
    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.pause(false);
        }
        self.kill();
    }
}

/// The values `keys` have on the server behind `conn`, by multi-gets of 100
/// (`None`: a miss).
pub fn values(
    conn: &mut TcpStream,
    keys: &[String],
) -> std::collections::HashMap<String, Option<String>> {
    let mut found: std::collections::HashMap<String, Option<String>> =
        keys.iter().map(|k| (k.clone(), None)).collect();
    for chunk in keys.chunks(100) {
        let reply = exchange(
            conn,
            format!("get {}\r\n", chunk.join(" ")).as_bytes(),
            b"END\r\n",
        );
        let reply = String::from_utf8(reply).unwrap();
        let mut lines = reply.split("\r\n");
        while let Some(line) = lines.next() {
            if let Some(rest) = line.strip_prefix("VALUE ") {
                let key = rest.split(' ').next().unwrap().to_owned();
                let data = lines.next().unwrap().to_owned();
                found.insert(key, Some(data));
            }
        }
    }
    found
}

/// One line of the proxy's `stats` (`STAT NAME VALUE`), as a number.
pub fn proxy_stat(conn: &mut TcpStream, name: &str) -> Option<u64> {
    let stats = String::from_utf8(exchange(conn, b"stats\r\n", b"END\r\n")).unwrap();
    stats.lines().find_map(|line| {
        let rest = line.strip_prefix("STAT ")?;
        let (stat, value) = rest.split_once(' ')?;
        (stat == name).then(|| value.parse().ok())?
    })
}
