//! `floor-server-uring`: `floor-server` on io_uring instead of epoll, with the same
//! replies, flags and batching, to compare the two runtimes at the floor (see the
//! `memkeep_floor` crate's `uring` module).

use clap::Parser;
use memkeep_floor::cli::ServerArgs;
use memkeep_floor::server::ValueSize;
use memkeep_floor::uring::server;

/// Answers `get` with a canned value per key and stores with STORED, keeping nothing.
#[derive(Parser)]
#[command(name = "floor-server-uring")]
struct Cli {
    #[command(flatten)]
    args: ServerArgs,
}

fn main() {
    let args = Cli::parse().args;
    if let Err(e) = memkeep_floor::uring::check_kernel() {
        eprintln!("floor-server-uring: the kernel refuses io_uring: {e}");
        std::process::exit(1);
    }
    let listeners = memkeep_floor::listen_or_exit("floor-server-uring", args.addr(), args.threads);
    let sizes = ValueSize::new(args.value_size);
    let error = memkeep_floor::run_threads(listeners, move |l| server::run(l, sizes.clone()));
    eprintln!("floor-server-uring: {error}");
    std::process::exit(1);
}
