//! The running listeners: bound at start, each serving a [`Front`] over its route;
//! on reload, listeners that stay get the new routes in place (their client
//! connections stay open), new ones are bound, removed ones drain.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use memkeep_admin::RequestMetrics;
use memkeep_proxy::config::{ListenerConfig, RouteConfig};
use memkeep_server::stats::ConnectionStats;
use memkeep_server::watchers::Watchers;
use memkeep_server::{serve, ConnectionConfig, Listener, ServeConfig};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{info, warn};

use super::front::Front;
use super::stats::{Snapshot, Status};
use memkeep_proxy::build::{Builder, Counter, Memberships, ServerState, SharedService, Tree};

/// A listener's socket, bound before the runtime starts.
pub enum Bound {
    /// `host:port`.
    Tcp(std::net::TcpListener),
    /// A Unix socket: `/path`, or twemproxy's `/path mode` (mode in octal).
    Unix(std::os::unix::net::UnixListener),
}

/// Binds a listener's address (before the runtime starts, so a busy port is
/// reported at once).
pub fn bind(listener: &ListenerConfig) -> Result<Bound, String> {
    use socket2::{Domain, Socket, Type};
    let who = format!("listener {}", listener.listen);
    if listener.listen.starts_with('/') {
        return bind_unix(&listener.listen).map_err(|e| format!("{who}: {e}"));
    }
    let addr: SocketAddr = listener
        .listen
        .to_socket_addrs()
        .map_err(|e| format!("{who}: cannot resolve: {e}"))?
        .next()
        .ok_or_else(|| format!("{who}: resolves to nothing"))?;
    let listen = || -> std::io::Result<std::net::TcpListener> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
        socket.set_reuse_address(true)?;
        socket.bind(&addr.into())?;
        socket.listen(i32::try_from(listener.backlog).unwrap_or(i32::MAX))?;
        socket.set_nonblocking(true)?;
        Ok(socket.into())
    };
    listen()
        .map(Bound::Tcp)
        .map_err(|e| format!("{who}: cannot listen on {addr}: {e}"))
}

/// A Unix socket at `path [mode]`: a socket file left by an earlier run is replaced
/// (twemproxy does the same), and the mode, when given, set on it.
fn bind_unix(listen: &str) -> Result<Bound, String> {
    use std::os::unix::fs::PermissionsExt;
    let (path, mode) = match listen.rsplit_once(' ') {
        Some((path, mode)) => (
            path,
            Some(u32::from_str_radix(mode, 8).map_err(|_| format!("bad mode {mode:?}"))?),
        ),
        None => (listen, None),
    };
    let _ = std::fs::remove_file(path);
    let socket = std::os::unix::net::UnixListener::bind(path)
        .map_err(|e| format!("cannot listen on {path}: {e}"))?;
    if let Some(mode) = mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o777))
            .map_err(|e| format!("cannot set the mode of {path}: {e}"))?;
    }
    socket
        .set_nonblocking(true)
        .map_err(|e| format!("cannot listen on {path}: {e}"))?;
    Ok(Bound::Unix(socket))
}

/// Builds the tree a configuration describes, reading the pools' TLS files; after a
/// tree whose pools were `before`, when reloading (so that pools whose servers
/// changed warm up from what they were).
fn build(config: &RouteConfig, before: Option<&Memberships>) -> Result<Tree, String> {
    let builder = Builder::new().backend_security(std::sync::Arc::new(super::security::backends));
    match before {
        Some(before) => builder.after(before.clone()),
        None => builder,
    }
    .tree(config)
}

struct Running {
    config: ListenerConfig,
    front: Front,
    stats: Arc<ConnectionStats>,
    requests: Arc<RequestMetrics>,
    /// The listener's TLS, reloaded in place on SIGHUP.
    tls: Option<memkeep_server::TlsAcceptor>,
    stop: watch::Sender<bool>,
}

/// Every listener of the process.
pub struct Listeners {
    running: BTreeMap<String, Running>,
    status: Arc<Status>,
    tasks: JoinSet<()>,
    /// The log hub every listener shares: `watch` streams the proxy's own log lines
    /// (its client connections coming and going), never a server's.
    watchers: Arc<Watchers>,
    /// What each pool of the running tree is, for the next reload to warm up from.
    memberships: Memberships,
}

impl Listeners {
    /// Builds the tree and serves each listener on its bound socket (in
    /// configuration order). Call inside the runtime.
    pub fn start(config: &RouteConfig, bound: Vec<Bound>) -> Result<Self, String> {
        let tree = build(config, None)?;
        let status = Arc::new(Status::new(Snapshot {
            pools: BTreeMap::new(),
            counters: Vec::new(),
            listeners: Vec::new(),
        }));
        let mut listeners = Listeners {
            running: BTreeMap::new(),
            status,
            tasks: JoinSet::new(),
            watchers: Arc::default(),
            memberships: Memberships::new(),
        };
        let Tree {
            listeners: services,
            pools,
            counters,
            memberships,
        } = tree;
        listeners.memberships = memberships;
        for ((listener, service), socket) in config.listeners.iter().zip(services).zip(bound) {
            listeners.serve(listener, service, socket)?;
        }
        listeners
            .status
            .replace(listeners.snapshot(pools, counters));
        Ok(listeners)
    }

    /// The shared status, for the stats port.
    pub fn status(&self) -> Arc<Status> {
        self.status.clone()
    }

    fn snapshot(
        &self,
        pools: BTreeMap<String, Vec<ServerState>>,
        counters: Vec<Counter>,
    ) -> Snapshot {
        Snapshot {
            pools,
            counters,
            listeners: self
                .running
                .values()
                .map(|r| {
                    (
                        r.config.listen.clone(),
                        r.config.route.clone(),
                        r.stats.clone(),
                        r.requests.clone(),
                    )
                })
                .collect(),
        }
    }

    fn serve(
        &mut self,
        listener: &ListenerConfig,
        service: SharedService,
        socket: Bound,
    ) -> Result<(), String> {
        let clients = super::security::listener(listener)?;
        let socket = match socket {
            Bound::Tcp(socket) => {
                let socket =
                    tokio::net::TcpListener::from_std(socket).map_err(|e| e.to_string())?;
                let addr = socket.local_addr().map_err(|e| e.to_string())?;
                if !addr.ip().is_loopback() && clients.auth.is_none() {
                    warn!(%addr, "listening beyond loopback without authentication (authfile)");
                }
                if !addr.ip().is_loopback() && clients.tls.is_none() {
                    warn!(%addr, "listening beyond loopback without TLS");
                }
                Listener::Tcp(socket)
            }
            Bound::Unix(socket) => Listener::Unix(
                tokio::net::UnixListener::from_std(socket).map_err(|e| e.to_string())?,
            ),
        };
        info!(route = %listener.route, listen = %listener.listen, "listening");
        let mut config = ServeConfig::new(
            listener.max_connections.unwrap_or(1 << 20),
            ConnectionConfig {
                auth: clients.auth,
                max_in_flight: listener.max_outstanding,
                watchers: Some(self.watchers.clone()),
                ..ConnectionConfig::default()
            },
        );
        config.tls = clients.tls.clone();
        let requests = Arc::new(RequestMetrics::default());
        let front = Front::new(service, self.status.clone(), requests.clone());
        let (stop, mut stopped) = watch::channel(false);
        self.running.insert(
            listener.listen.clone(),
            Running {
                config: listener.clone(),
                front: front.clone(),
                stats: config.stats.clone(),
                requests,
                tls: clients.tls,
                stop,
            },
        );
        self.tasks.spawn(serve(socket, front, config, async move {
            let _ = stopped.wait_for(|s| *s).await;
        }));
        Ok(())
    }

    /// Switches to `config` (already checked): binds its new listeners first (if
    /// one cannot be bound nothing changes), then swaps every route.
    pub fn reload(&mut self, config: &RouteConfig) -> Result<(), String> {
        let mut fresh = Vec::new();
        for listener in &config.listeners {
            if !self.running.contains_key(&listener.listen) {
                fresh.push((listener, bind(listener)?));
            }
        }
        // Every listener's certificates read before anything changes: a file that
        // cannot be read refuses the whole reload (before the build, which ends the
        // running tree's warm-up windows of pools that change again).
        let security = config
            .listeners
            .iter()
            .map(super::security::listener)
            .collect::<Result<Vec<_>, _>>()?;
        let Tree {
            listeners: services,
            pools,
            counters,
            memberships,
        } = build(config, Some(&self.memberships))?;
        self.memberships = memberships;
        let mut fresh = fresh.into_iter();
        for ((listener, service), clients) in config.listeners.iter().zip(services).zip(security) {
            match self.running.get_mut(&listener.listen) {
                Some(running) => {
                    running.front.replace(service);
                    // New certificates for new handshakes; open sessions keep theirs.
                    match (&running.tls, &clients.tls) {
                        (Some(now), Some(read)) => now.reload_from(read),
                        (None, None) => {}
                        _ => warn!(listen = %listener.listen,
                            "turning TLS on or off for a running listener takes a restart"),
                    }
                    if (running.config.max_connections, running.config.backlog)
                        != (listener.max_connections, listener.backlog)
                    {
                        warn!(listen = %listener.listen,
                            "max_connections and backlog of a running listener change on restart only");
                    }
                    running.config.route = listener.route.clone();
                }
                None => {
                    let (_, socket) = fresh.next().expect("bound above, in the same order");
                    self.serve(listener, service, socket)?;
                }
            }
        }
        let kept: Vec<&String> = config.listeners.iter().map(|l| &l.listen).collect();
        let gone: Vec<String> = self
            .running
            .keys()
            .filter(|l| !kept.contains(l))
            .cloned()
            .collect();
        for listen in gone {
            if let Some(running) = self.running.remove(&listen) {
                info!(%listen, "listener removed: draining");
                let _ = running.stop.send(true);
            }
        }
        self.status.replace(self.snapshot(pools, counters));
        Ok(())
    }

    /// Tells every listener to drain and waits until they have.
    pub async fn drain(mut self) {
        for running in self.running.values() {
            let _ = running.stop.send(true);
        }
        while self.tasks.join_next().await.is_some() {}
    }
}
