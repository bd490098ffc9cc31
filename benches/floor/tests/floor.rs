//! floor-server and floor-proxy (epoll) as a client meets them: real processes on
//! loopback ports picked at run time, raw bytes in, the expected bytes out. The
//! proxy's table is also sent to stock memcached directly, so memcached vouches for
//! it.

mod support;

const SERVER: &str = env!("CARGO_BIN_EXE_floor-server");
const PROXY: &str = env!("CARGO_BIN_EXE_floor-proxy");

#[test]
fn floor_server_answers_with_canned_values_of_the_last_stored_size() {
    support::floor_server_answers_with_canned_values_of_the_last_stored_size(SERVER);
}

#[test]
fn floor_server_reads_requests_split_at_every_byte() {
    support::floor_server_reads_requests_split_at_every_byte(SERVER);
}

#[test]
fn floor_server_closes_a_connection_it_cannot_frame() {
    support::floor_server_closes_a_connection_it_cannot_frame(SERVER);
}

#[test]
fn floor_server_serves_connections_coming_and_going() {
    support::floor_server_serves_connections_coming_and_going(SERVER);
}

#[test]
fn floor_proxy_gives_back_memcacheds_bytes() {
    support::floor_proxy_gives_back_memcacheds_bytes(PROXY);
}

#[test]
fn floor_proxy_matches_many_clients_replies_on_one_backend_connection() {
    support::floor_proxy_matches_many_clients_replies_on_one_backend_connection(PROXY);
}

#[test]
fn floor_proxy_drops_the_replies_of_clients_gone() {
    support::floor_proxy_drops_the_replies_of_clients_gone(PROXY);
}

#[test]
fn floor_server_resumes_a_client_that_reads_again() {
    support::floor_server_resumes_a_client_that_reads_again(SERVER);
}

#[test]
fn floor_proxy_resumes_a_client_that_reads_again() {
    support::floor_proxy_resumes_a_client_that_reads_again(PROXY);
}
