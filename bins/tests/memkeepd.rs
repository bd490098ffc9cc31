//! memkeepd as a process: flags, listeners, connection limit, idle timeout, pipelining,
//! drain on SIGTERM, the `shutdown` command and the memory bound.

mod support;

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use support::{read_until, Server};

fn memkeepd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_memkeepd"))
}

fn exchange(server: &Server, send: &[u8], expect: &[u8]) {
    let mut c = server.connect();
    c.write_all(send).unwrap();
    let (got, _) = read_until(&mut c, Duration::from_secs(10), |g| g.len() >= expect.len());
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(expect)
    );
}

#[test]
fn bad_flags_exit_non_zero_with_a_message() {
    for args in [
        &["--no-such-flag"][..],
        &["-p", "70000"],
        &["-U", "11211"],
        &["-o", "bogus"],
        &["-t", "0"],
    ] {
        let out = memkeepd().args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(!out.stderr.is_empty(), "{args:?} should say why");
    }
}

#[test]
fn help_and_version() {
    let out = memkeepd().arg("-h").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("127.0.0.1") && help.contains("--memory-limit"),
        "{help}"
    );
    let out = memkeepd().arg("-V").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("1.6.18-memkeep"));
}

#[test]
fn serves_several_listen_addresses_and_a_pidfile() {
    let dir = std::env::temp_dir().join(format!("memkeepd-pid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pidfile = dir.join("memkeepd.pid");
    let port = support::free_port();
    let mut child = memkeepd()
        .args([
            "-l",
            "127.0.0.1,127.0.0.2",
            "-p",
            &port.to_string(),
            "-P",
            pidfile.to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
    for host in ["127.0.0.1", "127.0.0.2"] {
        let mut conn = None;
        let listening = support::wait_for(Duration::from_secs(10), || {
            conn = std::net::TcpStream::connect((host, port)).ok();
            conn.is_some()
        });
        assert!(listening, "not listening on {host}");
        let mut c = conn.unwrap();
        c.write_all(b"version\r\n").unwrap();
        let (got, _) = read_until(&mut c, Duration::from_secs(5), |g| g.ends_with(b"\r\n"));
        assert!(got.starts_with(b"VERSION 1.6.18-memkeep"));
    }
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid, child.id());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::SIGTERM,
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
    assert!(!pidfile.exists(), "pidfile removed on exit");
}

#[test]
fn unix_socket() {
    let path = std::env::temp_dir().join(format!("memkeepd-{}.sock", std::process::id()));
    let mut child = memkeepd()
        .args(["-s", path.to_str().unwrap(), "-a", "770"])
        .spawn()
        .unwrap();
    let mut conn = None;
    support::wait_for(Duration::from_secs(10), || {
        conn = std::os::unix::net::UnixStream::connect(&path).ok();
        conn.is_some()
    });
    let mut c = conn.expect("unix socket accepts");
    c.write_all(b"set u 0 0 1\r\nx\r\nget u\r\n").unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !got.ends_with(b"END\r\n") {
        let n = std::io::Read::read(&mut c, &mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"STORED\r\nVALUE u 0 1\r\nx\r\nEND\r\n");
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_file(&path);
}

/// The mode `-a` gives the Unix socket, read off a server started with `args`.
fn socket_mode(program: &str, args: &[&str], path: &std::path::Path) -> u32 {
    let _ = std::fs::remove_file(path);
    let mut child = Command::new(program)
        .args(args)
        .arg("-s")
        .arg(path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    support::wait_for(Duration::from_secs(10), || {
        std::os::unix::net::UnixStream::connect(path).is_ok()
    });
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(path).unwrap().permissions());
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_file(path);
    mode & 0o777
}

#[test]
fn unix_socket_access_mask_is_the_mode_memcached_gives() {
    let path = std::env::temp_dir().join(format!("memkeepd-mask-{}.sock", std::process::id()));
    let as_root: &[&str] = if nix::unistd::geteuid().is_root() {
        &["-u", "root"]
    } else {
        &[]
    };
    for (mask, expected) in [(None, 0o700), (Some("770"), 0o770), (Some("755"), 0o755)] {
        let mut args: Vec<&str> = as_root.to_vec();
        if let Some(mask) = mask {
            args.extend(["-a", mask]);
        }
        let memcached = socket_mode("memcached", &args, &path);
        let ours = socket_mode(env!("CARGO_BIN_EXE_memkeepd"), &args, &path);
        assert_eq!(
            (memcached, ours),
            (expected, expected),
            "-a {mask:?}: memcached {memcached:o}, memkeepd {ours:o}"
        );
    }
}

#[test]
fn connection_limit_refuses_like_memcached() {
    let server = Server::memkeepd(&["-c", "2"]);
    // Each answered before the next is made: a connection waiting in another
    // worker's accept queue is not counted yet.
    let _held: Vec<_> = (0..2)
        .map(|_| {
            let mut c = server.connect();
            c.write_all(b"version\r\n").unwrap();
            let (got, _) = read_until(&mut c, Duration::from_secs(10), |g| g.ends_with(b"\r\n"));
            assert!(got.starts_with(b"VERSION "), "{got:?}");
            c
        })
        .collect();
    let mut c = server.connect();
    let (got, closed) = read_until(&mut c, Duration::from_secs(10), |g| g.ends_with(b"\r\n"));
    assert_eq!(
        String::from_utf8_lossy(&got),
        "ERROR Too many open connections\r\n"
    );
    let (_, closed_after) = read_until(&mut c, Duration::from_secs(10), |_| false);
    assert!(closed || closed_after);
}

#[test]
fn idle_connections_are_closed() {
    let server = Server::memkeepd(&["-o", "idle_timeout=1"]);
    let mut c = server.connect();
    let (_, closed) = read_until(&mut c, Duration::from_secs(10), |_| false);
    assert!(closed, "idle connection closed");
}

#[test]
fn deep_pipeline_answers_in_order() {
    let server = Server::memkeepd(&[]);
    let mut send = Vec::new();
    let mut expect = Vec::new();
    for i in 0..5000 {
        send.extend_from_slice(
            format!("set k{i} {i} 0 {}\r\nv{i}\r\n", format!("v{i}").len()).as_bytes(),
        );
        send.extend_from_slice(format!("get k{i}\r\n").as_bytes());
        expect.extend_from_slice(b"STORED\r\n");
        expect.extend_from_slice(
            format!(
                "VALUE k{i} {i} {}\r\nv{i}\r\nEND\r\n",
                format!("v{i}").len()
            )
            .as_bytes(),
        );
    }
    exchange(&server, &send, &expect);
}

#[test]
fn sigterm_drains_and_exits_zero() {
    let mut server = Server::memkeepd(&[]);
    let mut c = server.connect();
    c.write_all(b"set a 0 0 1\r\n1\r\nget a\r\n").unwrap();
    let (got, _) = read_until(&mut c, Duration::from_secs(5), |g| g.ends_with(b"END\r\n"));
    assert_eq!(got, b"STORED\r\nVALUE a 0 1\r\n1\r\nEND\r\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.pid() as i32),
        nix::sys::signal::SIGTERM,
    )
    .unwrap();
    let (_, closed) = read_until(&mut c, Duration::from_secs(10), |_| false);
    assert!(closed, "connections are closed on drain");
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("exits after SIGTERM");
    assert!(status.success());
}

#[test]
fn shutdown_command_needs_dash_a() {
    let server = Server::memkeepd(&[]);
    exchange(&server, b"shutdown\r\n", b"ERROR: shutdown not enabled\r\n");
    let mut server = Server::memkeepd(&["-A"]);
    let mut c = server.connect();
    c.write_all(b"shutdown\r\n").unwrap();
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("exits after shutdown");
    assert!(status.success());
}

fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

/// `-m 64` bounds the process: writing 1 GiB of distinct items keeps RSS under 64 MiB
/// plus a fixed overhead (runtime, buffers, the index of the items that fit).
#[test]
fn memory_limit_bounds_rss() {
    const FIXED_OVERHEAD: u64 = 40 * 1024 * 1024;
    let server = Server::memkeepd(&["-m", "64"]);
    let mut c = server.connect();
    let value = vec![b'x'; 64 * 1024];
    let mut batch = Vec::new();
    let mut sent = 0u64;
    let mut key = 0u64;
    while sent < 1024 * 1024 * 1024 {
        batch.clear();
        for _ in 0..16 {
            batch.extend_from_slice(
                format!("set key{key} 0 0 {} noreply\r\n", value.len()).as_bytes(),
            );
            batch.extend_from_slice(&value);
            batch.extend_from_slice(b"\r\n");
            key += 1;
            sent += value.len() as u64;
        }
        c.write_all(&batch).unwrap();
    }
    c.write_all(b"get key0\r\n").unwrap();
    let (got, _) = read_until(&mut c, Duration::from_secs(30), |g| g.ends_with(b"END\r\n"));
    assert_eq!(got, b"END\r\n", "the oldest item was evicted");
    let rss = rss_bytes(server.pid());
    eprintln!(
        "memkeepd -m 64 after 1 GiB written: RSS {} MiB",
        rss / (1024 * 1024)
    );
    assert!(rss < 64 * 1024 * 1024 + FIXED_OVERHEAD, "RSS {rss} bytes");
}
