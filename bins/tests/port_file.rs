//! memcached's `MEMCACHED_PORT_FILENAME`: a server started on port 0 names the port
//! the kernel picked, once it listens. memkeepd and memkeep-proxy write the file as
//! memcached does, which is how the tests learn that a server is up.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::{read_until, wait_for, PORT_FILE};

/// A fresh path for a port file.
fn port_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "memkeep-port-file-{}-{name}-{}",
        std::process::id(),
        support::free_port()
    ))
}

/// A process killed when dropped, failed assertion or not.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `command` with the port file at `file` and returns the process and the
/// file's text once it is there.
fn start(command: &mut Command, file: &Path) -> (Running, String) {
    let mut child = command
        .env(PORT_FILE, file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let written = wait_for(Duration::from_secs(20), || file.exists());
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let _ = std::fs::remove_file(file);
    if !written {
        let _ = child.kill();
        panic!("no port file: {:?}", child.wait());
    }
    (Running(child), text)
}

/// The port of the file's only line.
fn only_port(text: &str) -> u16 {
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text:?}");
    lines[0]
        .strip_prefix("TCP INET: ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("not a TCP INET line: {text:?}"))
}

/// Every one of `n` new connections to `port` is answered.
fn answers(port: u16, n: usize) {
    for _ in 0..n {
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.write_all(b"version\r\n").unwrap();
        let (got, _) = read_until(&mut c, Duration::from_secs(10), |g| g.ends_with(b"\r\n"));
        assert!(got.starts_with(b"VERSION "), "{got:?}");
    }
}

/// Sockets listening on `port` (from /proc/net/tcp, where 0A is LISTEN).
fn listening_sockets(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let local = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields[1].ends_with(&local) && fields[3] == "0A"
        })
        .count()
}

#[test]
fn memkeepd_names_the_one_port_all_its_workers_listen_on_as_memcached_does() {
    let mut memcached = Command::new("memcached");
    memcached.args(["-U", "0", "-l", "127.0.0.1:0"]);
    if nix::unistd::Uid::effective().is_root() {
        memcached.args(["-u", "root"]);
    }
    let mut memkeepd = Command::new(env!("CARGO_BIN_EXE_memkeepd"));
    // Four workers, each with its own socket on the port the first one got.
    memkeepd.args(["-t", "4", "-l", "127.0.0.1:0"]);
    for (name, command, sockets) in [
        ("memcached", &mut memcached, 1),
        ("memkeepd", &mut memkeepd, 4),
    ] {
        let (_running, text) = start(command, &port_file(name));
        let port = only_port(&text);
        assert_eq!(listening_sockets(port), sockets, "{name}");
        answers(port, 4);
    }
}

#[test]
fn memkeep_proxy_names_its_listeners_ports() {
    let dir = port_file("proxy-config");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("route.toml");
    let server = support::Server::memkeepd(&[]);
    std::fs::write(
        &config,
        format!(
            "[pools.a]\nservers = [\"{}\"]\n\n[[listeners]]\nlisten = \"127.0.0.1:0\"\nroute = \"a\"\n",
            server.addr()
        ),
    )
    .unwrap();
    let mut proxy = Command::new(env!("CARGO_BIN_EXE_memkeep-proxy"));
    proxy.arg("--config").arg(&config);
    let (_running, text) = start(&mut proxy, &port_file("proxy"));
    answers(only_port(&text), 4);
    let _ = std::fs::remove_dir_all(&dir);
}
