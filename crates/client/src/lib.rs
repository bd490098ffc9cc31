//! memkeep-client: an async memcached client that routes on the client what
//! memkeep-proxy routes in the middle, with the proxy's own layers (shard by a
//! twemproxy-compatible ring, replicate writes, fail over and read-repair reads,
//! eject dead servers, time out, replay the writes a restarted server missed) over
//! the proxy's pipelined, reconnecting [`Backend`](memkeep_proxy::backend::Backend)s.
//! An application gets what the proxy gives without the extra hop, and without a
//! proxy to lose. It takes the proxy's configuration as it is (the TOML route tree,
//! or a `nutcracker.yml`'s pools), so each key lands on the server the proxy would
//! put it on.
//!
//! Two servers (here in-process caches), each key kept on both:
//!
//! ```
//! use std::sync::Arc;
//! use memkeep_client::Client;
//! use memkeep_server::cache::{Cache, CacheConfig};
//! use memkeep_server::store::{Store, StoreConfig};
//! use memkeep_server::{serve, ConnectionConfig, Listener, ServeConfig};
//!
//! /// A memcached server on a port of its own, for the example.
//! async fn server() -> String {
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let addr = listener.local_addr().unwrap().to_string();
//!     let store = Arc::new(Store::new(StoreConfig::default()));
//!     let cache = Cache::new(store, Arc::default(), CacheConfig::default());
//!     let config = ServeConfig::new(64, ConnectionConfig::default());
//!     tokio::spawn(serve(Listener::Tcp(listener), cache, config, std::future::pending()));
//!     addr
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let client = Client::builder()
//!     .servers([server().await, server().await])
//!     .replicas(2)
//!     .build()?;
//!
//! client.set("greeting", "hello", 0, 0).await?;
//! assert!(client.append("greeting", " world").await?);
//! let item = client.get("greeting").await?.expect("stored");
//! assert_eq!(item.value, "hello world");
//! // Keys follow memcached's rules, checked before anything is sent.
//! let refused = client.get("no spaces").await;
//! assert!(matches!(refused, Err(memkeep_client::Error::InvalidKey)));
//! assert_eq!(client.incr("visits", 1).await?, None);
//! # Ok::<(), memkeep_client::Error>(())
//! # }).unwrap();
//! ```
//!
//! The same client from memkeep-proxy's configuration file:
//! [`Client::from_toml`] (its route tree), [`Client::from_config`] (the parsed
//! tree), [`Client::from_nutcracker`] (twemproxy's pools).

mod builder;
mod client;
mod error;
mod stack;

pub use builder::Builder;
pub use client::{CasOutcome, Client, Item};
pub use error::Error;
