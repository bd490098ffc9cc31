//! The general `stats` group and `stats settings`, in memcached 1.6.18's field names
//! and order.
//!
//! Every field memcached prints is printed, with memkeepd's own figure where it has
//! the concept. Zeros stand where it has not: memcached's response-object and
//! read-buffer pools and reserved descriptors (memkeepd's buffers belong to each
//! connection), its slab page mover (`slab_reassign_*`, `slabs_moved`,
//! `slab_global_page_pool`: no slab pages), its LRU maintainer thread and segmented
//! LRU (`lru_maintainer_juggles`, `lrutail_reflocked`, `moves_*`, `lru_bumps_dropped`,
//! `evicted_active`: one CLOCK queue, which never evicts an item referenced since
//! the hand last passed), NAPI ids and `malloc_fails` (an allocation failure aborts).
//! `libevent` is left out: memkeepd does not use it. memkeepd adds
//! `slow_request_kicks` (its request timeout) and `started` (unix start time) at the
//! end.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{Cache, Counter, VERSION};
use crate::stats::ConnectionStats;

pub(super) type Lines = Vec<(String, String)>;

pub(super) fn push(lines: &mut Lines, name: &str, value: impl ToString) {
    lines.push((name.to_owned(), value.to_string()));
}

fn rusage() -> (String, String) {
    use nix::sys::resource::{getrusage, UsageWho};
    use nix::sys::time::TimeValLike;
    let fmt = |t: nix::sys::time::TimeVal| {
        format!("{}.{:06}", t.tv_sec(), t.num_microseconds() % 1_000_000)
    };
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(usage) => (fmt(usage.user_time()), fmt(usage.system_time())),
        Err(_) => ("0.000000".into(), "0.000000".into()),
    }
}

/// `stats`: the general group.
pub(super) fn general(cache: &Cache) -> Lines {
    let inner = &*cache.inner;
    let conns = &*inner.connections;
    let conn = |c: &std::sync::atomic::AtomicU64| ConnectionStats::get(c);
    let count = |c: Counter| inner.counters.get(c);
    let store = inner.store.stats();
    let logs = inner.store.watchers().report();
    let crawler = &inner.tunables.crawler;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (user, system) = rusage();
    let mut l = Lines::with_capacity(96);
    push(&mut l, "pid", std::process::id());
    push(&mut l, "uptime", inner.started.elapsed().as_secs());
    push(&mut l, "time", now);
    push(&mut l, "version", VERSION);
    push(&mut l, "pointer_size", usize::BITS);
    push(&mut l, "rusage_user", user);
    push(&mut l, "rusage_system", system);
    push(&mut l, "max_connections", inner.config.max_connections);
    push(&mut l, "curr_connections", conn(&conns.curr_connections));
    push(&mut l, "total_connections", conn(&conns.total_connections));
    push(
        &mut l,
        "rejected_connections",
        conn(&conns.rejected_connections),
    );
    push(
        &mut l,
        "connection_structures",
        conn(&conns.peak_connections),
    );
    for name in [
        "response_obj_oom",
        "response_obj_count",
        "response_obj_bytes",
        "read_buf_count",
        "read_buf_bytes",
        "read_buf_bytes_free",
        "read_buf_oom",
        "reserved_fds",
    ] {
        push(&mut l, name, 0);
    }
    for c in [
        Counter::CmdGet,
        Counter::CmdSet,
        Counter::CmdFlush,
        Counter::CmdTouch,
        Counter::CmdMeta,
        Counter::GetHits,
        Counter::GetMisses,
    ] {
        push(&mut l, c.name(), count(c));
    }
    push(&mut l, "get_expired", store.get_expired);
    push(&mut l, "get_flushed", store.get_flushed);
    for c in [
        Counter::DeleteMisses,
        Counter::DeleteHits,
        Counter::IncrMisses,
        Counter::IncrHits,
        Counter::DecrMisses,
        Counter::DecrHits,
        Counter::CasMisses,
        Counter::CasHits,
        Counter::CasBadval,
        Counter::TouchHits,
        Counter::TouchMisses,
        Counter::StoreTooLarge,
        Counter::StoreNoMemory,
    ] {
        push(&mut l, c.name(), count(c));
    }
    push(&mut l, "auth_cmds", conn(&conns.auth_cmds));
    push(&mut l, "auth_errors", conn(&conns.auth_errors));
    // memcached shows idle kicks only when an idle timeout is set.
    if inner.config.idle_timeout {
        push(&mut l, "idle_kicks", conn(&conns.idle_kicks));
    }
    push(&mut l, "bytes_read", conn(&conns.bytes_read));
    push(&mut l, "bytes_written", conn(&conns.bytes_written));
    push(&mut l, "limit_maxbytes", store.limit_maxbytes);
    push(&mut l, "accepting_conns", 1);
    // Clients past the limit are refused at once (memcached's maxconns_fast), never
    // by pausing the listener.
    push(&mut l, "listen_disabled_num", 0);
    push(&mut l, "time_in_listen_disabled_us", 0);
    push(&mut l, "threads", inner.config.threads);
    push(&mut l, "conn_yields", conn(&conns.conn_yields));
    push(
        &mut l,
        "hash_power_level",
        store.hash_slots.max(1).next_power_of_two().trailing_zeros(),
    );
    push(&mut l, "hash_bytes", store.hash_bytes);
    push(&mut l, "hash_is_expanding", 0);
    for name in [
        "slab_reassign_rescues",
        "slab_reassign_chunk_rescues",
        "slab_reassign_evictions_nomem",
        "slab_reassign_inline_reclaim",
        "slab_reassign_busy_items",
        "slab_reassign_busy_deletes",
        "slab_reassign_running",
        "slabs_moved",
    ] {
        push(&mut l, name, 0);
    }
    push(
        &mut l,
        "lru_crawler_running",
        u8::from(crawler.is_running()),
    );
    push(&mut l, "lru_crawler_starts", crawler.starts());
    push(&mut l, "lru_maintainer_juggles", 0);
    push(&mut l, "malloc_fails", 0);
    push(&mut l, "log_worker_dropped", 0);
    push(&mut l, "log_worker_written", logs.written);
    push(&mut l, "log_watcher_skipped", logs.skipped);
    push(&mut l, "log_watcher_sent", logs.sent);
    push(&mut l, "log_watchers", logs.watchers);
    if let Some(tls) = &inner.config.tls {
        push(
            &mut l,
            "ssl_handshake_errors",
            conn(&conns.ssl_handshake_errors),
        );
        push(
            &mut l,
            "time_since_server_cert_refresh",
            tls.seconds_since_loaded(),
        );
    }
    push(&mut l, "unexpected_napi_ids", 0);
    push(&mut l, "round_robin_fallback", 0);
    push(&mut l, "bytes", store.bytes);
    push(&mut l, "curr_items", store.curr_items);
    push(&mut l, "total_items", store.total_items);
    push(&mut l, "slab_global_page_pool", 0);
    push(&mut l, "expired_unfetched", store.expired_unfetched);
    push(&mut l, "evicted_unfetched", store.evicted_unfetched);
    push(&mut l, "evicted_active", 0);
    push(&mut l, "evictions", store.evictions);
    push(&mut l, "reclaimed", store.reclaimed);
    push(&mut l, "crawler_reclaimed", store.crawler_reclaimed);
    push(&mut l, "crawler_items_checked", store.crawler_items_checked);
    push(&mut l, "lrutail_reflocked", 0);
    push(&mut l, "moves_to_cold", 0);
    push(&mut l, "moves_to_warm", 0);
    push(&mut l, "moves_within_lru", 0);
    push(&mut l, "direct_reclaims", store.direct_reclaims);
    push(&mut l, "lru_bumps_dropped", 0);
    push(
        &mut l,
        "slow_request_kicks",
        conn(&conns.slow_request_kicks),
    );
    push(&mut l, "started", inner.started_unix);
    l
}

/// memcached's `stats settings` fields in its order: the settings the
/// administrative commands change are merged into the configured lines here.
const SETTINGS_ORDER: &[&str] = &[
    "maxbytes",
    "maxconns",
    "tcpport",
    "udpport",
    "inter",
    "verbosity",
    "oldest",
    "evictions",
    "domain_socket",
    "umask",
    "shutdown_command",
    "growth_factor",
    "chunk_size",
    "num_threads",
    "num_threads_per_udp",
    "stat_key_prefix",
    "detail_enabled",
    "reqs_per_event",
    "cas_enabled",
    "tcp_backlog",
    "binding_protocol",
    "auth_enabled_sasl",
    "auth_enabled_ascii",
    "item_size_max",
    "maxconns_fast",
    "hashpower_init",
    "slab_reassign",
    "slab_automove",
    "slab_automove_ratio",
    "slab_automove_window",
    "slab_chunk_max",
    "lru_crawler",
    "lru_crawler_sleep",
    "lru_crawler_tocrawl",
    "tail_repair_time",
    "flush_enabled",
    "dump_enabled",
    "hash_algorithm",
    "lru_maintainer_thread",
    "lru_segmented",
    "hot_lru_pct",
    "warm_lru_pct",
    "hot_max_factor",
    "warm_max_factor",
    "temp_lru",
    "temporary_ttl",
    "idle_timeout",
    "watcher_logbuf_size",
    "worker_logbuf_size",
    "read_buf_mem_limit",
    "track_sizes",
    "inline_ascii_response",
    "ext_item_size",
    "ext_item_age",
    "ext_low_ttl",
    "ext_recache_rate",
    "ext_wbuf_size",
    "ext_compact_under",
    "ext_drop_under",
    "ext_max_sleep",
    "ext_max_frag",
    "slab_automove_freeratio",
    "ext_drop_unread",
    "ssl_enabled",
    "ssl_chain_cert",
    "ssl_key",
    "ssl_verify_mode",
    "ssl_keyformat",
    "ssl_ciphers",
    "ssl_ca_cert",
    "ssl_wbuf_size",
    "ssl_session_cache",
    "ssl_kernel_tls",
    "ssl_min_version",
    "num_napi_ids",
    "memory_file",
];

/// `stats settings`: the configured lines with the current values of what the
/// administrative commands change, each in memcached's place.
pub(super) fn settings(cache: &Cache) -> Lines {
    let inner = &*cache.inner;
    let tunables = &inner.tunables;
    let crawler = &tunables.crawler;
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
    let live = [
        ("maxbytes", inner.store.memory_limit().to_string()),
        (
            "stat_key_prefix",
            char::from(inner.prefixes.delimiter()).to_string(),
        ),
        ("detail_enabled", yes_no(inner.prefixes.enabled())),
        ("slab_automove", tunables.slab_automove().to_string()),
        (
            "slab_automove_ratio",
            format!("{:.2}", tunables.slab_automove_ratio()),
        ),
        ("lru_crawler", yes_no(crawler.is_enabled())),
        ("lru_crawler_sleep", crawler.sleep_micros().to_string()),
        ("lru_crawler_tocrawl", crawler.per_class().to_string()),
        (
            "watcher_logbuf_size",
            crate::watchers::WATCHER_BUFFER.to_string(),
        ),
    ];
    let mut lines = inner.config.settings.clone();
    for (name, value) in live {
        merge(&mut lines, name, value);
    }
    lines
}

/// Sets `name` to `value`: in place if present, else before the first line that
/// memcached prints after it (at the end if none).
fn merge(lines: &mut Lines, name: &str, value: String) {
    if let Some(line) = lines.iter_mut().find(|(n, _)| n == name) {
        line.1 = value;
        return;
    }
    let rank = |n: &str| SETTINGS_ORDER.iter().position(|&o| o == n);
    let mine = rank(name).unwrap_or(usize::MAX);
    let at = lines
        .iter()
        .position(|(n, _)| rank(n).is_some_and(|r| r > mine))
        .unwrap_or(lines.len());
    lines.insert(at, (name.to_owned(), value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_merge_in_memcached_s_order() {
        let mut lines: Lines = vec![
            ("maxbytes".into(), "1".into()),
            ("num_threads".into(), "4".into()),
            ("flush_enabled".into(), "yes".into()),
            ("ssl_enabled".into(), "no".into()),
        ];
        merge(&mut lines, "maxbytes", "2".into());
        merge(&mut lines, "detail_enabled", "no".into());
        merge(&mut lines, "lru_crawler", "yes".into());
        merge(&mut lines, "watcher_logbuf_size", "262144".into());
        let names: Vec<&str> = lines.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "maxbytes",
                "num_threads",
                "detail_enabled",
                "lru_crawler",
                "flush_enabled",
                "watcher_logbuf_size",
                "ssl_enabled"
            ]
        );
        assert_eq!(lines[0].1, "2");
    }
}
