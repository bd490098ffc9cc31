//! memcached's administrative commands: `stats cachedump|detail|sizes|extstore`,
//! `cache_memlimit`, `slabs automove|reassign`, `lru_crawler`, `lru mode|tune|temp_ttl`
//! and `watch`'s refusals.
//! Every case leaves the server's settings as it found them (the tables share one
//! server). Not run through the proxy: these are about one server.
//!
//! Where memkeepd has no such mechanism it answers as memcached does for the nearest
//! meaning (see the cache's `admin` module): `slabs reassign` checks its classes and
//! then finds no spare page. Item listings (`stats cachedump` of a class with items)
//! are not compared: memcached's depends on which segment of its LRU an item sits in.

use std::io::Write;
use std::time::Duration;

use super::Case;
use crate::support::{read_until, wait_for, Server};

pub const CASES: &[Case] = &[
    // A class of 64 KiB items, which no case stores: memcached drops flushed items
    // in the background, so the small classes may still list an earlier case's keys.
    Case {
        name: "cachedump of an empty class",
        send: b"stats cachedump 30 0\r\n",
        expect: b"END\r\n",
    },
    Case {
        name: "cachedump without a limit",
        send: b"stats cachedump 1\r\n",
        expect: b"CLIENT_ERROR bad command line\r\n",
    },
    Case {
        name: "cachedump of a class that is not a number",
        send: b"stats cachedump x 1\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\n",
    },
    Case {
        name: "cachedump past the last class",
        send: b"stats cachedump 64 1\r\n",
        expect: b"CLIENT_ERROR Illegal slab id\r\n",
    },
    Case {
        name: "stats detail without a word",
        send: b"stats detail\r\n",
        expect: b"CLIENT_ERROR usage: stats detail on|off|dump\r\n",
    },
    Case {
        name: "stats detail with an unknown word",
        send: b"stats detail bogus\r\n",
        expect: b"CLIENT_ERROR usage: stats detail on|off|dump\r\n",
    },
    Case {
        name: "stats detail ignores noreply and extra words",
        send: b"stats detail on noreply\r\nstats detail off extra\r\n",
        expect: b"OK\r\nOK\r\n",
    },
    Case {
        name: "stats detail counts text commands by prefix",
        send: b"stats detail on\r\nstats reset\r\nset a:1 0 0 1\r\nx\r\nget a:1 a:2 b\r\ndelete a:1\r\nmg a:1 v\r\nms a:3 1\r\ny\r\nincr a:1 1\r\nstats detail dump\r\nstats detail off\r\nstats reset\r\nstats detail dump\r\n",
        expect: b"OK\r\nRESET\r\nSTORED\r\nVALUE a:1 0 1\r\nx\r\nEND\r\nDELETED\r\nEN\r\nHD\r\nNOT_FOUND\r\nPREFIX a get 2 hit 1 set 1 del 1\r\nEND\r\nOK\r\nRESET\r\nEND\r\n",
    },
    Case {
        name: "refresh_certs without TLS, noreply or not",
        send: b"refresh_certs\r\nrefresh_certs noreply\r\nrefresh_certs a b\r\n",
        expect: b"Error TLS not enabled\r\nError TLS not enabled\r\nError TLS not enabled\r\n",
    },
    Case {
        name: "stats sizes while disabled",
        send: b"stats sizes\r\n",
        expect: b"STAT sizes_status disabled\r\nEND\r\n",
    },
    Case {
        name: "stats sizes_enable and sizes_disable have no END",
        send: b"stats sizes_enable\r\nstats sizes_disable extra\r\n",
        expect: b"STAT sizes_status enabled\r\nSTAT sizes_status disabled\r\n",
    },
    Case {
        name: "stats extstore without external storage",
        send: b"stats extstore\r\n",
        expect: b"END\r\n",
    },
    Case {
        name: "stats reset ignores extra words",
        send: b"stats reset extra\r\n",
        expect: b"RESET\r\n",
    },
    Case {
        name: "cache_memlimit up and back",
        send: b"cache_memlimit 100\r\ncache_memlimit 64\r\n",
        expect: b"OK\r\nOK\r\n",
    },
    Case {
        name: "cache_memlimit below 8 megabytes",
        send: b"cache_memlimit 7\r\n",
        expect: b"MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n",
    },
    Case {
        name: "cache_memlimit in bytes",
        send: b"cache_memlimit 1000000001\r\n",
        expect: b"MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes\r\n",
    },
    Case {
        name: "cache_memlimit of 2^32 megabytes reads as 0",
        send: b"cache_memlimit 4294967296\r\n",
        expect: b"MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n",
    },
    Case {
        name: "cache_memlimit without a number",
        send: b"cache_memlimit\r\ncache_memlimit x\r\ncache_memlimit -1\r\ncache_memlimit 64 x y\r\n",
        expect: b"ERROR\r\nERROR\r\nERROR\r\nERROR\r\n",
    },
    Case {
        name: "cache_memlimit noreply",
        send: b"cache_memlimit 64 noreply\r\ncache_memlimit x noreply\r\nmn\r\n",
        expect: b"MN\r\n",
    },
    Case {
        name: "slabs automove levels",
        send: b"slabs automove 2\r\nslabs automove 0\r\nslabs automove 1\r\nslabs automove 3\r\n",
        expect: b"OK\r\nOK\r\nOK\r\nERROR\r\n",
    },
    Case {
        name: "slabs automove errors",
        send: b"slabs automove x\r\nslabs automove\r\nslabs\r\nslabs bogus\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\nERROR\r\nERROR\r\nERROR\r\n",
    },
    Case {
        name: "slabs automove noreply",
        send: b"slabs automove 1 noreply\r\nslabs automove 9 noreply\r\nmn\r\n",
        expect: b"MN\r\n",
    },
    Case {
        name: "slabs automove ratio",
        send: b"slabs automove ratio 0.5\r\nslabs automove ratio 0.8\r\nslabs automove ratio\r\nslabs automove ratio x y\r\n",
        expect: b"OK\r\nOK\r\nERROR\r\nERROR\r\n",
    },
    Case {
        name: "slabs reassign between classes",
        send: b"slabs reassign 1 2\r\nslabs reassign 39 1\r\nslabs reassign 2 0\r\n",
        expect: b"NOSPARE source class has no spare pages\r\nNOSPARE source class has no spare pages\r\nNOSPARE source class has no spare pages\r\n",
    },
    Case {
        name: "slabs reassign bad classes",
        send: b"slabs reassign 1 1\r\nslabs reassign -1 2\r\nslabs reassign 64 2\r\nslabs reassign 40 1\r\nslabs reassign 1 -1\r\n",
        expect: b"SAME src and dst class are identical\r\nBADCLASS invalid src or dst class id\r\nBADCLASS invalid src or dst class id\r\nBADCLASS invalid src or dst class id\r\nBADCLASS invalid src or dst class id\r\n",
    },
    Case {
        name: "slabs reassign malformed",
        send: b"slabs reassign x 2\r\nslabs reassign 1\r\nslabs reassign 1 2 3\r\nslabs reassign 1 2 noreply\r\n",
        expect: b"CLIENT_ERROR bad command line format\r\nERROR\r\nERROR\r\nERROR\r\n",
    },
    Case {
        name: "lru_crawler sleep and tocrawl",
        send: b"lru_crawler sleep 50\r\nlru_crawler sleep 100\r\nlru_crawler tocrawl 10\r\nlru_crawler tocrawl 0\r\n",
        expect: b"OK\r\nOK\r\nOK\r\nOK\r\n",
    },
    Case {
        name: "lru_crawler sleep and tocrawl errors",
        send: b"lru_crawler sleep 1000001\r\nlru_crawler sleep x\r\nlru_crawler sleep\r\nlru_crawler tocrawl x\r\n",
        expect: b"CLIENT_ERROR sleep must be one second or less\r\nCLIENT_ERROR bad command line format\r\nERROR\r\nCLIENT_ERROR bad command line format\r\n",
    },
    Case {
        name: "lru_crawler enable while enabled",
        send: b"lru_crawler enable\r\n",
        expect: b"ERROR failed to start lru crawler thread\r\n",
    },
    Case {
        name: "lru_crawler crawl bad classes",
        send: b"lru_crawler crawl 0\r\nlru_crawler crawl 64\r\nlru_crawler crawl 1,x\r\nlru_crawler crawl hash\r\n",
        expect: b"BADCLASS invalid class id\r\nBADCLASS invalid class id\r\nBADCLASS invalid class id\r\nERROR an unknown error happened\r\n",
    },
    Case {
        name: "lru_crawler malformed",
        send: b"lru_crawler\r\nlru_crawler bogus\r\nlru_crawler crawl\r\nlru_crawler crawl all noreply\r\nlru_crawler enable noreply\r\nlru_crawler mgdump all\r\n",
        expect: b"ERROR\r\nERROR\r\nERROR\r\nERROR\r\nERROR\r\nERROR\r\n",
    },
    // memcached's defaults are put back: segmented, 20 40 0.2 2.0, no temporary LRU
    // (its TTL 61).
    Case {
        name: "lru mode, tune and temp_ttl",
        send: b"lru mode flat\r\nlru mode segmented extra\r\nlru tune 10 25 0.1 2.5\r\nlru tune 0 80 1 1 extra\r\nlru tune 20 40 0.2 2.0\r\nlru temp_ttl 100\r\nlru temp_ttl 61\r\nlru temp_ttl -1\r\n",
        expect: b"OK\r\nOK\r\nOK\r\nOK\r\nOK\r\nOK\r\nOK\r\nOK\r\n",
    },
    Case {
        name: "lru noreply is silent, errors too",
        send: b"lru mode segmented noreply\r\nlru mode bogus noreply\r\nlru tune 50 50 1 1 noreply\r\nlru temp_ttl -1 noreply\r\nlru mode segmented\r\n",
        expect: b"OK\r\n",
    },
    Case {
        name: "lru tune refusals",
        send: b"lru tune 50 31 1 1\r\nlru tune 10 25 0 2\r\nlru tune 10 25 0.1 -1\r\nlru tune 99 1 0 0\r\n",
        expect: b"ERROR hot and warm pcts must not exceed 80\r\nERROR hot/warm age factors must be greater than 0\r\nERROR hot/warm age factors must be greater than 0\r\nERROR hot and warm pcts must not exceed 80\r\n",
    },
    Case {
        name: "lru malformed",
        send: b"lru\r\nlru mode\r\nlru mode bogus\r\nlru tune 10 25 0.1\r\nlru tune a 25 0.1 2\r\nlru tune 10 25 0.1 2x\r\nlru temp_ttl\r\nlru temp_ttl x\r\nlru bogus 1\r\nLRU mode flat\r\n",
        expect: b"ERROR\r\nERROR\r\nERROR\r\nERROR\r\nERROR\r\nERROR\r\nERROR\r\nERROR\r\nERROR\r\nERROR\r\n",
    },
    // memcached refuses a watch pipelined behind other commands' replies ("ERROR
    // cannot pipeline other commands before watch"); memkeepd answers it after them.
    Case {
        name: "watch with an unknown kind",
        send: b"watch bogus\r\n",
        expect: b"ERROR\r\n",
    },
    Case {
        name: "watch kinds are lower case",
        send: b"watch fetchers FETCHERS\r\n",
        expect: b"ERROR\r\n",
    },
    Case {
        name: "watch noreply",
        send: b"watch noreply\r\nwatch fetchers noreply\r\nmn\r\n",
        expect: b"MN\r\n",
    },
];

/// One command and its whole reply, sent once the previous reply is in.
pub struct Step {
    pub send: &'static [u8],
    pub expect: &'static [u8],
}

/// Sends the steps one at a time on one connection, each after the last reply.
pub fn run_steps(server: &Server, steps: &[Step]) {
    let mut conn = server.connect();
    for step in steps {
        conn.write_all(step.send).unwrap();
        let (got, _) = read_until(&mut conn, Duration::from_secs(5), |got| {
            got.len() >= step.expect.len()
        });
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(step.expect),
            "{}: after {:?}",
            server.name,
            String::from_utf8_lossy(step.send)
        );
    }
}

/// Disabling the crawler, twice. memcached stops its crawler thread in the
/// background: until the thread is gone (see [`crawler_stopped`]) a crawl finds the
/// crawler neither running nor off ("ERROR an unknown error happened").
pub const CRAWLER_OFF: &[Step] = &[
    Step {
        send: b"lru_crawler disable\r\n",
        expect: b"OK\r\n",
    },
    Step {
        send: b"lru_crawler disable\r\n",
        expect: b"OK\r\n",
    },
];

/// A disabled crawler refuses crawls and metadumps until it is enabled again.
pub const CRAWLER_REFUSES: &[Step] = &[
    Step {
        send: b"lru_crawler crawl all\r\n",
        expect: b"CLIENT_ERROR lru crawler disabled\r\n",
    },
    Step {
        send: b"lru_crawler metadump all\r\n",
        expect: b"CLIENT_ERROR lru crawler disabled\r\n",
    },
    Step {
        send: b"lru_crawler crawl 0\r\n",
        expect: b"CLIENT_ERROR lru crawler disabled\r\n",
    },
];

/// Waits until `stats settings` says the crawler is off: memcached's crawler thread
/// says so as it exits.
pub fn crawler_stopped(server: &Server) {
    let mut conn = server.connect();
    let stopped = wait_for(Duration::from_secs(10), || {
        conn.write_all(b"stats settings\r\n").unwrap();
        let (got, _) = read_until(&mut conn, Duration::from_secs(5), |g| {
            g.ends_with(b"END\r\n")
        });
        String::from_utf8_lossy(&got).contains("STAT lru_crawler no\r\n")
    });
    assert!(stopped, "{}: crawler still on", server.name);
}

/// Turns the crawler back on, waiting for a disabled one to have stopped.
pub fn enable_crawler(server: &Server) {
    let mut conn = server.connect();
    let enabled = wait_for(Duration::from_secs(10), || {
        conn.write_all(b"lru_crawler enable\r\n").unwrap();
        let (got, _) = read_until(&mut conn, Duration::from_secs(5), |g| g.ends_with(b"\r\n"));
        got == b"OK\r\n"
    });
    assert!(enabled, "{}: crawler not enabled again", server.name);
}

/// The names of a stats group's lines, in order (`STAT <name> <value>`).
pub fn stat_names(server: &Server, command: &[u8]) -> Vec<String> {
    let mut conn = server.connect();
    conn.write_all(command).unwrap();
    let (got, _) = read_until(&mut conn, Duration::from_secs(5), |g| {
        g.ends_with(b"END\r\n")
    });
    String::from_utf8_lossy(&got)
        .lines()
        .filter_map(|l| l.strip_prefix("STAT "))
        .map(|l| l.split(' ').next().unwrap_or_default().to_owned())
        .collect()
}

/// A stat from `stats`, as a number.
pub fn stat(server: &Server, name: &str) -> u64 {
    let mut conn = server.connect();
    conn.write_all(b"stats\r\n").unwrap();
    let (got, _) = read_until(&mut conn, Duration::from_secs(5), |g| {
        g.ends_with(b"END\r\n")
    });
    let text = String::from_utf8_lossy(&got).into_owned();
    let prefix = format!("STAT {name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{}: no {name} in stats", server.name))
        .trim()
        .parse()
        .unwrap()
}

/// `cache_memlimit` changes the memory limit `stats` reports, and back.
pub fn memlimit_changes_limit_maxbytes(server: &Server) {
    run_steps(
        server,
        &[Step {
            send: b"cache_memlimit 100\r\n",
            expect: b"OK\r\n",
        }],
    );
    assert_eq!(stat(server, "limit_maxbytes"), 100 << 20, "{}", server.name);
    run_steps(
        server,
        &[Step {
            send: b"cache_memlimit 64\r\n",
            expect: b"OK\r\n",
        }],
    );
    assert_eq!(stat(server, "limit_maxbytes"), 64 << 20, "{}", server.name);
}

/// The value of one `stats settings` line.
pub fn setting(server: &Server, name: &str) -> String {
    let mut conn = server.connect();
    conn.write_all(b"stats settings\r\n").unwrap();
    let (got, _) = read_until(&mut conn, Duration::from_secs(5), |g| {
        g.ends_with(b"END\r\n")
    });
    let text = String::from_utf8_lossy(&got).into_owned();
    let prefix = format!("STAT {name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{}: no {name} in stats settings", server.name))
        .to_owned()
}

/// What the administrative commands change shows in `stats settings`, and is put
/// back.
pub fn settings_follow_the_commands(server: &Server) {
    let tuned = [
        ("stats detail on\r\n", "detail_enabled", "yes"),
        ("slabs automove 2\r\n", "slab_automove", "2"),
        (
            "slabs automove ratio 0.5\r\n",
            "slab_automove_ratio",
            "0.50",
        ),
        ("lru_crawler sleep 50\r\n", "lru_crawler_sleep", "50"),
        ("lru_crawler tocrawl 3\r\n", "lru_crawler_tocrawl", "3"),
        ("cache_memlimit 100\r\n", "maxbytes", "104857600"),
    ];
    let defaults = [
        ("stats detail off\r\n", "detail_enabled", "no"),
        ("slabs automove 1\r\n", "slab_automove", "1"),
        (
            "slabs automove ratio 0.8\r\n",
            "slab_automove_ratio",
            "0.80",
        ),
        ("lru_crawler sleep 100\r\n", "lru_crawler_sleep", "100"),
        ("lru_crawler tocrawl 0\r\n", "lru_crawler_tocrawl", "0"),
        ("cache_memlimit 64\r\n", "maxbytes", "67108864"),
    ];
    for (command, name, value) in tuned.into_iter().chain(defaults) {
        let mut conn = server.connect();
        conn.write_all(command.as_bytes()).unwrap();
        let (got, _) = read_until(&mut conn, Duration::from_secs(5), |g| g.ends_with(b"\r\n"));
        assert_eq!(got, b"OK\r\n", "{}: {command:?}", server.name);
        assert_eq!(setting(server, name), value, "{}: {command:?}", server.name);
    }
    assert_eq!(setting(server, "stat_key_prefix"), ":", "{}", server.name);
    assert_eq!(setting(server, "lru_crawler"), "yes", "{}", server.name);
}

/// `lru_crawler crawl all` reclaims an expired item without it being looked up:
/// `crawler_reclaimed` counts it. Crawls run in the background, so this asks again
/// (`BUSY` while one runs) until the count moves.
pub fn crawl_reclaims_expired_items(server: &Server) {
    let mut conn = server.connect();
    conn.write_all(b"set crawled 0 1 1\r\nx\r\n").unwrap();
    let (got, _) = read_until(&mut conn, Duration::from_secs(5), |g| g.ends_with(b"\r\n"));
    assert_eq!(got, b"STORED\r\n", "{}", server.name);
    let before = stat(server, "crawler_reclaimed");
    let reclaimed = wait_for(Duration::from_secs(15), || {
        conn.write_all(b"lru_crawler crawl all\r\n").unwrap();
        let (got, _) = read_until(&mut conn, Duration::from_secs(5), |g| g.ends_with(b"\r\n"));
        assert!(
            got == b"OK\r\n" || got == b"BUSY currently processing crawler request\r\n",
            "{}: {:?}",
            server.name,
            String::from_utf8_lossy(&got)
        );
        stat(server, "crawler_reclaimed") > before
    });
    assert!(
        reclaimed,
        "{}: the expired item was not reclaimed",
        server.name
    );
    assert!(stat(server, "lru_crawler_starts") > 0, "{}", server.name);
}
