-- Sidecar of directory-backed volumes (dir:/// stores, unsafe scope dirs): what
-- a plain file cannot carry. `stamp` is the file's stat identity when
-- sessionbox last wrote it; a row whose stamp no longer matches the disk was
-- changed by a native tool, and its version is then derived from the content.
CREATE TABLE dir_entries (
    volume_id     bigint NOT NULL REFERENCES volumes(id) ON DELETE CASCADE,
    path          text COLLATE "C" NOT NULL,
    parent        text COLLATE "C" NOT NULL,
    id            uuid NOT NULL,
    is_readonly   boolean NOT NULL DEFAULT false,
    content_type  text,
    meta          jsonb NOT NULL DEFAULT '{}',
    version       bigint NOT NULL,
    content_hash  text,
    created_at    timestamptz NOT NULL,
    stamp         text NOT NULL,
    PRIMARY KEY (volume_id, path)
);
CREATE INDEX dir_entries_children ON dir_entries (volume_id, parent);

-- Usage of a directory-backed volume: counted on disk at `scanned_at`, then kept
-- up to date by sessionbox's own writes; recounted when older than a few seconds,
-- so what native tools changed is counted too.
CREATE TABLE dir_usage (
    volume_id    bigint PRIMARY KEY REFERENCES volumes(id) ON DELETE CASCADE,
    bytes_used   bigint NOT NULL,
    entry_count  bigint NOT NULL,
    scanned_at   timestamptz NOT NULL
);
