//! memcached's `-o` options: what is applied, what is refused with memcached's words, and
//! the checks between `-I`, `-m` and the slab settings.

use super::*;

fn parse(options: &str) -> Result<Extended, String> {
    Extended::parse(&[options.to_owned()])
}

#[test]
fn applied_options() {
    let e = parse("idle_timeout=5,request_timeout=0,modern,hashpower=20").unwrap();
    assert_eq!(e.idle_timeout, Some(Duration::from_secs(5)));
    assert_eq!(e.request_timeout, None);
    // memcached reads idle_timeout with atoi.
    assert_eq!(
        parse("idle_timeout=7x").unwrap().idle_timeout,
        Some(Duration::from_secs(7))
    );
    assert_eq!(parse("idle_timeout=abc").unwrap().idle_timeout, None);
    assert!(parse("modern,").is_ok());
}

#[test]
fn refused_with_memcacheds_words() {
    for (options, message) in [
        ("bogus=1", "Illegal suboption \"bogus=1\""),
        (",modern", "Illegal suboption \"\""),
        (",", "Illegal suboption \"\""),
        ("hashpower", "Missing numeric argument for hashpower"),
        (
            "hashpower=11",
            "Initial hashtable multiplier of 11 is too low",
        ),
        ("slab_automove=3", "slab_automove must be between 0 and 2"),
        ("tail_repair_time=5", "Cannot set tail_repair_time"),
        ("hash_algorithm=md5", "Unknown hash_algorithm option"),
        ("hot_lru_pct=80", "hot_lru_pct must be > 1 and < 80"),
        ("lru_crawler_tocrawl=x", "takes a numeric 32bit value"),
        ("ext_path=/tmp/x", "must supply size to ext_path"),
        (
            "ext_wbuf_size=x",
            "could not parse argument to ext_wbuf_size",
        ),
        ("slab_chunk_max=0", "greater than 0"),
    ] {
        let error = parse(options).unwrap_err();
        assert!(error.contains(message), "{options}: {error}");
    }
}

#[test]
fn item_size_checks_follow_memcached() {
    let check = |options: &str, item: i32, mb: u64| {
        parse(options)
            .unwrap()
            .check_with(item, mb * 1024 * 1024, 48, 4)
    };
    assert!(check("", 1024 * 1024, 64).is_ok());
    assert!(check("", 2 * 1024 * 1024, 64).is_ok());
    assert!(check("", 256 * 1024 * 1024, 64)
        .unwrap_err()
        .contains("1/2 of memory max"));
    assert!(check("", 1024, 64)
        .unwrap_err()
        .contains("cannot be larger than -I"));
    assert!(check("", 600 * 1024, 64)
        .unwrap_err()
        .contains("evenly divisible"));
    assert!(check("slab_chunk_max=2048", 4096, 64).is_ok());
    assert!(check("slab_chunk_max=3000", 6000, 64)
        .unwrap_err()
        .contains("slab_page_size"));
    assert!(check("no_modern", 512 * 1024, 64).is_err());
    assert!(check("no_modern", 2 * 1024 * 1024, 64).is_ok());
    assert!(check("ext_path=/x:64m", 8 * 1024 * 1024, 64)
        .unwrap_err()
        .contains("ext_wbuf_size"));
    assert!(check("slab_sizes=100-105", 1024 * 1024, 64)
        .unwrap_err()
        .contains("8 bytes larger"));
    assert!(check("worker_logbuf_size=32", 1024 * 1024, 64)
        .unwrap_err()
        .contains("out of valid range"));
    assert!(check("hot_lru_pct=50,warm_lru_pct=40", 1024 * 1024, 64).is_err());
    assert!(check("no_lru_maintainer,temporary_ttl=61", 1024 * 1024, 64).is_err());
    assert!(check("hashpower=12", 1024 * 1024, 64)
        .unwrap_err()
        .contains("item lock table (12)"));
    assert!(check("hashpower=13", 1024 * 1024, 64).is_ok());
}
