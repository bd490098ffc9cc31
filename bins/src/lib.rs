//! The memkeep binaries: the only place that reads flags, files and the environment,
//! and assembles the services the library crates provide.

pub mod admin;
pub mod logging;
pub mod memkeep;
pub mod memkeepd;
pub mod port_file;
pub mod proxy;
pub mod sd_notify;
pub mod signals;
pub mod tls;
pub mod watchdog;
