//! memkeep-proxy's parts: [`backend`] (a pipelined, reconnecting connection pool per
//! memcached server, as a tower `Service<Request>`) and the routing [`layer`]s that
//! stack on top of backends (shard by ring, replicate, fail over, read-repair, eject,
//! time out, shadow, warm up, route by prefix), plus the route-tree [`config`] types.
//! The binary in `bins` reads configuration files and assembles the stacks.
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

pub mod backend;
pub mod build;
pub mod config;
pub mod keyless;
pub mod layer;

/// The error type at service boundaries.
pub use memkeep_server::BoxError;
