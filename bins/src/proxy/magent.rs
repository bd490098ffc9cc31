//! magent's command line: `memkeep-proxy -p PORT -l ADDR -s HOST:PORT [-s ...]
//! -b HOST:PORT [-b ...] [-n MAXCONNS] [-k]`, turned into a route tree. Writes go to
//! the key's main server and its backup server, answered by the first that takes
//! them (a server that missed a write gets it replayed when it is back); reads go
//! to both, answer with a hit and write it back to the one that missed
//! (read-repair), so a server that restarts empty fills up again as its keys are
//! read.
//!
//! twemproxy's `-p` (pid file) and `-s` (stats port) clash with magent's `-p` (port)
//! and `-s` (server). The rule: without `-c`/`--conf-file`/`--config`, the command
//! line is magent's when `-b` is given or some `-s` value is not a bare port number
//! (`HOST:PORT` or a host).

use std::collections::BTreeMap;
use std::ffi::OsString;

use clap::Parser;
use memkeep_proxy::config::{
    BackendProtocol, ListenerConfig, PartialFailureSetting, PolicySetting, PoolConfig, RouteConfig,
    RouteSpec, DEFAULT_DNS_MAX_TTL_MS, DEFAULT_DNS_MIN_TTL_MS, DEFAULT_MAX_BUFFERED_BYTES,
    DEFAULT_MAX_OUTSTANDING, DEFAULT_MAX_PENDING, DEFAULT_MISSED_WRITES,
    DEFAULT_MISSED_WRITES_BYTES,
};

/// memkeep-proxy with magent's flags: every key on a main server and a backup
/// server, reads failing over and repairing.
#[derive(Debug, Parser)]
#[command(name = "memkeep-proxy", version, args_override_self = true)]
pub struct MagentArgs {
    /// TCP port to listen on.
    #[arg(
        short = 'p',
        long = "port",
        value_name = "PORT",
        default_value_t = 11211
    )]
    pub port: u16,
    /// Address to listen on: 127.0.0.1 unless given (magent's default was every
    /// interface; give -l 0.0.0.0 for that).
    #[arg(
        short = 'l',
        long = "listen",
        value_name = "ADDR",
        default_value = "127.0.0.1"
    )]
    pub listen: String,
    /// A main memcached server, `host[:port]` (port 11211 when left out). Repeat for
    /// more; keys are spread over them.
    #[arg(
        short = 's',
        long = "server",
        value_name = "HOST:PORT",
        required = true
    )]
    pub servers: Vec<String>,
    /// A backup memcached server, `host[:port]`. Repeat for more; each key's backup
    /// is picked over them the way its main server is picked over the mains.
    #[arg(short = 'b', long = "backup", value_name = "HOST:PORT")]
    pub backups: Vec<String>,
    /// Most client connections.
    #[arg(
        short = 'n',
        long = "max-conns",
        value_name = "N",
        default_value_t = 4096
    )]
    pub max_connections: usize,
    /// Place keys by ketama (MD5 continuum) instead of magent's DJB hash modulo the
    /// number of servers.
    #[arg(short = 'k', long = "ketama")]
    pub ketama: bool,
    /// Connections to each server (magent's keep-alive connections; memkeep-proxy
    /// pipelines many requests on each, so one is usually enough).
    #[arg(
        short = 'i',
        long = "server-connections",
        value_name = "N",
        default_value_t = 1
    )]
    pub server_connections: usize,
    /// Stay in the foreground (memkeep-proxy always does in magent mode).
    #[arg(short = 'D', long = "foreground")]
    pub foreground: bool,
    /// Verbose: repeat for more.
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Do not write hits back to a server that missed them.
    #[arg(long = "no-read-repair")]
    pub no_read_repair: bool,
    /// When a write is answered: `first-success` (the first server that takes it;
    /// a server that missed it gets it replayed when it is back),
    /// `primary-then-async` (magent's: the main server's reply; the backup is
    /// written in the background), `all`, `majority`.
    #[arg(
        long = "write-policy",
        value_name = "POLICY",
        default_value = "first-success"
    )]
    pub write_policy: String,
    /// Most keys whose missed writes are queued per server for replay (0: none).
    #[arg(
        long = "missed-writes",
        value_name = "N",
        default_value_t = DEFAULT_MISSED_WRITES
    )]
    pub missed_writes: usize,
    /// Give up on a server's reply after this many milliseconds (none by default).
    #[arg(long = "timeout", value_name = "MS")]
    pub timeout_ms: Option<u64>,
    /// Speak the classic text protocol to the servers without asking them first (by
    /// default each server is asked at its first connection whether it speaks meta).
    #[arg(long = "text-backends")]
    pub text_backends: bool,
    /// Worker threads (default: 1, one event loop as nutcracker runs; with more, client
    /// connections are spread over a thread pool).
    #[arg(long = "threads", value_name = "N")]
    pub threads: Option<usize>,
    /// Serve /metrics, /status, /healthz and a status page over HTTP on PORT
    /// (127.0.0.1) or ADDR:PORT. Off unless given.
    #[arg(long = "admin", value_name = "ADDR:PORT")]
    pub admin: Option<String>,
}

/// Whether the command line is magent's (see the module docs for the rule).
pub fn is_magent(args: &[OsString]) -> bool {
    let args: Vec<&str> = args.iter().skip(1).filter_map(|a| a.to_str()).collect();
    let has = |flags: &[&str]| {
        args.iter().any(|a| {
            flags
                .iter()
                .any(|f| a == f || a.starts_with(&format!("{f}=")))
        })
    };
    if has(&["-c", "--conf-file", "--config"]) || args.iter().any(|a| a.starts_with("-c")) {
        return false;
    }
    let mut values = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        if *arg == "-b" || arg.starts_with("--backup") {
            return true;
        }
        match *arg {
            "-s" | "--server" => values.extend(args.get(i + 1)),
            a if a.starts_with("-s") && a.len() > 2 => values.push(&a[2..]),
            a if a.starts_with("-b") && a.len() > 2 => return true,
            _ => {}
        }
    }
    values.iter().any(|v| v.parse::<u16>().is_err())
}

impl MagentArgs {
    /// The `-v` count for [`crate::logging::init`].
    pub fn log_verbosity(&self) -> u8 {
        self.verbose
    }

    /// The route tree these flags describe: pools `main` and `backup`, routes
    /// `reads`, `writes` and `magent`, one listener.
    pub fn tree(&self) -> Result<RouteConfig, String> {
        let policy = match self.write_policy.as_str() {
            "primary-then-async" => PolicySetting::PrimaryThenAsync,
            "all" => PolicySetting::All,
            "majority" => PolicySetting::Majority,
            "first-success" => PolicySetting::FirstSuccess,
            other => {
                return Err(format!(
                "--write-policy {other}: want primary-then-async, all, majority or first-success"
            ))
            }
        };
        let pool = |servers: &[String]| -> Result<PoolConfig, String> {
            let servers = servers
                .iter()
                .map(|s| with_port(s).map(|s| format!("{s}:1")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(PoolConfig {
                servers,
                resolver: None,
                dns_min_ttl_ms: DEFAULT_DNS_MIN_TTL_MS,
                dns_max_ttl_ms: DEFAULT_DNS_MAX_TTL_MS,
                hash: if self.ketama { "md5" } else { "djb" }.into(),
                distribution: if self.ketama { "ketama" } else { "modula" }.into(),
                hash_tag: None,
                timeout_ms: self.timeout_ms,
                connections: self.server_connections.max(1),
                eject: None,
                partial_failure: PartialFailureSetting::Error,
                replicas: 1,
                protocol: if self.text_backends {
                    BackendProtocol::Text
                } else {
                    BackendProtocol::Auto
                },
                tls: None,
                auth: None,
                max_pending: DEFAULT_MAX_PENDING,
                max_buffered_bytes: DEFAULT_MAX_BUFFERED_BYTES,
                missed_writes: self.missed_writes,
                missed_writes_bytes: DEFAULT_MISSED_WRITES_BYTES,
                // magent's flags never change while it runs.
                warm_up_after_change: memkeep_proxy::config::DEFAULT_WARM_UP_AFTER_CHANGE,
            })
        };
        let mut pools = BTreeMap::from([("main".to_owned(), pool(&self.servers)?)]);
        let mut routes = BTreeMap::new();
        let root = if self.backups.is_empty() {
            "main"
        } else {
            pools.insert("backup".into(), pool(&self.backups)?);
            let both = vec!["main".to_owned(), "backup".to_owned()];
            let reads = if self.no_read_repair {
                RouteSpec::Failover {
                    to: both.clone(),
                    on_miss: true,
                    attempt_timeout_ms: None,
                }
            } else {
                RouteSpec::ReadRepair {
                    to: both.clone(),
                    read_from: None,
                }
            };
            routes.insert("reads".to_owned(), reads);
            routes.insert(
                "writes".to_owned(),
                RouteSpec::Replicate { to: both, policy },
            );
            routes.insert(
                "magent".to_owned(),
                RouteSpec::Operation {
                    reads: "reads".into(),
                    writes: "writes".into(),
                },
            );
            "magent"
        };
        let listen = if self.listen.contains(':') && !self.listen.starts_with('[') {
            format!("[{}]:{}", self.listen, self.port)
        } else {
            format!("{}:{}", self.listen, self.port)
        };
        Ok(RouteConfig {
            pools,
            routes,
            listeners: vec![ListenerConfig {
                listen,
                route: root.to_owned(),
                max_connections: Some(self.max_connections),
                backlog: 1024,
                tls: None,
                authfile: None,
                max_outstanding: DEFAULT_MAX_OUTSTANDING,
            }],
        })
    }
}

/// `host:port`, with magent's default port when only a host is given.
fn with_port(server: &str) -> Result<String, String> {
    match server.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
            Ok(server.to_owned())
        }
        Some(_) => Err(format!("-s/-b {server}: want host:port")),
        None => Ok(format!("{server}:11211")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn magent_mode_is_picked_by_its_flag_values() {
        assert!(is_magent(&argv(
            "p -p 11311 -s 127.0.0.1:11211 -s 127.0.0.1:11212"
        )));
        assert!(is_magent(&argv("p -s 10.1.2.1 -b 10.1.2.3:14000")));
        assert!(is_magent(&argv("p -s10.1.2.1:11211")));
        assert!(is_magent(&argv("p -s 1 -b h:1")));
        // twemproxy's: -s is the stats port, -p the pid file.
        assert!(!is_magent(&argv("p -c n.yml -s 22222 -p /run/p.pid")));
        assert!(!is_magent(&argv("p -s 22222")));
        assert!(!is_magent(&argv("p --config r.toml")));
        assert!(!is_magent(&argv("p -cn.yml -s h:1")));
    }

    #[test]
    fn flags_become_a_tree_of_main_and_backup() {
        let args =
            MagentArgs::try_parse_from(argv("p -p 5 -l 127.0.0.1 -s a:1 -s b -b c:3")).unwrap();
        let tree = args.tree().unwrap();
        tree.check().unwrap();
        assert_eq!(tree.pools["main"].servers, ["a:1:1", "b:11211:1"]);
        assert_eq!(tree.pools["backup"].servers, ["c:3:1"]);
        assert_eq!(tree.listeners[0].listen, "127.0.0.1:5");
        assert_eq!(tree.listeners[0].route, "magent");
        assert!(matches!(tree.routes["reads"], RouteSpec::ReadRepair { .. }));
        let plain = MagentArgs::try_parse_from(argv("p -s a:1 --no-read-repair")).unwrap();
        assert_eq!(plain.tree().unwrap().listeners[0].route, "main");
        assert!(MagentArgs::try_parse_from(argv("p -s a:x"))
            .unwrap()
            .tree()
            .is_err());
    }
}
