//! memkeep-proxy reading a backend's replies: arbitrary bytes as the replies to a
//! client request taken from the input's first bytes, read whole and in chunks (see
//! `memkeep_proxy::backend::reply_check` for the layout and the invariants).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| memkeep_proxy::backend::reply_check::check(data));
