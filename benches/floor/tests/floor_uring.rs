//! floor-server-uring and floor-proxy-uring as a client meets them: the same checks
//! as the epoll binaries pass (tests/floor.rs), when the kernel gives this process
//! io_uring. When it does not (`kernel.io_uring_disabled`, a seccomp filter), each
//! test checks instead that the binary says so in one line and exits with failure.

use std::process::Command;

mod support;

const SERVER: &str = env!("CARGO_BIN_EXE_floor-server-uring");
const PROXY: &str = env!("CARGO_BIN_EXE_floor-proxy-uring");

/// Whether the kernel gives this process an io_uring; if not, asserts that `bin`
/// (started with `args`) exits non-zero at once with one line naming the refusal,
/// having announced no port.
fn uring_given(bin: &str, args: &[&str]) -> bool {
    // Asked from a thread of its own: a ring's teardown may leave work for the
    // thread that made it, which would interrupt the test's blocking reads (EINTR
    // where a read timeout is set).
    let given = std::thread::spawn(|| io_uring::IoUring::new(8).is_ok())
        .join()
        .expect("the io_uring probe");
    if given {
        return true;
    }
    let out = Command::new(bin)
        .args(["-l", "127.0.0.1", "-p", "0"])
        .args(args)
        .output()
        .expect("run the binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{bin} ran without io_uring");
    assert!(
        out.stdout.is_empty(),
        "{bin} announced a port without io_uring"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("the kernel refuses io_uring: "), "{stderr}");
    false
}

fn server_given() -> bool {
    uring_given(SERVER, &["-t", "1"])
}

/// The backend address is not used when io_uring is refused (checked first).
fn proxy_given() -> bool {
    uring_given(PROXY, &["-b", "127.0.0.1:9"])
}

#[test]
fn floor_server_uring_answers_with_canned_values_of_the_last_stored_size() {
    if server_given() {
        support::floor_server_answers_with_canned_values_of_the_last_stored_size(SERVER);
    }
}

#[test]
fn floor_server_uring_reads_requests_split_at_every_byte() {
    if server_given() {
        support::floor_server_reads_requests_split_at_every_byte(SERVER);
    }
}

#[test]
fn floor_server_uring_closes_a_connection_it_cannot_frame() {
    if server_given() {
        support::floor_server_closes_a_connection_it_cannot_frame(SERVER);
    }
}

#[test]
fn floor_server_uring_serves_connections_coming_and_going() {
    if server_given() {
        support::floor_server_serves_connections_coming_and_going(SERVER);
    }
}

#[test]
fn floor_proxy_uring_gives_back_memcacheds_bytes() {
    if proxy_given() {
        support::floor_proxy_gives_back_memcacheds_bytes(PROXY);
    }
}

#[test]
fn floor_proxy_uring_matches_many_clients_replies_on_one_backend_connection() {
    if proxy_given() {
        support::floor_proxy_matches_many_clients_replies_on_one_backend_connection(PROXY);
    }
}

#[test]
fn floor_proxy_uring_drops_the_replies_of_clients_gone() {
    if proxy_given() {
        support::floor_proxy_drops_the_replies_of_clients_gone(PROXY);
    }
}

#[test]
fn floor_server_uring_resumes_a_client_that_reads_again() {
    if server_given() {
        support::floor_server_resumes_a_client_that_reads_again(SERVER);
    }
}

#[test]
fn floor_proxy_uring_resumes_a_client_that_reads_again() {
    if proxy_given() {
        support::floor_proxy_resumes_a_client_that_reads_again(PROXY);
    }
}
