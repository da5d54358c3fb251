-- API tokens: scoped to one agent, a mode, optionally one session. Only the
-- SHA-256 of the secret is kept; revoking sets revoked_at (the row stays, so a
-- listing shows what was revoked and when). No FK to agents: a token may be
-- issued before its agent has any session.
CREATE TABLE tokens (
    id           text PRIMARY KEY,
    secret_hash  text NOT NULL UNIQUE,
    agent_id     text NOT NULL,
    mode         text NOT NULL CHECK (mode IN ('safe', 'unsafe')),
    session_id   text,
    read_only    boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX tokens_agent ON tokens (agent_id, id);
