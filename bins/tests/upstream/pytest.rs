//! pymemcache's integration suite (`pymemcache/test/test_integration.py`, shipped in
//! pymemcache's wheel with the conftest that adds `--server` and `--port`), run by
//! pytest from the venv ./test.sh makes, and `contrib/upstream/pymemcache.expected`,
//! the tests allowed (and required) to fail against a target.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{contrib, installed, Target};

/// The venv's python, after checking the suite is installed.
pub fn python() -> PathBuf {
    let venv = installed(
        "venv",
        "pymemcache's integration suite (a venv with pymemcache 4.0.0 and pytest)",
    );
    venv.join("bin/python")
}

/// The suite's file, as installed in the venv.
pub fn suite_file(python: &Path) -> PathBuf {
    let out = Command::new(python)
        .args([
            "-c",
            "import os, pymemcache.test; print(os.path.dirname(pymemcache.test.__file__))",
        ])
        .output()
        .expect("run the venv's python");
    assert!(
        out.status.success(),
        "the venv has no pymemcache.test: run ./test.sh\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = String::from_utf8(out.stdout).unwrap();
    PathBuf::from(dir.trim()).join("test_integration.py")
}

/// What each test did: its pytest id (`test_cas[socket-Client-]`) to pytest's word
/// (`PASSED`, `FAILED`, `SKIPPED`, `ERROR`).
pub type Outcomes = BTreeMap<String, String>;

/// Runs the suite against 127.0.0.1:`port`, the tests that fail against it
/// (`failing`, test functions) apart and last: a failing test can leave the server or
/// proxy in a state (a dropped backend connection) that would fail the tests after it.
/// Returns the outcomes and pytest's output.
pub fn run(python: &Path, suite: &Path, port: u16, failing: &[&str]) -> (Outcomes, String) {
    if failing.is_empty() {
        return run_selected(python, suite, port, None);
    }
    let failing = failing.join(" or ");
    let (mut outcomes, mut text) =
        run_selected(python, suite, port, Some(format!("not ({failing})")));
    let (more, more_text) = run_selected(python, suite, port, Some(failing));
    outcomes.extend(more);
    text.push_str(&more_text);
    (outcomes, text)
}

/// Runs the tests `ids` (pytest ids, as in [`Outcomes`]) again.
pub fn run_again(python: &Path, suite: &Path, port: u16, ids: &[&String]) -> (Outcomes, String) {
    let tests: Vec<String> = ids
        .iter()
        .map(|id| format!("{}::{id}", suite.display()))
        .collect();
    pytest(python, &tests, port)
}

/// One pytest run, of the tests `-k` selects when given.
fn run_selected(python: &Path, suite: &Path, port: u16, k: Option<String>) -> (Outcomes, String) {
    let mut args: Vec<String> = k.map(|k| vec!["-k".to_owned(), k]).unwrap_or_default();
    args.push(suite.display().to_string());
    pytest(python, &args, port)
}

/// pytest with `args` against 127.0.0.1:`port`.
fn pytest(python: &Path, args: &[String], port: u16) -> (Outcomes, String) {
    let out = Command::new(python)
        .args(["-m", "pytest", "-v", "-p", "no:cacheprovider", "--tb=line"])
        .args(args)
        .args(["--server", "127.0.0.1", "--port", &port.to_string()])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("run pytest");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let mut outcomes = Outcomes::new();
    // "…/test_integration.py::test_cas[socket-Client-] PASSED   [ 12%]"
    for line in text.lines() {
        let Some((_, rest)) = line.split_once(".py::") else {
            continue;
        };
        let mut words = rest.split_whitespace();
        if let (Some(id), Some(word)) = (words.next(), words.next()) {
            if ["PASSED", "FAILED", "SKIPPED", "ERROR", "XFAIL", "XPASS"].contains(&word) {
                outcomes.insert(id.to_owned(), word.to_owned());
            }
        }
    }
    (outcomes, text)
}

/// A line of `contrib/upstream/pymemcache.expected`: a test function (all its
/// parametrized ids) expected to fail against some targets.
pub struct Allowed {
    /// The test function, e.g. `test_misc`.
    pub test: String,
    /// The targets it fails against.
    pub targets: Vec<Target>,
    /// Why.
    pub reason: String,
}

impl Allowed {
    /// Whether this line covers test `id` against `target`.
    pub fn covers(&self, id: &str, target: Target) -> bool {
        id.split('[').next() == Some(self.test.as_str()) && self.targets.contains(&target)
    }
}

/// Reads `contrib/upstream/pymemcache.expected`: `TEST TARGET[,TARGET...] REASON`.
pub fn allowed() -> Vec<Allowed> {
    let path = contrib("pymemcache.expected");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
        .map(|line| {
            let mut words = line.split_whitespace();
            let test = words.next().unwrap().to_owned();
            let targets = words
                .next()
                .unwrap_or_else(|| panic!("{}: {test} names no target", path.display()))
                .split(',')
                .map(|name| {
                    *Target::ALL
                        .iter()
                        .find(|t| t.name() == name)
                        .unwrap_or_else(|| panic!("{}: unknown target {name}", path.display()))
                })
                .collect();
            let reason = words.collect::<Vec<_>>().join(" ");
            assert!(
                !reason.is_empty(),
                "{}: {test} needs a reason",
                path.display()
            );
            Allowed {
                test,
                targets,
                reason,
            }
        })
        .collect()
}
