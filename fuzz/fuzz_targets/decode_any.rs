//! Server-side decoding of the input as it is: dialects mixed request by request, as
//! `Decoder::decode` picks them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use memkeep_fuzz::{requests, Target};

fuzz_target!(|data: &[u8]| requests(data, Target::Any));
