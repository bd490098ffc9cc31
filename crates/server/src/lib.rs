//! memkeep's server side: the connection driver [`serve`] that any
//! `Service<Request, Response = Response>` plugs into, the memory-bounded cache
//! [`store`], and the cache service that maps each command onto the store.
//!
//! A cache served on a TCP port, behind a middleware whose future (an async block with
//! a sleep inside, as a timeout's) is not `Unpin`: `serve` takes it unboxed.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use memkeep_server::cache::{Cache, CacheConfig};
//! use memkeep_server::store::{Store, StoreConfig};
//! use memkeep_server::{serve, ConnectionConfig, Listener, ServeConfig};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = Arc::new(Store::new(StoreConfig::default()));
//! let cache = Cache::new(store, Arc::default(), CacheConfig::default());
//! let service = cache.map_future(|reply| async move {
//!     tokio::time::sleep(Duration::from_millis(1)).await;
//!     reply.await
//! });
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! let addr = listener.local_addr().unwrap();
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let config = ServeConfig::new(1024, ConnectionConfig::default());
//! let server = tokio::spawn(serve(Listener::Tcp(listener), service, config, async {
//!     let _ = stopped.await;
//! }));
//!
//! let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
//! client.write_all(b"set k 0 0 2\r\nhi\r\nget k\r\n").await.unwrap();
//! let want = b"STORED\r\nVALUE k 0 2\r\nhi\r\nEND\r\n";
//! let mut got = vec![0; want.len()];
//! client.read_exact(&mut got).await.unwrap();
//! assert_eq!(got, want);
//! // Shutting down drains: the idle connection is closed and `serve` returns.
//! stop.send(()).unwrap();
//! server.await.unwrap();
//! let mut rest = Vec::new();
//! client.read_to_end(&mut rest).await.unwrap();
//! assert!(rest.is_empty());
//! # });
//! ```

pub mod auth;
pub mod balance;
mod connection;
mod error;
mod serve;
pub mod stats;
pub mod store;
pub mod tls;
pub mod watchers;

pub use connection::{serve_connection, ConnectionConfig};
pub use error::{error_response, BoxError};
pub use serve::{serve, Listener, ServeConfig};
pub use tls::TlsAcceptor;
pub mod cache;
