#!/usr/bin/env bash
# wxsend's performance, measured on the loopback against the embedded mock, with oha as the
# HTTP ceiling of this machine. Prints ratios measured in this one run.
#
#   bash bench/run.sh            # everything (about 3 minutes, plus oha's first install)
#   ROWS=20000 bash bench/run.sh # a smaller campaign for the throughput part
#   ONLY=network bash bench/run.sh     # one part: network (TLS + 40-60 ms, the operator's case),
#                                      # throughput, journal, scale, ledger, tokens, rate, memory, load, tui,
#                                      # or floor (against nginx, when installed)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ROWS=${ROWS:-100000}
REPEAT=${REPEAT:-3}
TOOLS=$ROOT/bench/.tools
WORK=$(mktemp -d)
MOCK_PID=
cleanup() { [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# WXSEND_BIN=path measures another build (e.g. before a change) against the same oha.
cargo build --release --quiet
BIN=${WXSEND_BIN:-$ROOT/target/release/wxsend}
MOCK_BIN=${MOCK_BIN:-$ROOT/target/release/wxsend}
if [ ! -x "$TOOLS/bin/oha" ]; then
  echo "installing oha into $TOOLS (once)…" >&2
  cargo install oha --locked --root "$TOOLS" --quiet
fi
OHA=$TOOLS/bin/oha

# start_mock, campaign, cpu: shared with bench/profile.sh.
source "$ROOT/bench/lib.sh"

send() { # send DIR -> prints "wall_s peak_kib cpu_s"
  local out=$WORK/time.txt
  WXSEND_BENCH_SECRET=s WXSEND_CACHE_DIR=$WORK/cache WXSEND_LEDGER_DIR=${WXSEND_LEDGER_DIR:-$WORK/ledger} /usr/bin/time -v -o "$out" \
    "$BIN" send "$1/campaign.toml" --headless --yes --new-run --skip-template-check > /dev/null 2> "$WORK/send.log" || true
  local wall peak
  wall=$(python3 -c "
import re,sys
t=open('$out').read()
m=re.search(r'Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)', t)
h,mi,s=m.group(1),m.group(2),m.group(3)
print((int(h or 0)*3600)+int(mi)*60+float(s))")
  peak=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$out")
  echo "$wall $peak $(cpu "$out")"
}

median1() { python3 -c "import statistics,sys; print(round(statistics.median(float(x) for x in sys.argv[1:]), 1))" "$@"; }
median() { python3 -c "import statistics,sys; print(round(statistics.median(float(x) for x in sys.argv[1:])))" "$@"; }
bodies() { # bodies FILE TAG: ten times ROWS distinct request bodies, one per line (oha -Z picks lines at random)
  python3 - "$1" "$2" "$ROWS" <<'PY2'
import sys, hashlib
path, tag, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(path, "w") as f:
    for i in range(rows * 10):
        order = f"SF{i:09d}"
        cid = "wx" + hashlib.sha256(f"{tag}/{i}".encode()).hexdigest()[:30]
        f.write('{"touser":"oOha%s%024d","template_id":"TID","url":"https://example.com/o/%s","data":{"thing1":{"value":"保温杯"},"character_string2":{"value":"%s"}},"client_msg_id":"%s"}\n'
                % (tag[:1], i, order, order, cid))
PY2
}

oha_bodies() { # oha_bodies C URL: oha posts ROWS bodies from $WORK/bodies.txt at concurrency C; sets
  # OHA_RPS, OHA_TOTAL and OHA_CPU (µs per request, without starting and loading the bodies file:
  # an 'oha -n 1' on the same file, run after, is subtracted)
  /usr/bin/time -v -o "$WORK/oha-time.txt" "$OHA" -n "$ROWS" -c "$1" -m POST -H "Content-Type: application/json" \
    "${OHA_EXTRA[@]}" -Z "$WORK/bodies.txt" --no-tui --output-format json "$2" > "$WORK/oha.json"
  read -r OHA_RPS OHA_TOTAL < <(python3 -c "import json; s=json.load(open('$WORK/oha.json'))['summary']; print(s['requestsPerSec'], s['requestsPerSec']*s['total'])")
  /usr/bin/time -v -o "$WORK/oha-load.txt" "$OHA" -n 1 -c 1 -m POST -H "Content-Type: application/json" \
    "${OHA_EXTRA[@]}" -Z "$WORK/bodies.txt" --no-tui --output-format json "$2" > /dev/null
  OHA_CPU=$(python3 -c "print(($(cpu "$WORK/oha-time.txt")-$(cpu "$WORK/oha-load.txt"))/max(1,$OHA_TOTAL-1)*1e6)")
}

OHA_EXTRA=()
part() { [ -z "${ONLY:-}" ] || [ "$ONLY" = "$1" ]; }

if part scale; then
SROWS=${SCALE_ROWS:-20000}
echo "== scale-out: aggregate throughput of 1, 2 and 4 senders sharing one Redis ($SROWS messages, unlimited rate, concurrency 16 each) =="
echo "   (each sender its own process and state folder; the baseline is one sender without Redis, same run)"
command -v redis-server >/dev/null || { echo "redis-server is not installed (apt-get install redis-server)"; exit 1; }
start_mock
RPORT=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
mkdir -p "$WORK/redis"
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK/redis" > /dev/null 2>&1 &
REDIS_PID=$!
trap 'kill $REDIS_PID 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do redis-cli -p "$RPORT" ping > /dev/null 2>&1 && break; sleep 0.05; done
campaign "$WORK/s0" "$SROWS" 1000000 16 "scale0"
read -r wall _ _ < <(send "$WORK/s0")
base=$(python3 -c "print(round($SROWS/$wall))")
printf "%-10s %12s %8s\n" senders "msg/s" ratio
printf "%-10s %12s %8s\n" "1, local" "$base" "1.00"
for n in 1 2 4; do
  campaign "$WORK/s$n" "$SROWS" 1000000 16 "scale$n"
  start=$(date +%s.%N)
  pids=()
  for k in $(seq "$n"); do
    WXSEND_BENCH_SECRET=s WXSEND_CACHE_DIR=$WORK/cache-$n-$k WXSEND_LEDGER_DIR=$WORK/ledger-$n-$k WXSEND_REDIS_URL=redis://127.0.0.1:$RPORT/0 \
      "$BIN" send "$WORK/s$n/campaign.toml" --headless --yes --skip-template-check --state-dir "$WORK/st-$n-$k" > /dev/null 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
  end=$(date +%s.%N)
  rate=$(python3 -c "print(round($SROWS/($end-$start)))")
  printf "%-10s %12s %8s\n" "$n, redis" "$rate" "$(python3 -c "print(f'{$rate/$base:.2f}')")"
done
kill $REDIS_PID 2>/dev/null || true
fi

if part journal; then
echo "== journal: the group-commit policy's cost ($ROWS messages, unlimited rate, concurrency 16) =="
echo "   (the same build with and without the fsync thread, alternating $REPEAT times; medians. Both hand"
echo "    every dispatch record to the OS before its request leaves; only the fsync differs)"
cargo build --release --quiet --features bench-unsynced-journal --target-dir "$ROOT/target/unsynced"
UNSYNCED=$ROOT/target/unsynced/release/wxsend
start_mock
synced=(); unsynced=(); scpu=(); ucpu=()
for i in $(seq "$REPEAT"); do
  for variant in synced unsynced; do
    campaign "$WORK/j" "$ROWS" 1000000 16 "j$variant$i"
    before=$(stat "['accepted']")
    if [ $variant = synced ]; then read -r wall rss cpus < <(send "$WORK/j"); else read -r wall rss cpus < <(BIN=$UNSYNCED send "$WORK/j"); fi
    after=$(stat "['accepted']")
    elapsed=$(python3 -c "import json; print(json.load(open('$WORK/j/.wxsend/j$variant$i/recipients/report.json'))['elapsed_secs'])")
    rate=$(python3 -c "print(($after-$before)/$elapsed)")
    per=$(python3 -c "print($cpus/max(1,$after-$before)*1e6)")
    if [ $variant = synced ]; then synced+=("$rate"); scpu+=("$per"); else unsynced+=("$rate"); ucpu+=("$per"); fi
  done
done
python3 - "${synced[*]}" "${unsynced[*]}" "${scpu[*]}" "${ucpu[*]}" <<'PY'
import statistics, sys
s, u, sc, uc = ([float(x) for x in a.split()] for a in sys.argv[1:5])
ms, mu = statistics.median(s), statistics.median(u)
print(f"with fsync every 100 ms: {ms:9.0f} msg/s, {statistics.median(sc):5.1f} µs CPU/msg   (runs: {' '.join(f'{x:.0f}' for x in s)})")
print(f"without fsync:           {mu:9.0f} msg/s, {statistics.median(uc):5.1f} µs CPU/msg   (runs: {' '.join(f'{x:.0f}' for x in u)})")
print(f"cost of the policy: {ms / mu:.3f} x the throughput without it")
PY
fi

if part network; then
# The operator's network: TLS and a 40-60 ms round trip (the mock answers each send after a
# delay drawn from that range), judged against the physical limits: Little's law
# (concurrency / mean latency) without a rate, the rate itself with one.
NET_ROWS=${NET_ROWS:-10000}
RATE_ROWS=${RATE_ROWS:-20000}
echo "== network: TLS on loopback, answers after 40-60 ms; $NET_ROWS messages at c=64, rates 1,000/s and 5,000/s over $RATE_ROWS =="
pki=$WORK/pki; mkdir -p "$pki"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=wxsend bench CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$pki/ca.key" -out "$pki/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
  -keyout "$pki/leaf.key" -out "$pki/leaf.csr" 2>/dev/null
printf "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n" > "$pki/leaf.ext"
openssl x509 -req -in "$pki/leaf.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial -days 2 \
  -extfile "$pki/leaf.ext" -out "$pki/leaf.pem" 2>/dev/null
CURL_CA=$pki/ca.pem
tls_campaign() { # tls_campaign DIR ROWS RATE CONCURRENCY NAME: campaign(), trusting the bench CA
  campaign "$1" "$2" "$3" "$4" "$5"
  printf '[network]\nca_file = "%s"\n' "$pki/ca.pem" >> "$1/campaign.toml"
}
net_mock() { start_mock --tls-cert "$pki/leaf.pem" --tls-key "$pki/leaf.key" --latency-ms 40-60; }
records() { curl -s --cacert "$pki/ca.pem" "$MOCK_URL/mock/records"; }

net_mock
token=$(curl -s --cacert "$pki/ca.pem" -X POST "$MOCK_URL/cgi-bin/stable_token" -d '{"grant_type":"client_credential","appid":"wx0123456789abcdef","secret":"s"}' | python3 -c "import json,sys; print(json.load(sys.stdin)['access_token'])")
send_url="$MOCK_URL/cgi-bin/message/template/send?access_token=$token"
OHA_EXTRA=(--cacert "$pki/ca.pem")
held() { stat "['answer_delay_us']/max(1,$(stat "['delayed_answers']"))/1e6"; } # mean answer delay so far (s)
echo "   Little's law: 64 ÷ the mean delay the mock really held each answer (the timer's rounding included)"
printf "%-8s %10s %12s %9s %8s %13s %12s\n" run "msg/s" "Little's law" "÷ ideal" "÷ oha" "connections" "CPU µs/msg"
ROWS_SAVED=$ROWS; ROWS=$NET_ROWS
for i in $(seq "$REPEAT"); do
  tls_campaign "$WORK/n$i" "$NET_ROWS" 1000000 64 "net$i"
  bodies "$WORK/bodies.txt" "n$i"
  # (each stat is a curl, a connection of its own: c0 and c1 are read right around the run,
  # and c1's own connection is not the client's)
  before=$(stat "['accepted']"); d0=$(stat "['answer_delay_us']"); n0=$(stat "['delayed_answers']"); c0=$(stat "['connections']")
  read -r wall rss cpus < <(send "$WORK/n$i")
  c1=$(( $(stat "['connections']") - 1 )); after=$(stat "['accepted']"); d1=$(stat "['answer_delay_us']"); n1=$(stat "['delayed_answers']")
  elapsed=$(python3 -c "import json; print(json.load(open('$WORK/n$i/.wxsend/net$i/recipients/report.json'))['elapsed_secs'])")
  wx=$(python3 -c "print(($after-$before)/$elapsed)")
  wideal=$(python3 -c "print(64/(($d1-$d0)/max(1,$n1-$n0)/1e6))")
  wcpu=$(python3 -c "print($cpus/max(1,$after-$before)*1e6)")
  c1b=$(stat "['connections']")
  oha_bodies 64 "$send_url"
  c2=$(( $(stat "['connections']") - 1 - 1 )); d2=$(stat "['answer_delay_us']"); n2=$(stat "['delayed_answers']")  # (less oha's -n 1 run)
  oideal=$(python3 -c "print(64/(($d2-$d1)/max(1,$n2-$n1)/1e6))")
  printf "%-8s %10.0f %12.0f %9.3f %8.3f %8s / 64 %12.1f\n" wxsend "$wx" "$wideal" "$(python3 -c "print($wx/$wideal)")" \
    "$(python3 -c "print($wx/$OHA_RPS)")" "$((c1 - c0))" "$wcpu"
  printf "%-8s %10.0f %12.0f %9.3f %8s %8s / 64 %12.1f\n" oha "$OHA_RPS" "$oideal" "$(python3 -c "print($OHA_RPS/$oideal)")" "" \
    "$((c2 - c1b))" "$OHA_CPU"
done
ROWS=$ROWS_SAVED

# The mock's records from index FROM on: messages, first-to-last rate, the same after the first
# second (once the connections are open), the busiest second.
rate_of() { # rate_of FROM RATE BURST LABEL
  records | python3 -c "
import json,sys,bisect
at=sorted(r['at_ms'] for r in json.load(sys.stdin)[$1:])
def rate(a): return (len(a)-1)/((a[-1]-a[0])/1000)
steady=[t for t in at if t >= at[0]+1000]
worst=max(bisect.bisect_left(at, t+1000)-i for i,t in enumerate(at))
print(f'   %-7s {len(at)} in {(at[-1]-at[0])/1000:.2f} s: {rate(at)/$2:.4f} x the rate, {rate(steady)/$2:.4f} after the first second; busiest second {worst} (rate + burst {$2+$3})' % '$4')"
}
echo "   rate accuracy at the mock (burst = the limiter's: max(1, rate/20, 2)); oha -q in the same run:"
for spec in "1000 64" "5000 512"; do
  read -r R C <<< "$spec"
  burst=$(python3 -c "print(max(1, -(-$R//20), 2))")
  net_mock
  token=$(curl -s --cacert "$pki/ca.pem" -X POST "$MOCK_URL/cgi-bin/stable_token" -d '{"grant_type":"client_credential","appid":"wx0123456789abcdef","secret":"s"}' | python3 -c "import json,sys; print(json.load(sys.stdin)['access_token'])")
  tls_campaign "$WORK/nr$R" "$RATE_ROWS" "$R" "$C" "rate$R"
  c0=$(stat "['connections']")
  read -r wall rss cpus < <(send "$WORK/nr$R")
  c1=$(( $(stat "['connections']") - 1 )); from=$(stat "['accepted']")
  echo "   rate $R/s, c=$C: wxsend opened $((c1 - c0)) connections (≤ $C), CPU $(python3 -c "print(round($cpus/$RATE_ROWS*1e6,1))") µs/msg"
  rate_of 0 "$R" "$burst" wxsend
  bodies "$WORK/bodies.txt" "r$R"
  "$OHA" -n "$RATE_ROWS" -c "$C" -q "$R" -m POST -H "Content-Type: application/json" "${OHA_EXTRA[@]}" \
    -Z "$WORK/bodies.txt" --no-tui --output-format json "$MOCK_URL/cgi-bin/message/template/send?access_token=$token" > /dev/null
  rate_of "$from" "$R" 0 oha
done
unset CURL_CA
fi

if part ledger; then
# The account's delivery ledger at scale: `check` of a million-row list against ten million
# earlier deliveries of the same template (every lookup misses: the whole key tree is searched),
# and a million-row campaign resumed with nothing left (`status`, `send`).
LROWS=${LEDGER_ROWS:-1000000}
LDELIVERIES=${LEDGER_DELIVERIES:-10000000}
echo "== ledger: check of $LROWS rows against $LDELIVERIES deliveries of the template; resume of $LROWS rows =="
start_mock
campaign "$WORK/l" "$LROWS" 1000000 64 ledger
printf 'openid\noNOBODY0000000000000000000000\n' > "$WORK/nobody.csv"
WXSEND_LEDGER_DIR=$WORK/ledger-big "$BIN" ledger suppress remove "$WORK/nobody.csv" --appid wx0123456789abcdef > /dev/null
python3 bench/ledger.py "$WORK/ledger-big/wx0123456789abcdef.sqlite" "$LDELIVERIES" TID
timed() { /usr/bin/time -f "%e" -o "$WORK/t" "$@" > /dev/null 2>&1 || true; cat "$WORK/t"; }
for i in $(seq "$REPEAT"); do
  none=$(WXSEND_LEDGER_DIR=$WORK/no-ledger timed "$BIN" check "$WORK/l/campaign.toml" --offline)
  big=$(WXSEND_LEDGER_DIR=$WORK/ledger-big timed "$BIN" check "$WORK/l/campaign.toml" --offline)
  echo "   check: ${none} s without a ledger, ${big} s against $LDELIVERIES deliveries"
done
WXSEND_LEDGER_DIR=$WORK/ledger-run send "$WORK/l" > /dev/null
for i in $(seq "$REPEAT"); do
  st=$(WXSEND_LEDGER_DIR=$WORK/ledger-run timed "$BIN" status "$WORK/l/campaign.toml")
  again=$(WXSEND_BENCH_SECRET=s WXSEND_CACHE_DIR=$WORK/cache WXSEND_LEDGER_DIR=$WORK/ledger-run timed "$BIN" send "$WORK/l/campaign.toml" --headless --yes --skip-template-check)
  echo "   resume of $LROWS delivered rows: status ${st} s, send with nothing left ${again} s"
done
fi

if part throughput; then
echo "== throughput: $ROWS messages, unlimited rate, against the mock; oha on the same endpoint =="
echo "   (wxsend and oha alternate $REPEAT times per concurrency; medians; this machine is shared and noisy)"
echo "   (oha sends $ROWS bodies drawn from $((ROWS * 10)) distinct ones shaped like wxsend's, each with its own"
echo "    openid and client_msg_id, so the mock does the same work per request for both: see 'mock CPU';"
echo "    'oha, 1 body' repeats one body without client_msg_id: cheaper for oha and for the mock, shown for reference)"
echo "   (oha's CPU per request leaves out loading its bodies file: an 'oha -n 1' on the same file is subtracted)"
mock_cpu() { awk '{print ($14 + $15) / 100}' "/proc/$MOCK_PID/stat"; } # seconds (USER_HZ = 100)
mock_user() { awk '{print $14 / 100}' "/proc/$MOCK_PID/stat"; } # its user-space part
printf "%-12s %12s %12s %8s %12s %16s %14s %20s %14s %8s\n" concurrency "wxsend msg/s" "oha req/s" ratio "wxsend RSS" "wxsend CPU/msg" "oha CPU/req" "mock CPU/req (w / o)" "oha, 1 body" ratio
for C in 16 64; do
  start_mock
  token=$(curl -s -X POST "$MOCK_URL/cgi-bin/stable_token" -d '{"grant_type":"client_credential","appid":"wx0123456789abcdef","secret":"s"}' | python3 -c "import json,sys; print(json.load(sys.stdin)['access_token'])")
  body='{"touser":"oWx0000000000000000000000001","template_id":"TID","url":"https://example.com/o/SF000000001","data":{"thing1":{"value":"保温杯"},"character_string2":{"value":"SF000000001"}}}'
  wxs=(); ohas=(); wcpu=(); ocpu=(); wmock=(); wmuser=(); omock=(); fixed=(); peak=0
  for i in $(seq "$REPEAT"); do
    # A new campaign name each time: its client_msg_ids are new, so the mock delivers every one.
    campaign "$WORK/c$C" "$ROWS" 1000000 "$C" "bench$i"
    bodies "$WORK/bodies.txt" "$C$i"
    before=$(stat "['accepted']"); m0=$(mock_cpu); u0=$(mock_user)
    read -r wall rss cpus < <(send "$WORK/c$C")
    after=$(stat "['accepted']"); m1=$(mock_cpu); u1=$(mock_user)
    wcpu+=("$(python3 -c "print($cpus/max(1,$after-$before)*1e6)")")
    wmock+=("$(python3 -c "print(($m1-$m0)/max(1,$after-$before)*1e6)")")
    wmuser+=("$(python3 -c "print(($u1-$u0)/max(1,$after-$before)*1e6)")")
    [ "$rss" -gt "$peak" ] && peak=$rss
    # The engine's own time (the wall time also counts loading and the token).
    elapsed=$(python3 -c "import json; print(json.load(open('$WORK/c$C/.wxsend/bench$i/recipients/report.json'))['elapsed_secs'])")
    wxs+=("$(python3 -c "print(($after-$before)/$elapsed)")")
    m0=$(mock_cpu)
    oha_bodies "$C" "$MOCK_URL/cgi-bin/message/template/send?access_token=$token"
    m1=$(mock_cpu) # (counts the one request of oha's load run too: negligible)
    ohas+=("$OHA_RPS"); ocpu+=("$OHA_CPU")
    omock+=("$(python3 -c "print(($m1-$m0)/max(1,$OHA_TOTAL)*1e6)")")
    "$OHA" -n "$ROWS" -c "$C" -m POST -H "Content-Type: application/json" -d "$body" \
      --no-tui --output-format json "$MOCK_URL/cgi-bin/message/template/send?access_token=$token" > "$WORK/oha.json"
    fixed+=("$(python3 -c "import json; print(json.load(open('$WORK/oha.json'))['summary']['requestsPerSec'])")")
  done
  wx=$(median "${wxs[@]}"); oh=$(median "${ohas[@]}"); of=$(median "${fixed[@]}")
  printf "%-12s %12s %12s %8s %8s MiB %13s µs %11s µs %11s / %s µs %14s %8s\n" "$C" "$wx" "$oh" "$(python3 -c "print(f'{$wx/$oh:.2f}')")" "$((peak / 1024))" \
    "$(median1 "${wcpu[@]}")" "$(median1 "${ocpu[@]}")" "$(median1 "${wmock[@]}")" "$(median1 "${omock[@]}")" "$of" "$(python3 -c "print(f'{$wx/$of:.2f}')")"
  echo "   runs: wxsend ${wxs[*]/%/ }| oha ${ohas[*]/%/ }" | python3 -c "import sys,re; print(re.sub(r'(\d+)\.\d+', r'\1', sys.stdin.read()), end='')"
  echo "   mock CPU/req with wxsend: $(median1 "${wmock[@]}") µs, of which user space $(median1 "${wmuser[@]}") µs (the rest is the kernel's socket work)"
done

fi

if part tokens; then
echo
echo "== tokens per campaign (disk cache) =="
start_mock
campaign "$WORK/tok" 200 100000 16
rm -rf "$WORK/cache"
send "$WORK/tok" > /dev/null; cold=$(stat "['stable_token_calls']")
send "$WORK/tok" > /dev/null; warm=$(( $(stat "['stable_token_calls']") - cold ))
echo "cold cache: $cold token request(s); warm cache: $warm"

fi

if part rate; then
echo
echo "== rate accuracy (30 s each; worst 1-second window from the mock's timestamps) =="
for R in 200 1000; do
  start_mock
  campaign "$WORK/r$R" $((R * 30)) "$R" 64
  send "$WORK/r$R" > /dev/null
  curl -s "$MOCK_URL/mock/records" | python3 -c "
import json,sys,bisect
at=sorted(r['at_ms'] for r in json.load(sys.stdin))
span=(at[-1]-at[0])/1000
worst=max(bisect.bisect_left(at, t+1000)-i for i,t in enumerate(at))
print(f'rate $R/s: {len(at)} messages in {span:.2f} s = {len(at)/span/$R:.4f} x configured (first to last); worst 1-second window {worst} (limit {$R}+1)')"
done

fi

if part memory; then
echo
echo "== memory while sending: ${RSS_ROWS:=1000000} rows (check = load + validate only; send = the whole campaign) =="
start_mock
campaign "$WORK/rss" "$RSS_ROWS" 1000000 64
/usr/bin/time -v -o "$WORK/check-time.txt" "$BIN" check "$WORK/rss/campaign.toml" --show 0 > /dev/null || true
check_peak=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/check-time.txt")
read -r wall send_peak cpus < <(send "$WORK/rss")
echo "check peak RSS $((check_peak / 1024)) MiB; send peak RSS $((send_peak / 1024)) MiB; sending adds $(((send_peak - check_peak) / 1024)) MiB for $RSS_ROWS messages in ${wall} s"

fi

if part load; then
echo
echo "== load + validate 1,000,000 rows =="
cargo bench --quiet --bench load_validate 2>/dev/null | sed -n '/rows/,$p'
fi

if part tui; then
echo
echo "== TUI frame time, 1,000,000 rows =="
cargo bench --quiet --bench tui_frame 2>/dev/null | sed -n '/rows/,$p'
fi

if part floor; then
echo
echo "== against a server at this machine's floor: nginx answering a fixed body ($ROWS messages) =="
echo "   (not the mock: nginx neither checks nor records anything, so the clients' own costs decide;"
echo "    wxsend and oha alternate $REPEAT times per concurrency; medians; oha's CPU leaves out loading its bodies)"
if ! command -v nginx > /dev/null; then
  echo "nginx is not installed (apt-get install nginx-light): skipped"
else
  NPORT=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
  mkdir -p "$WORK/nginx"
  cat > "$WORK/nginx/nginx.conf" <<NGX
worker_processes 1;
daemon off;
error_log $WORK/nginx/error.log;
pid $WORK/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path $WORK/nginx;
  server {
    listen 127.0.0.1:$NPORT;
    default_type application/json;
    location = /cgi-bin/stable_token { return 200 '{"access_token":"FLOOR_ACCESS_TOKEN_0123456789abcdef","expires_in":7200}'; }
    location / { return 200 '{"errcode":0,"errmsg":"ok","msgid":4674045479742390278}'; }
  }
}
NGX
  nginx -c "$WORK/nginx/nginx.conf" &
  NGINX_PID=$!
  trap 'kill $NGINX_PID 2>/dev/null; cleanup' EXIT
  for _ in $(seq 100); do curl -s "http://127.0.0.1:$NPORT/x" > /dev/null && break; sleep 0.05; done
  worker=$(pgrep -P "$NGINX_PID" nginx | head -1)
  ngx_cpu() { awk '{print ($14 + $15) / 100}' "/proc/$worker/stat"; }
  MOCK_URL=http://127.0.0.1:$NPORT
  fixed_body='{"touser":"oWx0000000000000000000000001","template_id":"TID","url":"https://example.com/o/SF000000001","data":{"thing1":{"value":"保温杯"},"character_string2":{"value":"SF000000001"}}}'
  printf "%-12s %12s %12s %8s %16s %14s %22s %14s %8s %16s\n" concurrency "wxsend msg/s" "oha req/s" ratio "wxsend CPU/msg" "oha CPU/req" "nginx CPU/req (w / o)" "oha, 1 body" ratio "its CPU/req"
  for C in 16 64; do
    wxs=(); ohas=(); wcpu=(); ocpu=(); wn=(); on=(); fixed=(); fcpu=()
    for i in $(seq "$REPEAT"); do
      campaign "$WORK/f$C" "$ROWS" 1000000 "$C" "floor$i"
      bodies "$WORK/bodies.txt" "$C$i"
      n0=$(ngx_cpu)
      read -r wall rss cpus < <(send "$WORK/f$C")
      n1=$(ngx_cpu)
      elapsed=$(python3 -c "import json; print(json.load(open('$WORK/f$C/.wxsend/floor$i/recipients/report.json'))['elapsed_secs'])")
      wxs+=("$(python3 -c "print($ROWS/$elapsed)")")
      wcpu+=("$(python3 -c "print($cpus/$ROWS*1e6)")")
      wn+=("$(python3 -c "print(($n1-$n0)/$ROWS*1e6)")")
      n0=$(ngx_cpu)
      oha_bodies "$C" "$MOCK_URL/cgi-bin/message/template/send?access_token=FLOOR_ACCESS_TOKEN_0123456789abcdef"
      n1=$(ngx_cpu)
      ohas+=("$OHA_RPS"); ocpu+=("$OHA_CPU")
      on+=("$(python3 -c "print(($n1-$n0)/max(1,$OHA_TOTAL)*1e6)")")
      # oha posting one fixed body: nothing to load, so its whole CPU counts.
      /usr/bin/time -v -o "$WORK/oha-fixed.txt" "$OHA" -n "$ROWS" -c "$C" -m POST -H "Content-Type: application/json" -d "$fixed_body" \
        --no-tui --output-format json "$MOCK_URL/cgi-bin/message/template/send?access_token=FLOOR_ACCESS_TOKEN_0123456789abcdef" > "$WORK/oha.json"
      fixed+=("$(python3 -c "import json; print(json.load(open('$WORK/oha.json'))['summary']['requestsPerSec'])")")
      fcpu+=("$(python3 -c "print($(cpu "$WORK/oha-fixed.txt")/$ROWS*1e6)")")
    done
    wx=$(median "${wxs[@]}"); oh=$(median "${ohas[@]}"); of=$(median "${fixed[@]}")
    printf "%-12s %12s %12s %8s %13s µs %11s µs %13s / %s µs %14s %8s %13s µs\n" "$C" "$wx" "$oh" "$(python3 -c "print(f'{$wx/$oh:.2f}')")" \
      "$(median1 "${wcpu[@]}")" "$(median1 "${ocpu[@]}")" "$(median1 "${wn[@]}")" "$(median1 "${on[@]}")" \
      "$of" "$(python3 -c "print(f'{$wx/$of:.2f}')")" "$(median1 "${fcpu[@]}")"
    echo "   runs: wxsend ${wxs[*]/%/ }| oha ${ohas[*]/%/ }| oha, 1 body ${fixed[*]/%/ }" | python3 -c "import sys,re; print(re.sub(r'(\d+)\.\d+', r'\1', sys.stdin.read()), end='')"
  done
  kill "$NGINX_PID" 2>/dev/null || true
fi
fi
