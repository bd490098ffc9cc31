//! Test side of the admin listener: a plain HTTP/1.1 GET over a TCP socket, and
//! Prometheus' text format parsed into `series -> value`.

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use crate::support::{free_port, read_until, wait_for, Server};

/// An HTTP reply.
pub struct Reply {
    pub code: u16,
    pub head: String,
    pub body: String,
}

/// `GET path` on 127.0.0.1:`port`.
pub fn get(port: u16, path: &str) -> Reply {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let (bytes, closed) = read_until(&mut stream, Duration::from_secs(10), |_| false);
    assert!(closed, "the admin listener closes after each reply");
    let text = String::from_utf8(bytes).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete reply");
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    Reply {
        code,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// Every sample of `/metrics`: `name{labels}` (as written) -> value. Also checks the
/// format: each sample's family has `# HELP` and `# TYPE` lines before it.
pub fn scrape(port: u16) -> HashMap<String, f64> {
    let reply = get(port, "/metrics");
    assert_eq!(reply.code, 200);
    assert!(reply
        .head
        .contains("Content-Type: text/plain; version=0.0.4"));
    let mut typed = Vec::new();
    let mut samples = HashMap::new();
    for line in reply.body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            typed.push(rest.split(' ').next().unwrap().to_owned());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let name = series.split('{').next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| typed.iter().any(|t| t == f))
            })
            .unwrap_or(name);
        assert!(
            typed.iter().any(|t| t == family),
            "{series} has no # TYPE line"
        );
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("{line}: not a number")),
        };
        assert!(
            samples.insert(series.to_owned(), value).is_none(),
            "{series} twice"
        );
    }
    samples
}

/// A sample's value, 0 when absent (Prometheus counters start absent).
pub fn value(samples: &HashMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

/// memkeepd with `--admin` on a port picked now; returns it and the admin port.
pub fn memkeepd_with_admin(extra: &[&str]) -> (Server, u16) {
    let admin = free_port();
    let flag = format!("127.0.0.1:{admin}");
    let mut args = vec!["--admin", &flag];
    args.extend_from_slice(extra);
    let server = Server::memkeepd(&args);
    wait_accepting(admin);
    (server, admin)
}

/// Waits until 127.0.0.1:`port` accepts connections.
pub fn wait_accepting(port: u16) {
    assert!(
        wait_for(Duration::from_secs(10), || TcpStream::connect((
            "127.0.0.1",
            port
        ))
        .is_ok()),
        "nothing listens on {port}"
    );
}
