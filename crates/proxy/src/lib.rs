//! memkeep-proxy's parts: [`backend`] (a pipelined, reconnecting connection pool per
//! memcached server, as a tower `Service<Request>`) and the routing [`layer`]s that
//! stack on top of backends (shard by ring, replicate, fail over, read-repair, eject,
//! time out, shadow, warm up, route by prefix), plus the route-tree [`config`] types
//! and the [`build`]er that turns them into a running stack (pools, route trees, a
//! [`build::Swappable`] service for reloads), and [`discovery`] (pools whose servers
//! come from DNS, kept resolved). The `memkeep-proxy` binary adds the
//! files, listeners, signals, logging and the admin and stats ports around it.
//!
//! # Examples
//!
//! In `crates/proxy/examples/`, each a proxy of about 40 lines that takes its listen
//! address and servers on the command line (`cargo run -p memkeep-proxy --example
//! NAME -- 127.0.0.1:22121 127.0.0.1:11211 ...`):
//!
//! - `sharding`: twemproxy-style, each key to one of N servers on a ketama ring.
//! - `main_backup`: magent-style main and backup, writes answered by the first
//!   server that takes them, reads repairing the server that missed.
//! - `read_repair`: a replicated pipeline built from the layers by hand: majority
//!   writes to every server, reads that copy hits to the servers that missed.
//! - `custom_layer`: a layer of your own (per-tenant key prefixes) over a pool.
//!
//! Two replicas (here in-process caches; in the proxy, [`backend::Backend`]s): writes
//! go to both, a get that misses on one is answered from the other and repairs it.
//!
//! ```
//! use std::sync::Arc;
//! use memkeep_protocol::{Decoder, Request, Response};
//! use memkeep_proxy::layer::read_repair::ReadRepairLayer;
//! use memkeep_proxy::layer::replicate::{Policy, ReplicateLayer};
//! use memkeep_proxy::layer::route::Route;
//! use memkeep_server::cache::{Cache, CacheConfig};
//! use memkeep_server::store::{Store, StoreConfig};
//! use tower::{Layer, ServiceExt};
//!
//! fn request(wire: &str) -> Request {
//!     let mut bytes = bytes::BytesMut::from(wire.as_bytes());
//!     Decoder::default().decode(&mut bytes).unwrap().unwrap()
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let cache = || Cache::new(Arc::new(Store::new(StoreConfig::default())), Arc::default(), CacheConfig::default());
//! let (a, b) = (cache(), cache());
//! let replicas = vec![a.clone(), b.clone()];
//! let writes = ReplicateLayer::new(Policy::All).layer(replicas.clone());
//! let repair = ReadRepairLayer::new();
//! let reads = repair.layer(replicas);
//! let proxy = Route::by_operation(
//!     tower::util::BoxCloneService::new(reads),
//!     tower::util::BoxCloneService::new(writes),
//! );
//!
//! let stored = proxy.clone().oneshot(request("set k 0 0 2\r\nhi\r\n")).await.unwrap();
//! assert!(matches!(stored, Response::Stored(_)));
//! // `b` loses the item; a read through the proxy still hits, and puts it back.
//! b.execute(request("delete k\r\n"));
//! let got = proxy.oneshot(request("get k\r\n")).await.unwrap();
//! assert!(matches!(got, Response::Values(v) if v.len() == 1));
//! while repair.repairs().load(std::sync::atomic::Ordering::Relaxed) == 0 {
//!     tokio::task::yield_now().await;
//! }
//! assert!(matches!(b.execute(request("get k\r\n")), Response::Values(v) if v.len() == 1));
//! # });
//! ```
//!
//! # Features
//!
//! - `test-util`: `layer::fake`, an in-memory fake memcached server (`Fake`) that
//!   records the requests it gets and can be told to fail, refuse, answer late or
//!   answer one fixed reply, with helpers to build requests and read replies. The
//!   layer tests use it; enable it in `[dev-dependencies]` to test a stack of layers
//!   in another crate without a network.
//! - `fuzzing`: the backend-reply invariants, for the fuzz crate.

pub mod backend;
pub mod build;
pub mod config;
pub mod discovery;
pub mod error_kind;
pub mod keyless;
pub mod layer;

/// The error type at service boundaries (tower's, the same type memkeep-server uses).
pub use tower::BoxError;
