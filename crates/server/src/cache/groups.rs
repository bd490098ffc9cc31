//! The `stats` groups other than the general one and `settings`: `items`, `slabs`,
//! `sizes`, `cachedump`, `detail`, `extstore`, `conns`, `reset`, each answered as
//! memcached 1.6.18 answers it (a subcommand's extra words are ignored, as there).
//!
//! memkeepd's memory is not cut into slab classes, so `items` and `slabs` report the
//! whole store as class 1, with memcached's fields: items that would be hot, warm or
//! temporary in memcached's segmented LRU are all in memkeepd's one CLOCK queue, so
//! they count as cold (as in memcached's flat LRU mode); `tailrepairs`,
//! `lrutail_reflocked`, `moves_*` and `hits_to_hot|warm|temp` are 0 for want of the
//! mechanism. `slabs` leaves out the page and chunk geometry memcached reports
//! (`chunk_size`, `total_pages`...), which has no counterpart, and reports the memory
//! memkeepd holds as `total_malloced`. `cachedump` lists the items whose size falls
//! in a class. `extstore` is empty, as in a memcached without external storage.

use bytes::Bytes;
use memkeep_protocol::{strtoull, Response};

use super::prefixes::PrefixStats;
use super::report::{self, push, Lines};
use super::{Cache, Counter};

/// Answers `stats <group> [arguments]`.
pub(super) fn stats(cache: &Cache, group: &[u8]) -> Response {
    let inner = &*cache.inner;
    let mut words = group.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let sub = words.next().unwrap_or_default();
    let args: Vec<&[u8]> = words.collect();
    match sub {
        b"" => Response::Stats(report::general(cache)),
        b"settings" => Response::Stats(report::settings(cache)),
        b"items" => Response::Stats(items(cache)),
        b"slabs" => Response::Stats(slabs(cache)),
        b"conns" => Response::Stats(inner.connections.registry.report()),
        b"extstore" => Response::Stats(Lines::new()),
        b"sizes" => sizes(cache),
        b"sizes_enable" | b"sizes_disable" => {
            let on = sub == b"sizes_enable";
            inner
                .sizes_enabled
                .store(on, std::sync::atomic::Ordering::Relaxed);
            // memcached answers these with a lone STAT line and no END.
            Response::Raw(sizes_status(on))
        }
        b"cachedump" => cachedump(cache, &args),
        b"detail" => detail(&inner.prefixes, args.first().copied()),
        b"reset" => {
            inner.counters.reset();
            inner.connections.reset();
            inner.store.reset_stats();
            inner.store.watchers().reset();
            inner.prefixes.clear();
            Response::Reset
        }
        _ => Response::Error,
    }
}

/// Answers a binary STAT request with key `group`, which memcached reads its own way
/// (proto_bin.c): `reset`, `settings` and `detail` match as prefixes, `detail dump`
/// comes back as one stat named `detailed` holding the dump's text, and only `items`,
/// `slabs`, `sizes`, `sizes_enable` and `sizes_disable` besides, matched exactly: any
/// other key (`conns`, `cachedump`, `items 1`...) is "Not found".
pub(super) fn binary_stats(cache: &Cache, group: &[u8]) -> Response {
    let inner = &*cache.inner;
    if group.is_empty() {
        return stats(cache, group);
    }
    if group.starts_with(b"reset") {
        return stats(cache, b"reset");
    }
    if group.starts_with(b"settings") {
        return stats(cache, b"settings");
    }
    if let Some(sub) = group.strip_prefix(b"detail") {
        return if sub.starts_with(b" dump") {
            let dump = inner.prefixes.dump();
            let mut l = Lines::new();
            push(&mut l, "detailed", String::from_utf8_lossy(&dump));
            Response::Stats(l)
        } else if sub.starts_with(b" on") {
            detail(&inner.prefixes, Some(b"on"))
        } else if sub.starts_with(b" off") {
            detail(&inner.prefixes, Some(b"off"))
        } else {
            Response::NotFound
        };
    }
    match group {
        b"items" | b"slabs" | b"sizes" => stats(cache, group),
        // A lone stat, without the packet that ends other STAT replies (as text
        // has no END): the binary encoder sends a raw STAT line as one packet.
        b"sizes_enable" | b"sizes_disable" => stats(cache, group),
        _ => Response::NotFound,
    }
}

fn sizes_status(on: bool) -> Bytes {
    Bytes::from_static(if on {
        b"STAT sizes_status enabled\r\n"
    } else {
        b"STAT sizes_status disabled\r\n"
    })
}

/// `stats sizes`: the status, or once enabled the item counts by size. memcached
/// counts from the moment sizes are enabled; here every live item is counted, by a
/// walk when asked.
fn sizes(cache: &Cache) -> Response {
    let inner = &*cache.inner;
    if !inner
        .sizes_enabled
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        let mut l = Lines::new();
        push(&mut l, "sizes_status", "disabled");
        return Response::Stats(l);
    }
    let lines = inner
        .store
        .size_histogram()
        .into_iter()
        .map(|(size, count)| (size.to_string(), count.to_string()))
        .collect();
    Response::Stats(lines)
}

/// `stats cachedump <class> <limit>`: memcached's checks, then the listing.
fn cachedump(cache: &Cache, args: &[&[u8]]) -> Response {
    if args.len() < 2 {
        return Response::ClientError("bad command line".into());
    }
    // memcached reads both with its 32-bit strtoul.
    let number = |word: &[u8]| strtoull(word).map(|n| n as u32);
    let (Some(class), Some(limit)) = (number(args[0]), number(args[1])) else {
        return Response::ClientError("bad command line format".into());
    };
    if class >= 64 {
        return Response::ClientError("Illegal slab id".into());
    }
    Response::Raw(cache.inner.store.cachedump(class, limit))
}

/// `stats detail on|off|dump`.
fn detail(prefixes: &PrefixStats, arg: Option<&[u8]>) -> Response {
    match arg {
        Some(b"on") => {
            prefixes.set_enabled(true);
            Response::Ok
        }
        Some(b"off") => {
            prefixes.set_enabled(false);
            Response::Ok
        }
        Some(b"dump") => Response::Raw(prefixes.dump()),
        _ => Response::ClientError("usage: stats detail on|off|dump".into()),
    }
}

/// `stats items`: the whole store as class 1, nothing when it is empty.
fn items(cache: &Cache) -> Lines {
    let inner = &*cache.inner;
    let s = inner.store.stats();
    let mut l = Lines::new();
    if s.curr_items == 0 {
        return l;
    }
    let hits = inner.counters.get(Counter::GetHits);
    // memcached prints `number_temp` only with its temporary LRU on (`-o temp_lru`).
    let fields: [(&str, u64); 28] = [
        ("number", s.curr_items),
        ("number_hot", 0),
        ("number_warm", 0),
        ("number_cold", s.curr_items),
        ("age_hot", 0),
        ("age_warm", 0),
        ("age", u64::from(s.oldest_item_age)),
        ("mem_requested", s.bytes),
        ("evicted", s.evictions),
        ("evicted_nonzero", s.evicted_nonzero),
        ("evicted_time", u64::from(s.evicted_time)),
        ("outofmemory", inner.counters.get(Counter::StoreNoMemory)),
        ("tailrepairs", 0),
        ("reclaimed", s.reclaimed),
        ("expired_unfetched", s.expired_unfetched),
        ("evicted_unfetched", s.evicted_unfetched),
        ("evicted_active", 0),
        ("crawler_reclaimed", s.crawler_reclaimed),
        ("crawler_items_checked", s.crawler_items_checked),
        ("lrutail_reflocked", 0),
        ("moves_to_cold", 0),
        ("moves_to_warm", 0),
        ("moves_within_lru", 0),
        ("direct_reclaims", s.direct_reclaims),
        ("hits_to_hot", 0),
        ("hits_to_warm", 0),
        ("hits_to_cold", hits),
        ("hits_to_temp", 0),
    ];
    for (name, value) in fields {
        push(&mut l, &format!("items:1:{name}"), value);
    }
    l
}

/// `stats slabs`: one class holding every item.
fn slabs(cache: &Cache) -> Lines {
    let inner = &*cache.inner;
    let counters = &inner.counters;
    let s = inner.store.stats();
    let mut l = Lines::new();
    if s.curr_items > 0 {
        push(&mut l, "1:used_chunks", s.curr_items);
        for c in [
            Counter::GetHits,
            Counter::CmdSet,
            Counter::DeleteHits,
            Counter::IncrHits,
            Counter::DecrHits,
            Counter::CasHits,
            Counter::CasBadval,
            Counter::TouchHits,
        ] {
            push(&mut l, &format!("1:{}", c.name()), counters.get(c));
        }
    }
    push(&mut l, "active_slabs", u32::from(s.curr_items > 0));
    push(&mut l, "total_malloced", s.memory);
    l
}
