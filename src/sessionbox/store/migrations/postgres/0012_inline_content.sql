-- Small files (up to 4 KiB) keep their bytes in their own entry row (see the SQLite
-- migration of the same number). blob_hash stays the content's hash for every file;
-- only files without inline_data reference blobs, so the foreign key goes and the
-- GC index covers only those.
ALTER TABLE entries ADD COLUMN inline_data bytea;
ALTER TABLE entries DROP CONSTRAINT IF EXISTS entries_blob_hash_fkey;
UPDATE entries e SET inline_data = c.data
FROM blob_chunks c
WHERE c.hash = e.blob_hash AND c.seq = 0 AND e.size_bytes <= 4096;
ALTER TABLE entries ADD CONSTRAINT entries_inline_size
    CHECK (inline_data IS NULL OR length(inline_data) = size_bytes);
DROP INDEX entries_blob;
CREATE INDEX entries_blob ON entries (blob_hash) WHERE blob_hash IS NOT NULL AND inline_data IS NULL;
