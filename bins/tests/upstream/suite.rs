//! memcached's own test suite against a set of targets, checked against
//! `contrib/upstream/memcached-t.expected`. Stock memcached runs in the same run: it
//! must do what the table says, else this machine is not the reference's. Every other
//! target must do what the table says too: a file that passes against memcached
//! fails against another only where the table gives the reason, and a file listed as
//! failing that now passes fails the check, so the table cannot go stale silently.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::prove::{BuildDir, FileRun};
use super::table::{self, Expected, Outcome, Row};
use super::{contrib, installed, workspace_root, Target};

/// Files run at once. Most of a file's time is spent sleeping (waiting for expiry,
/// for a server to start), so this is above the core count; the busiest files take
/// a few CPU seconds each.
const WORKERS: usize = 12;

/// How long a file may run. The slowest passes in about 40 s against memcached on 2
/// busy cores. A file expected to fail usually fails at once, or waits for a reply
/// that never comes: it is stopped sooner.
const TIME_LIMIT: Duration = Duration::from_secs(120);
const TIME_LIMIT_EXPECTED_FAILING: Duration = Duration::from_secs(60);

/// Files that use a fixed resource and so never run against two targets at once:
/// issue_67.t binds 11211 and other fixed ports, binary-sasl.t writes
/// /tmp/test-memcached.sasldb.
const EXCLUSIVE: &[&str] = &["issue_67.t", "binary-sasl.t"];

/// Runs the files the table runs against any of `targets`, and against memcached, the
/// reference, those that one of them is expected to pass (where all are expected to
/// fail or skip, there is nothing to compare with); panics listing every difference
/// from the table.
pub fn check(label: &str, targets: &[Target]) {
    let suite = installed(
        "memcached",
        "memcached's test suite (t/ of Debian's memcached source package)",
    );
    let version = std::fs::read_to_string(suite.join(".debian-version")).unwrap_or_default();
    let rows = table::load(&contrib("memcached-t.expected"));
    check_table_lists_every_file(&rows, &suite.join("t"));

    let jobs = jobs(&rows, targets, &suite);
    let runs = workspace_root()
        .join("target/upstream/runs")
        .join(format!("{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&runs);
    let dirs: BTreeMap<Target, BuildDir> = Target::ALL
        .iter()
        .filter(|t| jobs.iter().any(|job| job.target == **t))
        .map(|t| (*t, BuildDir::new(runs.join(t.name()), &suite, *t)))
        .collect();

    let started = Instant::now();
    let runs_count = jobs.len();
    let mut results = run_all(jobs, &dirs, &rows);
    // The files time things (expiry, idle timeouts, a server's start) in seconds, and
    // a busy machine can make one miss: a file that differs from the table runs once
    // more, and its second outcome counts (a bug fails both times).
    let again: Vec<Job> = results
        .iter()
        .filter(|((row, target), run)| differs(&rows[*row], *target, run))
        .map(|((row, target), _)| job(&rows, *row, *target, &suite))
        .collect();
    let second_tries = again.len();
    for (key, mut run) in run_all(again, &dirs, &rows) {
        run.second_try = true;
        results.insert(key, run);
    }
    eprintln!(
        "memcached {}'s t/: {runs_count} runs and {second_tries} second tries in {} s, \
         {WORKERS} at a time",
        version.trim(),
        started.elapsed().as_secs()
    );
    let problems = report(&rows, &results);
    assert!(
        problems.is_empty(),
        "{} difference(s) from contrib/upstream/memcached-t.expected (logs under {}):\n{}",
        problems.len(),
        runs.display(),
        problems.join("\n")
    );
    let _ = std::fs::remove_dir_all(&runs);
}

/// Every file of `t/` has a line, and every line a file.
fn check_table_lists_every_file(rows: &[Row], t: &Path) {
    let mut files: Vec<String> = std::fs::read_dir(t)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".t"))
        .collect();
    files.sort();
    let listed: Vec<&str> = rows.iter().map(|r| r.file.as_str()).collect();
    let unlisted: Vec<&String> = files
        .iter()
        .filter(|f| !listed.contains(&f.as_str()))
        .collect();
    let gone: Vec<&&str> = listed
        .iter()
        .filter(|f| !files.iter().any(|name| name == *f))
        .collect();
    assert!(
        unlisted.is_empty() && gone.is_empty(),
        "contrib/upstream/memcached-t.expected must list every file of {}: \
         not listed {unlisted:?}, listed but absent {gone:?}",
        t.display()
    );
    assert!(!files.is_empty(), "{} holds no test file", t.display());
}

/// One file against one target.
struct Job {
    row: usize,
    target: Target,
    /// Started first: a file expected to fail may run until its time limit.
    expected_failing: bool,
    size: u64,
}

fn jobs(rows: &[Row], targets: &[Target], suite: &Path) -> Vec<Job> {
    let mut jobs = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        let compared = targets.iter().any(|t| {
            *t != Target::Memcached
                && matches!(
                    row.expects(*t),
                    Expected::Is(Outcome::Pass) | Expected::Flaky
                )
        });
        for target in Target::ALL {
            let wanted = targets.contains(&target) || (target == Target::Memcached && compared);
            let expected = row.expects(target);
            if !wanted || expected == Expected::NotRun {
                continue;
            }
            jobs.push(job(rows, index, target, suite));
        }
    }
    // Failing files first, then the larger (longer) files: the run ends with short
    // ones instead of waiting on one long file.
    jobs.sort_by_key(|job| (!job.expected_failing, std::cmp::Reverse(job.size)));
    jobs
}

fn job(rows: &[Row], row: usize, target: Target, suite: &Path) -> Job {
    Job {
        row,
        target,
        expected_failing: rows[row].expects(target) == Expected::Is(Outcome::Fail),
        size: std::fs::metadata(suite.join("t").join(&rows[row].file))
            .map(|m| m.len())
            .unwrap_or(0),
    }
}

/// What each file did against each target.
type Results = BTreeMap<(usize, Target), FileRun>;

fn run_all(jobs: Vec<Job>, dirs: &BTreeMap<Target, BuildDir>, rows: &[Row]) -> Results {
    let queue = Mutex::new(jobs.into_iter().rev().collect::<Vec<_>>());
    let results = Mutex::new(Results::new());
    let exclusive: Vec<Mutex<()>> = EXCLUSIVE.iter().map(|_| Mutex::new(())).collect();
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| loop {
                let Some(job) = queue.lock().unwrap().pop() else {
                    return;
                };
                let file = &rows[job.row].file;
                let _alone = EXCLUSIVE
                    .iter()
                    .position(|name| name == file)
                    .map(|i| exclusive[i].lock().unwrap());
                let limit = if job.expected_failing {
                    TIME_LIMIT_EXPECTED_FAILING
                } else {
                    TIME_LIMIT
                };
                let run = dirs[&job.target].run(file, limit);
                results.lock().unwrap().insert((job.row, job.target), run);
            });
        }
    });
    results.into_inner().unwrap()
}

/// Prints one line per file (each target's outcome and time, `!` where the table
/// expects otherwise, `stopped` where the time limit ended it, `2nd` for a second
/// try) and the totals; returns the differences from the table.
fn report(rows: &[Row], results: &Results) -> Vec<String> {
    let targets: Vec<Target> = Target::ALL
        .into_iter()
        .filter(|t| results.keys().any(|(_, target)| target == t))
        .collect();
    let mut header = format!("{:<26}", "file");
    for t in &targets {
        header.push_str(&format!("{:<22}", t.name()));
    }
    eprintln!("{header}");
    let mut problems = Vec::new();
    let mut totals: BTreeMap<Target, [usize; 3]> = BTreeMap::new();
    for (index, row) in rows.iter().enumerate() {
        if !targets.iter().any(|t| results.contains_key(&(index, *t))) {
            continue;
        }
        let mut line = format!("{:<26}", row.file);
        for target in &targets {
            let Some(run) = results.get(&(index, *target)) else {
                line.push_str(&format!("{:<22}", "-"));
                continue;
            };
            let count = totals.entry(*target).or_default();
            match run.outcome {
                Outcome::Pass => count[0] += 1,
                Outcome::Fail => count[1] += 1,
                Outcome::Skip => count[2] += 1,
            }
            let problem = difference(row, *target, run);
            let cell = format!(
                "{}{} {}s{}{}",
                run.outcome,
                if problem.is_some() { "!" } else { "" },
                run.elapsed.as_secs(),
                if run.stopped { " stopped" } else { "" },
                if run.second_try { " 2nd" } else { "" }
            );
            line.push_str(&format!("{cell:<22}"));
            problems.extend(problem);
        }
        eprintln!("{}", line.trim_end());
    }
    for (target, [pass, fail, skip]) in &totals {
        eprintln!(
            "{}: {pass} passed, {fail} failed, {skip} skipped",
            target.name()
        );
    }
    problems
}

/// Whether `run`'s outcome is not the one the table expects.
fn differs(row: &Row, target: Target, run: &FileRun) -> bool {
    matches!(row.expects(target), Expected::Is(want) if want != run.outcome)
}

/// How `run` differs from what the table expects of `row` against `target`.
fn difference(row: &Row, target: Target, run: &FileRun) -> Option<String> {
    let got = run.outcome;
    let Expected::Is(want) = row.expects(target) else {
        return None;
    };
    if got == want {
        return None;
    }
    let file = &row.file;
    let what = if target == Target::Memcached {
        format!(
            "{file}: stock memcached, the reference, gave {got} where the table says \
             {want}: this machine does not run the suite as the reference does"
        )
    } else if got == Outcome::Pass {
        format!(
            "{file} now passes against {}: set its {} column to pass in \
             contrib/upstream/memcached-t.expected (and update the reason: {})",
            target.name(),
            target.name(),
            row.reason
        )
    } else if want == Outcome::Pass {
        format!(
            "{file} passes against memcached but gave {got} against {}",
            target.name()
        )
    } else {
        format!(
            "{file}: expected {want} against {}, got {got} ({})",
            target.name(),
            row.reason
        )
    };
    let details: Vec<String> = run
        .failures
        .iter()
        .map(|line| format!("      {line}"))
        .collect();
    Some(format!(
        "  {what}\n    log: {}\n{}",
        run.log.display(),
        details.join("\n")
    ))
}
