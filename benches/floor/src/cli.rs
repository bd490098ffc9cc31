//! The floor binaries' flags, shared by the epoll and the io_uring builds of each,
//! so the two take exactly the same command line.

use std::net::{IpAddr, SocketAddr};

/// `floor-server` and `floor-server-uring`: answers `get` with a canned value per
/// key and stores with STORED, keeping nothing.
#[derive(clap::Args)]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(short = 'l', long, default_value = "127.0.0.1")]
    pub listen: IpAddr,
    /// TCP port (0: any free port, printed on stdout).
    #[arg(short = 'p', long, default_value_t = 11211)]
    pub port: u16,
    /// Event loop threads, each with its own SO_REUSEPORT listener.
    #[arg(short = 't', long, default_value_t = 4)]
    pub threads: usize,
    /// Value size answered before the first store (then the last stored size).
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
}

/// `floor-proxy` and `floor-proxy-uring`: forwards memcached text requests to one
/// backend, one connection per thread.
#[derive(clap::Args)]
pub struct ProxyArgs {
    /// Address to listen on.
    #[arg(short = 'l', long, default_value = "127.0.0.1")]
    pub listen: IpAddr,
    /// TCP port (0: any free port, printed on stdout).
    #[arg(short = 'p', long, default_value_t = 22121)]
    pub port: u16,
    /// The backend server, `host:port`.
    #[arg(short = 'b', long)]
    pub backend: SocketAddr,
    /// Event loop threads, each with its own listener and backend connection.
    #[arg(short = 't', long, default_value_t = 1)]
    pub threads: usize,
}

impl ServerArgs {
    /// Where to listen.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.listen, self.port)
    }
}

impl ProxyArgs {
    /// Where to listen.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.listen, self.port)
    }
}
