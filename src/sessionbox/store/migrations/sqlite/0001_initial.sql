-- Agents own sessions; sessions own volumes; volumes own entries; entries point
-- at content-addressed blobs stored in 1 MiB chunks. Timestamps are integer
-- microseconds since the epoch (UTC).
CREATE TABLE agents (
    id          TEXT PRIMARY KEY,
    created_at  INTEGER NOT NULL
);

CREATE TABLE sessions (
    pk              INTEGER PRIMARY KEY,
    agent_id        TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    mode            TEXT NOT NULL CHECK (mode IN ('safe', 'unsafe')),
    type            TEXT NOT NULL CHECK (type IN ('auto', 'named', 'uuid')),
    created_at      INTEGER NOT NULL,
    last_active_at  INTEGER NOT NULL,
    expires_at      INTEGER,
    UNIQUE (agent_id, id)
);
CREATE INDEX sessions_expires ON sessions (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE volumes (
    id           INTEGER PRIMARY KEY,
    agent_id     TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    session_pk   INTEGER REFERENCES sessions(pk) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('files', 'outputs', 'snapshots', 'applets')),
    bytes_used   INTEGER NOT NULL DEFAULT 0,
    entry_count  INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX volumes_session_kind ON volumes (session_pk, kind) WHERE session_pk IS NOT NULL;
CREATE UNIQUE INDEX volumes_agent_kind ON volumes (agent_id, kind) WHERE session_pk IS NULL;

CREATE TABLE blobs (
    hash         TEXT PRIMARY KEY,
    size         INTEGER NOT NULL,
    chunk_count  INTEGER NOT NULL,
    orphaned_at  INTEGER
) WITHOUT ROWID;

-- A rowid table: chunk bytes must not sit inside index pages.
CREATE TABLE blob_chunks (
    hash  TEXT NOT NULL REFERENCES blobs(hash) ON DELETE CASCADE,
    seq   INTEGER NOT NULL,
    data  BLOB NOT NULL,
    UNIQUE (hash, seq)
);

-- Clustered by (volume_id, path): a subtree is one contiguous range, so
-- listing, moving and deleting cost what the subtree holds, not the volume.
CREATE TABLE entries (
    volume_id     INTEGER NOT NULL REFERENCES volumes(id) ON DELETE CASCADE,
    path          TEXT NOT NULL CHECK (
                      substr(path, 1, 1) = '/' AND path <> '/' AND substr(path, -1) <> '/'
                      AND instr(path, '//') = 0 AND instr(path, char(0)) = 0),
    parent        TEXT NOT NULL,
    name          TEXT NOT NULL,
    id            TEXT NOT NULL,
    is_directory  INTEGER NOT NULL,
    is_readonly   INTEGER NOT NULL DEFAULT 0,
    size_bytes    INTEGER NOT NULL DEFAULT 0,
    content_type  TEXT,
    meta          TEXT NOT NULL DEFAULT '{}',
    version       INTEGER NOT NULL DEFAULT 1,
    blob_hash     TEXT REFERENCES blobs(hash),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (volume_id, path),
    CHECK (is_directory = (blob_hash IS NULL))
) WITHOUT ROWID;
CREATE INDEX entries_children ON entries (volume_id, parent, name);
CREATE INDEX entries_blob ON entries (blob_hash) WHERE blob_hash IS NOT NULL;
