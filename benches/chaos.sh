#!/usr/bin/env bash
# The chaos scenarios of bins/tests/chaos.rs, long version: each fault held
# MEMKEEP_CHAOS_HOLD seconds (10 by default; the test suite holds them 2 s), one
# scenario at a time. Gathers the figures every scenario writes into
# benches/results/chaos-<date>.json and prints them.
#
#   benches/chaos.sh           # every fault held 10 s, about 2 minutes
#   benches/chaos.sh 30        # 30 s each
set -euo pipefail
cd "$(dirname "$0")/.."
hold="${1:-10}"
rm -rf target/tmp/chaos
MEMKEEP_CHAOS_HOLD="$hold" cargo nextest run -p memkeep-bins --test chaos --test-threads 1 --no-fail-fast
out="benches/results/chaos-$(date +%F).json"
{
    echo "["
    first=1
    for f in target/tmp/chaos/*.json; do
        [ $first -eq 1 ] || echo ","
        first=0
        cat "$f"
    done
    echo "]"
} >"$out"
cat "$out"
echo "results: $out"
