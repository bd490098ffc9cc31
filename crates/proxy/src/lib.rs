//! memkeep-proxy's parts: [`backend`] (a pipelined, reconnecting connection pool per
//! memcached server, as a tower `Service<Request>`) and the routing [`layer`]s that
//! stack on top of backends (shard by ring, replicate, fail over, read-repair, eject,
//! time out, shadow, warm up, route by prefix), plus the route-tree [`config`] types.
//! The binary in `bins` reads configuration files and assembles the stacks.

pub mod backend;
pub mod config;
pub mod layer;

/// The error type at service boundaries.
pub use memkeep_server::BoxError;
