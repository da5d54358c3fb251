-- The most frequent write, a new small file, as ONE statement in autocommit: one
-- round trip and one commit instead of BEGIN, four statements and COMMIT. It does
-- what a locked writer does, in the same order: lock the session's volume rows in id
-- order (as every writer does, so no two writers deadlock), then check with fresh
-- snapshots (each statement of a PL/pgSQL function takes its own, as separate
-- statements would) that the quota has room, the parent is a directory and the path
-- is free; insert, count, touch the activity time when stale and NOTIFY the change.
-- It answers false, having changed nothing, when any check fails; the store then
-- takes the general path, which raises the precise error. The SQLite counterpart is
-- the view new_files (sqlite/0014).
CREATE FUNCTION new_file(
    p_agent text, p_session text, p_kind text, p_stale_before timestamptz,
    p_quota_bytes bigint, p_quota_entries bigint,
    -- an entry row, in the order of _volume.entry_values
    p_parent text, p_name text, p_path text, p_id uuid, p_is_directory boolean,
    p_readonly boolean, p_size bigint, p_content_type text, p_meta jsonb, p_version bigint,
    p_hash text, p_now timestamptz, p_updated_at timestamptz, p_data bytea,
    p_channel text, p_notify text
) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    target bigint;
    owner bigint;
    active timestamptz;
    used_bytes bigint;
    used_entries bigint;
BEGIN
    -- A missing parent is the usual refusal (a new directory): settle it before locking.
    IF p_parent <> '/' AND NOT EXISTS (
        SELECT 1 FROM sessions s JOIN volumes v ON v.session_pk = s.pk
        JOIN entries e ON e.volume_id = v.id
        WHERE s.agent_id = p_agent AND s.id = p_session AND v.kind = p_kind
          AND e.path = p_parent AND e.is_directory
    ) THEN
        RETURN false;
    END IF;
    PERFORM 1 FROM sessions s JOIN volumes v ON v.session_pk = s.pk
    WHERE s.agent_id = p_agent AND s.id = p_session
      AND (s.expires_at IS NULL OR s.expires_at > p_now)
    ORDER BY v.id FOR UPDATE OF v;
    SELECT v.id, s.pk, s.last_active_at INTO target, owner, active
    FROM sessions s JOIN volumes v ON v.session_pk = s.pk
    WHERE s.agent_id = p_agent AND s.id = p_session AND v.kind = p_kind
      AND (s.expires_at IS NULL OR s.expires_at > p_now);
    IF target IS NULL THEN
        RETURN false;
    END IF;
    SELECT sum(bytes_used), sum(entry_count) INTO used_bytes, used_entries
    FROM volumes WHERE session_pk = owner;
    IF used_bytes + p_size > p_quota_bytes OR used_entries >= p_quota_entries THEN
        RETURN false;
    END IF;
    IF p_parent <> '/' AND NOT EXISTS (
        SELECT 1 FROM entries WHERE volume_id = target AND path = p_parent AND is_directory
    ) THEN
        RETURN false;
    END IF;
    INSERT INTO entries (volume_id, parent, name, path, id, is_directory, is_readonly,
                         size_bytes, content_type, meta, version, blob_hash, created_at,
                         updated_at, inline_data)
    VALUES (target, p_parent, p_name, p_path, p_id, p_is_directory, p_readonly, p_size,
            p_content_type, p_meta, p_version, p_hash, p_now, p_updated_at, p_data)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE volumes SET bytes_used = bytes_used + p_size, entry_count = entry_count + 1
    WHERE id = target;
    IF active < p_stale_before THEN
        UPDATE sessions SET last_active_at = p_now WHERE pk = owner;
    END IF;
    PERFORM pg_notify(p_channel, p_notify);
    RETURN true;
END
$$;
