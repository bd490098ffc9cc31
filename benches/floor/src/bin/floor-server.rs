//! `floor-server`: the do-nothing memcached text server the benchmarks measure
//! memkeepd and memcached against (see the `memkeep_floor` crate).

use clap::Parser;
use memkeep_floor::cli::ServerArgs;
use memkeep_floor::server::{self, ValueSize};

/// Answers `get` with a canned value per key and stores with STORED, keeping nothing.
#[derive(Parser)]
#[command(name = "floor-server")]
struct Cli {
    #[command(flatten)]
    args: ServerArgs,
}

fn main() {
    let args = Cli::parse().args;
    let listeners = memkeep_floor::listen_or_exit("floor-server", args.addr(), args.threads);
    let sizes = ValueSize::new(args.value_size);
    let error = memkeep_floor::run_threads(listeners, move |l| server::run(l, sizes.clone()));
    eprintln!("floor-server: {error}");
    std::process::exit(1);
}
