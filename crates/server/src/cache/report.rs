//! The `stats` groups, in memcached's field names and order where the meaning is the
//! same.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{Cache, CommandCounters, Counter, VERSION};
use crate::stats::ConnectionStats;
use crate::store::Store;

type Lines = Vec<(String, String)>;

fn push(lines: &mut Lines, name: &str, value: impl ToString) {
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
    let store = inner.store.stats();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (user, system) = rusage();
    let mut l = Lines::with_capacity(64);
    push(&mut l, "pid", std::process::id());
    push(&mut l, "uptime", inner.started.elapsed().as_secs());
    push(&mut l, "time", now);
    push(&mut l, "version", VERSION);
    push(&mut l, "pointer_size", usize::BITS);
    push(&mut l, "rusage_user", user);
    push(&mut l, "rusage_system", system);
    push(&mut l, "max_connections", inner.config.max_connections);
    push(
        &mut l,
        "curr_connections",
        ConnectionStats::get(&conns.curr_connections),
    );
    push(
        &mut l,
        "total_connections",
        ConnectionStats::get(&conns.total_connections),
    );
    push(
        &mut l,
        "rejected_connections",
        ConnectionStats::get(&conns.rejected_connections),
    );
    for &counter in Counter::ALL {
        push(&mut l, counter.name(), inner.counters.get(counter));
    }
    push(&mut l, "auth_cmds", ConnectionStats::get(&conns.auth_cmds));
    push(
        &mut l,
        "auth_errors",
        ConnectionStats::get(&conns.auth_errors),
    );
    push(
        &mut l,
        "bytes_read",
        ConnectionStats::get(&conns.bytes_read),
    );
    push(
        &mut l,
        "bytes_written",
        ConnectionStats::get(&conns.bytes_written),
    );
    push(&mut l, "limit_maxbytes", store.limit_maxbytes);
    push(&mut l, "accepting_conns", 1);
    push(&mut l, "threads", inner.config.threads);
    push(
        &mut l,
        "conn_yields",
        ConnectionStats::get(&conns.conn_yields),
    );
    push(
        &mut l,
        "idle_kicks",
        ConnectionStats::get(&conns.idle_kicks),
    );
    push(
        &mut l,
        "slow_request_kicks",
        ConnectionStats::get(&conns.slow_request_kicks),
    );
    push(&mut l, "bytes", store.bytes);
    push(&mut l, "curr_items", store.curr_items);
    push(&mut l, "total_items", store.total_items);
    push(&mut l, "expired_unfetched", store.expired_unfetched);
    push(&mut l, "evicted_unfetched", store.evicted_unfetched);
    push(&mut l, "evictions", store.evictions);
    push(&mut l, "reclaimed", store.reclaimed);
    push(&mut l, "started", inner.started_unix);
    l
}

/// `stats items`: memkeepd has no slab classes, so the whole store reports as class 1.
pub(super) fn items(store: &Store, counters: &CommandCounters) -> Lines {
    let s = store.stats();
    if s.curr_items == 0 {
        return Lines::new();
    }
    let mut l = Lines::new();
    push(&mut l, "items:1:number", s.curr_items);
    push(&mut l, "items:1:mem_requested", s.bytes);
    push(&mut l, "items:1:evicted", s.evictions);
    push(
        &mut l,
        "items:1:outofmemory",
        counters.get(Counter::StoreNoMemory),
    );
    push(&mut l, "items:1:reclaimed", s.reclaimed);
    push(&mut l, "items:1:expired_unfetched", s.expired_unfetched);
    push(&mut l, "items:1:evicted_unfetched", s.evicted_unfetched);
    l
}

/// `stats slabs`: one pseudo class holding every item.
pub(super) fn slabs(store: &Store, counters: &CommandCounters) -> Lines {
    let s = store.stats();
    let mut l = Lines::new();
    if s.curr_items > 0 {
        push(&mut l, "1:used_chunks", s.curr_items);
        push(&mut l, "1:get_hits", counters.get(Counter::GetHits));
        push(&mut l, "1:cmd_set", counters.get(Counter::CmdSet));
        push(&mut l, "1:delete_hits", counters.get(Counter::DeleteHits));
        push(&mut l, "1:incr_hits", counters.get(Counter::IncrHits));
        push(&mut l, "1:decr_hits", counters.get(Counter::DecrHits));
        push(&mut l, "1:cas_hits", counters.get(Counter::CasHits));
        push(&mut l, "1:cas_badval", counters.get(Counter::CasBadval));
        push(&mut l, "1:touch_hits", counters.get(Counter::TouchHits));
    }
    push(&mut l, "active_slabs", u32::from(s.curr_items > 0));
    push(&mut l, "total_malloced", s.bytes);
    l
}
