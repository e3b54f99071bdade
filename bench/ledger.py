#!/usr/bin/env python3
"""A large account ledger for bench/run.sh (part "ledger"): DELIVERIES deliveries of one template
from an earlier campaign, to people other than the benchmark's list (every lookup misses, the
costliest case: the whole index is searched), in the schema wxsend itself creates.

    python3 bench/ledger.py LEDGER.sqlite DELIVERIES [TEMPLATE]
"""
import random
import sqlite3
import sys

path, deliveries = sys.argv[1], int(sys.argv[2])
template = sys.argv[3] if len(sys.argv) > 3 else "TID"
db = sqlite3.connect(path)
db.executescript("""
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS journals (
  id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, campaign TEXT NOT NULL, kind TEXT NOT NULL,
  template TEXT NOT NULL, fed INTEGER NOT NULL DEFAULT 0, at INTEGER NOT NULL DEFAULT 0, head TEXT
);
CREATE TABLE IF NOT EXISTS deliveries (
  key INTEGER NOT NULL, journal INTEGER NOT NULL, row INTEGER NOT NULL, openid TEXT NOT NULL,
  outcome INTEGER NOT NULL, errcode INTEGER, msgid TEXT, at INTEGER NOT NULL,
  PRIMARY KEY (key, journal, row)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS answers (openid TEXT PRIMARY KEY, code INTEGER NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS suppressed (openid TEXT PRIMARY KEY, note TEXT NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID;
PRAGMA user_version = 1;
""")

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
db.execute("CREATE UNIQUE INDEX IF NOT EXISTS deliveries_row ON deliveries(journal, row)")
db.execute("CREATE INDEX IF NOT EXISTS deliveries_openid ON deliveries(openid, at)")
db.commit()
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.close()
