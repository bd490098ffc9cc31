//! A replicated read-repair pipeline put together from the layers: every server
//! holds every key. Writes go to all of them and are answered once a majority has
//! taken them; a get asks all of them, answers with a hit and copies it to each
//! server that missed, so a server that lost its items fills up again as they are
//! read.
//!
//! `read_repair LISTEN SERVER...`, e.g. `read_repair 127.0.0.1:22123 127.0.0.1:11211 127.0.0.1:11212 127.0.0.1:11213`

use memkeep_proxy::build::{Builder, SharedService};
use memkeep_proxy::config::PoolConfig;
use memkeep_proxy::layer::read_repair::ReadRepairLayer;
use memkeep_proxy::layer::replicate::{Policy, ReplicateLayer};
use memkeep_proxy::layer::route::Route;
use memkeep_server::{serve, ConnectionConfig, Listener, ServeConfig};
use tower::Layer;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().ok_or("usage: read_repair LISTEN SERVER...")?;
    // One copy per server; a copy that misses a write is owed it (handoff).
    let builder = Builder::new();
    let copies = args
        .enumerate()
        .map(|(i, server)| {
            let pool = PoolConfig::new(vec![format!("{server}:1")]);
            Ok(builder
                .replicated_pool(&format!("copy{i}"), &pool)?
                .service())
        })
        .collect::<Result<Vec<SharedService>, String>>()?;
    let reads = ReadRepairLayer::new().layer(copies.clone());
    let writes = ReplicateLayer::new(Policy::Majority).layer(copies);
    let service = Route::by_operation(SharedService::new(reads), SharedService::new(writes));

    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| format!("{listen}: {e}"))?;
    println!(
        "listening on {}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let config = ServeConfig::new(1024, ConnectionConfig::default());
    serve(
        Listener::Tcp(listener),
        service,
        config,
        std::future::pending(),
    )
    .await;
    Ok(())
}
