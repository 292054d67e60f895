#!/usr/bin/env bash
# Runs every issue-8 real-socket measurement in sequence and writes JSON results to
# bench/results/. Usage: bash bench/run_all.sh [BENCH_BINARY] [GO_PEER_BINARY]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${1:-${CARGO_TARGET_DIR:-$here/../target}/release/memberlist-bench}"
peer="${2:-${CARGO_TARGET_DIR:-$here/../target}/interop/memberlist-go-peer}"
out="$here/results"
mkdir -p "$out"
run() {
    local name="$1"; shift
    echo "$(date -u +%H:%M:%S) $name: $*" >&2
    "$bin" "$@" --json > "$out/$name.json" || echo "$name failed" >&2
}
# --settle 15: Rust runs 3 follow-up push/pulls 2–4 s apart after a join (beyond Go);
# the window starts after they are over.
common=(--seconds 30 --settle 15)
for n in 10 50 100; do
    run "rust-procs-$n" rust --procs --nodes "$n" "${common[@]}" --runs 5
    run "go-$n" go --peer "$peer" --nodes "$n" "${common[@]}" --runs 5
done
run rust-100 rust --nodes 100 "${common[@]}" --runs 5
run rust-500 rust --nodes 500 "${common[@]}" --join-timeout 60 --runs 3
run rust-1000 rust --nodes 1000 "${common[@]}" --join-timeout 60 --runs 3
echo "$(date -u +%H:%M:%S) done" >&2
