-- The schema of a single-file DuckDB store before the lake: old migrations 001-011 in order, each after a
-- '-- old migration NNN_name.sql' line (tests/test_import.py applies them up to a version to build older stores).

-- old migration 001_core_schema.sql
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

-- old migration 002_views.sql
CREATE OR REPLACE VIEW entity_daily AS
SELECT e.entity_id, e.name, e.label, a.published_at AS day,
       count(*) AS mentions, count(DISTINCT m.article_id) AS articles
FROM entity_mentions m
JOIN entities e USING (entity_id)
JOIN articles a USING (article_id)
GROUP BY ALL;

CREATE OR REPLACE VIEW entity_pairs AS
SELECT a.entity_id AS entity_a, b.entity_id AS entity_b, count(DISTINCT a.article_id) AS articles
FROM (SELECT DISTINCT article_id, entity_id FROM entity_mentions) a
JOIN (SELECT DISTINCT article_id, entity_id FROM entity_mentions) b
  ON a.article_id = b.article_id AND a.entity_id < b.entity_id
GROUP BY ALL;

-- old migration 003_entity_details.sql
-- Where a place is, and when an entity was in the news.
-- country_code: ISO 3166-1 alpha-2 of a GPE/LOC/NORP entity, NULL when it is no single country (filled by the loader).
-- first_seen/last_seen: publication dates of the earliest/latest article mentioning the entity, NULL when none of
-- its articles has a date (kept up to date by the loader for every entity a load touches).

ALTER TABLE entities ADD COLUMN country_code VARCHAR;
ALTER TABLE entities ADD COLUMN first_seen DATE;
ALTER TABLE entities ADD COLUMN last_seen DATE;

UPDATE entities SET first_seen = seen.first_seen, last_seen = seen.last_seen
FROM (
    SELECT m.entity_id, min(a.published_at) AS first_seen, max(a.published_at) AS last_seen
    FROM entity_mentions m
    JOIN articles a USING (article_id)
    GROUP BY m.entity_id
) seen
WHERE entities.entity_id = seen.entity_id;

CREATE OR REPLACE VIEW entity_daily AS
SELECT e.entity_id, e.name, e.label, e.country_code, a.published_at AS day,
       count(*) AS mentions, count(DISTINCT m.article_id) AS articles
FROM entity_mentions m
JOIN entities e USING (entity_id)
JOIN articles a USING (article_id)
GROUP BY ALL;

-- old migration 004_near_duplicates.sql
-- MinHash near-duplicate index (pipeline/neardup.py), so every new article is compared with every article ever
-- loaded, not only with its batch.
-- minhash_signatures: one row per indexed article. shingles = distinct 5-token shingles of the folded body (used to
-- estimate containment); signature = 128 little-endian uint32 minima (fixed seed: never change it in place).
-- minhash_bands: one row per (LSH band key, article). A key hashes one band of a signature together with the band
-- layout, so indexes opened with different layouts never see each other's keys. Looked up by key through the ART
-- index; no primary key because the loader de-duplicates by article_id before inserting.

CREATE TABLE IF NOT EXISTS minhash_signatures (
    article_id  VARCHAR PRIMARY KEY,
    shingles    INTEGER NOT NULL,
    signature   BLOB NOT NULL
);

CREATE TABLE IF NOT EXISTS minhash_bands (
    band_key    BIGINT NOT NULL,
    article_id  VARCHAR NOT NULL
);

CREATE INDEX IF NOT EXISTS minhash_bands_key ON minhash_bands (band_key);

-- old migration 005_stories.sql
-- Stories: articles about the same event, grouped by pipeline/stories.py (assign_stories), which also sets
-- articles.story_id. story_id is the article_id of the story's first article and never changes.
-- first_seen/last_seen: earliest/latest publication date of its articles (NULL when none is dated);
-- size: its number of articles; representative_title: title of its earliest article;
-- top_entities: names of the PERSON/ORG/GPE entities in most of its articles, then with most mentions (at most 5).

CREATE TABLE IF NOT EXISTS stories (
    story_id              VARCHAR PRIMARY KEY,
    first_seen            DATE,
    last_seen             DATE,
    size                  INTEGER NOT NULL,
    representative_title  VARCHAR,
    top_entities          VARCHAR[]
);

-- old migration 006_fetch_state.sql
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

-- old migration 007_article_versions.sql
-- Versions of a page (pipeline/dedup.py, pipeline/loader.py): an input whose canonical URL is already loaded but
-- whose body differs from every version of that page is loaded as a new article, linked to the first one.
-- version_of: article_id of the page's first version; NULL for a first version (and for articles without a URL).
-- version: 1 for a first version, then 2, 3, ... in the order the changed bodies were loaded.

ALTER TABLE articles ADD COLUMN version_of VARCHAR;
ALTER TABLE articles ADD COLUMN version INTEGER DEFAULT 1;
UPDATE articles SET version = 1 WHERE version IS NULL;

-- One row per page: its latest version (an article without versions is its own latest version).
CREATE OR REPLACE VIEW latest_articles AS
SELECT *
FROM articles
QUALIFY row_number() OVER (PARTITION BY coalesce(version_of, article_id) ORDER BY version DESC) = 1;

-- old migration 008_article_warnings.sql
-- What was repaired on the way in (bad bytes replaced, a field of the wrong type dropped, entities missing after
-- a tagging error): the article loaded, and says so.
ALTER TABLE articles ADD COLUMN warnings VARCHAR[];

-- old migration 009_source_state.sql
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

-- old migration 010_reject_files.sql
-- Raw bytes of a large reject live in a file beside the store (content-addressed, `raw_file` relative to the
-- store's folder) instead of in `raw`: DuckDB holds a transaction's blobs in memory several times over, so a run
-- rejecting sixty 10 MB files needed gigabytes.
ALTER TABLE rejects ADD COLUMN raw_file VARCHAR;

-- old migration 011_index_layout.sql
-- The LSH band layout the stored band keys were made with. A near-duplicate threshold low enough to need another
-- layout would stop every stored article from matching, so the loader refuses it until `news reindex` has
-- rebuilt the band keys from the stored signatures. Every store so far was banded 42 × 3 (threshold 0.8).
CREATE TABLE index_layout (
    name   VARCHAR PRIMARY KEY,
    bands  INTEGER NOT NULL,
    "rows" INTEGER NOT NULL
);
INSERT INTO index_layout VALUES ('minhash_bands', 42, 3);
