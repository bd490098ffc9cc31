//! The open-files limit of a test that opens thousands of connections.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Raises this process's open-files limit to at least `need`; the servers and
/// proxies it starts inherit it. Fails the test when the hard limit is lower.
pub fn allow_open_files(need: u64) {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("the open-files limit");
    if soft >= need {
        return;
    }
    let raised = setrlimit(Resource::RLIMIT_NOFILE, need, hard.max(need))
        .or_else(|_| setrlimit(Resource::RLIMIT_NOFILE, hard, hard));
    let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).expect("the open-files limit");
    assert!(
        raised.is_ok() && soft >= need,
        "this test needs {need} open files; the hard limit is {hard}"
    );
}
