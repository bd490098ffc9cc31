//! `lru_crawler metadump`, the one crawler command memkeepd serves (the others tune
//! memcached's LRU crawler, which memkeepd does not have). A table of its own: it
//! lists one server's items, so it does not run through the proxy, which refuses it.
//!
//! memcached refuses a metadump pipelined behind other commands' replies
//! ("ERROR cannot pipeline other commands before metadump"); memkeepd serves it.
//! Each case sends one command; the listing of stored items is compared with
//! memcached's in `memkeep_tool.rs`.

use super::Case;

/// Every case, each on a fresh connection after a `flush_all` on another one.
pub const CASES: &[Case] = &[
    Case {
        name: "metadump_of_an_empty_cache",
        send: b"lru_crawler metadump all\r\n",
        expect: b"END\r\n",
    },
    Case {
        name: "metadump_class_zero",
        send: b"lru_crawler metadump 0\r\n",
        expect: b"BADCLASS invalid class id\r\n",
    },
    Case {
        name: "metadump_class_past_the_last",
        send: b"lru_crawler metadump 1,64\r\n",
        expect: b"BADCLASS invalid class id\r\n",
    },
    Case {
        name: "metadump_class_not_a_number",
        send: b"lru_crawler metadump x\r\n",
        expect: b"BADCLASS invalid class id\r\n",
    },
    Case {
        name: "metadump_without_a_scope",
        send: b"lru_crawler metadump\r\n",
        expect: b"ERROR\r\n",
    },
    Case {
        name: "metadump_noreply",
        send: b"lru_crawler metadump all noreply\r\n",
        expect: b"ERROR\r\n",
    },
];
