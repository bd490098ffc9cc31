//! memkeep's server side: the connection driver [`serve`] that any
//! `Service<Request, Response = Response>` plugs into, the memory-bounded cache
//! [`store`], and the cache service that maps each command onto the store.

pub mod auth;
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
