//! `memkeep stats HOST:PORT...`: one table of the important stats of several servers.

use std::time::Duration;

use clap::Args;

use super::connect::ConnectArgs;
use super::health::{self, Health};
use super::units;

/// Flags of `memkeep stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Servers, `host:port`.
    #[arg(required = true)]
    pub servers: Vec<String>,
    /// Give up on a server after this many milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub timeout_ms: u64,
    /// TLS and login.
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// Prints the table; fails only if no server answered.
pub fn main(args: StatsArgs) -> Result<(), String> {
    let timeout = Duration::from_millis(args.timeout_ms);
    let security = args.connect.resolve()?;
    let rows: Vec<Health> = args
        .servers
        .iter()
        .map(|s| health::read(s, timeout, &security))
        .collect();
    print!("{}", table(&rows));
    if rows.iter().all(|r| r.reading.is_err()) {
        return Err("no server answered".into());
    }
    Ok(())
}

/// The table as text, one line per server; each figure with its unit.
pub fn table(rows: &[Health]) -> String {
    let mut out = format!(
        "{:<22} {:<5} {:>9} {:>8} {:>6} {:>10} {:>23} {:>6} {:>8} {:>10} {:>11}  {}\n",
        "server",
        "state",
        "latency",
        "uptime",
        "conns",
        "items",
        "memory used / limit",
        "mem",
        "hit rate",
        "evictions",
        "gets",
        "version"
    );
    for row in rows {
        match &row.reading {
            Ok(r) => {
                let hit = r
                    .hit_rate
                    .map_or("-".to_owned(), |h| format!("{:.1}%", h * 100.0));
                out += &format!(
                    "{:<22} {:<5} {:>9} {:>8} {:>6} {:>10} {:>23} {:>6} {:>8} {:>10} {:>11}  {}\n",
                    row.server,
                    "up",
                    format!("{:.2} ms", r.latency.as_secs_f64() * 1000.0),
                    units::duration(r.uptime),
                    r.connections,
                    r.items,
                    format!("{} / {}", units::bytes(r.bytes), units::bytes(r.limit)),
                    format!("{:.1}%", r.memory_percent()),
                    hit,
                    r.evictions,
                    r.gets,
                    r.version
                );
            }
            Err(e) => out += &format!("{:<22} {:<5} {e}\n", row.server, "down"),
        }
    }
    out
}
