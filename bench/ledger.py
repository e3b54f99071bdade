#!/usr/bin/env python3
"""A large account ledger for bench/run.sh (part "ledger"): DELIVERIES deliveries of one template
from an earlier campaign, to people other than the benchmark's list (every lookup misses, the
costliest case: the whole index is searched), added to a ledger file wxsend created.

    python3 bench/ledger.py LEDGER.sqlite DELIVERIES [TEMPLATE]
"""
import random
import sqlite3
import sys

path, deliveries = sys.argv[1], int(sys.argv[2])
template = sys.argv[3] if len(sys.argv) > 3 else "TID"
db = sqlite3.connect(path)
# The tables are wxsend's own: bench/run.sh creates the file with `wxsend ledger` first.
if not db.execute("SELECT name FROM sqlite_master WHERE name = 'deliveries'").fetchone():
    sys.exit(f"{path}: not a wxsend ledger (create it with `wxsend ledger suppress remove`, as bench/run.sh does)")

journal = "/bench/earlier/.wxsend/earlier/recipients/journal.jsonl"
db.execute("INSERT OR REPLACE INTO journals VALUES (1, ?, 'earlier', 'template', ?, 0, 1764979200, NULL)", (journal, template))
rng = random.Random(7)
# Inserted in key order (the table's own order): the file is built as a sender's years of runs
# would leave it after a VACUUM, and the script takes minutes rather than an hour.
keys = sorted(rng.getrandbits(64) - (1 << 63) for _ in range(deliveries))
batch = []
for row, key in enumerate(keys):
    batch.append((key, 1, row, "oEARLIER%020d" % row, 0, None, str(row), 1764979200))
    if len(batch) == 100_000:
        db.executemany("INSERT INTO deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?)", batch)
        batch.clear()
db.executemany("INSERT INTO deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?)", batch)
db.commit()
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.close()
