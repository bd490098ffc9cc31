//! Routing layers. Each is a tower `Layer` + `Service` with a named response future
//! and a small error type, tested alone with mock inner services and paused time.
//! What several layers share has one home: [`fan_out`] (the services a layer spreads
//! requests over, its reply and its error), [`multi_get`] (split a get by where its
//! keys go, merge the parts in key order), [`settle`] (pass a request on, then look
//! at its result) and [`crate::error_kind`] (why a request failed).

mod background;
pub mod broadcast;
pub mod count;
pub mod eject;
pub mod failover;
#[cfg(any(test, feature = "test-util"))]
pub mod fake;
pub mod fan_out;
pub mod handoff;
pub mod multi_get;
pub mod read_repair;
pub mod replicate;
pub mod resize;
pub mod route;
pub mod settle;
pub mod shadow;
pub mod shard;
pub mod timeout;
pub mod unlink;
pub mod warm_up;
mod write_back;
