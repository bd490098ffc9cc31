//! Routing layers. Each is a tower `Layer` + `Service` with a named response future
//! and a small error type, tested alone with mock inner services and paused time.

mod background;
pub mod broadcast;
pub mod count;
pub mod eject;
pub mod failover;
#[cfg(any(test, feature = "test-util"))]
pub mod fake;
pub mod handoff;
pub mod multi_get;
pub mod read_repair;
pub mod replicate;
pub mod route;
pub mod shadow;
pub mod shard;
pub mod timeout;
pub mod unlink;
pub mod warm_up;
mod write_back;
