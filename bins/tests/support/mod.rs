//! Test support: start real servers (memkeepd, stock memcached) on loopback ports
//! reserved at run time, wait until they listen, and talk raw bytes to them.

#![allow(dead_code)] // each test binary uses a different part of this module

pub mod notify;
pub mod open_files;
pub mod relay;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process that is killed when dropped.
pub struct Server {
    child: Child,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    /// "memcached" or "memkeepd", for messages.
    pub name: &'static str,
}

/// A TCP port on 127.0.0.1 reserved for this test process until it exits: a socket
/// bound to it with SO_REUSEADDR, never listening. No other bind to port 0 and no
/// outgoing connection on the machine gets the port while it is held (a port merely
/// released could be picked by either before the server binds it, or become the
/// local end of a reconnecting client's connection to itself), yet a server told
/// to listen on it can: memcached, memkeepd, memkeep-proxy and nutcracker all bind
/// with SO_REUSEADDR. Until one listens there, connecting is refused, as for a
/// server that is down; once it is killed, the port waits for its restart.
pub fn free_port() -> u16 {
    use socket2::{Domain, Socket, Type};
    static RESERVED: std::sync::Mutex<Vec<Socket>> = std::sync::Mutex::new(Vec::new());
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_reuse_address(true).unwrap();
    socket
        .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    let port = socket.local_addr().unwrap().as_socket().unwrap().port();
    RESERVED.lock().unwrap().push(socket);
    port
}

/// memcached's environment variable naming the file where a server writes its TCP
/// ports (`TCP INET: PORT` lines) once it listens; memkeepd and memkeep-proxy
/// write it too.
pub const PORT_FILE: &str = "MEMCACHED_PORT_FILENAME";

/// Spawns `command`, a server told to listen on 127.0.0.1:`port`, with
/// [`PORT_FILE`] set, and waits until the file names the port: from then on the
/// server accepts connections, and none was made to find that out (a probing
/// connection would count against its connection limit until it is closed).
/// Panics if the server exits first or is not listening within 20 s.
pub fn spawn_listening(command: &mut Command, port: u16) -> Child {
    let program = command.get_program().to_string_lossy().into_owned();
    let file =
        std::env::temp_dir().join(format!("memkeep-test-{}-{port}.ports", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let mut child = command
        .env(PORT_FILE, &file)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let mut exited = false;
    // Written under another name and renamed into place: once it exists, it is whole.
    let written = wait_for(Duration::from_secs(20), || {
        exited = matches!(child.try_wait(), Ok(Some(_)));
        exited || file.exists()
    });
    let ports = std::fs::read_to_string(&file).unwrap_or_default();
    let _ = std::fs::remove_file(&file);
    if !written || exited {
        let _ = child.kill();
        let status = child.wait();
        panic!("{program} did not start listening on port {port}: {status:?}");
    }
    assert!(
        ports
            .lines()
            .any(|line| line == format!("TCP INET: {port}")),
        "{program} listens elsewhere: {ports:?}"
    );
    child
}

fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

impl Server {
    /// Starts memkeepd built by this workspace, with extra flags.
    pub fn memkeepd(extra: &[&str]) -> Server {
        Self::start("memkeepd", env!("CARGO_BIN_EXE_memkeepd"), extra)
    }

    /// Starts the stock memcached (Debian package `memcached`), with extra flags.
    pub fn memcached(extra: &[&str]) -> Server {
        let mut args = vec!["-U", "0"];
        // memcached refuses to run as root without -u.
        if is_root() {
            args.extend(["-u", "root"]);
        }
        args.extend_from_slice(extra);
        Self::start("memcached", "memcached", &args)
    }

    fn start(name: &'static str, program: &str, extra: &[&str]) -> Server {
        let port = free_port();
        let mut command = Command::new(program);
        command
            .args(["-l", "127.0.0.1", "-p", &port.to_string()])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let child = spawn_listening(&mut command, port);
        Server { child, port, name }
    }

    /// A new client connection.
    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
    }

    /// `host:port` for clients that want a string.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit by itself, up to `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let mut status = None;
        wait_for(limit, || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        status
    }

    /// Sends `flush_all` and waits for its OK.
    pub fn flush_all(&self) {
        let mut c = self.connect();
        c.write_all(b"flush_all\r\n").unwrap();
        let reply = read_exact_or_close(&mut c, b"OK\r\n".len(), Duration::from_secs(5));
        assert_eq!(reply, b"OK\r\n", "{}: flush_all", self.name);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` every 5 ms until it holds or `limit` passes: the tests wait for a
/// condition, never for a fixed time.
pub fn wait_for(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until `port` on 127.0.0.1 accepts connections; `false` if `child` exits
/// first or 10 s pass.
pub fn wait_until_accepting(port: u16, child: &mut Child) -> bool {
    let mut exited = false;
    wait_for(Duration::from_secs(10), || {
        exited = matches!(child.try_wait(), Ok(Some(_)));
        exited || TcpStream::connect(("127.0.0.1", port)).is_ok()
    }) && !exited
}

/// Reads until `n` bytes arrived, the peer closed, or `limit` passed.
pub fn read_exact_or_close(stream: &mut TcpStream, n: usize, limit: Duration) -> Vec<u8> {
    read_until(stream, limit, |got| got.len() >= n).0
}

/// A stream whose reads can be given a timeout: a plain socket, or a test's TLS
/// connection.
pub trait TimedRead: Read {
    /// Makes the next reads give up after `limit`.
    fn read_timeout(&mut self, limit: Duration);
}

impl TimedRead for TcpStream {
    fn read_timeout(&mut self, limit: Duration) {
        self.set_read_timeout(Some(limit)).unwrap();
    }
}

/// Reads until `done` says the bytes so far are complete, the peer closes, or
/// `limit` passes; returns the bytes and whether the peer closed.
pub fn read_until(
    stream: &mut impl TimedRead,
    limit: Duration,
    mut done: impl FnMut(&[u8]) -> bool,
) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut chunk = [0u8; 65536];
    while !done(&got) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (got, false);
        }
        stream.read_timeout(left);
        match stream.read(&mut chunk) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (got, false)
            }
            Err(_) => return (got, true),
        }
    }
    (got, false)
}
