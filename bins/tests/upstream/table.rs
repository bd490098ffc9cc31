//! `contrib/upstream/memcached-t.expected`: for every file of memcached's `t/`, the
//! outcome expected against each target, and why a target's differs from memcached's.
//! One line per file:
//!
//! ```text
//! # file      memcached  memkeepd  proxy-memkeepd  proxy-memcached  reason
//! getset.t    pass       fail      fail            fail             bug: ...
//! udp.t       pass       fail      -               -                UDP is not served
//! ```
//!
//! `pass`, `fail` and `skip` (the file skipped itself) are checked; `flaky` (the file
//! passes on some runs only) is run and reported, not checked; `-` is not run.

use std::fmt;
use std::path::Path;

use super::Target;

/// What a file did in one run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome {
    /// Every subtest passed (some may have been skipped).
    Pass,
    /// A subtest failed, the plan was wrong, or the file died or ran out of time.
    Fail,
    /// The file skipped itself as a whole (`plan skip_all`).
    Skip,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Skip => "skip",
        })
    }
}

/// What the table expects of a file against one target.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Expected {
    /// This outcome, checked.
    Is(Outcome),
    /// Passes on some runs only: run and reported, not checked.
    Flaky,
    /// Not run against this target.
    NotRun,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Is(outcome) => outcome.fmt(f),
            Expected::Flaky => f.write_str("flaky"),
            Expected::NotRun => f.write_str("-"),
        }
    }
}

/// One file's line.
#[derive(Clone, Debug)]
pub struct Row {
    /// The file's name in `t/`, e.g. `getset.t`.
    pub file: String,
    /// Per target, in [`Target::ALL`]'s order.
    pub expected: [Expected; 4],
    /// Why a target's outcome is not `pass`: `bug: ...` for what is to be fixed, or
    /// the deliberate difference.
    pub reason: String,
}

impl Row {
    /// What the table expects of this file against `target`.
    pub fn expects(&self, target: Target) -> Expected {
        self.expected[target.column()]
    }
}

/// Reads and checks the table at `path`.
pub fn load(path: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let rows: Vec<Row> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
        .map(|(n, line)| {
            parse_row(line).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), n + 1))
        })
        .collect();
    let mut names: Vec<&str> = rows.iter().map(|r| r.file.as_str()).collect();
    names.sort_unstable();
    if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
        panic!("{}: {} has two lines", path.display(), pair[0]);
    }
    rows
}

fn parse_row(line: &str) -> Result<Row, String> {
    let mut words = line.split_whitespace();
    let file = words.next().ok_or("empty line")?.to_owned();
    let mut expected = [Expected::NotRun; 4];
    for (slot, target) in expected.iter_mut().zip(Target::ALL) {
        let word = words
            .next()
            .ok_or_else(|| format!("{file}: no column for {}", target.name()))?;
        *slot = match word {
            "pass" => Expected::Is(Outcome::Pass),
            "fail" => Expected::Is(Outcome::Fail),
            "skip" => Expected::Is(Outcome::Skip),
            "flaky" => Expected::Flaky,
            "-" => Expected::NotRun,
            other => return Err(format!("{file}: unknown status {other:?}")),
        };
    }
    let reason = words.collect::<Vec<_>>().join(" ");
    if expected[0] == Expected::NotRun && expected.iter().any(|e| *e != Expected::NotRun) {
        return Err(format!(
            "{file}: run against a target but not against memcached, the reference"
        ));
    }
    let all_pass = expected
        .iter()
        .all(|e| matches!(e, Expected::Is(Outcome::Pass) | Expected::NotRun));
    if !all_pass && reason.is_empty() {
        return Err(format!("{file}: a status other than pass needs a reason"));
    }
    Ok(Row {
        file,
        expected,
        reason,
    })
}
