-- The commit point of an update of a directory-backed volume. Such an update logs
-- how to undo each step on disk (store/_dirjournal.py) under a random token, and
-- records the token here in the same transaction as its sidecar rows: a log found
-- after a crash is rolled forward if its token is here, undone otherwise. One row
-- per volume, replaced by the next update (the previous log is settled by then).
CREATE TABLE dir_commits (
    volume_id  INTEGER PRIMARY KEY REFERENCES volumes(id) ON DELETE CASCADE,
    token      TEXT NOT NULL
);
