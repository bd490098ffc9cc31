//! memkeepd's command line: memcached's flags, so existing command lines, systemd units
//! and init scripts keep working.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Parser};

/// memcached's default port.
pub const DEFAULT_PORT: u16 = 11211;

/// A drop-in memcached server with replication.
///
/// memkeepd takes memcached's flags. Unlike memcached it listens on 127.0.0.1 unless
/// -l says otherwise, so a cache is never exposed to the network by accident.
#[derive(Debug, Parser)]
#[command(name = "memkeepd", version = memkeep_server::cache::VERSION, disable_version_flag = true)]
pub struct Args {
    /// TCP port to listen on.
    #[arg(short = 'p', long = "port", default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// UDP port; memkeepd does not serve UDP, so only 0 (off) is accepted.
    #[arg(short = 'U', long = "udp-port", default_value_t = 0)]
    pub udp_port: u16,
    /// Unix socket path to listen on (disables TCP, as in memcached).
    #[arg(short = 's', long = "unix-socket")]
    pub unix_socket: Option<PathBuf>,
    /// Access mask for the Unix socket, in octal.
    #[arg(short = 'a', long = "unix-mask", default_value = "700")]
    pub unix_mask: String,
    /// Allow the `shutdown` command.
    #[arg(short = 'A', long = "enable-shutdown")]
    pub enable_shutdown: bool,
    /// Interfaces to listen on, comma separated [default: 127.0.0.1].
    #[arg(short = 'l', long = "listen", default_value = "127.0.0.1")]
    pub listen: String,
    /// Run as a daemon (detach from the terminal).
    #[arg(short = 'd', long = "daemon")]
    pub daemon: bool,
    /// Drop privileges to this user after binding.
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Item memory in megabytes.
    #[arg(short = 'm', long = "memory-limit", default_value_t = 64)]
    pub memory_limit: u64,
    /// Return an error when memory is exhausted instead of evicting items.
    #[arg(short = 'M', long = "disable-evictions")]
    pub disable_evictions: bool,
    /// Maximum simultaneous connections; clients beyond it get
    /// "ERROR Too many open connections" and are closed.
    #[arg(short = 'c', long = "conn-limit", default_value_t = 1024)]
    pub conn_limit: usize,
    /// Verbose logging; -vv more verbose, -vvv the most (RUST_LOG overrides).
    #[arg(short = 'v', action = ArgAction::Count)]
    pub verbose: u8,
    /// Write the process id to this file.
    #[arg(short = 'P', long = "pidfile")]
    pub pidfile: Option<PathBuf>,
    /// Worker threads.
    #[arg(short = 't', long = "threads", default_value_t = 4)]
    pub threads: usize,
    /// Largest item, with an optional k or m suffix (1k to 1024m).
    #[arg(short = 'I', long = "max-item-size", default_value = "1m", value_parser = parse_size)]
    pub max_item_size: usize,
    /// Protocols to accept: auto (text, meta and binary on every connection).
    #[arg(short = 'B', long = "protocol", default_value = "auto")]
    pub protocol: String,
    /// Listen backlog.
    #[arg(short = 'b', long = "listen-backlog", default_value_t = 1024)]
    pub backlog: u32,
    /// Extended options, comma separated: idle_timeout=SECONDS,
    /// request_timeout=SECONDS (close a connection whose request stays incomplete this
    /// long; 60 by default, 0 never), ssl_* (see -Z), and memcached's slab and
    /// LRU tuning options, which do not apply to memkeepd's store and are accepted so
    /// existing command lines keep working.
    #[arg(short = 'o', long = "extended", value_delimiter = ',')]
    pub extended: Vec<String>,
    /// Slab growth factor (accepted for compatibility; memkeepd has no slabs).
    #[arg(short = 'f', long = "slab-growth-factor")]
    pub slab_growth_factor: Option<f64>,
    /// Minimum slab chunk size (accepted for compatibility; memkeepd has no slabs).
    #[arg(short = 'n', long = "slab-min-size")]
    pub slab_min_size: Option<u32>,
    /// Requests per event (accepted for compatibility; memkeepd batches per read).
    #[arg(short = 'R', long = "max-reqs-per-event")]
    pub max_reqs_per_event: Option<u32>,
    /// Lock memory (accepted for compatibility; not applied).
    #[arg(short = 'k', long = "lock-memory")]
    pub lock_memory: bool,
    /// Replication port (repcached's -X): listen here for the peer's link.
    #[arg(short = 'X', long = "replication-port")]
    pub replication_port: Option<u16>,
    /// Replication peer (repcached's -x): HOST or HOST:PORT (the port defaults to -X,
    /// else 11212). Both nodes of the pair take writes.
    #[arg(short = 'x', long = "replication-peer")]
    pub replication_peer: Option<String>,
    /// Follow a primary's replication port (HOST:PORT) as a read replica.
    #[arg(long = "replica-of")]
    pub replica_of: Option<String>,
    /// Replication backlog in megabytes: how far a link may fall behind, or a peer
    /// stay away, and still resume without a full copy.
    #[arg(long = "replication-backlog-mb", default_value_t = 64)]
    pub replication_backlog_mb: usize,
    /// Most megabytes per second a full copy to a peer sends (0: as fast as it can).
    /// A full-speed copy takes a core and the link from the clients for its duration.
    #[arg(long = "replication-copy-mbps", default_value_t = 0)]
    pub replication_copy_mbps: u64,
    /// Serve TLS on every TCP listener (certificates from -o ssl_chain_cert=FILE,
    /// ssl_key=FILE; client certificates with ssl_ca_cert=FILE, ssl_verify_mode=N).
    #[arg(short = 'Z', long = "enable-ssl")]
    pub enable_ssl: bool,
    /// ASCII authentication: `user:password` lines; clients send `set <any> 0 0 <len>`
    /// with `user password` as the value before anything else.
    #[arg(short = 'Y', long = "auth-file")]
    pub auth_file: Option<PathBuf>,
    /// SASL PLAIN for binary clients; users from -Y FILE, else from the file
    /// MEMCACHED_SASL_PWDB names.
    #[arg(short = 'S', long = "enable-sasl")]
    pub enable_sasl: bool,
    /// Mutual TLS on replication links: this node's certificate chain, PEM (with
    /// --replication-tls-key and --replication-tls-ca).
    #[arg(long = "replication-tls-cert", value_name = "FILE", requires_all = ["replication_tls_key", "replication_tls_ca"])]
    pub replication_tls_cert: Option<PathBuf>,
    /// The private key of --replication-tls-cert, PEM.
    #[arg(
        long = "replication-tls-key",
        value_name = "FILE",
        requires = "replication_tls_cert"
    )]
    pub replication_tls_key: Option<PathBuf>,
    /// The CA that signs every node's replication certificate, PEM: links from or to
    /// a node without one are refused.
    #[arg(
        long = "replication-tls-ca",
        value_name = "FILE",
        requires = "replication_tls_cert"
    )]
    pub replication_tls_ca: Option<PathBuf>,
    /// Serve /metrics, /status, /healthz and a status page over HTTP on PORT
    /// (127.0.0.1) or ADDR:PORT. Off unless given.
    #[arg(long = "admin", value_name = "ADDR:PORT")]
    pub admin: Option<String>,
    /// Print the version and exit.
    #[arg(short = 'V', long = "version", action = ArgAction::Version)]
    pub version: (),
}

/// Settings from `-o` that memkeepd applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extended {
    /// Close connections idle this long.
    pub idle_timeout: Option<Duration>,
    /// Close a connection whose request stays incomplete this long.
    pub request_timeout: Option<Duration>,
    /// The `ssl_*` options (for -Z).
    pub ssl: super::security::SslOptions,
}

impl Default for Extended {
    fn default() -> Self {
        Extended {
            idle_timeout: None,
            request_timeout: Some(Duration::from_secs(60)),
            ssl: super::security::SslOptions::default(),
        }
    }
}

/// memcached `-o` options that tune its slab allocator, LRU and hash table: they have
/// no meaning for memkeepd's store and are accepted so command lines keep working.
const IGNORED_EXTENDED: &[&str] = &[
    "maxconns_fast",
    "no_maxconns_fast",
    "hashpower",
    "tail_repair_time",
    "hash_algorithm",
    "lru_crawler",
    "no_lru_crawler",
    "lru_crawler_sleep",
    "lru_crawler_tocrawl",
    "lru_maintainer",
    "no_lru_maintainer",
    "hot_lru_pct",
    "warm_lru_pct",
    "hot_max_factor",
    "warm_max_factor",
    "temporary_ttl",
    "slab_reassign",
    "no_slab_reassign",
    "slab_automove",
    "slab_automove_ratio",
    "slab_automove_window",
    "slab_chunk_max",
    "slab_sizes",
    "modern",
    "no_modern",
    "track_sizes",
    "no_inline_ascii_resp",
    "inline_ascii_resp",
    "watcher_logbuf_size",
    "worker_logbuf_size",
    "read_buf_mem_limit",
    "resp_obj_mem_limit",
];

impl Args {
    /// Checks what clap cannot and reads `-o`.
    pub fn validate(&self) -> Result<Extended, String> {
        if self.udp_port != 0 {
            return Err("UDP is not supported by memkeepd: use -U 0 (the default)".into());
        }
        if self.protocol != "auto" {
            return Err(format!(
                "-B {}: memkeepd serves every protocol on every connection; use -B auto",
                self.protocol
            ));
        }
        if self.threads == 0 {
            return Err("-t must be at least 1".into());
        }
        if self.conn_limit == 0 {
            return Err("-c must be at least 1".into());
        }
        if self.memory_limit == 0 {
            return Err("-m must be at least 1".into());
        }
        if u32::from_str_radix(&self.unix_mask, 8).is_err() {
            return Err(format!("-a {}: not an octal mask", self.unix_mask));
        }
        let mut extended = Extended::default();
        for option in self.extended.iter().filter(|o| !o.is_empty()) {
            let (name, value) = option.split_once('=').unwrap_or((option, ""));
            match name {
                "idle_timeout" | "request_timeout" => {
                    let secs: u64 = value
                        .parse()
                        .map_err(|_| format!("-o {name}={value}: not a number of seconds"))?;
                    let limit = (secs > 0).then(|| Duration::from_secs(secs));
                    if name == "idle_timeout" {
                        extended.idle_timeout = limit;
                    } else {
                        extended.request_timeout = limit;
                    }
                }
                _ if name.starts_with("ssl_") => extended.ssl.set(name, value)?,
                _ if IGNORED_EXTENDED.contains(&name) => {}
                _ => return Err(format!("-o {option}: unknown extended option")),
            }
        }
        Ok(extended)
    }

    /// Item memory in bytes.
    pub fn memory_bytes(&self) -> usize {
        usize::try_from(self.memory_limit.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
    }
}

/// Parses memcached's `-I` size: a number of bytes with an optional k or m suffix.
fn parse_size(text: &str) -> Result<usize, String> {
    let lower = text.to_ascii_lowercase();
    let (digits, unit) = match lower.strip_suffix('k') {
        Some(d) => (d, 1024),
        None => match lower.strip_suffix('m') {
            Some(d) => (d, 1024 * 1024),
            None => (lower.as_str(), 1),
        },
    };
    let n: usize = digits.parse().map_err(|_| format!("{text}: not a size"))?;
    let bytes = n
        .checked_mul(unit)
        .ok_or_else(|| format!("{text}: too large"))?;
    if !(1024..=1024 * 1024 * 1024).contains(&bytes) {
        return Err(format!("{text}: item size must be between 1k and 1024m"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("memkeepd").chain(args.iter().copied()))
    }

    #[test]
    fn memcached_command_lines_parse() {
        let a = parse(&[
            "-p", "12345", "-m", "128", "-c", "10", "-t", "2", "-vv", "-I", "2m",
        ])
        .unwrap();
        assert_eq!(
            (a.port, a.memory_limit, a.conn_limit, a.threads, a.verbose),
            (12345, 128, 10, 2, 2)
        );
        assert_eq!(a.max_item_size, 2 * 1024 * 1024);
        assert_eq!(a.listen, "127.0.0.1");
        let a = parse(&[
            "-p11211",
            "-U",
            "0",
            "-o",
            "idle_timeout=5,modern,hashpower=20",
        ])
        .unwrap();
        let ext = a.validate().unwrap();
        assert_eq!(ext.idle_timeout, Some(Duration::from_secs(5)));
    }

    #[test]
    fn bad_flags_are_refused() {
        assert!(parse(&["--no-such-flag"]).is_err());
        assert!(parse(&["-p", "notaport"]).is_err());
        assert!(parse(&["-I", "5g"]).is_err());
        assert!(parse(&["-U", "11211"]).unwrap().validate().is_err());
        assert!(parse(&["-o", "bogus=1"]).unwrap().validate().is_err());
        assert!(parse(&["-o", "idle_timeout=x"])
            .unwrap()
            .validate()
            .is_err());
    }
}
