//! memkeep-proxy: read `nutcracker.yml` (`-c`) or the TOML route tree
//! (`--config`), bind one listener per pool, and serve each with its pool's stack
//! until SIGTERM or SIGINT, then drain.

mod args;
pub mod monitor;
mod security;
mod stack;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use memkeep_proxy::config::{NutcrackerConfig, PoolConfig, RouteConfig};
use memkeep_server::{serve, ConnectionConfig, Listener, ServeConfig};
use tokio::sync::watch;
use tracing::{info, warn};

pub use args::Args;
pub use stack::{pool_service, ring_builder, PoolService};

/// Runs memkeep-proxy with the process's arguments.
pub fn main() -> ExitCode {
    let args = Args::parse();
    crate::logging::init(args.log_verbosity());
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("memkeep-proxy: {message}");
            ExitCode::FAILURE
        }
    }
}

/// One listener and the pool behind it.
#[derive(Debug, Clone)]
pub struct Site {
    /// The pool's name.
    pub name: String,
    /// `host:port` to listen on.
    pub listen: String,
    /// Listen backlog.
    pub backlog: u32,
    /// Most client connections.
    pub max_connections: Option<usize>,
    /// The pool.
    pub pool: PoolConfig,
    /// TLS for clients.
    pub tls: Option<memkeep_proxy::config::ListenerTlsSettings>,
    /// The auth file clients log in against.
    pub authfile: Option<String>,
}

/// Reads a `nutcracker.yml` into sites, refusing what memkeep-proxy cannot do.
pub fn read_nutcracker(path: &Path) -> Result<Vec<Site>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let config: NutcrackerConfig =
        serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if config.is_empty() {
        return Err(format!("{}: no pools", path.display()));
    }
    config
        .iter()
        .map(|(name, pool)| {
            Ok(Site {
                name: name.clone(),
                listen: pool.listen.clone(),
                backlog: pool.backlog,
                max_connections: pool.client_connections,
                pool: pool.to_pool(name).map_err(|e| e.to_string())?,
                tls: None,
                authfile: None,
            })
        })
        .collect()
}

/// Reads the TOML route tree into sites.
pub fn read_route_tree(path: &Path) -> Result<Vec<Site>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let config: RouteConfig =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if config.listeners.is_empty() {
        return Err(format!("{}: no listeners", path.display()));
    }
    config
        .listeners
        .iter()
        .map(|l| {
            let pool = config
                .pools
                .get(&l.pool)
                .ok_or_else(|| format!("listener {}: no pool named {:?}", l.listen, l.pool))?;
            Ok(Site {
                name: l.pool.clone(),
                listen: l.listen.clone(),
                backlog: 512,
                max_connections: l.max_connections,
                pool: pool.clone(),
                tls: l.tls.clone(),
                authfile: l.authfile.clone(),
            })
        })
        .collect()
}

fn run(args: Args) -> Result<(), String> {
    if args.stats_port.is_some() {
        return Err(
            "the stats port (-s) is not served yet; run without it and use `stats` on the pool port"
                .into(),
        );
    }
    let (path, sites) = match (&args.conf_file, &args.config) {
        (Some(path), _) => (path, read_nutcracker(path)?),
        (None, Some(path)) => (path, read_route_tree(path)?),
        (None, None) => {
            return Err("no configuration: give -c nutcracker.yml or --config route.toml".into())
        }
    };
    for site in &sites {
        ring_builder(&site.name, &site.pool)?;
    }
    if args.test_conf {
        eprintln!(
            "memkeep-proxy: configuration file '{}' syntax is ok",
            path.display()
        );
        return Ok(());
    }
    crate::signals::hold()?;
    let bound = sites
        .iter()
        .map(|site| bind(site).map(|l| (site.clone(), l)))
        .collect::<Result<Vec<_>, _>>()?;
    let admin = args.admin.as_deref().map(crate::admin::bind).transpose()?;
    if args.daemonize {
        nix::unistd::daemon(false, false).map_err(|e| format!("cannot daemonize: {e}"))?;
    }
    if let Some(path) = &args.pid_file {
        std::fs::write(path, format!("{}\n", std::process::id()))
            .map_err(|e| format!("cannot write pidfile {}: {e}", path.display()))?;
    }
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads.max(1));
    }
    let runtime = runtime
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start runtime: {e}"))?;
    let result = runtime.block_on(serve_all(bound, admin));
    if let Some(path) = &args.pid_file {
        let _ = std::fs::remove_file(path);
    }
    result
}

fn bind(site: &Site) -> Result<std::net::TcpListener, String> {
    use socket2::{Domain, Socket, Type};
    let addr: SocketAddr = site
        .listen
        .to_socket_addrs()
        .map_err(|e| format!("pool {}: cannot resolve {}: {e}", site.name, site.listen))?
        .next()
        .ok_or_else(|| format!("pool {}: {} resolves to nothing", site.name, site.listen))?;
    let listen = || -> std::io::Result<std::net::TcpListener> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
        socket.set_reuse_address(true)?;
        socket.bind(&addr.into())?;
        socket.listen(i32::try_from(site.backlog).unwrap_or(i32::MAX))?;
        socket.set_nonblocking(true)?;
        Ok(socket.into())
    };
    listen().map_err(|e| format!("pool {}: cannot listen on {addr}: {e}", site.name))
}

async fn serve_all(
    bound: Vec<(Site, std::net::TcpListener)>,
    admin: Option<std::net::TcpListener>,
) -> Result<(), String> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let mut watches = Vec::new();
    for (site, listener) in bound {
        let clients = security::listener(&site)?;
        let mut config = ServeConfig::new(
            site.max_connections.unwrap_or(1 << 20),
            ConnectionConfig {
                auth: clients.auth.clone(),
                ..ConnectionConfig::default()
            },
        );
        config.tls = clients.tls.clone();
        let service = match admin {
            Some(_) => monitor::watched_pool(&site, &config, &mut watches)?,
            None => pool_service(&site.name, &site.pool)?,
        };
        let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        if !addr.ip().is_loopback() && clients.auth.is_none() {
            warn!(%addr, "listening beyond loopback without authentication (authfile)");
        }
        if !addr.ip().is_loopback() && clients.tls.is_none() {
            warn!(%addr, "listening beyond loopback without TLS");
        }
        info!(pool = %site.name, %addr, servers = site.pool.servers.len(), "listening");
        let mut stop = stop_rx.clone();
        tasks.spawn(serve(
            Listener::Tcp(listener),
            service,
            config,
            async move {
                let _ = stop.wait_for(|s| *s).await;
            },
        ));
    }
    let admin_thread = match admin {
        Some(listener) => Some(monitor::start(
            listener,
            watches,
            &mut tasks,
            stop_rx.clone(),
        )?),
        None => None,
    };
    wait_for_signal(Arc::new(stop_tx)).await;
    while tasks.join_next().await.is_some() {}
    if let Some(thread) = admin_thread {
        let _ = thread.join();
    }
    info!("stopped");
    Ok(())
}

/// Waits for SIGTERM or SIGINT, then tells every listener to drain.
async fn wait_for_signal(stop_tx: Arc<watch::Sender<bool>>) {
    crate::signals::wait().await;
    let _ = stop_tx.send(true);
}
