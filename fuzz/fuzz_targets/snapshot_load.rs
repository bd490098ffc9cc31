//! Warm restart's snapshot reader on arbitrary bytes (see memkeep_fuzz::snapshot).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    memkeep_fuzz::snapshot(data);
});
