//! Pools found by DNS, end to end: dnsmasq (Debian's `dnsmasq-base`) serves SRV and
//! A records on a loopback port picked at run time; memkeep-proxy discovers the
//! memkeepd servers through it, follows changed records while clients set and
//! get, keeps its servers when dnsmasq stops or answers with nothing, and refuses
//! to start on a name that does not resolve.

#[path = "proxy/harness.rs"]
mod harness;
mod support;

use std::net::{TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use harness::{exchange, get, proxy_stat, set, Load, Proxy, TempDir};
use memkeep_proxy::discovery::wire;
use support::{free_port, spawn_listening, wait_for, Server};

/// dnsmasq answering on 127.0.0.1:`port` from a hosts file (A records, read
/// again on SIGHUP) and `--srv-host` flags (read at start: restart to change).
struct Dnsmasq {
    child: Option<Child>,
    port: u16,
    hosts: std::path::PathBuf,
}

impl Dnsmasq {
    fn start(dir: &TempDir, hosts: &str, srv: &[String]) -> Dnsmasq {
        let mut dns = Dnsmasq {
            child: None,
            port: free_port(),
            hosts: dir.0.join("hosts"),
        };
        std::fs::write(&dns.hosts, hosts).unwrap();
        dns.run(srv);
        dns
    }

    /// Starts dnsmasq with these SRV records and waits until it answers.
    fn run(&mut self, srv: &[String]) {
        let mut command = Command::new("dnsmasq");
        command
            .args([
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                "--local-ttl=1",
                "--pid-file=",
                // Names under .test that it has no record for do not exist
                // (NXDOMAIN), rather than being asked of an upstream it lacks.
                "--local=/test/",
            ])
            .arg(format!("--port={}", self.port))
            .arg(format!("--addn-hosts={}", self.hosts.display()))
            .args(srv.iter().map(|s| format!("--srv-host={s}")))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if nix::unistd::Uid::effective().is_root() {
            // Else it drops to `nobody`, who may not read the test's files.
            command.arg("--user=root");
        }
        self.child = Some(command.spawn().expect("cannot start dnsmasq"));
        assert!(
            wait_for(Duration::from_secs(20), || self.answers("probe.test")),
            "dnsmasq does not answer on port {}",
            self.port
        );
    }

    /// Whether a query for `name`'s A records gets a reply (of any kind).
    fn answers(&self, name: &str) -> bool {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let query = wire::query(1, name, wire::TYPE_A).unwrap();
        if socket.send_to(&query, ("127.0.0.1", self.port)).is_err() {
            return false;
        }
        let mut buffer = [0; 512];
        socket
            .recv(&mut buffer)
            .is_ok_and(|n| wire::parse_reply(&buffer[..n]).is_ok())
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Restarts on the same port with other SRV records.
    fn restart(&mut self, srv: &[String]) {
        self.stop();
        self.run(srv);
    }

    /// Rewrites the hosts file and tells dnsmasq to read it again.
    fn rewrite_hosts(&self, hosts: &str) {
        std::fs::write(&self.hosts, hosts).unwrap();
        let pid = self.child.as_ref().unwrap().id() as i32;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGHUP,
        )
        .unwrap();
    }

    fn resolver(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An SRV record for `server` as `--srv-host` takes it: the target `mN.test` (the
/// hosts file gives it 127.0.0.1), the server's port, priority 0, weight 10.
fn srv(n: usize, server: &Server) -> String {
    format!("_memcache._tcp.cache.test,m{n}.test,{},0,10", server.port)
}

const HOSTS: &str = "127.0.0.1 m0.test m1.test m2.test\n";

/// Waits until the proxy's stat `name` satisfies `ok` (false after 20 s).
fn wait_stat(conn: &mut TcpStream, name: &str, ok: impl Fn(u64) -> bool) -> bool {
    wait_for(Duration::from_secs(20), || {
        proxy_stat(conn, name).is_some_and(&ok)
    })
}

fn stats(conn: &mut TcpStream) -> String {
    String::from_utf8(exchange(conn, b"stats\r\n", b"END\r\n")).unwrap()
}

/// How many of `keys` (`new:N`) a set through the proxy put on `server`.
fn keys_on(proxy: &mut TcpStream, server: &Server, keys: usize) -> usize {
    let mut direct = server.connect();
    (0..keys)
        .filter(|i| {
            let key = format!("new:{i}");
            assert_eq!(set(proxy, &key, "x"), "STORED\r\n");
            get(&mut direct, &key).unwrap().is_some()
        })
        .count()
}

#[test]
fn srv_records_move_the_pool_under_load_and_failures_keep_it() {
    let servers = [
        Server::memkeepd(&[]),
        Server::memkeepd(&[]),
        Server::memkeepd(&[]),
    ];
    let dir = TempDir::new();
    let two: Vec<String> = (0..2).map(|n| srv(n, &servers[n])).collect();
    let mut dns = Dnsmasq::start(&dir, HOSTS, &two);
    let resolver = dns.resolver();
    let proxy = Proxy::memkeep("--config", "route.toml", |port| {
        format!(
            r#"
[pools.cache]
servers = ["dns+srv://_memcache._tcp.cache.test"]
resolver = "{resolver}"
dns_min_ttl_ms = 100
hash = "md5"   # fnv1a_64 puts short keys like new:N on one arc of the ring

[[listeners]]
listen = "127.0.0.1:{port}"
pool = "cache"
"#
        )
    });
    let mut admin = proxy.connect();
    let found = stats(&mut admin);
    assert!(
        found.contains("STAT discovery:cache:servers 2\r\n"),
        "{found}"
    );
    for server in &servers[..2] {
        assert!(found.contains(&format!("STAT server:cache:{}:state", server.addr())));
    }
    assert!(!found.contains(&format!("server:cache:{}:", servers[2].addr())));
    assert_eq!(keys_on(&mut admin, &servers[2], 50), 0);

    // A third server is published while clients set and get.
    let load = Load::start(proxy.port, 2, 100);
    assert!(load.wait_ops(200));
    let three: Vec<String> = (0..3).map(|n| srv(n, &servers[n])).collect();
    dns.restart(&three);
    assert!(wait_stat(&mut admin, "discovery:cache:changes", |n| n >= 1));
    assert!(wait_stat(&mut admin, "discovery:cache:servers", |n| n == 3));
    assert!(load.wait_ops(200));
    // New keys reach the new server: the ring has it.
    assert!(keys_on(&mut admin, &servers[2], 50) > 0);

    // dnsmasq stops: lookups fail, counted; the three servers stay and serve.
    let failures = proxy_stat(&mut admin, "discovery:cache:failures").unwrap();
    dns.stop();
    assert!(wait_stat(&mut admin, "discovery:cache:failures", |n| n > failures));
    assert!(load.wait_ops(200));
    assert_eq!(proxy_stat(&mut admin, "discovery:cache:servers"), Some(3));

    // Back, but the name is gone (NXDOMAIN): a failure too, never an empty pool.
    let failures = proxy_stat(&mut admin, "discovery:cache:failures").unwrap();
    dns.restart(&[]);
    assert!(dns.answers("m0.test"));
    assert!(wait_stat(&mut admin, "discovery:cache:failures", |n| n > failures));
    // And an SRV answer saying the service is not offered here (target ".").
    let failures = proxy_stat(&mut admin, "discovery:cache:failures").unwrap();
    dns.restart(&["_memcache._tcp.cache.test".to_owned()]);
    assert!(wait_stat(&mut admin, "discovery:cache:failures", |n| n > failures));
    assert!(load.wait_ops(200));
    let kept = stats(&mut admin);
    assert!(
        kept.contains("STAT discovery:cache:servers 3\r\n"),
        "{kept}"
    );
    for server in &servers {
        assert!(kept.contains(&format!("STAT server:cache:{}:state up", server.addr())));
    }
    assert!(keys_on(&mut admin, &servers[2], 50) > 0);

    let tallies = load.finish();
    // A membership change costs misses (keys now owned by the new server), not
    // errors: no request failed across the reloads.
    for tally in &tallies {
        assert_eq!(tally.errors, 0, "{tallies:?}");
        assert!(tally.ops > 0);
    }
}

/// A memkeepd on `ip`:`port` (another loopback address than the test's others).
fn memkeepd_on(ip: &str, port: u16) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_memkeepd"));
    command
        .args(["-l", ip, "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    spawn_listening(&mut command, port)
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_records_on_one_port_follow_the_hosts_file() {
    let port = free_port();
    let _a = Killed(memkeepd_on("127.0.0.2", port));
    let _b = Killed(memkeepd_on("127.0.0.3", port));
    let dir = TempDir::new();
    let dns = Dnsmasq::start(&dir, "127.0.0.2 cache.test\n", &[]);
    let resolver = dns.resolver();
    let proxy = Proxy::memkeep("--config", "route.toml", |listen| {
        format!(
            r#"
[pools.cache]
servers = ["dns://cache.test:{port}"]
resolver = "{resolver}"
dns_min_ttl_ms = 100

[[listeners]]
listen = "127.0.0.1:{listen}"
pool = "cache"
"#
        )
    });
    let mut admin = proxy.connect();
    assert_eq!(set(&mut admin, "k", "v"), "STORED\r\n");
    let before = stats(&mut admin);
    assert!(before.contains(&format!("STAT server:cache:127.0.0.2:{port}:state up")));
    assert!(
        before.contains("STAT discovery:cache:servers 1\r\n"),
        "{before}"
    );

    dns.rewrite_hosts("127.0.0.2 cache.test\n127.0.0.3 cache.test\n");
    assert!(wait_stat(&mut admin, "discovery:cache:servers", |n| n == 2));
    let line = format!("STAT server:cache:127.0.0.3:{port}:state up");
    assert!(wait_for(Duration::from_secs(20), || stats(&mut admin)
        .contains(&line)));
    assert_eq!(proxy_stat(&mut admin, "discovery:cache:changes"), Some(1));
}

#[test]
fn a_name_that_does_not_resolve_refuses_to_start() {
    let dir = TempDir::new();
    let dns = Dnsmasq::start(&dir, HOSTS, &[]);
    let config = dir.0.join("route.toml");
    std::fs::write(
        &config,
        format!(
            "[pools.cache]\nservers = [\"dns+srv://_memcache._tcp.missing.test\"]\n\
             resolver = \"{}\"\n[[listeners]]\nlisten = \"127.0.0.1:{}\"\npool = \"cache\"\n",
            dns.resolver(),
            free_port()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_memkeep-proxy"))
        .arg("--config")
        .arg(&config)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr
            .contains("pool cache: dns+srv://_memcache._tcp.missing.test: no such name (NXDOMAIN)"),
        "{stderr}"
    );
}

#[test]
fn a_nutcracker_pool_takes_its_servers_from_dns() {
    let server = Server::memkeepd(&[]);
    let dir = TempDir::new();
    let dns = Dnsmasq::start(&dir, HOSTS, &[srv(0, &server)]);
    let resolver = dns.resolver();
    let proxy = Proxy::memkeep("-c", "nutcracker.yml", |port| {
        format!(
            "alpha:\n  listen: 127.0.0.1:{port}\n  servers_from: dns+srv://_memcache._tcp.cache.test\n  \
             resolver: {resolver}\n"
        )
    });
    let mut conn = proxy.connect();
    assert_eq!(set(&mut conn, "k", "v"), "STORED\r\n");
    assert_eq!(
        get(&mut server.connect(), "k").unwrap().as_deref(),
        Some("v")
    );
    assert_eq!(proxy_stat(&mut conn, "discovery:alpha:servers"), Some(1));
}
