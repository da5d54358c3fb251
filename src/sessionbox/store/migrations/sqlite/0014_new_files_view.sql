-- The most frequent write, a new small file, as ONE autocommit statement (SQLite
-- only): an INSERT into this view runs the trigger below, which makes every check
-- a locked writer makes first (the session is alive, its quota has room, the
-- parent is a directory, the path is free), inserts the entry, counts it in its
-- volume and touches the session's activity time when that is stale. When a check
-- fails nothing changes, and SqlStore.create_file takes the general path, which
-- raises the precise error. After the first seven, its columns are an entry row in
-- the order of _volume.entry_values. Why a view: a trigger on entries itself would run for
-- every insert (imports, copies). This one statement, in autocommit, costs 22 us
-- where the five statements of a locked create cost 27 (bench/RESULTS.md, "Stop 13").
CREATE VIEW new_files (
    agent_id, session_id, kind, stale_before, quota_bytes, quota_entries,
    parent, name, path, id, is_directory, is_readonly, size_bytes, content_type, meta,
    version, blob_hash, created_at, updated_at, inline_data
) AS SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
            NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL WHERE 0;

CREATE TRIGGER new_files_insert INSTEAD OF INSERT ON new_files
BEGIN
    INSERT INTO entries (volume_id, parent, name, path, id, is_directory, is_readonly,
                         size_bytes, content_type, meta, version, blob_hash, created_at,
                         updated_at, inline_data)
    SELECT v.id, NEW.parent, NEW.name, NEW.path, NEW.id, NEW.is_directory, NEW.is_readonly,
           NEW.size_bytes, NEW.content_type, NEW.meta, NEW.version, NEW.blob_hash,
           NEW.created_at, NEW.updated_at, NEW.inline_data
    FROM sessions s JOIN volumes v ON v.session_pk = s.pk AND v.kind = NEW.kind
    WHERE s.agent_id = NEW.agent_id AND s.id = NEW.session_id
      AND (s.expires_at IS NULL OR s.expires_at > NEW.created_at)
      AND (SELECT SUM(u.bytes_used) + NEW.size_bytes <= NEW.quota_bytes
                  AND SUM(u.entry_count) < NEW.quota_entries
           FROM volumes u WHERE u.session_pk = s.pk)
      AND (NEW.parent = '/' OR EXISTS (SELECT 1 FROM entries p WHERE p.volume_id = v.id
                                       AND p.path = NEW.parent AND p.is_directory))
    ON CONFLICT DO NOTHING;
    -- changes() is the previous statement's count; last_insert_rowid() its new row's.
    UPDATE volumes SET bytes_used = bytes_used + NEW.size_bytes, entry_count = entry_count + 1
    WHERE changes() = 1 AND id = (SELECT volume_id FROM entries WHERE rowid = last_insert_rowid());
    UPDATE sessions SET last_active_at = NEW.created_at
    WHERE changes() = 1 AND last_active_at < NEW.stale_before AND pk = (
        SELECT v.session_pk FROM entries e JOIN volumes v ON v.id = e.volume_id
        WHERE e.rowid = last_insert_rowid());
END;
