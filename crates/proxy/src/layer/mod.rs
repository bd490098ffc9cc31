//! Routing layers. Each is a tower `Layer` + `Service` with a named response future
//! and a small error type, tested alone with mock inner services and paused time.

mod background;
pub mod broadcast;
pub mod count;
pub mod eject;
pub mod failover;
#[cfg(test)]
mod fake;
pub mod fan_out;
pub mod handoff;
pub mod multi_get;
pub mod read_repair;
pub mod replicate;
pub mod route;
pub mod settle;
pub mod shadow;
pub mod shard;
pub mod timeout;
pub mod unlink;
pub mod warm_up;
mod write_back;
