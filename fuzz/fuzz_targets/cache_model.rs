//! The cache service, driven with command sequences through the request decoder,
//! against the reference model of memcached's rules (memkeep-server's
//! `cache::model_check`): every reply must match the model's.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    memkeep_server::cache::model_check::check_against_model(data);
});
