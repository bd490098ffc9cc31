//! Real memkeepd nodes in replication topologies, and the client calls the topology
//! tests make: stats, pipelined writes, and every key read back with `mg k v c` so
//! that nodes are compared value and version alike.

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use crate::support::{free_port, read_until, wait_for, Server};

/// `stats` of a server, as a map.
pub fn stats(server: &Server) -> HashMap<String, String> {
    let mut c = server.connect();
    c.write_all(b"stats\r\n").unwrap();
    let (reply, _) = read_until(&mut c, Duration::from_secs(10), |got| {
        got.ends_with(b"END\r\n")
    });
    String::from_utf8(reply)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("STAT "))
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Sends `requests` pipelined on `stream`, each answered by one line; returns the
/// lines that came back before the peer closed (fewer than asked if it died).
pub fn pipeline(stream: &mut TcpStream, requests: &[Vec<u8>]) -> Vec<String> {
    if stream.write_all(&requests.concat()).is_err() {
        return Vec::new();
    }
    let n = requests.len();
    let (got, _) = read_until(stream, Duration::from_secs(20), |got| {
        got.windows(2).filter(|w| w == b"\r\n").count() >= n
    });
    String::from_utf8_lossy(&got)
        .split_terminator("\r\n")
        .map(str::to_owned)
        .collect()
}

/// A text `set`.
pub fn set(key: &str, value: &str) -> Vec<u8> {
    format!("set {key} 0 0 {}\r\n{value}\r\n", value.len()).into_bytes()
}

/// Every key as `mg k v c` shows it on `server`: `VA <len> c<cas> <data>` or `EN`.
pub fn read_all(server: &Server, keys: &[String]) -> Vec<String> {
    let mut c = server.connect();
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(200) {
        let request: String = chunk.iter().map(|k| format!("mg {k} v c\r\n")).collect();
        c.write_all(format!("{request}mn\r\n").as_bytes()).unwrap();
        let (reply, _) = read_until(&mut c, Duration::from_secs(10), |got| {
            got.ends_with(b"MN\r\n")
        });
        let text = String::from_utf8(reply).unwrap();
        let mut lines = text.split_terminator("\r\n");
        for _ in chunk {
            let line = lines.next().expect("a reply per key");
            if line.starts_with("VA ") {
                let data = lines.next().expect("the value");
                out.push(format!("{line} {data}"));
            } else {
                assert_eq!(line, "EN", "{text}");
                out.push(line.to_owned());
            }
        }
    }
    out
}

/// Waits until every node shows every key the same (value and CAS); panics with
/// the first differences if they do not within 20 s. Returns what they show.
pub fn converged(nodes: &[&Server], keys: &[String]) -> HashMap<String, String> {
    let mut seen: Vec<Vec<String>> = Vec::new();
    let same = wait_for(Duration::from_secs(20), || {
        seen = nodes.iter().map(|n| read_all(n, keys)).collect();
        seen.iter().all(|s| *s == seen[0])
    });
    if !same {
        let differ: Vec<_> = (0..keys.len())
            .filter(|&i| seen.iter().any(|s| s[i] != seen[0][i]))
            .take(5)
            .map(|i| (&keys[i], seen.iter().map(|s| &s[i]).collect::<Vec<_>>()))
            .collect();
        let repl: Vec<_> = nodes
            .iter()
            .map(|n| {
                let mut s: Vec<_> = stats(n)
                    .into_iter()
                    .filter(|(k, _)| k.starts_with("repl_"))
                    .collect();
                s.sort();
                s
            })
            .collect();
        panic!("nodes differ: {differ:?}\n{repl:#?}");
    }
    keys.iter().cloned().zip(seen.swap_remove(0)).collect()
}

/// Waits until `server` is synced with at least `links` links up.
pub fn wait_linked(server: &Server, links: usize) {
    let ok = wait_for(Duration::from_secs(20), || {
        let s = stats(server);
        s["repl_state"] == "synced" && s["repl_links"].parse::<usize>().unwrap() >= links
    });
    assert!(ok, "{} never linked: {:?}", server.port, stats(server));
}

/// Waits until no node has records left to send.
pub fn drained(nodes: &[&Server]) {
    for n in nodes {
        let ok = wait_for(Duration::from_secs(20), || {
            stats(n)["repl_lag_items"] == "0"
        });
        assert!(ok, "lag never reached zero: {:?}", stats(n));
    }
}

/// A group of nodes that take writes, each with its `-X` port and `-x` for each
/// node it dials.
pub struct Group {
    /// The nodes, in order.
    pub nodes: Vec<Server>,
    /// Each node's replication port.
    pub ports: Vec<u16>,
    /// The nodes each one dials.
    dials: Vec<Vec<usize>>,
}

impl Group {
    /// Starts `n` nodes, each dialling all the others, and waits until each is
    /// linked with all the others.
    pub fn start(n: usize) -> Group {
        let dials = (0..n)
            .map(|i| (0..n).filter(|&j| j != i).collect())
            .collect();
        Self::start_with(dials)
    }

    /// Starts a node per entry of `dials`, each dialling the nodes its entry names,
    /// and waits until each is linked with every node it dials or is dialled by.
    pub fn start_with(dials: Vec<Vec<usize>>) -> Group {
        let ports: Vec<u16> = dials.iter().map(|_| free_port()).collect();
        let nodes = (0..dials.len())
            .map(|i| Self::node(&ports, &dials[i], i))
            .collect();
        let group = Group {
            nodes,
            ports,
            dials,
        };
        for i in 0..group.nodes.len() {
            wait_linked(&group.nodes[i], group.neighbours(i));
        }
        group
    }

    /// How many nodes node `i` is linked with when all are up.
    pub fn neighbours(&self, i: usize) -> usize {
        (0..self.nodes.len())
            .filter(|&j| j != i && (self.dials[i].contains(&j) || self.dials[j].contains(&i)))
            .count()
    }

    /// Starts node `i`: `-X` its port, `-x` each port it dials.
    fn node(ports: &[u16], dials: &[usize], i: usize) -> Server {
        let mut args = vec![
            "-t".to_owned(),
            "2".into(),
            "-X".into(),
            ports[i].to_string(),
        ];
        for j in dials {
            args.push("-x".into());
            args.push(format!("127.0.0.1:{}", ports[*j]));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Server::memkeepd(&args)
    }

    /// Kills node `i` with SIGKILL and waits for it to be gone.
    pub fn kill9(&mut self, i: usize) {
        use nix::sys::signal::{kill, Signal};
        let pid = nix::unistd::Pid::from_raw(self.nodes[i].pid() as i32);
        kill(pid, Signal::SIGKILL).unwrap();
        assert!(self.nodes[i].wait_exit(Duration::from_secs(10)).is_some());
    }

    /// Starts node `i` again with the same flags.
    pub fn restart(&mut self, i: usize) {
        self.nodes[i] = Self::node(&self.ports, &self.dials[i], i);
    }

    /// The nodes, for comparing.
    pub fn all(&self) -> Vec<&Server> {
        self.nodes.iter().collect()
    }
}

/// Each key's remaining TTL on `server` (`mg k t`): -1 for none, `None` if absent.
fn ttls(server: &Server, keys: &[String]) -> Vec<Option<i64>> {
    let mut c = server.connect();
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(200) {
        let request: String = chunk.iter().map(|k| format!("mg {k} t\r\n")).collect();
        c.write_all(format!("{request}mn\r\n").as_bytes()).unwrap();
        let (reply, _) = read_until(&mut c, Duration::from_secs(10), |got| {
            got.ends_with(b"MN\r\n")
        });
        let text = String::from_utf8(reply).unwrap();
        out.extend(text.split_terminator("\r\n").take(chunk.len()).map(|line| {
            line.split_whitespace()
                .find_map(|t| t.strip_prefix('t'))
                .map(|t| t.parse().unwrap())
        }));
    }
    out
}

/// Waits until every node gives every key the same TTL (read a moment apart, so
/// within 2 s); panics with the first differences if they do not within 20 s.
pub fn ttls_agree(nodes: &[&Server], keys: &[String]) {
    let agree = |x: &Option<i64>, y: &Option<i64>| match (x, y) {
        (Some(x), Some(y)) => (x - y).abs() <= 2 && (*x == -1) == (*y == -1),
        _ => x == y,
    };
    let mut seen: Vec<Vec<Option<i64>>> = Vec::new();
    let same = wait_for(Duration::from_secs(20), || {
        seen = nodes.iter().map(|n| ttls(n, keys)).collect();
        seen.iter()
            .all(|s| s.iter().zip(&seen[0]).all(|(x, y)| agree(x, y)))
    });
    let differ: Vec<_> = (0..keys.len())
        .filter(|&i| seen.iter().any(|s| !agree(&s[i], &seen[0][i])))
        .take(5)
        .map(|i| (&keys[i], seen.iter().map(|s| s[i]).collect::<Vec<_>>()))
        .collect();
    assert!(same, "TTLs differ: {differ:?}");
}
