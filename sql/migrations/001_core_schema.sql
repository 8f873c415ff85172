-- The contract analysts query. Names are the interface: keep them stable.

CREATE TABLE IF NOT EXISTS ingest_runs (
    run_id       VARCHAR PRIMARY KEY,
    source       VARCHAR,
    started_at   TIMESTAMP,
    finished_at  TIMESTAMP,
    n_inputs     INTEGER,
    n_loaded     INTEGER,
    n_duplicate  INTEGER,
    n_rejected   INTEGER,
    n_failed     INTEGER
);

CREATE TABLE IF NOT EXISTS articles (
    article_id      VARCHAR PRIMARY KEY,
    doc_key         VARCHAR NOT NULL UNIQUE,
    url             VARCHAR,
    canonical_url   VARCHAR,
    source_uri      VARCHAR NOT NULL,
    site            VARCHAR,
    title           VARCHAR,
    byline          VARCHAR,
    published_at    DATE,
    published_rule  VARCHAR,
    updated_at      DATE,
    language        VARCHAR,
    language_prob   DOUBLE,
    body            VARCHAR NOT NULL,
    body_chars      INTEGER NOT NULL,
    content_hash    VARCHAR NOT NULL,
    story_id        VARCHAR,
    ingested_at     TIMESTAMP NOT NULL,
    run_id          VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS entities (
    entity_id   VARCHAR PRIMARY KEY,
    name        VARCHAR NOT NULL,
    label       VARCHAR NOT NULL,
    name_key    VARCHAR NOT NULL,
    aliases     VARCHAR[]
);

CREATE TABLE IF NOT EXISTS entity_mentions (
    article_id  VARCHAR NOT NULL,
    entity_id   VARCHAR NOT NULL,
    surface     VARCHAR NOT NULL,
    label       VARCHAR NOT NULL,
    start_char  INTEGER NOT NULL,
    end_char    INTEGER NOT NULL,
    PRIMARY KEY (article_id, start_char, end_char)
);

CREATE TABLE IF NOT EXISTS duplicates (
    doc_key       VARCHAR PRIMARY KEY,
    duplicate_of  VARCHAR NOT NULL,
    rule          VARCHAR NOT NULL,
    similarity    DOUBLE,
    run_id        VARCHAR NOT NULL
);

-- One row per input per run: every input ends in exactly one state.
-- Keyed by source_uri, not doc_key: two inputs with the same key in one run are both counted.
CREATE TABLE IF NOT EXISTS ingest_log (
    run_id      VARCHAR NOT NULL,
    doc_key     VARCHAR NOT NULL,
    source_uri  VARCHAR NOT NULL,
    state       VARCHAR NOT NULL CHECK (state IN ('loaded', 'duplicate', 'rejected', 'failed')),
    reason      VARCHAR,
    article_id  VARCHAR,
    logged_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, source_uri)
);

-- The raw input is kept so nothing is lost, even when it could not be read.
CREATE TABLE IF NOT EXISTS rejects (
    doc_key     VARCHAR PRIMARY KEY,
    source_uri  VARCHAR NOT NULL,
    reason      VARCHAR NOT NULL,
    raw         BLOB
);

CREATE TABLE IF NOT EXISTS quality_results (
    run_id       VARCHAR NOT NULL,
    suite        VARCHAR NOT NULL,
    expectation  VARCHAR NOT NULL,
    success      BOOLEAN NOT NULL,
    observed     VARCHAR,
    checked_at   TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS date_candidates (
    article_id  VARCHAR NOT NULL,
    value       DATE NOT NULL,
    kind        VARCHAR NOT NULL,
    rule        VARCHAR NOT NULL
);
