-- The contract analysts query, as a DuckLake (no primary keys, unique or check constraints: the loader writes
-- every row by its key explicitly, see pipeline/store.py merge_rows). Names are the interface: keep them stable.
-- What each table and column holds is in 002_comments.sql, and in the store itself (duckdb_columns().comment).
-- Stores written before the lake (one DuckDB file, migrations 001-011) come in through `news import`.

CREATE TABLE IF NOT EXISTS ingest_runs (
    run_id       VARCHAR NOT NULL,
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
    article_id      VARCHAR NOT NULL,
    doc_key         VARCHAR NOT NULL,
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
    run_id          VARCHAR NOT NULL,
    version_of      VARCHAR,
    version         INTEGER DEFAULT 1,
    warnings        VARCHAR[]
);

CREATE TABLE IF NOT EXISTS entities (
    entity_id     VARCHAR NOT NULL,
    name          VARCHAR NOT NULL,
    label         VARCHAR NOT NULL,
    name_key      VARCHAR NOT NULL,
    aliases       VARCHAR[],
    country_code  VARCHAR,
    first_seen    DATE,
    last_seen     DATE
);

CREATE TABLE IF NOT EXISTS entity_mentions (
    article_id  VARCHAR NOT NULL,
    entity_id   VARCHAR NOT NULL,
    surface     VARCHAR NOT NULL,
    label       VARCHAR NOT NULL,
    start_char  INTEGER NOT NULL,
    end_char    INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS duplicates (
    doc_key       VARCHAR NOT NULL,
    duplicate_of  VARCHAR NOT NULL,
    rule          VARCHAR NOT NULL,
    similarity    DOUBLE,
    run_id        VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS ingest_log (
    run_id      VARCHAR NOT NULL,
    doc_key     VARCHAR NOT NULL,
    source_uri  VARCHAR NOT NULL,
    state       VARCHAR NOT NULL,
    reason      VARCHAR,
    article_id  VARCHAR,
    logged_at   TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS rejects (
    doc_key     VARCHAR NOT NULL,
    source_uri  VARCHAR NOT NULL,
    reason      VARCHAR NOT NULL,
    raw         BLOB,
    raw_file    VARCHAR
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

CREATE TABLE IF NOT EXISTS minhash_signatures (
    article_id  VARCHAR NOT NULL,
    shingles    INTEGER NOT NULL,
    signature   BLOB NOT NULL
);

CREATE TABLE IF NOT EXISTS minhash_bands (
    band_key    BIGINT NOT NULL,
    article_id  VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS stories (
    story_id              VARCHAR NOT NULL,
    first_seen            DATE,
    last_seen             DATE,
    size                  INTEGER NOT NULL,
    representative_title  VARCHAR,
    top_entities          VARCHAR[]
);

CREATE TABLE IF NOT EXISTS source_state (
    source_id   VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,
    value       JSON NOT NULL,
    run_id      VARCHAR,
    updated_at  TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS index_layout (
    name   VARCHAR NOT NULL,
    bands  INTEGER NOT NULL,
    "rows" INTEGER NOT NULL
);
INSERT INTO index_layout VALUES ('minhash_bands', 42, 3);
