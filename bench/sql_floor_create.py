"""Pure-SQL create floor of schema variants against raw sqlite3 (no sessionbox Python).

Why small contents are inline in a rowid entries table (bench/RESULTS.md, "Stop 12"):
each variant runs the statements a create needs (BEGIN IMMEDIATE, volume lookup,
target+parent lookup, content rows, entry insert, counters, COMMIT), interleaved with
raw sqlite3, 5 rounds of 2,000; prints the median p50 ratio per variant.

Usage: .venv/bin/python bench/sql_floor_create.py
"""

import sqlite3, tempfile, time, hashlib, uuid, sys, statistics
N = 2000
d = tempfile.mkdtemp()
def conn(p):
    c = sqlite3.connect(p, isolation_level=None); c.execute("PRAGMA journal_mode=WAL"); c.execute("PRAGMA synchronous=NORMAL"); c.execute("PRAGMA foreign_keys=ON"); return c
data = b"x"*1024
raw = conn(d+"/raw.db")
raw.execute("CREATE TABLE files (path TEXT PRIMARY KEY, parent TEXT NOT NULL, version INTEGER NOT NULL, data BLOB NOT NULL)")
raw.execute("CREATE INDEX files_parent ON files(parent)")
def raw_create(p):
    raw.execute("BEGIN IMMEDIATE"); raw.execute("INSERT INTO files VALUES (?,?,1,?)", (p, p.rsplit('/',1)[0], data)); raw.execute("COMMIT")
BASE = """
CREATE TABLE volumes (id INTEGER PRIMARY KEY, bytes_used INTEGER NOT NULL DEFAULT 0, entry_count INTEGER NOT NULL DEFAULT 0);
CREATE TABLE blobs (hash TEXT PRIMARY KEY, size INTEGER NOT NULL, chunk_count INTEGER NOT NULL, orphaned_at INTEGER, data BLOB) WITHOUT ROWID;
CREATE TABLE blob_chunks (hash TEXT NOT NULL REFERENCES blobs(hash) ON DELETE CASCADE, seq INTEGER NOT NULL, data BLOB NOT NULL, UNIQUE (hash, seq));
INSERT INTO volumes (id) VALUES (1);
"""
ENT_WR = """CREATE TABLE entries (volume_id INTEGER NOT NULL REFERENCES volumes(id), path TEXT NOT NULL, parent TEXT NOT NULL, name TEXT NOT NULL, id TEXT NOT NULL,
 is_directory INTEGER NOT NULL, size_bytes INTEGER NOT NULL, content_type TEXT, meta TEXT NOT NULL DEFAULT '{{}}', version INTEGER NOT NULL DEFAULT 1,
 blob_hash TEXT {fk}, inline BLOB, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (volume_id, path)) {wr};
CREATE INDEX entries_children ON entries (volume_id, parent, name);
CREATE INDEX entries_blob ON entries (blob_hash) WHERE blob_hash IS NOT NULL;"""
def mk(name, wr=True, fk=True):
    c = conn(f"{d}/{name}.db")
    c.executescript(BASE + ENT_WR.format(wr="WITHOUT ROWID" if wr else "", fk="REFERENCES blobs(hash)" if fk else ""))
    return c
INS = "INSERT INTO entries (volume_id,parent,name,path,id,is_directory,size_bytes,content_type,version,blob_hash,inline,created_at,updated_at) VALUES (1,?,?,?,?,?,?,?,1,?,?,0,0)"
def variant(c, how):
    def f(p):
        h = hashlib.blake2b(data + p.encode(), digest_size=32).hexdigest()
        par = p.rsplit('/',1)[0]
        c.execute("BEGIN IMMEDIATE")
        c.execute("SELECT id, bytes_used, entry_count FROM volumes WHERE id = 1").fetchall()
        rows = c.execute("SELECT path FROM entries WHERE volume_id=1 AND path IN (?,?)", (p, par)).fetchall()
        if not rows:
            c.execute(INS, (par.rsplit('/',1)[0] or '/', par.rsplit('/',1)[1], par, "u", 1, 0, None, None, None))
        if how == "chunks":
            c.execute("INSERT INTO blobs (hash,size,chunk_count) VALUES (?,?,1) ON CONFLICT DO NOTHING", (h, len(data)))
            c.execute("INSERT INTO blob_chunks (hash,seq,data) VALUES (?,0,?)", (h, data))
            c.execute(INS, (par, p.rsplit('/',1)[1], p, "u", 0, 1024, "t", h, None))
        elif how == "blobrow":
            c.execute("INSERT INTO blobs (hash,size,chunk_count,data) VALUES (?,?,1,?) ON CONFLICT DO NOTHING", (h, len(data), data))
            c.execute(INS, (par, p.rsplit('/',1)[1], p, "u", 0, 1024, "t", h, None))
        elif how == "inline":
            c.execute(INS, (par, p.rsplit('/',1)[1], p, "u", 0, 1024, "t", None, data))
        c.execute("UPDATE volumes SET bytes_used = bytes_used + 1024, entry_count = entry_count + 1 WHERE id = 1")
        c.execute("COMMIT")
    return f
def run(fn, tag):
    lat=[]
    for i in range(N):
        p=f"/{tag}/d{i%100}/f{i}.txt"
        t=time.perf_counter(); fn(p); lat.append(time.perf_counter()-t)
    lat.sort(); return lat[len(lat)//2]*1e6
V = {
 "wr chunks": variant(mk("a"), "chunks"),
 "wr blobrow": variant(mk("b"), "blobrow"),
 "wr inline": variant(mk("c"), "inline"),
 "rowid chunks": variant(mk("d", wr=False), "chunks"),
 "rowid blobrow": variant(mk("e", wr=False), "blobrow"),
 "rowid inline": variant(mk("f", wr=False), "inline"),
}
res = {k: [] for k in V}
for rep in range(5):
    r = run(raw_create, f"r{rep}")
    for k, f in V.items():
        res[k].append(r / run(f, f"s{rep}"))
for k, v in res.items():
    print(f"{k:15s} ratio median {statistics.median(v):.2f}  {[round(x,2) for x in v]}")
