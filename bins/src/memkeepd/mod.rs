//! memkeepd: parse memcached's flags, bind, drop privileges, daemonize, then serve the
//! cache on every listener until SIGTERM or SIGINT, and drain.

mod admin;
mod args;
mod c_numbers;
mod extended;
mod open_files;
mod policy;
mod process;
mod replication;
mod security;
mod settings;
mod warm_restart;

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::os::unix::fs::PermissionsExt;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use memkeep_server::balance::{self, Seat};
use memkeep_server::cache::{Cache, CacheConfig, ShutdownHook};
use memkeep_server::store::{Store, StoreConfig};
use memkeep_server::{serve, ConnectionConfig, Listener, ServeConfig};
use tokio::sync::watch;
use tower::util::Either;
use tracing::{info, warn};

/// The cache, observed for replication when on, behind memcached's command switches.
type Replicated = policy::Policy<Either<memkeep_replication::Observe<Cache>, Cache>>;
/// The service every worker serves: measured for the admin listener when on.
type Service = Either<memkeep_admin::Measure<Replicated>, Replicated>;

pub use args::Args;

/// The exit status of a command line memkeepd refuses (sysexits' EX_USAGE, as
/// memcached uses): a systemd unit can tell it from a crash and not restart.
const EXIT_USAGE: u8 = 64;

/// Runs memkeepd with the process's arguments.
pub fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if args.license {
        print!("{}", args::license());
        return ExitCode::SUCCESS;
    }
    crate::logging::init(args.verbose);
    let extended = match args.validate() {
        Ok(extended) => extended,
        Err(message) => {
            eprintln!("memkeepd: {message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match run(args, extended) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("memkeepd: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(mut args: Args, extended: extended::Extended) -> Result<(), String> {
    process::warn_not_applied(&args, &extended);
    // -d moves to / (without -r): the file saved at the stop must be the one read.
    if let Some(path) = &args.memory_file {
        let absolute = std::path::absolute(path)
            .map_err(|e| format!("cannot use the memory file {}: {e}", path.display()))?;
        args.memory_file = Some(absolute);
    }
    if args.enable_coredumps {
        process::enable_core_dumps()?;
    }
    // Clients can connect as soon as the sockets are bound, long before the handlers
    // exist: hold SIGTERM and SIGINT until then so an early one drains instead of
    // killing the process. Threads started later inherit the mask; only the thread
    // waiting for signals unblocks them.
    crate::signals::hold()?;
    process::hold_graceful_stop()?;
    let store = Arc::new(new_store(&args));
    // Restored before listening, so no client sees a half-filled cache.
    let restored = match &args.memory_file {
        Some(path) => warm_restart::restore(path, &store),
        None => warm_restart::Restored::default(),
    };
    open_files::make_room(args.conn_limit)?;
    security::hold_hangup()?;
    let security = security::load(&args, &extended)?;
    let listeners = bind(&args, &security)?;
    let admin = args.admin.as_deref().map(crate::admin::bind).transpose()?;
    if let Some(user) = &args.user {
        drop_privileges(user)?;
    }
    if let Some(path) = &args.memory_file {
        warm_restart::check_writable(path)?;
    }
    if args.daemon {
        // With -r memcached stays in its directory, where the core file goes.
        nix::unistd::daemon(args.enable_coredumps, false)
            .map_err(|e| format!("cannot daemonize: {e}"))?;
    }
    if args.lock_memory {
        process::lock_memory();
    }
    if let Some(path) = &args.pidfile {
        std::fs::write(path, format!("{}\n", std::process::id()))
            .map_err(|e| format!("cannot write pidfile {}: {e}", path.display()))?;
    }
    let warm = Warm { store, restored };
    let result = serve_all(&args, extended, security, listeners, admin, warm);
    if let Some(path) = &args.pidfile {
        let _ = std::fs::remove_file(path);
    }
    result
}

/// A bound but not yet async listener: binding happens before daemonizing and
/// dropping privileges, so errors reach the terminal and low ports work.
enum Bound {
    /// A TCP listener; `plain` when `-l notls:...` keeps it out of TLS under `-Z`;
    /// its worker's seat among the workers sharing the address.
    Tcp(std::net::TcpListener, bool, Seat),
    Unix(std::os::unix::net::UnixListener),
}

/// Binds every listener, once per worker thread for TCP (SO_REUSEPORT), each with its
/// seat: a worker hands a connection it accepted to one that serves fewer, as the
/// kernel's spread by hash is often lopsided for a few clients. Each connection then
/// stays on one thread, as in memcached. Worker 0 also gets the Unix socket.
fn bind(args: &Args, security: &security::Security) -> Result<Vec<Vec<Bound>>, String> {
    if let Some(path) = &args.unix_socket {
        let _ = std::fs::remove_file(path);
        let listener = std::os::unix::net::UnixListener::bind(path)
            .map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
        // `-a` is the socket's access mode itself (memcached binds under the umask
        // `!access`), so `-a 700` lets only the owner connect.
        std::fs::set_permissions(
            path,
            std::fs::Permissions::from_mode(args.unix_mask & 0o777),
        )
        .map_err(|e| format!("cannot set permissions on {}: {e}", path.display()))?;
        info!(path = %path.display(), "listening");
        return Ok(vec![vec![Bound::Unix(listener)]]);
    }
    let mut bound: Vec<Vec<Bound>> = (0..args.threads).map(|_| Vec::new()).collect();
    for host in args
        .listen()
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
    {
        // memcached's `notls:` prefix: this listener stays plain under -Z.
        let (host, plain) = match host.strip_prefix("notls:") {
            Some(_) if security.tls.is_none() => {
                return Err(format!("-l {host}: notls: only means something with -Z"))
            }
            Some(rest) => (rest, true),
            None => (host, false),
        };
        let addrs = resolve(host, args.port)?;
        for mut addr in addrs {
            // SO_REUSEPORT would let a second server share the port silently: make
            // sure nobody holds it first, as memcached's bind would.
            probe_port(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            for (worker, seat) in bound.iter_mut().zip(balance::seats(args.threads)) {
                let listener = listen_tcp(addr, args.backlog)
                    .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
                // Port 0 lets the kernel pick one: the other workers share the one
                // picked for the first.
                addr = listener
                    .local_addr()
                    .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
                worker.push(Bound::Tcp(listener, plain, seat));
            }
            // Once per address, not per worker's socket.
            info!(%addr, tls = security.tls.is_some() && !plain, "listening");
            if !addr.ip().is_loopback() {
                if security.auth.is_none() {
                    warn!(%addr, "listening beyond loopback without authentication (-Y, -S)");
                }
                if security.tls.is_none() || plain {
                    warn!(%addr, "listening beyond loopback without TLS (-Z)");
                }
            }
        }
    }
    if bound[0].is_empty() {
        return Err("nothing to listen on: -l is empty".into());
    }
    Ok(bound)
}

/// Binds `addr` without SO_REUSEPORT, and without listening: a socket that listened,
/// even for an instant, would take connections from early clients and reset them
/// when closed.
fn probe_port(addr: SocketAddr) -> std::io::Result<()> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())
}

/// Binds with SO_REUSEADDR (a restarted server gets its port back at once),
/// SO_REUSEPORT (one listener per worker thread) and the `-b` backlog.
fn listen_tcp(addr: SocketAddr, backlog: i32) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

/// Resolves `-l` entries: an address, `[v6]`, a host name, or any of those with
/// `:port`.
fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    if let Ok(addr) = host.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    let with_port = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:{port}")
    };
    with_port
        .to_socket_addrs()
        .map(Iterator::collect)
        .map_err(|e| format!("cannot resolve {host}: {e}"))
}

fn drop_privileges(user: &str) -> Result<(), String> {
    let found = nix::unistd::User::from_name(user)
        .map_err(|e| format!("cannot look up user {user}: {e}"))?
        .ok_or_else(|| format!("can't find the user {user} to switch to"))?;
    nix::unistd::setgid(found.gid)
        .map_err(|e| format!("failed to assume identity of user {user}: {e}"))?;
    nix::unistd::setuid(found.uid)
        .map_err(|e| format!("failed to assume identity of user {user}: {e}"))?;
    Ok(())
}

/// The store as the flags size it.
fn new_store(args: &Args) -> Store {
    Store::new(StoreConfig {
        max_bytes: args.memory_bytes(),
        evict: !args.disable_evictions,
        max_item_size: args.item_size_max(),
        // Few shards keep each shard's budget, and so its segments, large: items between
        // half a segment and a segment waste the rest of it. Two per thread keep lock
        // contention low.
        shards: (args.threads * 2).next_power_of_two().max(4),
    })
}

/// The store, restored by `-e` if it was, and what the snapshot held.
struct Warm {
    store: Arc<Store>,
    restored: warm_restart::Restored,
}

fn serve_all(
    args: &Args,
    extended: extended::Extended,
    security: security::Security,
    workers: Vec<Vec<Bound>>,
    admin: Option<std::net::TcpListener>,
    warm: Warm,
) -> Result<(), String> {
    let Warm { store, restored } = warm;
    let limits = memkeep_protocol::Limits {
        max_value_len: args.item_size_max(),
        ..memkeep_protocol::Limits::default()
    };
    let connection = ConnectionConfig {
        limits,
        idle_timeout: extended.idle_timeout,
        request_timeout: extended.request_timeout,
        auth: security.auth,
        // -W: `watch` is then answered by the cache with memcached's refusal.
        watchers: (!args.disable_watch).then(|| store.watchers().clone()),
        binding: args.binding(),
        ..ConnectionConfig::default()
    };
    let mut config = ServeConfig::new(args.conn_limit, connection);
    config.tls = security.tls.as_ref().map(|(_, acceptor)| acceptor.clone());
    let cert_refresh = security
        .tls
        .map(|(files, acceptor)| security::cert_refresh(files, acceptor));
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let shutdown = args.enable_shutdown.then(|| {
        let stop_tx = stop_tx.clone();
        ShutdownHook(Arc::new(move |_graceful| {
            let _ = stop_tx.send(true);
        }))
    });
    let cache = Cache::new(
        store.clone(),
        config.stats.clone(),
        CacheConfig {
            settings: settings::lines(args, &extended),
            threads: args.threads,
            max_connections: args.conn_limit,
            shutdown,
            idle_timeout: extended.idle_timeout.is_some(),
            prefix_delimiter: args.prefix_delimiter.unwrap_or(b':'),
            tls: cert_refresh.clone(),
            crawler: extended.crawler,
            slab_automove: extended.slab_automove,
        },
    );
    let link_tls = security.links.as_ref().map(|l| l.tls.clone());
    let replication = replication::start(
        args,
        cache.store().clone(),
        link_tls,
        &restored.resume,
        stop_rx.clone(),
    )?;
    if let Some(path) = &args.memory_file {
        // The start can no longer fail for lack of a port: the file goes before a
        // client can change the cache it describes. (Records a peer sent meanwhile
        // are harmless: the file's resume cursors would have them sent again.)
        warm_restart::forget(path, &restored)?;
    }
    // memcached names its TCP ports there (none under -s) once it listens: every
    // listener is bound by now, the admin and replication ones too.
    if args.unix_socket.is_none() {
        crate::port_file::write(workers[0].iter().filter_map(|bound| match bound {
            Bound::Tcp(listener, _, _) => listener.local_addr().ok(),
            Bound::Unix(_) => None,
        }));
    }
    // systemd's READY=1 once every worker serves, keep-alives while they all run.
    let (watchdog, heartbeats) = crate::watchdog::start(
        crate::sd_notify::Notifier::from_env(),
        workers.len(),
        serving_status(&workers[0]),
    )?;
    let replicated = match &replication {
        Some((r, _)) => Either::Left(memkeep_replication::Observe::new(cache.clone(), r.clone())),
        None => Either::Right(cache.clone()),
    };
    let rules = policy::Rules {
        cas: !args.disable_cas,
        flush: !args.disable_flush_all,
        dump: !args.dumping_disabled(),
    };
    let replicated = policy::Policy::new(replicated, cache.store().clone(), rules);
    // One service per worker: measured (each worker with its own counters) when
    // the admin listener is on.
    let (services, admin_thread): (Vec<Service>, _) = match admin {
        Some(listener) => {
            let (measured, thread) =
                admin::start(args, listener, cache, &replication, replicated, &stop_rx)?;
            (
                measured.into_iter().map(Either::Left).collect(),
                Some(thread),
            )
        }
        None => (vec![Either::Right(replicated); args.threads], None),
    };
    let mut threads = Vec::new();
    for (((i, listeners), service), heartbeat) in workers
        .into_iter()
        .enumerate()
        .zip(services)
        .zip(heartbeats)
    {
        let (config, stop_rx) = (config.clone(), stop_rx.clone());
        let thread = std::thread::Builder::new()
            .name(format!("memkeepd-worker-{i}"))
            .spawn(move || serve_worker(listeners, service, config, stop_rx, heartbeat))
            .map_err(|e| format!("cannot start worker thread: {e}"))?;
        threads.push(thread);
    }
    let signals = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start runtime: {e}"))?;
    signals.spawn(security::reload_on_hangup(cert_refresh, security.links));
    signals.block_on(wait_for_signal(stop_rx, stop_tx));
    watchdog.stopping();
    let mut result = Ok(());
    for thread in threads {
        match thread.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => result = Err(e),
            Err(_) => result = Err("a worker thread panicked".into()),
        }
    }
    let mut resume = Vec::new();
    if let Some((replication, thread)) = replication {
        let _ = thread.join();
        // Read once the links have stopped: every record before a cursor is stored.
        resume = replication
            .resume_cursors()
            .into_iter()
            .map(|(run, next)| memkeep_server::store::snapshot::ResumePoint { run, next })
            .collect();
    }
    if let Some(thread) = admin_thread {
        let _ = thread.join();
    }
    // Every connection has drained: the store holds every acknowledged write.
    if let Some(path) = &args.memory_file {
        warm_restart::save(path, &store, &resume)?;
    }
    info!("stopped");
    result
}

/// One worker thread: a single-threaded runtime serving its own listeners, so a
/// connection's reads, cache calls and writes never hop between threads.
fn serve_worker(
    listeners: Vec<Bound>,
    cache: Service,
    config: ServeConfig,
    stop_rx: watch::Receiver<bool>,
    heartbeat: crate::watchdog::Heartbeat,
) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start runtime: {e}"))?;
    runtime.block_on(async move {
        let mut tasks = tokio::task::JoinSet::new();
        for b in listeners {
            let mut config = config.clone();
            let listener = match b {
                Bound::Tcp(l, plain, seat) => {
                    l.set_nonblocking(true).map_err(|e| e.to_string())?;
                    let l = tokio::net::TcpListener::from_std(l).map_err(|e| e.to_string())?;
                    if plain {
                        config.tls = None;
                    }
                    Listener::Balanced(l, seat)
                }
                Bound::Unix(l) => {
                    l.set_nonblocking(true).map_err(|e| e.to_string())?;
                    Listener::Unix(
                        tokio::net::UnixListener::from_std(l).map_err(|e| e.to_string())?,
                    )
                }
            };
            let mut stop = stop_rx.clone();
            tasks.spawn(serve(listener, cache.clone(), config, async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            }));
        }
        // Not in `tasks`: it beats until the runtime is dropped, after the drain.
        tokio::spawn(heartbeat.run());
        while tasks.join_next().await.is_some() {}
        Ok(())
    })
}

/// systemd's STATUS= line once memkeepd serves: where (worker 0 holds one socket
/// per address).
fn serving_status(listeners: &[Bound]) -> String {
    let places: Vec<String> = listeners
        .iter()
        .map(|bound| match bound {
            Bound::Tcp(listener, _, _) => listener
                .local_addr()
                .map_or_else(|e| e.to_string(), |a| a.to_string()),
            Bound::Unix(listener) => listener
                .local_addr()
                .ok()
                .and_then(|a| a.as_pathname().map(|p| p.display().to_string()))
                .unwrap_or_else(|| "a Unix socket".into()),
        })
        .collect();
    format!("serving on {}", places.join(", "))
}

/// Waits for SIGTERM, SIGINT or the `shutdown` command, then tells every listener to
/// drain.
async fn wait_for_signal(mut stop_rx: watch::Receiver<bool>, stop_tx: Arc<watch::Sender<bool>>) {
    tokio::select! {
        () = crate::signals::wait() => {}
        () = process::graceful_stop() => {}
        _ = stop_rx.wait_for(|s| *s) => info!("shutdown command: draining"),
    }
    let _ = stop_tx.send(true);
}
