#!/usr/bin/env bash
# Runs every fuzz target for N seconds each (default 60; the first argument overrides),
# prints per target the runs executed and any crash found, and exits non-zero if any
# target crashed. Needs nightly and cargo-fuzz (`cargo install cargo-fuzz`).
#
#   fuzz/run.sh          # 60 s per target
#   fuzz/run.sh 600      # 10 min per target
#   TARGETS="decode_meta" fuzz/run.sh 30
set -uo pipefail

seconds="${1:-60}"
cd "$(dirname "$0")/.."
targets="${TARGETS:-decode_text decode_meta decode_binary decode_any decode_response backend_replies cache_model snapshot_load}"
logs=fuzz/logs
mkdir -p "$logs"

dict_for() {
    case "$1" in
        decode_text) echo fuzz/dicts/text.dict ;;
        decode_meta) echo fuzz/dicts/meta.dict ;;
        decode_binary) echo fuzz/dicts/binary.dict ;;
        decode_response | backend_replies) echo fuzz/dicts/response.dict ;;
        # Operations are read from raw bytes, not words: no dictionary helps.
        cache_model | snapshot_load) ;;
        decode_any)
            # libFuzzer takes one dictionary: the three request ones together.
            cat fuzz/dicts/text.dict fuzz/dicts/meta.dict fuzz/dicts/binary.dict \
                >"$logs/any.dict"
            echo "$logs/any.dict"
            ;;
    esac
}

cargo +nightly fuzz build || exit 2

failed=0
printf '%-16s %12s  %s\n' target runs result
for target in $targets; do
    corpus="fuzz/corpus/$target"
    mkdir -p "$corpus" "fuzz/artifacts/$target"
    log="$logs/$target.log"
    # The seeds are read only; new inputs go to the (ignored) corpus directory.
    dict=$(dict_for "$target")
    cargo +nightly fuzz run "$target" "$corpus" "fuzz/seeds/$target" -- \
        -max_total_time="$seconds" ${dict:+-dict="$dict"} \
        -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
        >"$log" 2>&1
    status=$?
    runs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$')
    if [ -z "$runs" ]; then
        # A crash ends the run before the final stats: take the last status line.
        runs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    fi
    artifact=$(grep -oE 'Test unit written to [^ ]+' "$log" | tail -1 | sed 's/Test unit written to //')
    if [ "$status" -eq 0 ] && [ -z "$artifact" ]; then
        printf '%-16s %12s  %s\n' "$target" "${runs:-?}" "no crash"
    else
        failed=1
        reason=$(grep -m1 -E "panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer" "$log")
        printf '%-16s %12s  CRASH %s\n' "$target" "${runs:-?}" "${artifact:-(see $log)}"
        [ -n "$reason" ] && printf '%-16s %12s  %s\n' "" "" "$reason"
        grep -m1 -A2 "panicked at" "$log" | tail -2 | sed 's/^/                                /'
    fi
done
exit "$failed"
