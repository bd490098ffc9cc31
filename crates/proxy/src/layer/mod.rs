//! Routing layers. Each is a tower `Layer` + `Service` with a named response future
//! and a small error type, tested alone with mock inner services and paused time.

pub mod eject;
pub mod failover;
pub mod read_repair;
pub mod replicate;
pub mod route;
pub mod shadow;
pub mod shard;
pub mod timeout;
pub mod warm_up;
