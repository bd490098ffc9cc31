//! pymemcache, a real client, exercises every client method against memkeepd and,
//! as the reference, against stock memcached.

mod support;

use std::process::Command;

use support::Server;

fn run_client(servers: &[&Server]) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pymemcache_client.py");
    let mut args = vec![script.to_owned()];
    for s in servers {
        args.push("127.0.0.1".into());
        args.push(s.port.to_string());
    }
    // Debian's python3 has python3-pymemcache.
    let out = Command::new("/usr/bin/python3")
        .args(&args)
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{}: pymemcache failed:\n{stdout}\n{stderr}",
        servers[0].name
    );
    assert!(stdout.contains("passed, 0 failed"), "{stdout}");
}

#[test]
fn pymemcache_against_memkeepd() {
    let (a, b) = (Server::memkeepd(&[]), Server::memkeepd(&[]));
    run_client(&[&a, &b]);
}

#[test]
fn pymemcache_against_memcached() {
    let (a, b) = (Server::memcached(&[]), Server::memcached(&[]));
    run_client(&[&a, &b]);
}
