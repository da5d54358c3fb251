-- Sidecar of directory-backed volumes (dir:/// stores, unsafe scope dirs): what
-- a plain file cannot carry. `stamp` is the file's stat identity when
-- sessionbox last wrote it; a row whose stamp no longer matches the disk was
-- changed by a native tool, and its version is then derived from the content.
CREATE TABLE dir_entries (
    volume_id     INTEGER NOT NULL REFERENCES volumes(id) ON DELETE CASCADE,
    path          TEXT NOT NULL,
    parent        TEXT NOT NULL,
    id            TEXT NOT NULL,
    is_readonly   INTEGER NOT NULL DEFAULT 0,
    content_type  TEXT,
    meta          TEXT NOT NULL DEFAULT '{}',
    version       INTEGER NOT NULL,
    content_hash  TEXT,
    created_at    INTEGER NOT NULL,
    stamp         TEXT NOT NULL,
    PRIMARY KEY (volume_id, path)
) WITHOUT ROWID;
CREATE INDEX dir_entries_children ON dir_entries (volume_id, parent);

-- Usage of a directory-backed volume: counted on disk at `scanned_at`, then kept
-- up to date by sessionbox's own writes; recounted when older than a few seconds,
-- so what native tools changed is counted too.
CREATE TABLE dir_usage (
    volume_id    INTEGER PRIMARY KEY REFERENCES volumes(id) ON DELETE CASCADE,
    bytes_used   INTEGER NOT NULL,
    entry_count  INTEGER NOT NULL,
    scanned_at   INTEGER NOT NULL
);
