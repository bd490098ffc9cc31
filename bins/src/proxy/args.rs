//! memkeep-proxy's flags: twemproxy's where they apply, plus `--config` for the
//! TOML route tree. magent's command line is parsed by [`super::magent`].

use std::path::PathBuf;

use clap::Parser;

/// A memcached proxy: shards over a hash ring, replicates, fails over, repairs,
/// ejects dead servers; runs an unmodified twemproxy `nutcracker.yml` or its own TOML
/// route tree.
#[derive(Debug, Parser)]
#[command(
    name = "memkeep-proxy",
    version,
    // As twemproxy's getopt: the last of a repeated flag wins, so extra flags from a
    // unit's environment file override the unit's own.
    args_override_self = true,
    after_help = concat!(
        "magent's flags are taken too: `memkeep-proxy -p PORT -l ADDR -s HOST:PORT [-s ...] ",
        "-b HOST:PORT [-b ...]`, picked when there is no -c/--config and -b is given or a ",
        "-s value is not a bare port (`memkeep-proxy -s h:1 --help` lists them).\n\n",
        "Whatever the proxy listens on by itself binds 127.0.0.1 unless told otherwise: ",
        "magent's -l, the stats port (-a) and --admin. Pools listen where nutcracker.yml or ",
        "the route tree says."
    )
)]
pub struct Args {
    /// twemproxy configuration file (nutcracker.yml).
    #[arg(short = 'c', long = "conf-file", value_name = "FILE")]
    pub conf_file: Option<PathBuf>,
    /// memkeep-proxy route tree (TOML).
    #[arg(long = "config", value_name = "FILE", conflicts_with = "conf_file")]
    pub config: Option<PathBuf>,
    /// Test the configuration for syntax errors and exit.
    #[arg(short = 't', long = "test-conf")]
    pub test_conf: bool,
    /// twemproxy's log level, 0 to 11: up to 5 logs warnings, 6 info, 7-8 debug,
    /// above that trace. `RUST_LOG` wins when set.
    #[arg(short = 'v', long = "verbose", value_name = "N", default_value_t = 5)]
    pub verbose: u8,
    /// Run as a daemon.
    #[arg(short = 'd', long = "daemonize")]
    pub daemonize: bool,
    /// Write the process id to this file.
    #[arg(short = 'p', long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Stats port answering twemproxy's JSON (22222 by default with `-c`; off with
    /// `--config` unless given).
    #[arg(short = 's', long = "stats-port", value_name = "PORT")]
    pub stats_port: Option<u16>,
    /// Address of the stats port (127.0.0.1 by default; twemproxy's is 0.0.0.0).
    #[arg(short = 'a', long = "stats-addr", value_name = "ADDR")]
    pub stats_addr: Option<String>,
    /// twemproxy's stats aggregation interval in ms. memkeep-proxy's figures are
    /// always current, so only the default is accepted.
    #[arg(short = 'i', long = "stats-interval", value_name = "MS", value_parser = only_default_interval)]
    pub stats_interval: Option<u64>,
    /// twemproxy's mbuf size. memkeep-proxy's buffers grow as needed, so only
    /// twemproxy's default and range are accepted, as a check.
    #[arg(short = 'm', long = "mbuf-size", value_name = "N", value_parser = clap::value_parser!(u64).range(512..=16_777_216))]
    pub mbuf_size: Option<u64>,
    /// twemproxy's log file: logs are appended there instead of stderr.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Serve /metrics, /status, /healthz and a status page over HTTP on PORT
    /// (127.0.0.1) or ADDR:PORT. Off unless given.
    #[arg(long = "admin", value_name = "ADDR:PORT")]
    pub admin: Option<String>,
    /// Worker threads (default: 1, one event loop as nutcracker runs; with more, client
    /// connections are spread over a thread pool).
    #[arg(long = "threads", value_name = "N")]
    pub threads: Option<usize>,
}

fn only_default_interval(value: &str) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(30_000) => Ok(30_000),
        _ => Err("memkeep-proxy's stats are always current; only 30000 is accepted".into()),
    }
}

impl Args {
    /// twemproxy's default stats port.
    pub const STATS_PORT: u16 = 22222;

    /// The `-v` level as a count for [`crate::logging::init`].
    pub fn log_verbosity(&self) -> u8 {
        match self.verbose {
            0..=5 => 0,
            6 => 1,
            7 | 8 => 2,
            _ => 3,
        }
    }
}
