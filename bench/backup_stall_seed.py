"""Fills the table `table` of the SQLite database `db` with rows of about 1 KB until the
file is `size_mb` MB: the data of bench/backup-stall, written straight into the file of a
running server (WAL), for kulisse and PocketBase alike."""

import os
import sqlite3
import sys

db, table, size_mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
body = ("lorem ipsum dolor sit amet " * 40)[:1000]
conn = sqlite3.connect(db, timeout=60)
n = 0


def size():
    wal = db + "-wal"
    return os.path.getsize(db) + (os.path.getsize(wal) if os.path.exists(wal) else 0)


while size() < size_mb << 20:
    rows = [(f"{n + i:015d}", f"title {n + i}", body) for i in range(50_000)]
    conn.executemany(f'INSERT INTO "{table}" (id, title, body) VALUES (?, ?, ?)', rows)
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    n += len(rows)
print(n)
