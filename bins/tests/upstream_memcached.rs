//! memcached's own test suite (`t/*.t` of Debian's memcached 1.6.18 source, fetched
//! by ./test.sh) run with prove against memkeepd and memkeep-proxy, and against stock
//! memcached in the same run as the reference. Every file's expected outcome, and the
//! reason for each difference from memcached's, is in
//! `contrib/upstream/memcached-t.expected`; see docs/upstream-suites.md.

mod upstream;

use upstream::suite::check;
use upstream::Target;

#[test]
fn memkeepd_passes_what_memcached_passes() {
    check("memkeepd", &[Target::Memkeepd]);
}

#[test]
fn memkeep_proxy_passes_what_memcached_passes() {
    check("proxy", &[Target::ProxyMemkeepd, Target::ProxyMemcached]);
}
