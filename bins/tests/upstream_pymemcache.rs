//! pymemcache's own integration suite (pymemcache 4.0.0's
//! `pymemcache/test/test_integration.py`, in the venv ./test.sh makes) against stock
//! memcached, memkeepd, and memkeep-proxy in front of each: every test that passes
//! against memcached passes against the others, except those listed with a reason in
//! `contrib/upstream/pymemcache.expected`, which must still fail (so the list cannot
//! go stale). Its TLS test is skipped by pymemcache itself.

#[path = "proxy/harness.rs"]
mod harness;
mod support;
mod upstream;

use harness::Proxy;
use support::Server;
use upstream::pytest::{allowed, python, run, run_again, suite_file, Outcomes};
use upstream::Target;

#[test]
fn pymemcache_suite_passes_what_memcached_passes() {
    let python = python();
    let suite = suite_file(&python);
    let allowed = allowed();

    // One server per target: the suite flushes and fills the server it runs against.
    let memcached = Server::memcached(&[]);
    let memkeepd = Server::memkeepd(&[]);
    let proxied_memkeepd = Server::memkeepd(&[]);
    let proxied_memcached = Server::memcached(&[]);
    let proxy_memkeepd = Proxy::magent(&["-s", &proxied_memkeepd.addr()]);
    let proxy_memcached = Proxy::magent(&["-s", &proxied_memcached.addr()]);
    let ports = [
        (Target::Memcached, memcached.port),
        (Target::Memkeepd, memkeepd.port),
        (Target::ProxyMemkeepd, proxy_memkeepd.port),
        (Target::ProxyMemcached, proxy_memcached.port),
    ];
    let runs: Vec<(Target, Outcomes, String, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = ports
            .iter()
            .map(|(target, port)| {
                let (python, suite) = (&python, &suite);
                let failing: Vec<&str> = allowed
                    .iter()
                    .filter(|a| a.targets.contains(target))
                    .map(|a| a.test.as_str())
                    .collect();
                scope.spawn(move || {
                    let (mut outcomes, mut output) = run(python, suite, *port, &failing);
                    // A few tests time an expiry in whole seconds, which a busy machine
                    // can make them miss: a failure not listed runs once more, and its
                    // second outcome counts (a bug fails both times).
                    let again: Vec<&String> = outcomes
                        .iter()
                        .filter(|(id, word)| {
                            !["PASSED", "SKIPPED"].contains(&word.as_str())
                                && !failing.contains(&id.split('[').next().unwrap_or(id))
                        })
                        .map(|(id, _)| id)
                        .collect();
                    let second_tries = again.len();
                    if !again.is_empty() {
                        let (more, more_output) = run_again(python, suite, *port, &again);
                        outcomes.extend(more);
                        output.push_str(&more_output);
                    }
                    (*target, outcomes, output, second_tries)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let reference = &runs[0].1;
    let reference_passed: Vec<&String> = reference
        .iter()
        .filter(|(_, word)| *word == "PASSED")
        .map(|(id, _)| id)
        .collect();
    let mut problems = Vec::new();
    let reference_failed: Vec<&String> = reference
        .iter()
        .filter(|(_, word)| !["PASSED", "SKIPPED"].contains(&word.as_str()))
        .map(|(id, _)| id)
        .collect();
    if reference_passed.is_empty() || !reference_failed.is_empty() {
        problems.push(format!(
            "stock memcached, the reference: {} passed, failed {reference_failed:?}:\n{}",
            reference_passed.len(),
            runs[0].2
        ));
    }
    eprintln!("pymemcache 4.0.0's test_integration.py:");
    for (target, outcomes, output, second_tries) in &runs {
        let count = |word: &str| outcomes.values().filter(|w| *w == word).count();
        let mut failed_as_listed = 0;
        let mut target_problems = Vec::new();
        if *target != Target::Memcached {
            for id in &reference_passed {
                let word = outcomes.get(*id).map(String::as_str).unwrap_or("not run");
                match allowed.iter().find(|a| a.covers(id, *target)) {
                    Some(_) if word != "PASSED" => failed_as_listed += 1,
                    Some(a) => target_problems.push(format!(
                        "{id} now passes against {}: remove {} from contrib/upstream/\
                         pymemcache.expected for it ({})",
                        target.name(),
                        a.test,
                        a.reason
                    )),
                    None if word != "PASSED" => target_problems.push(format!(
                        "{id} passes against memcached but {word} against {}",
                        target.name()
                    )),
                    None => {}
                }
            }
        }
        eprintln!(
            "  {:<16} {} passed, {} failed ({failed_as_listed} as listed), {} skipped; \
             {second_tries} second tries",
            target.name(),
            count("PASSED"),
            count("FAILED") + count("ERROR"),
            count("SKIPPED")
        );
        if !target_problems.is_empty() {
            target_problems.push(format!("pytest's output:\n{output}"));
        }
        problems.extend(target_problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
