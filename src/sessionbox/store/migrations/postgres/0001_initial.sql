-- Agents own sessions; sessions own volumes; volumes own entries; entries point
-- at content-addressed blobs stored in 1 MiB chunks. Paths use the "C"
-- collation: byte order, so the primary key (volume_id, path) is also the
-- prefix index (a subtree is one range scan, no text_pattern_ops needed) and
-- the order matches SQLite's.
CREATE TABLE agents (
    id          text PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
    pk              bigserial PRIMARY KEY,
    agent_id        text NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    id              text NOT NULL,
    mode            text NOT NULL CHECK (mode IN ('safe', 'unsafe')),
    type            text NOT NULL CHECK (type IN ('auto', 'named', 'uuid')),
    created_at      timestamptz NOT NULL,
    last_active_at  timestamptz NOT NULL,
    expires_at      timestamptz,
    UNIQUE (agent_id, id)
);
CREATE INDEX sessions_expires ON sessions (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE volumes (
    id           bigserial PRIMARY KEY,
    agent_id     text NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    session_pk   bigint REFERENCES sessions(pk) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('files', 'outputs', 'snapshots', 'applets')),
    bytes_used   bigint NOT NULL DEFAULT 0,
    entry_count  bigint NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX volumes_session_kind ON volumes (session_pk, kind) WHERE session_pk IS NOT NULL;
CREATE UNIQUE INDEX volumes_agent_kind ON volumes (agent_id, kind) WHERE session_pk IS NULL;

CREATE TABLE blobs (
    hash         text PRIMARY KEY,
    size         bigint NOT NULL,
    chunk_count  integer NOT NULL,
    orphaned_at  timestamptz
);

CREATE TABLE blob_chunks (
    hash  text NOT NULL REFERENCES blobs(hash) ON DELETE CASCADE,
    seq   integer NOT NULL,
    data  bytea NOT NULL,
    PRIMARY KEY (hash, seq)
);

CREATE TABLE entries (
    volume_id     bigint NOT NULL REFERENCES volumes(id) ON DELETE CASCADE,
    path          text COLLATE "C" NOT NULL,
    parent        text COLLATE "C" NOT NULL,
    name          text COLLATE "C" NOT NULL,
    id            uuid NOT NULL,
    is_directory  boolean NOT NULL,
    is_readonly   boolean NOT NULL DEFAULT false,
    size_bytes    bigint NOT NULL DEFAULT 0,
    content_type  text,
    meta          jsonb NOT NULL DEFAULT '{}',
    version       bigint NOT NULL DEFAULT 1,
    blob_hash     text REFERENCES blobs(hash),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (volume_id, path),
    CONSTRAINT entries_path_check CHECK (path ~ '^/([^/\0]+(/[^/\0]+)*)?$' AND path <> '/'),
    CONSTRAINT entries_directory_no_content CHECK (is_directory = (blob_hash IS NULL))
);
CREATE INDEX entries_children ON entries (volume_id, parent, name);
CREATE INDEX entries_blob ON entries (blob_hash) WHERE blob_hash IS NOT NULL;
