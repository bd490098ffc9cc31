//! magent-style main and backup: every key lives on the main server and on the
//! backup. A write is answered by the first server that takes it (the other one,
//! if it missed the write, gets it replayed when it is back); a read asks both,
//! answers with a hit, and writes the hit back to the one that missed (read-repair),
//! so reads keep hitting while the main server is down or restarts empty.
//!
//! `main_backup LISTEN MAIN BACKUP`, e.g. `main_backup 127.0.0.1:22122 127.0.0.1:11211 127.0.0.1:11212`

use std::collections::BTreeMap;

use memkeep_proxy::build::Builder;
use memkeep_proxy::config::{ListenerConfig, PolicySetting, PoolConfig, RouteConfig, RouteSpec};
use memkeep_server::{serve, ConnectionConfig, Listener, ServeConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [listen, main, backup] = &args[..] else {
        return Err("usage: main_backup LISTEN MAIN BACKUP".into());
    };
    let both = vec!["main".to_owned(), "backup".to_owned()];
    // The same tree as a TOML route tree with these pools, routes and listener.
    let config = RouteConfig {
        pools: BTreeMap::from([
            ("main".into(), PoolConfig::new(vec![format!("{main}:1")])),
            (
                "backup".into(),
                PoolConfig::new(vec![format!("{backup}:1")]),
            ),
        ]),
        routes: BTreeMap::from([
            (
                "reads".into(),
                RouteSpec::ReadRepair {
                    to: both.clone(),
                    read_from: None,
                },
            ),
            (
                "writes".into(),
                RouteSpec::Replicate {
                    to: both,
                    policy: PolicySetting::FirstSuccess,
                },
            ),
            (
                "magent".into(),
                RouteSpec::Operation {
                    reads: "reads".into(),
                    writes: "writes".into(),
                },
            ),
        ]),
        listeners: vec![ListenerConfig::new(listen.as_str(), "magent")],
    };
    let tree = Builder::new().tree(&config)?;

    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("{listen}: {e}"))?;
    println!(
        "listening on {}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let serving = ServeConfig::new(1024, ConnectionConfig::default());
    let service = tree.listeners[0].clone();
    serve(
        Listener::Tcp(listener),
        service,
        serving,
        std::future::pending(),
    )
    .await;
    Ok(())
}
