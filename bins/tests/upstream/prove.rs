//! One file of memcached's `t/` run by `prove` against one target, in a directory laid
//! out like memcached's build directory: `t/` and `doc/` from the suite, and
//! `contrib/upstream/memcached-debug` (which starts the target) standing in for the
//! test build of memcached.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::process_group::kill_members;
use super::table::Outcome;
use super::{contrib, Target};

/// A build directory for `target`: `dir` is made and filled.
pub struct BuildDir {
    dir: PathBuf,
    target: Target,
}

impl BuildDir {
    /// Lays out `dir` for `target`, over the suite unpacked at `suite`.
    pub fn new(dir: PathBuf, suite: &Path, target: Target) -> BuildDir {
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        // The suite is only read: t/lib/MemcachedTest.pm finds memcached-debug and
        // timedrun in the working directory and the certificates under t/.
        for (link, to) in [
            ("t", suite.join("t")),
            ("doc", suite.join("doc")),
            ("memcached-debug", contrib("memcached-debug")),
            ("timedrun", contrib("timedrun")),
        ] {
            std::os::unix::fs::symlink(to, dir.join(link)).unwrap();
        }
        BuildDir { dir, target }
    }

    /// Where the runs' logs go.
    pub fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }

    /// Runs `t/FILE` with prove, for at most `limit`.
    pub fn run(&self, file: &str, limit: Duration) -> FileRun {
        let mut log = self.logs().join(format!("{file}.log"));
        if log.exists() {
            log = self.logs().join(format!("{file}.2nd-try.log"));
        }
        let out = File::create(&log).unwrap();
        let started = Instant::now();
        let mut command = Command::new("prove");
        command
            .args(["-v", &format!("t/{file}")])
            .current_dir(&self.dir)
            .env("UPSTREAM_TARGET", self.target.name())
            .env("MEMKEEPD", env!("CARGO_BIN_EXE_memkeepd"))
            .env("MEMKEEP_PROXY", env!("CARGO_BIN_EXE_memkeep-proxy"))
            .envs(switches(file))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            // Its own process group: whatever the file starts can be found and ended.
            .process_group(0);
        let mut prove = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run prove (perl): {e}"));
        let group = prove.id();
        let mut timed_out = false;
        let status = loop {
            if let Some(status) = prove.try_wait().unwrap() {
                break status;
            }
            if !timed_out && started.elapsed() > limit {
                // The file and its servers go; prove then reports what it got.
                timed_out = true;
                kill_members(group, Some(group));
            } else if timed_out && started.elapsed() > limit + Duration::from_secs(10) {
                let _ = prove.kill();
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // Servers the file left behind.
        kill_members(group, None);
        let text = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned();
        FileRun {
            outcome: outcome(file, &text, status.success()),
            failures: failures(&text, timed_out.then_some(limit)),
            stopped: timed_out,
            second_try: false,
            log,
            elapsed: started.elapsed(),
        }
    }
}

/// The environment switches that make a file run instead of skipping itself: the
/// TLS files need `SSL_TEST` (IO::Socket::SSL), the SASL file `RUN_SASL_TESTS`
/// (saslpasswd2).
fn switches(file: &str) -> Vec<(&'static str, &'static str)> {
    if file.starts_with("ssl_") {
        vec![("SSL_TEST", "1")]
    } else if file == "binary-sasl.t" {
        vec![("RUN_SASL_TESTS", "1")]
    } else {
        Vec::new()
    }
}

/// What one run of a file did.
pub struct FileRun {
    /// Its outcome.
    pub outcome: Outcome,
    /// Its failed subtests and prove's complaints, for the report.
    pub failures: Vec<String>,
    /// Whether it was stopped at its time limit.
    pub stopped: bool,
    /// Whether this was the file's second run against this target.
    pub second_try: bool,
    /// prove's whole output.
    pub log: PathBuf,
    /// How long it ran.
    pub elapsed: Duration,
}

/// prove prints `t/FILE .. skipped: REASON` for a file that skipped itself and
/// `Result: PASS` when every file passed.
fn outcome(file: &str, text: &str, success: bool) -> Outcome {
    let skipped = text
        .lines()
        .any(|line| line.starts_with(&format!("t/{file} ")) && line.contains(" skipped:"));
    if skipped {
        Outcome::Skip
    } else if success && text.lines().any(|line| line == "Result: PASS") {
        Outcome::Pass
    } else {
        Outcome::Fail
    }
}

/// The failed subtests (`not ok N - name`) and prove's summary of what went wrong,
/// the first few of each.
fn failures(text: &str, stopped_after: Option<Duration>) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .filter(|line| line.starts_with("not ok") && !line.contains("# TODO"))
        .take(8)
        .map(|line| line.chars().take(160).collect())
        .collect();
    let complaints = text.lines().filter(|line| {
        let line = line.trim_start();
        line.starts_with("Parse errors:")
            || line.starts_with("Non-zero exit status:")
            || line.starts_with("Failed to ")
            || line.starts_with("error:")
            || line.starts_with("memkeepd:")
    });
    lines.extend(
        complaints
            .take(4)
            .map(|line| line.trim().chars().take(160).collect()),
    );
    if let Some(limit) = stopped_after {
        lines.push(format!(
            "stopped after {} s (waiting for a reply that never came?)",
            limit.as_secs()
        ));
    }
    lines
}
