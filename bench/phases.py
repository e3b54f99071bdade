#!/usr/bin/env python3
"""Where a send's CPU goes, by phase: reads `perf script` output (a profile taken with call
graphs) and gives each sample to the first phase below whose pattern matches any frame of its
stack. Usage: perf script -i FILE | python3 bench/phases.py [CPU_US_PER_MSG] [-v]
With the process's measured CPU per message, each share is also given in µs per message;
-v lists the leaf functions of each phase."""
import sys, re, collections
RULES = [  # (phase, regex on any frame; checked in this order)
 ("end of run: report (journal replay, export)", r"Session::finish|build_report|read_journal"),
 ("load + validate (CSV, config, checks)", r"Session::prepare|Campaign::load|from_config|campaign::validate"),
 ("render body", r"render_body|render_row"),
 ("journal (encode + write to the OS)", r"journal::writer|JournalWriter|journal::encode"),
 ("journal fsync thread", r"wxsend-journal|sync_data|fdatasync"),
 ("response parsing", r"parse_answer|protocol::|from_slice|serde_json::de"),
 ("HTTP client (connection, request building, syscalls)", r"reqwest::|hyper::|hyper_util::|Http::|http::|WechatClient|Sender::send|mio::|__GI___writev|__send|__libc_recv|__libc_read"),
 ("board + events + rate", r"engine::board|engine::dispatch::flush|engine::events|engine::rate|governor::|futures_timer::|Board::|events::"),
 ("engine loop + tokio scheduler (wake-ups, epoll)", r"tokio::runtime|epoll_wait"),
]
comp = [(p, re.compile(r)) for p, r in RULES]
counts = collections.Counter(); leafs = collections.defaultdict(collections.Counter); total = 0
stack = []; comm = None
def flush():
    global total
    if not stack: return
    total += 1
    frames = stack
    for p, r in comp:
        if any(r.search(f) for f in frames):
            counts[p] += 1; leafs[p][frames[1][:90] if len(frames)>1 else frames[0]] += 1; break
    else:
        counts["other (thread start, main, libc)"] += 1; leafs["other (thread start, main, libc)"][frames[1][:90] if len(frames)>1 else "?"] += 1
for line in sys.stdin:
    if not line.strip():
        flush(); stack = []; continue
    if not line.startswith((' ', '\t')):
        flush(); stack = [line.split()[0]]; continue   # header: comm
    parts = line.strip().split(None, 1)
    if len(parts) == 2:
        sym = re.sub(r'\+0x[0-9a-f]+$', '', parts[1].rsplit(' (', 1)[0])
        stack.append(sym)
flush()
per = float(sys.argv[1]) if len(sys.argv) > 1 else None
for p, c in counts.most_common():
    extra = f"  {per*c/total:5.2f} µs/msg" if per else ""
    print(f"{100*c/total:5.1f}%{extra}  {p}")
    if '-v' in sys.argv:
        for l, n in leafs[p].most_common(6): print(f"          {100*n/total:4.1f}% {l}")
