//! `floor-proxy-uring`: `floor-proxy` on io_uring instead of epoll, with the same
//! replies, flags and batching, to compare the two runtimes at the floor (see the
//! `memkeep_floor` crate's `uring` module).

use std::net::{IpAddr, SocketAddr};

use clap::Parser;
use memkeep_floor::uring::proxy;

/// Forwards memcached text requests to one backend, one connection per thread.
#[derive(Parser)]
#[command(name = "floor-proxy-uring")]
struct Args {
    /// Address to listen on.
    #[arg(short = 'l', long, default_value = "127.0.0.1")]
    listen: IpAddr,
    /// TCP port (0: any free port, printed on stdout).
    #[arg(short = 'p', long, default_value_t = 22121)]
    port: u16,
    /// The backend server, `host:port`.
    #[arg(short = 'b', long)]
    backend: SocketAddr,
    /// Event loop threads, each with its own listener and backend connection.
    #[arg(short = 't', long, default_value_t = 1)]
    threads: usize,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = memkeep_floor::uring::check_kernel() {
        eprintln!("floor-proxy-uring: the kernel refuses io_uring: {e}");
        std::process::exit(1);
    }
    let listeners = memkeep_floor::listen_or_exit(
        "floor-proxy-uring",
        SocketAddr::new(args.listen, args.port),
        args.threads,
    );
    let backend = args.backend;
    let error = memkeep_floor::run_threads(listeners, move |l| proxy::run(l, backend));
    eprintln!("floor-proxy-uring: {error}");
    std::process::exit(1);
}
