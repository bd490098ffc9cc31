//! Cleaning up after a suite file: the servers a test file starts live in the process
//! group of the `prove` that runs it, and one the file forgot (it croaked before
//! keeping its handle) would keep prove's pipe open forever.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Sends SIGKILL to every process of process group `group` except `spare`: on a time
/// limit, the test file and its servers go while prove, spared, still reports what
/// the file printed so far.
pub fn kill_members(group: u32, spare: Option<u32>) {
    for pid in members(group) {
        if Some(pid) != spare {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}

/// The processes whose process group is `group`, from /proc.
fn members(group: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses,
            // so the fields are counted from the last ')'.
            let after_comm = &stat[stat.rfind(')')? + 1..];
            let pgrp: u32 = after_comm.split_whitespace().nth(2)?.parse().ok()?;
            (pgrp == group).then_some(pid)
        })
        .collect()
}
