#!/usr/bin/env bash
# TLS throughput next to plain text: memkeepd (and stock memcached, for reference)
# plain and with -Z, driven by `memkeep bench` over TLS and plain, alternating rounds.
# Prints the median req/s of each and the TLS/plain ratio. About 2 minutes.
#   benches/tls.sh [seconds per run, default 5] [rounds, default 3]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${2:-3}
cargo build --release --bin memkeepd --bin memkeep >/dev/null
dir=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

# A throw-away CA and a certificate for 127.0.0.1, made here, never kept.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj "/CN=bench CA" -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' > "$dir/san"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 1 -extfile "$dir/san" -out "$dir/server.crt" 2>/dev/null
tls="ssl_chain_cert=$dir/server.crt,ssl_key=$dir/server.key"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start() { # name port args...
    local port=$2; shift 2
    "$@" -l 127.0.0.1 -p "$port" -m 1024 -t 2 >/dev/null 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/"$port") 2>/dev/null && return; sleep 0.05; done
    echo "server on $port did not start" >&2; exit 1
}
run_as_root=(); [ "$(id -u)" = 0 ] && run_as_root=(-u root)
declare -A port
port[mk]=$(free_port); start mk "${port[mk]}" target/release/memkeepd
port[mk_tls]=$(free_port); start mk_tls "${port[mk_tls]}" target/release/memkeepd -Z -o "$tls"
port[mc]=$(free_port); start mc "${port[mc]}" memcached -U 0 "${run_as_root[@]}"
port[mc_tls]=$(free_port); start mc_tls "${port[mc_tls]}" memcached -U 0 "${run_as_root[@]}" -Z -o "$tls"

bench() { # target workload-args... -> req/s
    local target=$1; shift
    local extra=()
    [[ $target == *_tls ]] && extra=(--tls --tls-ca "$dir/ca.crt")
    target/release/memkeep bench --json --no-progress -s "127.0.0.1:${port[$target]}" \
        -d "${secs}s" "${extra[@]}" "$@" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests_per_s"])'
}
for t in mk mk_tls mc mc_tls; do
    target/release/memkeep bench --no-progress -s "127.0.0.1:${port[$t]}" --preload-only \
        $([[ $t == *_tls ]] && echo --tls --tls-ca "$dir/ca.crt") >/dev/null
done

median() { python3 -c 'import sys,statistics; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
echo "| workload | server | plain req/s | TLS req/s | TLS / plain |"
echo "| --- | --- | ---: | ---: | ---: |"
for workload in "get90:-c 8" "pipeline16:-c 8 --pipeline 16"; do
    name=${workload%%:*}; args=${workload#*:}
    declare -A got=()
    for _ in $(seq "$rounds"); do
        for t in mk mk_tls mc mc_tls; do got[$t]+=" $(bench "$t" $args)"; done
    done
    for server in mk mc; do
        plain=$(median ${got[$server]}); secure=$(median ${got[${server}_tls]})
        label=$([ $server = mk ] && echo memkeepd || echo memcached)
        python3 -c "print(f'| $name | $label | {$plain:,.0f} | {$secure:,.0f} | {$secure/$plain:.2f} |')"
    done
    unset got
done
