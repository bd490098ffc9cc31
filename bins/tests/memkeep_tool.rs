//! The `memkeep` operator commands against real servers: `stats` over several
//! servers (one down), and `check` as a monitoring plugin (exit codes and perfdata).

mod support;

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use support::{read_until, Server};

fn memkeep(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_memkeep"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn dead_address() -> String {
    format!("127.0.0.1:{}", support::free_port())
}

#[test]
fn stats_shows_every_server_and_which_are_down() {
    let (ours, theirs) = (Server::memkeepd(&[]), Server::memcached(&[]));
    let dead = dead_address();
    let (code, out) = memkeep(&["stats", &ours.addr(), &theirs.addr(), &dead]);
    assert_eq!(code, 0, "{out}");
    let line = |addr: &str| {
        out.lines()
            .find(|l| l.starts_with(addr))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        line(&ours.addr()).contains(" up ") && line(&ours.addr()).contains("memkeep"),
        "{out}"
    );
    assert!(
        line(&theirs.addr()).contains(" up ") && line(&theirs.addr()).contains("1.6"),
        "{out}"
    );
    assert!(line(&dead).contains(" down "), "{out}");
    let (code, _) = memkeep(&["stats", &dead]);
    assert_ne!(code, 0, "no server answered");
}

#[test]
fn check_is_a_monitoring_plugin() {
    let server = Server::memkeepd(&["-m", "1"]);
    let (code, out) = memkeep(&["check", &server.addr()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("MEMKEEP OK - ") && out.contains(" | latency="),
        "{out}"
    );
    assert!(out.contains("hit_rate=U"), "no gets yet: {out}");

    // Fill some memory and miss once: thresholds turn the verdict.
    let mut c = server.connect();
    let value = vec![b'v'; 100_000];
    for i in 0..4 {
        c.write_all(format!("set k{i} 0 0 {}\r\n", value.len()).as_bytes())
            .unwrap();
        c.write_all(&value).unwrap();
        c.write_all(b"\r\n").unwrap();
    }
    c.write_all(b"get k0 nothere\r\n").unwrap();
    let (got, _) = read_until(&mut c, Duration::from_secs(5), |g| g.ends_with(b"END\r\n"));
    assert!(got.starts_with(b"STORED\r\n"));
    let (code, out) = memkeep(&["check", &server.addr(), "--warn-memory-pct", "1"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with("MEMKEEP WARNING - ") && out.contains("memory warning"),
        "{out}"
    );
    let (code, out) = memkeep(&["check", &server.addr(), "--crit-hit-rate-pct", "90"]);
    assert_eq!(code, 2, "hit rate 50%: {out}");
    assert!(out.contains("hit_rate=50.0%"), "{out}");

    let (code, out) = memkeep(&["check", &dead_address()]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.starts_with("MEMKEEP CRITICAL - ") && out.contains("down"),
        "{out}"
    );
}
