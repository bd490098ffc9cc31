//! `floor-server-uring`: `floor-server` on io_uring instead of epoll, with the same
//! replies, flags and batching, to compare the two runtimes at the floor (see the
//! `memkeep_floor` crate's `uring` module).

use std::net::{IpAddr, SocketAddr};

use clap::Parser;
use memkeep_floor::server::ValueSize;
use memkeep_floor::uring::server;

/// Answers `get` with a canned value per key and stores with STORED, keeping nothing.
#[derive(Parser)]
#[command(name = "floor-server-uring")]
struct Args {
    /// Address to listen on.
    #[arg(short = 'l', long, default_value = "127.0.0.1")]
    listen: IpAddr,
    /// TCP port (0: any free port, printed on stdout).
    #[arg(short = 'p', long, default_value_t = 11211)]
    port: u16,
    /// Event loop threads, each with its own SO_REUSEPORT listener.
    #[arg(short = 't', long, default_value_t = 4)]
    threads: usize,
    /// Value size answered before the first store (then the last stored size).
    #[arg(long, default_value_t = 100)]
    value_size: usize,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = memkeep_floor::uring::check_kernel() {
        eprintln!("floor-server-uring: the kernel refuses io_uring: {e}");
        std::process::exit(1);
    }
    let listeners = memkeep_floor::listen_or_exit(
        "floor-server-uring",
        SocketAddr::new(args.listen, args.port),
        args.threads,
    );
    let sizes = ValueSize::new(args.value_size);
    let error = memkeep_floor::run_threads(listeners, move |l| server::run(l, sizes.clone()));
    eprintln!("floor-server-uring: {error}");
    std::process::exit(1);
}
