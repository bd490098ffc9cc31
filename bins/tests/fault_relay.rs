//! The fault-injecting relay (tests/support/relay.rs) does what it says, checked
//! against a real memkeepd: forwards, delays, blackholes, throttles, resets, refuses.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::relay::{Direction, Fault, Relay};
use support::{read_until, wait_for, Server};

fn connect(relay: &Relay) -> TcpStream {
    let s = TcpStream::connect(relay.addr()).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

fn version(s: &mut TcpStream, limit: Duration) -> Vec<u8> {
    s.write_all(b"version\r\n").unwrap();
    read_until(s, limit, |got| got.ends_with(b"\r\n")).0
}

#[test]
fn relay_forwards_untouched_by_default() {
    let server = Server::memkeepd(&[]);
    let relay = Relay::start(server.port);
    let mut c = connect(&relay);
    c.write_all(b"set k 0 0 5\r\nhello\r\nget k\r\n").unwrap();
    let (got, _) = read_until(&mut c, Duration::from_secs(5), |g| g.ends_with(b"END\r\n"));
    assert_eq!(got, b"STORED\r\nVALUE k 0 5\r\nhello\r\nEND\r\n");
}

#[test]
fn relay_delays_replies_by_at_least_the_delay() {
    let server = Server::memkeepd(&[]);
    let relay = Relay::start(server.port);
    let mut c = connect(&relay);
    relay.set(
        Direction::Down,
        Fault {
            delay: Duration::from_millis(200),
            ..Fault::default()
        },
    );
    let start = Instant::now();
    let got = version(&mut c, Duration::from_secs(5));
    assert!(got.starts_with(b"VERSION "), "{got:?}");
    assert!(start.elapsed() >= Duration::from_millis(200));
}

#[test]
fn relay_blackhole_swallows_requests_until_healed() {
    let server = Server::memkeepd(&[]);
    let relay = Relay::start(server.port);
    let mut c = connect(&relay);
    relay.set(
        Direction::Up,
        Fault {
            blackhole: true,
            ..Fault::default()
        },
    );
    c.write_all(b"version\r\n").unwrap();
    assert!(wait_for(Duration::from_secs(10), || relay
        .swallowed_lines()
        == 1));
    relay.heal();
    c.write_all(b"version\r\n").unwrap();
    // The client's close passes through: everything the server sent ends there,
    // and only the request sent after the heal was answered.
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let (got, closed) = read_until(&mut c, Duration::from_secs(10), |_| false);
    assert!(closed);
    let got = String::from_utf8(got).unwrap();
    assert!(
        got.starts_with("VERSION ") && got.matches("\r\n").count() == 1,
        "{got:?}"
    );
}

#[test]
fn relay_throttles_to_the_bandwidth() {
    let server = Server::memkeepd(&[]);
    let relay = Relay::start(server.port);
    let mut c = connect(&relay);
    let value = vec![b'v'; 20_000];
    c.write_all(format!("set big 0 0 {}\r\n", value.len()).as_bytes())
        .unwrap();
    c.write_all(&value).unwrap();
    c.write_all(b"\r\n").unwrap();
    read_until(&mut c, Duration::from_secs(5), |g| {
        g.ends_with(b"STORED\r\n")
    });
    relay.set(
        Direction::Down,
        Fault {
            bytes_per_second: Some(40_000),
            ..Fault::default()
        },
    );
    let start = Instant::now();
    c.write_all(b"get big\r\n").unwrap();
    let (got, _) = read_until(&mut c, Duration::from_secs(10), |g| g.ends_with(b"END\r\n"));
    assert_eq!(
        got.len(),
        20_000 + b"VALUE big 0 20000\r\n\r\nEND\r\n".len()
    );
    // 20 kB at 40 kB/s: at least about half a second.
    assert!(start.elapsed() >= Duration::from_millis(400));
}

#[test]
fn relay_resets_open_connections_and_refuses_new_ones() {
    let server = Server::memkeepd(&[]);
    let relay = Relay::start(server.port);
    let mut c = connect(&relay);
    assert!(version(&mut c, Duration::from_secs(5)).starts_with(b"VERSION "));
    relay.reset_all();
    let mut buf = [0u8; 16];
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = c.write_all(b"version\r\n");
    match c.read(&mut buf) {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!("read {n} bytes from a reset connection"),
    }
    relay.refuse(true);
    let mut d = connect(&relay);
    d.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = d.write_all(b"version\r\n");
    match d.read(&mut buf) {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!("read {n} bytes from a refused connection"),
    }
    relay.heal();
    let mut e = connect(&relay);
    assert!(version(&mut e, Duration::from_secs(5)).starts_with(b"VERSION "));
}
