//! Server side: memcached's administrative command lines (`cache_memlimit`, `slabs`,
//! `lru_crawler`, `lru`, `watch`), with memcached 1.6.18's argument checks and error replies,
//! `noreply` honoured exactly where memcached honours it.

use bytes::{BufMut, BytesMut};

use super::decode::{error, request};
use super::metadump;
use super::number::{strtol_i32, strtoul_u32};
use super::tokens::Tokens;
use crate::{
    Admin, Command, DecodeError, MetadumpScope, ProtocolError, Ratio, Request, TextVerb,
    WatchEvents,
};

/// The answer to an administrative line: a request for the server, or an error
/// memcached gives from the line alone.
pub(super) fn decode_admin(verb: TextVerb, tokens: &Tokens<'_>) -> Result<Request, DecodeError> {
    let (result, noreply) = match verb {
        TextVerb::CacheMemlimit => cache_memlimit(tokens),
        TextVerb::Slabs => slabs(tokens),
        TextVerb::LruCrawler => (lru_crawler(tokens), false),
        TextVerb::Lru => lru(tokens),
        // Any words after it are ignored; `noreply` is honoured.
        TextVerb::RefreshCerts => (Ok(Command::Admin(Admin::RefreshCerts)), tokens.noreply()),
        _ => watch(tokens),
    };
    match result {
        Ok(command) => Ok(request(command, verb, noreply)),
        Err(e) => Err(error(e, verb, noreply, false)),
    }
}

type Parsed = Result<Command, ProtocolError>;

/// `cache_memlimit <megabytes> [noreply]`; a number memcached cannot read is `ERROR`.
fn cache_memlimit(tokens: &Tokens<'_>) -> (Parsed, bool) {
    let n = tokens.ntokens();
    if n != 3 && n != 4 {
        return (Err(ProtocolError::UnknownCommand), false);
    }
    let noreply = tokens.noreply();
    let parsed = strtoul_u32(tokens.get(1))
        .map(|mb| Command::Admin(Admin::CacheMemlimit(mb)))
        .ok_or(ProtocolError::UnknownCommand);
    (parsed, noreply)
}

/// `slabs reassign <src> <dst>` (exactly, no `noreply`) and
/// `slabs automove <0|1|2> | ratio <r> [noreply]`.
fn slabs(tokens: &Tokens<'_>) -> (Parsed, bool) {
    let n = tokens.ntokens();
    match tokens.get(1) {
        b"reassign" if n == 5 => {
            let parsed = match (strtol_i32(tokens.get(2)), strtol_i32(tokens.get(3))) {
                (Some(src), Some(dst)) => Ok(Command::Admin(Admin::SlabsReassign { src, dst })),
                _ => Err(ProtocolError::BadCommandLine),
            };
            (parsed, false)
        }
        b"automove" if n >= 4 => {
            let noreply = tokens.noreply();
            let parsed = if tokens.get(2) == b"ratio" {
                match strtod(tokens.get(3)).filter(|_| n >= 5) {
                    Some(ratio) => Ok(Admin::SlabsAutomoveRatio(Ratio(ratio))),
                    None => Err(ProtocolError::UnknownCommand),
                }
            } else {
                match strtoul_u32(tokens.get(2)) {
                    Some(level @ 0..=2) => Ok(Admin::SlabsAutomove(level)),
                    Some(_) => Err(ProtocolError::UnknownCommand),
                    None => Err(ProtocolError::BadCommandLine),
                }
            };
            (parsed.map(Command::Admin), noreply)
        }
        _ => (Err(ProtocolError::UnknownCommand), false),
    }
}

/// `lru_crawler metadump|crawl <classes>`, `sleep|tocrawl <n>`, `enable|disable`.
/// memcached checks the word count exactly, so `noreply` makes any of them `ERROR`.
fn lru_crawler(tokens: &Tokens<'_>) -> Parsed {
    let number = || strtoul_u32(tokens.get(2)).ok_or(ProtocolError::BadCommandLine);
    let admin = match (tokens.ntokens(), tokens.get(1)) {
        (4, b"metadump") => return Ok(Command::Metadump(scope(tokens.get(2)))),
        // `hash` (walk the hash table) is a metadump mode a crawl has not.
        (4, b"crawl") if tokens.get(2) == b"hash" => Admin::LruCrawlerCrawl(None),
        (4, b"crawl") => Admin::LruCrawlerCrawl(Some(scope(tokens.get(2)))),
        (4, b"tocrawl") => Admin::LruCrawlerToCrawl(number()?),
        (4, b"sleep") => match number()? {
            micros @ 0..=1_000_000 => Admin::LruCrawlerSleep(micros),
            _ => return Err(ProtocolError::CrawlerSleepTooLong),
        },
        (3, b"enable") => Admin::LruCrawler(true),
        (3, b"disable") => Admin::LruCrawler(false),
        _ => return Err(ProtocolError::UnknownCommand),
    };
    Ok(Command::Admin(admin))
}

/// `lru tune <hot pct> <warm pct> <hot factor> <warm factor>`, `lru mode
/// flat|segmented`, `lru temp_ttl <seconds>`, each `[noreply]`; memcached reads the
/// words it needs and ignores any more.
fn lru(tokens: &Tokens<'_>) -> (Parsed, bool) {
    let noreply = tokens.noreply();
    let n = tokens.ntokens();
    let admin = match tokens.get(1) {
        b"tune" if n >= 7 => lru_tune(tokens),
        b"mode" if n >= 4 => match tokens.get(2) {
            b"flat" => Ok(Admin::LruMode(false)),
            b"segmented" => Ok(Admin::LruMode(true)),
            _ => Err(ProtocolError::UnknownCommand),
        },
        b"temp_ttl" if n >= 4 => strtol_i32(tokens.get(2))
            .map(Admin::LruTempTtl)
            .ok_or(ProtocolError::UnknownCommand),
        _ => Err(ProtocolError::UnknownCommand),
    };
    (admin.map(Command::Admin), noreply)
}

/// `lru tune`'s numbers, checked as memcached checks them.
fn lru_tune(tokens: &Tokens<'_>) -> Result<Admin, ProtocolError> {
    let numbers = (
        strtoul_u32(tokens.get(2)),
        strtoul_u32(tokens.get(3)),
        strtod(tokens.get(4)),
        strtod(tokens.get(5)),
    );
    let (Some(hot_pct), Some(warm_pct), Some(hot_factor), Some(warm_factor)) = numbers else {
        return Err(ProtocolError::UnknownCommand);
    };
    // memcached adds the two as 32-bit unsigned numbers.
    if hot_pct.wrapping_add(warm_pct) > 80 {
        return Err(ProtocolError::LruPctsTooLarge);
    }
    if warm_factor <= 0.0 || hot_factor <= 0.0 {
        return Err(ProtocolError::LruFactorsNotPositive);
    }
    Ok(Admin::LruTune {
        hot_pct,
        warm_pct,
        hot_factor: Ratio(hot_factor),
        warm_factor: Ratio(warm_factor),
    })
}

/// A crawler's class list: `all`, `hash` (every item too, walked by hash) or classes.
fn scope(list: &[u8]) -> MetadumpScope {
    match list {
        b"all" | b"hash" => MetadumpScope::All,
        list => match metadump::parse_classes(list) {
            Some(classes) => MetadumpScope::Classes(classes),
            None => MetadumpScope::BadClass,
        },
    }
}

/// `watch [rawcmds|evictions|fetchers|mutations|sysevents|connevents|proxy*]...`: a
/// bare `watch` streams fetchers; an unknown word (`noreply` included) is `ERROR`.
fn watch(tokens: &Tokens<'_>) -> (Parsed, bool) {
    let noreply = tokens.noreply();
    let mut events = WatchEvents::none();
    for i in 1..tokens.count() {
        match WatchEvents::from_name(tokens.get(i)) {
            Some(kind) => events = events.with(kind),
            None => return (Err(ProtocolError::UnknownCommand), noreply),
        }
    }
    if events.is_empty() {
        events = WatchEvents::FETCHERS;
    }
    (Ok(Command::Admin(Admin::Watch(events))), noreply)
}

/// Client side: the command's text line, without its line end.
pub(super) fn encode_request(admin: &Admin, out: &mut BytesMut) {
    let line = match admin {
        Admin::CacheMemlimit(mb) => format!("cache_memlimit {mb}"),
        Admin::SlabsAutomove(level) => format!("slabs automove {level}"),
        Admin::SlabsAutomoveRatio(Ratio(r)) => format!("slabs automove ratio {r}"),
        Admin::SlabsReassign { src, dst } => format!("slabs reassign {src} {dst}"),
        Admin::LruCrawler(true) => "lru_crawler enable".into(),
        Admin::LruCrawler(false) => "lru_crawler disable".into(),
        Admin::LruCrawlerSleep(micros) => format!("lru_crawler sleep {micros}"),
        Admin::LruCrawlerToCrawl(n) => format!("lru_crawler tocrawl {n}"),
        Admin::LruCrawlerCrawl(scope) => {
            let list = match scope {
                None => "hash".to_owned(),
                Some(MetadumpScope::All) => "all".to_owned(),
                Some(MetadumpScope::Classes(classes)) => {
                    let list: Vec<String> = classes.iter().map(u32::to_string).collect();
                    list.join(",")
                }
                // A class memcached refuses the same way.
                Some(MetadumpScope::BadClass) => "0".to_owned(),
            };
            format!("lru_crawler crawl {list}")
        }
        Admin::LruMode(true) => "lru mode segmented".into(),
        Admin::LruMode(false) => "lru mode flat".into(),
        Admin::LruTune {
            hot_pct,
            warm_pct,
            hot_factor: Ratio(hot),
            warm_factor: Ratio(warm),
        } => format!("lru tune {hot_pct} {warm_pct} {hot} {warm}"),
        Admin::LruTempTtl(seconds) => format!("lru temp_ttl {seconds}"),
        Admin::RefreshCerts => "refresh_certs".into(),
        Admin::Watch(events) => {
            let mut line = "watch".to_owned();
            for name in events.names() {
                line.push(' ');
                line.push_str(name);
            }
            line
        }
    };
    out.put_slice(line.as_bytes());
}

/// libc's `strtod` as memcached's `safe_strtod` uses it, closely enough for a ratio:
/// leading whitespace, then a decimal or `inf`/`nan` number, then only whitespace.
fn strtod(token: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(token).ok()?;
    let text = text.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let text = text.trim_end_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    text.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(line: &[u8]) -> Result<(Command, bool), ProtocolError> {
        let tokens = Tokens::new(line);
        let verb = match tokens.get(0) {
            b"cache_memlimit" => TextVerb::CacheMemlimit,
            b"slabs" => TextVerb::Slabs,
            b"lru_crawler" => TextVerb::LruCrawler,
            _ => TextVerb::Watch,
        };
        match decode_admin(verb, &tokens) {
            Ok(r) => {
                let crate::Form::Text(form) = r.form else {
                    panic!("text form")
                };
                Ok((r.command, form.noreply))
            }
            Err(e) => Err(e.error),
        }
    }

    fn admin(a: Admin) -> Command {
        Command::Admin(a)
    }

    #[test]
    fn encoded_lines_decode_back() {
        use crate::{Decoder, Limits};
        for admin in [
            Admin::CacheMemlimit(64),
            Admin::SlabsAutomove(1),
            Admin::SlabsAutomoveRatio(Ratio(0.25)),
            Admin::SlabsReassign { src: -1, dst: 3 },
            Admin::LruCrawler(false),
            Admin::LruCrawlerSleep(50),
            Admin::LruCrawlerToCrawl(0),
            Admin::LruCrawlerCrawl(None),
            Admin::LruCrawlerCrawl(Some(MetadumpScope::Classes(vec![1, 5]))),
            Admin::Watch(WatchEvents::FETCHERS.with(WatchEvents::CONNEVENTS)),
        ] {
            let mut wire = BytesMut::new();
            encode_request(&admin, &mut wire);
            wire.put_slice(b"\r\n");
            let request = Decoder::new(Limits::default()).decode(&mut wire).unwrap();
            assert_eq!(request.unwrap().command, Command::Admin(admin));
        }
    }

    #[test]
    fn memlimit() {
        use ProtocolError::UnknownCommand as E;
        assert_eq!(
            decode(b"cache_memlimit 64"),
            Ok((admin(Admin::CacheMemlimit(64)), false))
        );
        assert_eq!(
            decode(b"cache_memlimit 64 noreply"),
            Ok((admin(Admin::CacheMemlimit(64)), true))
        );
        // 2^32 megabytes wraps to 0, as memcached's 32-bit read does.
        assert_eq!(
            decode(b"cache_memlimit 4294967296"),
            Ok((admin(Admin::CacheMemlimit(0)), false))
        );
        for bad in [
            &b"cache_memlimit"[..],
            b"cache_memlimit x",
            b"cache_memlimit 1 2 3",
        ] {
            assert_eq!(decode(bad), Err(E), "{:?}", bad);
        }
    }

    #[test]
    fn slabs_commands() {
        use ProtocolError::{BadCommandLine, UnknownCommand};
        assert_eq!(
            decode(b"slabs reassign -1 2"),
            Ok((admin(Admin::SlabsReassign { src: -1, dst: 2 }), false))
        );
        assert_eq!(decode(b"slabs reassign x 2"), Err(BadCommandLine));
        assert_eq!(decode(b"slabs reassign 1"), Err(UnknownCommand));
        assert_eq!(
            decode(b"slabs automove 2 noreply"),
            Ok((admin(Admin::SlabsAutomove(2)), true))
        );
        assert_eq!(decode(b"slabs automove 3"), Err(UnknownCommand));
        assert_eq!(decode(b"slabs automove x"), Err(BadCommandLine));
        assert_eq!(decode(b"slabs automove"), Err(UnknownCommand));
        assert_eq!(
            decode(b"slabs automove ratio 0.5"),
            Ok((admin(Admin::SlabsAutomoveRatio(Ratio(0.5))), false))
        );
        assert_eq!(decode(b"slabs automove ratio"), Err(UnknownCommand));
        assert_eq!(decode(b"slabs automove ratio 0.5x"), Err(UnknownCommand));
    }

    #[test]
    fn crawler_commands() {
        use ProtocolError::{BadCommandLine, UnknownCommand};
        assert_eq!(
            decode(b"lru_crawler crawl 1,2"),
            Ok((
                admin(Admin::LruCrawlerCrawl(Some(MetadumpScope::Classes(vec![
                    1, 2
                ])))),
                false
            ))
        );
        assert_eq!(
            decode(b"lru_crawler crawl hash"),
            Ok((admin(Admin::LruCrawlerCrawl(None)), false))
        );
        assert_eq!(
            decode(b"lru_crawler sleep 1000001"),
            Err(ProtocolError::CrawlerSleepTooLong)
        );
        assert_eq!(decode(b"lru_crawler tocrawl x"), Err(BadCommandLine));
        assert_eq!(
            decode(b"lru_crawler enable"),
            Ok((admin(Admin::LruCrawler(true)), false))
        );
        for bad in [
            &b"lru_crawler"[..],
            b"lru_crawler crawl",
            b"lru_crawler mgdump all",
            b"lru_crawler enable noreply",
        ] {
            assert_eq!(decode(bad), Err(UnknownCommand), "{:?}", bad);
        }
    }

    #[test]
    fn watch_commands() {
        assert_eq!(
            decode(b"watch"),
            Ok((admin(Admin::Watch(WatchEvents::FETCHERS)), false))
        );
        assert_eq!(
            decode(b"watch mutations evictions"),
            Ok((
                admin(Admin::Watch(
                    WatchEvents::MUTATIONS.with(WatchEvents::EVICTIONS)
                )),
                false
            ))
        );
        assert_eq!(decode(b"watch bogus"), Err(ProtocolError::UnknownCommand));
        assert_eq!(
            decode(b"watch fetchers noreply"),
            Err(ProtocolError::UnknownCommand)
        );
    }
}
