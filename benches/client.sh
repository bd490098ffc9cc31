#!/usr/bin/env bash
# memkeep-client routing on its own next to the same client through memkeep-proxy:
# two memkeepd, each key kept on both (replicate + read_repair), the same route tree
# given to the proxy and to the client. Prints latency (one request in flight, then
# 32) and CPU per request of the client and of the servers plus the proxy. About
# 4 x SECONDS plus the build.
#   benches/client.sh [seconds per run, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
cargo build --release --bin memkeepd --bin memkeep-proxy -p memkeep-bins >/dev/null
cargo build --release -p memkeep-client --example versus_proxy >/dev/null
dir=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_listening() {
    for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/"$1") 2>/dev/null && return; sleep 0.05; done
    echo "nothing listening on $1" >&2; exit 1
}
a=$(free_port); b=$(free_port); p=$(free_port)
target/release/memkeepd -l 127.0.0.1 -p "$a" -t 1 & pids+=($!)
target/release/memkeepd -l 127.0.0.1 -p "$b" -t 1 & pids+=($!)
wait_listening "$a"; wait_listening "$b"
cat > "$dir/route.toml" <<TOML
[pools.cache]
servers = ["127.0.0.1:$a", "127.0.0.1:$b"]
replicas = 2

[routes.writes]
kind = "replicate"
to = ["cache"]
policy = "first_success"

[routes.reads]
kind = "read_repair"
to = ["cache"]

[routes.main]
kind = "operation"
reads = "reads"
writes = "writes"

[[listeners]]
listen = "127.0.0.1:$p"
route = "main"
TOML
target/release/memkeep-proxy --config "$dir/route.toml" -s "$(free_port)" >/dev/null 2>&1 & pids+=($!)
wait_listening "$p"
timeout $((secs * 4 + 60)) target/release/examples/versus_proxy "$dir/route.toml" "127.0.0.1:$p" \
    "$(IFS=,; echo "${pids[*]}")" "$secs"
