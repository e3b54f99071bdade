#!/usr/bin/env bash
# Where wxsend's CPU goes on a send: a build with frame pointers, `perf record -g` on one
# 100,000-message send against the embedded mock (unlimited rate), then the CPU per message by
# phase (bench/phases.py) and the top functions. Needs linux-perf (`perf`).
#
#   bash bench/profile.sh            # concurrency 16
#   C=64 ROWS=20000 bash bench/profile.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ROWS=${ROWS:-100000}
C=${C:-16}
WORK=$(mktemp -d)
MOCK_PID=
cleanup() { [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
command -v perf >/dev/null || { echo "perf is not installed (apt-get install linux-perf)" >&2; exit 1; }
CARGO_TARGET_DIR=$ROOT/target/profile RUSTFLAGS="-C force-frame-pointers=yes" cargo build --release --quiet
BIN=$ROOT/target/profile/release/wxsend
MOCK_BIN=$BIN
source "$ROOT/bench/lib.sh"
start_mock
campaign "$WORK/p" "$ROWS" 1000000 "$C" profile
run() { # run [wrapper…]: one send; prints its user + system seconds
  WXSEND_BENCH_SECRET=s WXSEND_CACHE_DIR=$WORK/cache WXSEND_LEDGER_DIR=$WORK/ledger /usr/bin/time -f "%U %S" -o "$WORK/time" "$@" \
    "$BIN" send "$WORK/p/campaign.toml" --headless --yes --new-run --skip-template-check > /dev/null 2> "$WORK/send.log"
  awk '{print $1 + $2}' "$WORK/time"
}
# The CPU per message without the profiler, then the profile (which inflates every phase alike).
used=$(run)
per=$(python3 -c "print(round($used / $ROWS * 1e6, 2))")
run perf record -q -F 4000 -g -o "$WORK/perf.data" > /dev/null
echo "== wxsend CPU by phase: $ROWS messages, concurrency $C, $per µs of CPU per message unprofiled =="
perf script -i "$WORK/perf.data" 2> /dev/null | python3 bench/phases.py "$per"
echo
echo "== top functions (self time) =="
perf report -i "$WORK/perf.data" --no-children --sort dso,symbol --stdio 2> /dev/null | grep -E '^ +[0-9]' | head -20 | sed 's/  */ /g' | cut -c1-120
