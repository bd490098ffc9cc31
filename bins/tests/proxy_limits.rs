//! memkeep-proxy's limits with real processes: a memcached behind a fault relay
//! that is blackholed under a flood of pipelined requests. Past a server's
//! `max_pending` / `max_buffered_bytes` clients get `SERVER_ERROR out of memory ...`
//! at once, the proxy's memory stays bounded, and once the relay heals everything is
//! served again; past a listener's `max_outstanding` a client is not read from.

mod admin;
#[path = "proxy/harness.rs"]
mod harness;
mod support;

use std::io::Write;
use std::thread;
use std::time::Duration;

use admin::http::{scrape, value};
use admin::proxy::AdminProxy;
use harness::{exchange, get, set, wait_connected, Proxy};
use support::relay::{Fault, Relay};
use support::{read_until, wait_for, Server};

const OUT_OF_MEMORY: &str = "SERVER_ERROR out of memory queueing request";

fn stat(proxy: &Proxy, name: &str) -> Option<u64> {
    let stats =
        String::from_utf8(exchange(&mut proxy.connect(), b"stats\r\n", b"END\r\n")).unwrap();
    stats
        .lines()
        .find_map(|l| l.strip_prefix(&format!("STAT {name} ")))
        .map(|v| v.parse().unwrap())
}

/// The process's resident memory, in KiB (Linux).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn blackhole() -> Fault {
    Fault {
        blackhole: true,
        ..Fault::default()
    }
}

/// Lines in `bytes` (each reply to a `set` is one line).
fn lines(bytes: &[u8]) -> usize {
    bytes.windows(2).filter(|w| w == b"\r\n").count()
}

fn proxy_over(relay: &Relay, pool_extra: &str, listener_extra: &str) -> Proxy {
    let addr = relay.addr();
    Proxy::memkeep("--config", "route.toml", |port| {
        format!(
            "[pools.limited]\nservers = [\"{addr}\"]\nprotocol = \"meta\"\n{pool_extra}\n\
             [[listeners]]\nlisten = \"127.0.0.1:{port}\"\nroute = \"limited\"\n{listener_extra}\n"
        )
    })
}

#[test]
fn a_blackholed_server_fills_its_queue_then_clients_get_out_of_memory_and_it_recovers() {
    let memcached = Server::memcached(&[]);
    let relay = Relay::start(memcached.port);
    // A timeout so that requests lost in the blackhole fail and give their places
    // back (without one, a silent server keeps them until its connection closes).
    let proxy = proxy_over(
        &relay,
        "timeout_ms = 3000\nmax_pending = 500\nmax_buffered_bytes = 1048576",
        "",
    );
    let server = format!("server:limited:{}", relay.addr());
    assert!(wait_connected(&proxy, "limited", &relay.addr()));
    assert_eq!(set(&mut proxy.connect(), "before", "ok"), "STORED\r\n");

    relay.set_both(blackhole());
    let baseline = rss_kib(proxy.pid());
    // 4 clients each pipeline 2,000 sets of 16 KiB: 128 MiB offered to a server
    // that answers nothing.
    const CLIENTS: usize = 4;
    const SETS: usize = 2_000;
    let value = vec![b'v'; 16 * 1024];
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let mut conn = proxy.connect();
            let mut writer = conn.try_clone().unwrap();
            let value = value.clone();
            let sending = thread::spawn(move || {
                for i in 0..SETS {
                    let head = format!("set flood:{c}:{i} 0 0 {}\r\n", value.len());
                    writer.write_all(head.as_bytes()).unwrap();
                    writer.write_all(&value).unwrap();
                    writer.write_all(b"\r\n").unwrap();
                }
            });
            thread::spawn(move || {
                let (replies, _) = read_until(&mut conn, Duration::from_secs(120), |got| {
                    lines(got) >= SETS
                });
                sending.join().unwrap();
                String::from_utf8(replies).unwrap()
            })
        })
        .collect();
    let mut peak = baseline;
    let mut finished = Vec::new();
    let mut clients = clients;
    // Sample the proxy's memory while the flood runs.
    while !clients.is_empty() {
        peak = peak.max(rss_kib(proxy.pid()));
        let (done, running): (Vec<_>, Vec<_>) = clients.into_iter().partition(|c| c.is_finished());
        finished.extend(done.into_iter().map(|c| c.join().unwrap()));
        clients = running;
        thread::sleep(Duration::from_millis(20));
    }
    let grown_mib = peak.saturating_sub(baseline) / 1024;
    eprintln!("rss baseline {baseline} KiB, peak {peak} KiB");
    let mut refused = 0;
    for replies in &finished {
        let replies: Vec<&str> = replies.lines().collect();
        assert_eq!(replies.len(), SETS, "every request is answered");
        assert!(
            replies.iter().all(|r| r.starts_with("SERVER_ERROR ")),
            "nothing is stored while blackholed: {:?}",
            replies.iter().find(|r| !r.starts_with("SERVER_ERROR "))
        );
        refused += replies
            .iter()
            .filter(|r| r.starts_with(OUT_OF_MEMORY))
            .count() as u64;
    }
    assert!(refused > 0, "the limits were reached");
    assert_eq!(
        stat(&proxy, &format!("{server}:rejected_requests")),
        Some(refused)
    );
    assert!(
        grown_mib < 64,
        "128 MiB offered, 1 MiB budget: the proxy grew by {grown_mib} MiB"
    );

    relay.heal();
    let mut conn = proxy.connect();
    assert!(
        wait_for(Duration::from_secs(30), || set(&mut conn, "after", "yes")
            == "STORED\r\n"),
        "served again once healed"
    );
    assert_eq!(get(&mut conn, "after").unwrap().as_deref(), Some("yes"));
    assert_eq!(get(&mut conn, "before").unwrap().as_deref(), Some("ok"));
    assert!(wait_for(Duration::from_secs(10), || stat(
        &proxy,
        &format!("{server}:pending_requests")
    ) == Some(0)));
    assert_eq!(stat(&proxy, &format!("{server}:buffered_bytes")), Some(0));
}

#[test]
fn a_client_past_max_outstanding_is_not_read_from_until_replies_go_out() {
    let memcached = Server::memcached(&[]);
    let relay = Relay::start(memcached.port);
    let proxy = proxy_over(&relay, "timeout_ms = 2000", "max_outstanding = 4");
    let server = format!("server:limited:{}", relay.addr());
    assert!(wait_connected(&proxy, "limited", &relay.addr()));

    relay.set_both(blackhole());
    let mut client = proxy.connect();
    let gets: String = (0..100).map(|i| format!("get k{i}\r\n")).collect();
    client.write_all(gets.as_bytes()).unwrap();
    // Only 4 of the 100 reach the backend; the client is then no longer read from.
    assert!(wait_for(Duration::from_secs(10), || stat(
        &proxy,
        &format!("{server}:pending_requests")
    ) == Some(4)));
    // And those 4 really went into the blackhole (not still on their way).
    assert!(wait_for(Duration::from_secs(10), || relay
        .swallowed_lines()
        >= 4));
    assert!(stat(&proxy, "conn_yields").unwrap() >= 1);
    assert_eq!(
        stat(&proxy, &format!("{server}:rejected_requests")),
        Some(0)
    );

    relay.heal();
    // The 4 lost in the blackhole time out, which resets the connection; the rest
    // are read and answered (misses, or errors while it reconnects).
    let (replies, _) = read_until(&mut client, Duration::from_secs(60), |got| {
        lines(got) >= 100
    });
    let replies = String::from_utf8(replies).unwrap();
    let replies: Vec<&str> = replies.lines().collect();
    assert_eq!(
        replies.len(),
        100,
        "every request is answered: {replies:?}\n{}",
        String::from_utf8_lossy(&exchange(&mut proxy.connect(), b"stats\r\n", b"END\r\n"))
    );
    assert!(
        replies[..4].iter().all(|r| r.starts_with("SERVER_ERROR ")),
        "{replies:?}"
    );
    assert!(replies
        .iter()
        .all(|r| *r == "END" || r.starts_with("SERVER_ERROR ")));
    assert!(wait_for(Duration::from_secs(10), || get(&mut client, "k0")
        == Ok(None)));
}

#[test]
fn a_nutcracker_pool_gets_the_default_limits_and_the_admin_metrics_show_them() {
    let memcached = Server::memcached(&[]);
    let relay = Relay::start(memcached.port);
    let proxy = AdminProxy::start(&[relay.addr()], "timeout: 3000");
    let labels = format!(
        "pool=\"alpha\",backend=\"{0}\",address=\"{0}\"",
        relay.addr()
    );
    let series = |name: &str| format!("{name}{{{labels}}}");
    assert!(wait_for(Duration::from_secs(10), || {
        let mut conn = proxy.connect();
        exchange(&mut conn, b"version\r\n", b"\r\n");
        get(&mut conn, "warm").is_ok()
    }));

    relay.set_both(blackhole());
    // 10 clients x 1,024 outstanding gets (the listener default) is more than the
    // 10,000 pending requests a server may have by default.
    const CLIENTS: usize = 10;
    const GETS: usize = 1_100;
    let mut clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let mut conn = proxy.connect();
            let gets: String = (0..GETS).map(|i| format!("get k{c}:{i}\r\n")).collect();
            conn.write_all(gets.as_bytes()).unwrap();
            conn
        })
        .collect();
    let mut m = scrape(proxy.admin);
    assert!(
        wait_for(Duration::from_secs(20), || {
            m = scrape(proxy.admin);
            value(&m, &series("memkeep_backend_pending_requests")) == 10_000.0
                && value(&m, &series("memkeep_backend_rejected_requests_total")) > 0.0
        }),
        "pending {:?}, rejected {:?}",
        m.get(&series("memkeep_backend_pending_requests")),
        m.get(&series("memkeep_backend_rejected_requests_total"))
    );
    assert!(m.contains_key(&series("memkeep_backend_buffered_request_bytes")));

    relay.heal();
    for conn in &mut clients {
        let (replies, _) = read_until(conn, Duration::from_secs(60), |got| lines(got) >= GETS);
        let replies = String::from_utf8(replies).unwrap();
        assert_eq!(replies.lines().count(), GETS, "every request is answered");
        assert!(replies
            .lines()
            .all(|r| r == "END" || r.starts_with("SERVER_ERROR ")));
    }
    assert!(wait_for(Duration::from_secs(10), || {
        m = scrape(proxy.admin);
        value(&m, &series("memkeep_backend_pending_requests")) == 0.0
    }));
    // Every request is answered: the clients' refusals are counted as overloaded
    // errors. The backend's refusals also count the admin listener's own `stats`
    // polls (every 2 s), which are not client requests.
    let rejected = value(&m, &series("memkeep_backend_rejected_requests_total"));
    let overloaded = format!("memkeep_backend_errors_total{{{labels},cause=\"overloaded\"}}");
    let overloaded = value(&m, &overloaded);
    assert!(
        overloaded > 0.0 && overloaded <= rejected && rejected - overloaded <= 5.0,
        "overloaded {overloaded}, rejected {rejected}"
    );
    let mut conn = proxy.connect();
    assert!(wait_for(Duration::from_secs(10), || set(
        &mut conn, "after", "1"
    ) == "STORED\r\n"));
}
