//! `memkeep check HOST:PORT`: a Nagios / Icinga plugin. Exit 0 OK, 1 WARNING,
//! 2 CRITICAL, 3 UNKNOWN; one status line with perfdata, as the plugin guidelines ask.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::connect::ConnectArgs;
use super::health::{self, Reading};
use super::units;

/// Flags of `memkeep check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The server, `host:port`.
    pub server: String,
    /// WARNING when a round trip takes longer (milliseconds).
    #[arg(long, default_value_t = 50.0)]
    pub warn_latency_ms: f64,
    /// CRITICAL when a round trip takes longer (milliseconds).
    #[arg(long, default_value_t = 500.0)]
    pub crit_latency_ms: f64,
    /// WARNING when memory used exceeds this percentage of the limit.
    #[arg(long, default_value_t = 101.0)]
    pub warn_memory_pct: f64,
    /// CRITICAL when memory used exceeds this percentage of the limit.
    #[arg(long, default_value_t = 101.0)]
    pub crit_memory_pct: f64,
    /// WARNING when the hit rate is below this percentage (after at least one get).
    #[arg(long, default_value_t = 0.0)]
    pub warn_hit_rate_pct: f64,
    /// CRITICAL when the hit rate is below this percentage.
    #[arg(long, default_value_t = 0.0)]
    pub crit_hit_rate_pct: f64,
    /// CRITICAL when the server does not answer within this many milliseconds.
    #[arg(long, default_value_t = 5000)]
    pub timeout_ms: u64,
    /// TLS and login.
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// The plugin's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Everything within thresholds.
    Ok = 0,
    /// A warning threshold crossed.
    Warning = 1,
    /// Down, or a critical threshold crossed.
    Critical = 2,
    /// The check itself could not run.
    Unknown = 3,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }
}

/// Runs the check, prints the status line and returns the plugin exit code.
pub fn main(args: CheckArgs) -> ExitCode {
    let security = match args.connect.resolve() {
        Ok(s) => s,
        Err(e) => {
            println!("MEMKEEP UNKNOWN - {e}");
            return ExitCode::from(Status::Unknown as u8);
        }
    };
    let timeout = Duration::from_millis(args.timeout_ms);
    let (status, line) = evaluate(
        &args,
        health::read(&args.server, timeout, &security).reading,
    );
    println!("MEMKEEP {} - {line}", status.label());
    ExitCode::from(status as u8)
}

/// The verdict and the text after "MEMKEEP <STATUS> - ".
pub fn evaluate(args: &CheckArgs, reading: Result<Reading, String>) -> (Status, String) {
    let r = match reading {
        Ok(r) => r,
        Err(e) => return (Status::Critical, format!("{} down: {e}", args.server)),
    };
    let latency = r.latency.as_secs_f64() * 1000.0;
    let memory = r.memory_percent();
    let mut status = Status::Ok;
    let mut why = Vec::new();
    let mut judge = |value: f64, warn: f64, crit: f64, above: bool, what: &str| {
        let (w, c) = if above {
            (value > warn, value > crit)
        } else {
            (value < warn, value < crit)
        };
        if c {
            status = status.max(Status::Critical);
            why.push(format!("{what} critical"));
        } else if w {
            status = status.max(Status::Warning);
            why.push(format!("{what} warning"));
        }
    };
    judge(
        latency,
        args.warn_latency_ms,
        args.crit_latency_ms,
        true,
        "latency",
    );
    judge(
        memory,
        args.warn_memory_pct,
        args.crit_memory_pct,
        true,
        "memory",
    );
    if let Some(hit) = r.hit_rate {
        judge(
            hit * 100.0,
            args.warn_hit_rate_pct,
            args.crit_hit_rate_pct,
            false,
            "hit rate",
        );
    }
    // The plugin guidelines' "U" marks a value that cannot be determined yet.
    let hit = r.hit_rate.map_or("U".to_owned(), |h| {
        format!(
            "{:.1}%;{};{};0;100",
            h * 100.0,
            args.warn_hit_rate_pct,
            args.crit_hit_rate_pct
        )
    });
    let summary = if why.is_empty() {
        String::new()
    } else {
        format!(" ({})", why.join(", "))
    };
    let line = format!(
        "{} up {}{summary}, {latency:.2} ms, memory {memory:.1}% ({} of {}), hit rate {}, {} items, \
         {} connections | \
         latency={latency:.3}ms;{};{} memory={memory:.1}%;{};{};0;100 hit_rate={hit} \
         items={} connections={} evictions={}c",
        args.server,
        units::duration(r.uptime),
        units::bytes(r.bytes),
        units::bytes(r.limit),
        r.hit_rate.map_or("-".to_owned(), |h| format!("{:.1}%", h * 100.0)),
        r.items,
        r.connections,
        args.warn_latency_ms,
        args.crit_latency_ms,
        args.warn_memory_pct,
        args.crit_memory_pct,
        r.items,
        r.connections,
        r.evictions,
    );
    (status, line)
}
