//! `memkeep`: the operator's tool. Each subcommand is a module: `bench` (the load
//! generator), `stats` (a table over several servers), `check` (a monitoring plugin),
//! `route` (where a key goes), `dump` and `load` (copy items between servers). Those
//! that talk to servers share the connection flags of [`connect`] (TLS, login).

pub mod bench;
pub mod check;
mod client;
pub mod connect;
pub mod dump;
pub mod dumpfile;
mod health;
pub mod load;
mod raw;
pub mod route;
pub mod stats;
mod units;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The memkeep operator tool.
#[derive(Debug, Parser)]
#[command(name = "memkeep", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load a memcached server (memkeepd, memcached, a proxy) and measure it.
    Bench(bench::BenchArgs),
    /// One table of the important stats of several servers.
    Stats(stats::StatsArgs),
    /// Nagios/Icinga plugin: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, with perfdata.
    Check(check::CheckArgs),
    /// Which servers a key goes to, failover order included, from the proxy's
    /// configuration.
    Route(route::RouteArgs),
    /// Write every item of a server (key, flags, expiry, value) to a file.
    Dump(dump::DumpArgs),
    /// Store the items of a dump in a server (warm a new node by hand).
    Load(load::LoadArgs),
}

/// Runs memkeep with the process's arguments.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(args) => bench::main(args),
        Command::Stats(args) => stats::main(args),
        Command::Route(args) => route::main(args),
        Command::Dump(args) => dump::main(args),
        Command::Load(args) => load::main(args),
        Command::Check(args) => return check::main(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("memkeep: {message}");
            ExitCode::FAILURE
        }
    }
}
