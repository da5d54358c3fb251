-- API tokens: scoped to one agent, a mode, optionally one session. Only the
-- SHA-256 of the secret is kept; revoking sets revoked_at (the row stays, so a
-- listing shows what was revoked and when). No FK to agents: a token may be
-- issued before its agent has any session.
CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    secret_hash  TEXT NOT NULL UNIQUE,
    agent_id     TEXT NOT NULL,
    mode         TEXT NOT NULL CHECK (mode IN ('safe', 'unsafe')),
    session_id   TEXT,
    read_only    INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX tokens_agent ON tokens (agent_id, id);
