# Helpers shared by bench/run.sh and bench/profile.sh. They expect ROOT, WORK, MOCK_BIN and
# MOCK_PID to be set by the script that sources this file.

start_mock() { # start_mock [flags…] -> sets MOCK_URL
  [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null || true
  # The benchmarks send far more than WeChat's default 100,000 a day through one mock.
  "$MOCK_BIN" mock --daily-quota 1000000000 "$@" 2> "$WORK/mock.log" &
  MOCK_PID=$!
  for _ in $(seq 100); do
    MOCK_URL=$(sed -n 's/^wxsend mock listening on //p' "$WORK/mock.log")
    [ -n "$MOCK_URL" ] && return 0
    sleep 0.05
  done
  echo "the mock did not start" >&2; exit 1
}

# CURL_CA: the CA file of a mock started with --tls-cert (empty: plain http).
stat() { curl -s ${CURL_CA:+--cacert "$CURL_CA"} "$MOCK_URL/mock/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

campaign() { # campaign DIR ROWS RATE CONCURRENCY [NAME]
  python3 - "$1" "$2" "$3" "$4" "$MOCK_URL" "${5:-bench}" <<'PY'
import sys, os
d, rows, rate, conc, base, name = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
os.makedirs(d, exist_ok=True)
with open(os.path.join(d, "recipients.csv"), "w") as f:
    f.write("openid,product,order\n")
    for i in range(rows):
        f.write(f"oWx{i:025d},保温杯,SF{i:09d}\n")
open(os.path.join(d, "campaign.toml"), "w").write(f'''name = "{name}"
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
rate = {rate}
burst = 1
concurrency = {conc}
max_attempts = 5
''')
PY
}

cpu() { # cpu TIME_V_OUTPUT -> user + system seconds
  python3 -c "
import re
t=open('$1').read()
print(float(re.search(r'User time \(seconds\): ([\d.]+)', t).group(1)) + float(re.search(r'System time \(seconds\): ([\d.]+)', t).group(1)))"
}
