-- Validators of every listing (feed, sitemap, URL list) polled, for conditional GET on the next poll.
CREATE TABLE IF NOT EXISTS fetch_state (
    url            VARCHAR PRIMARY KEY,
    etag           VARCHAR,
    last_modified  VARCHAR,
    status         INTEGER,
    problem        VARCHAR,
    entries        INTEGER,
    fetched_at     TIMESTAMP NOT NULL
);
