-- Raw bytes of a large reject live in a file beside the store (content-addressed, `raw_file` relative to the
-- store's folder) instead of in `raw`: DuckDB holds a transaction's blobs in memory several times over, so a run
-- rejecting sixty 10 MB files needed gigabytes.
ALTER TABLE rejects ADD COLUMN raw_file VARCHAR;
