//! Helpers shared by the admin listener tests.

#![allow(dead_code)] // each test binary uses a different part

pub mod http;
pub mod proxy;
