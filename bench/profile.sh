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
"$BIN" mock --daily-quota 1000000000 2> "$WORK/mock.log" &
MOCK_PID=$!
for _ in $(seq 100); do
  MOCK_URL=$(sed -n 's/^wxsend mock listening on //p' "$WORK/mock.log")
  [ -n "$MOCK_URL" ] && break
  sleep 0.05
done
python3 - "$WORK" "$ROWS" "$C" "$MOCK_URL" <<'PY'
import sys
d, rows, conc, base = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
with open(d + "/recipients.csv", "w") as f:
    f.write("openid,product,order\n")
    for i in range(rows):
        f.write(f"oWx{i:025d},保温杯,SF{i:09d}\n")
open(d + "/campaign.toml", "w").write(f'''name = "profile"
[wechat]
api_base = "{base}"
appid = "wx0123456789abcdef"
secret_env = "WXSEND_BENCH_SECRET"
[message]
kind = "template"
template_id = "TID"
url = "https://example.com/o/{{{{order}}}}"
[message.data]
thing1 = "{{{{product}}}}"
character_string2 = "{{{{order}}}}"
[recipients]
csv = "recipients.csv"
[send]
rate = 100000
concurrency = {conc}
''')
PY
run() { # run [wrapper…]: one send; prints its user + system seconds
  WXSEND_BENCH_SECRET=s WXSEND_CACHE_DIR=$WORK/cache /usr/bin/time -f "%U %S" -o "$WORK/time" "$@" \
    "$BIN" send "$WORK/campaign.toml" --headless --yes --new-run --skip-template-check > /dev/null 2> "$WORK/send.log"
  awk '{print $1 + $2}' "$WORK/time"
}
# The CPU per message without the profiler, then the profile (which inflates every phase alike).
cpu=$(run)
per=$(python3 -c "print(round($cpu / $ROWS * 1e6, 2))")
run perf record -q -F 4000 -g -o "$WORK/perf.data" > /dev/null
echo "== wxsend CPU by phase: $ROWS messages, concurrency $C, $per µs of CPU per message unprofiled =="
perf script -i "$WORK/perf.data" 2> /dev/null | python3 bench/phases.py "$per"
echo
echo "== top functions (self time) =="
perf report -i "$WORK/perf.data" --no-children --sort dso,symbol --stdio 2> /dev/null | grep -E '^ +[0-9]' | head -20 | sed 's/  */ /g' | cut -c1-120
