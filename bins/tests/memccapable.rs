//! libmemcached's protocol checker, `memccapable`, in full for both protocols, against
//! memkeepd and (as the reference) stock memcached.

mod support;

use std::process::Command;

use support::Server;

fn capable(server: &Server, protocol_flag: &str) {
    let out = Command::new("memccapable")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &server.port.to_string(),
            "-t",
            "5",
            protocol_flag,
        ])
        .output()
        .expect("memccapable (Debian libmemcached-tools) must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let passes = stdout.lines().filter(|l| l.ends_with("[pass]")).count();
    let failures: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("[FAIL]") || l.contains("[fail]"))
        .collect();
    eprintln!(
        "{} {protocol_flag}: {passes} passed, {} failed",
        server.name,
        failures.len()
    );
    assert!(
        out.status.success() && stdout.contains("All tests passed"),
        "{} memccapable {protocol_flag}:\n{stdout}\n{stderr}",
        server.name
    );
    assert!(passes >= 20, "{stdout}");
}

#[test]
fn memkeepd_passes_memccapable_ascii() {
    capable(&Server::memkeepd(&[]), "-a");
}

#[test]
fn memkeepd_passes_memccapable_binary() {
    capable(&Server::memkeepd(&[]), "-b");
}

#[test]
fn memcached_passes_memccapable() {
    let server = Server::memcached(&[]);
    capable(&server, "-a");
    capable(&server, "-b");
}
