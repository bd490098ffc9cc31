//! twemproxy's reading of `nutcracker.yml`, piece by piece (the whole of it is checked
//! against `nutcracker -t` by `bins/tests/proxy_nutcracker_conf.rs`).

use super::*;

fn pool(text: &str) -> Result<NutcrackerPool, String> {
    parse(text).map(|config| config.into_values().next().expect("one pool"))
}

const BASE: &str = "p:\n  listen: 127.0.0.1:22121\n";
const SERVERS: &str = "  servers:\n    - 127.0.0.1:11211:1\n";

fn with(line: &str) -> String {
    format!("{BASE}{line}\n{SERVERS}")
}

#[test]
fn defaults_are_twemproxys() {
    let p = pool(&format!("{BASE}{SERVERS}")).unwrap();
    assert_eq!(p, NutcrackerPool::new("127.0.0.1:22121", p.servers.clone()));
    assert_eq!(p.servers, ["127.0.0.1:11211:1"]);
    assert_eq!((p.backlog, p.server_connections), (512, 1));
    assert_eq!(
        (p.server_retry_timeout, p.server_failure_limit),
        (30_000, 2)
    );
}

#[test]
fn numbers_read_as_nc_atoi_reads_them() {
    assert_eq!(atoi("0"), Some(0));
    assert_eq!(atoi("007"), Some(7));
    assert_eq!(atoi("2147483647"), Some(i32::MAX as u32));
    assert_eq!(atoi("2147483648"), None);
    assert_eq!(atoi("4294967296"), Some(0));
    for refused in ["", "-1", "+5", "0x10", "1.5", "~", "5 "] {
        assert_eq!(atoi(refused), None, "{refused:?}");
    }
    assert_eq!(
        pool(&with("  client_connections: '5'"))
            .unwrap()
            .client_connections,
        Some(5)
    );
    assert!(pool(&with("  client_connections:")).is_err());
    assert!(pool(&with("  timeout: ~")).is_err());
}

#[test]
fn yaml_twemproxy_refuses() {
    for text in [
        format!("---\n{BASE}{SERVERS}"),
        format!("{BASE}{SERVERS}...\n"),
        format!("{BASE}  servers: [127.0.0.1:11211:1]\n"),
        "p: {listen: 127.0.0.1:22121}\n".to_owned(),
        format!("{BASE}  timeout: &a 5\n  backlog: *a\n{SERVERS}"),
        format!("{BASE}  timeout: !!int 5\n{SERVERS}"),
        format!("{BASE}  x:\n    y: 1\n{SERVERS}"),
        format!("{BASE}  preconnect: True\n{SERVERS}"),
        String::new(),
    ] {
        assert!(parse(&text).is_err(), "accepted {text:?}");
    }
}

#[test]
fn server_entries_read_from_the_end() {
    let entry = |s: &str| server(s).map(|s| (s.name, s.entry));
    assert_eq!(
        entry("127.0.0.1:11211:1").unwrap(),
        ("127.0.0.1".into(), "127.0.0.1:11211:1".into())
    );
    assert_eq!(
        entry("::1:11212:4294967297 b").unwrap(),
        ("b".into(), "::1:11212:1 b".into())
    );
    assert_eq!(entry("h:11212:1").unwrap().0, "h:11212");
    assert!(entry("h:11211").is_err());
    assert!(entry("h:11211:0").is_err());
    assert!(entry("h:0:1").is_err());
    assert!(entry("h:11211:1 a b").is_err());
    assert_eq!(
        entry("/tmp/s:2").unwrap(),
        ("/tmp/s:".into(), "/tmp/s:0:2 /tmp/s:".into())
    );
    assert_eq!(entry("/tmp/s:1 a").unwrap().1, "/tmp/s:0:1 a");
    // twemproxy hashes the port as written.
    assert_eq!(entry("h:011212:1").unwrap().1, "h:11212:1 h:011212");
    assert_eq!(entry("h:011211:1").unwrap().1, "h:11211:1");
    assert!(entry("/tmp/a:b:1").is_err());
}

#[test]
fn unix_listen_modes_read_as_strtol_reads_them() {
    let listen = |v: &str| match listen(v) {
        Ok(Listen::Unix(bound)) => Ok(bound),
        Ok(Listen::Tcp(_)) => panic!("{v} is a path"),
        Err(e) => Err(e),
    };
    assert_eq!(listen("/tmp/s").unwrap(), "/tmp/s");
    assert_eq!(listen("/tmp/s 0666").unwrap(), "/tmp/s 666");
    assert_eq!(listen("/tmp/s 999").unwrap(), "/tmp/s");
    assert_eq!(listen("/tmp/s 0755x").unwrap(), "/tmp/s 755");
    assert!(listen("/tmp/s 1777").is_err());
    assert!(listen("/tmp/s -1").is_err());
}

#[test]
fn warm_up_after_change_is_memkeeps_extension_key() {
    let default = pool(&format!("{BASE}{SERVERS}")).unwrap();
    assert_eq!(
        default.warm_up_after_change,
        memkeep_proxy::config::DEFAULT_WARM_UP_AFTER_CHANGE
    );
    let set = pool(&with("  warm_up_after_change: 90s")).unwrap();
    assert_eq!(set.warm_up_after_change, std::time::Duration::from_secs(90));
    let off = pool(&with("  warm_up_after_change: 0")).unwrap();
    assert_eq!(off.warm_up_after_change, std::time::Duration::ZERO);
    let bad = pool(&with("  warm_up_after_change: soon")).unwrap_err();
    assert!(bad.contains("warm_up_after_change"), "{bad}");
    assert!(pool(&format!(
        "{BASE}  warm_up_after_change: 1s\n  warm_up_after_change: 2s\n{SERVERS}"
    ))
    .is_err());
}

#[test]
fn servers_from_dns_is_memkeeps_extension() {
    let text = format!(
        "{BASE}  servers_from: dns+srv://_memcache._tcp.cache.svc\n  resolver: 127.0.0.1:5353\n  \
         dns_min_ttl_ms: 1000\n"
    );
    let p = pool(&text).unwrap();
    assert_eq!(
        p.servers_from.as_deref(),
        Some("dns+srv://_memcache._tcp.cache.svc")
    );
    let tree = p.to_pool("p").unwrap();
    assert_eq!(tree.servers, ["dns+srv://_memcache._tcp.cache.svc"]);
    assert_eq!(tree.resolver.as_deref(), Some("127.0.0.1:5353"));
    assert_eq!((tree.dns_min_ttl_ms, tree.dns_max_ttl_ms), (1000, 300_000));
    // Mixed with plain servers: both.
    let mixed = pool(&with("  servers_from: dns://cache.svc:11211")).unwrap();
    assert_eq!(
        mixed.to_pool("p").unwrap().servers,
        ["127.0.0.1:11211:1", "dns://cache.svc:11211"]
    );
    let bad = parse(&with("  servers_from: cache.svc:11211")).unwrap_err();
    assert!(bad.contains("servers_from"), "{bad}");
    assert!(
        bad.contains("want dns+srv://NAME or dns://NAME:PORT"),
        "{bad}"
    );
}
