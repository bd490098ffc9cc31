//! `memkeep`: the operator's tool. Each subcommand is a module; `bench` is the load
//! generator. (`stats`, `check` and `route` come next.)

pub mod bench;

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
}

/// Runs memkeep with the process's arguments.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(args) => bench::main(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("memkeep: {message}");
            ExitCode::FAILURE
        }
    }
}
