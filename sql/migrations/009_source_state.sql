-- What each source resumes from next run (a listing's validators, a stream's offsets), written by the load in the
-- same transaction as the rows the source produced. Replaces the listing-only fetch_state table, which stays as a
-- view for the queries that read it.
CREATE TABLE source_state (
    source_id   VARCHAR PRIMARY KEY,
    kind        VARCHAR NOT NULL,
    value       JSON NOT NULL,
    run_id      VARCHAR,
    updated_at  TIMESTAMP NOT NULL
);

INSERT INTO source_state
SELECT url, 'web',
       json_object('listing_kind', 'feed', 'etag', etag, 'last_modified', last_modified, 'status', status, 'problem', problem,
                   'entries', entries, 'fetched_at', strftime(fetched_at, '%Y-%m-%dT%H:%M:%S.%f')),
       NULL, fetched_at
FROM fetch_state;

DROP TABLE fetch_state;

CREATE VIEW fetch_state AS
SELECT source_id AS url,
       value ->> 'etag' AS etag,
       value ->> 'last_modified' AS last_modified,
       CAST(value ->> 'status' AS INTEGER) AS status,
       value ->> 'problem' AS problem,
       CAST(value ->> 'entries' AS INTEGER) AS entries,
       CAST(value ->> 'fetched_at' AS TIMESTAMP) AS fetched_at
FROM source_state
WHERE kind = 'web';
