-- Views analysts query beside the tables; DuckLake stores them in the catalog, so every client sees them.

CREATE OR REPLACE VIEW entity_daily AS
SELECT e.entity_id, e.name, e.label, e.country_code, a.published_at AS day,
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

CREATE OR REPLACE VIEW latest_articles AS
SELECT *
FROM articles
QUALIFY row_number() OVER (PARTITION BY coalesce(version_of, article_id) ORDER BY version DESC) = 1;

CREATE OR REPLACE VIEW fetch_state AS
SELECT source_id AS url,
       value ->> 'etag' AS etag,
       value ->> 'last_modified' AS last_modified,
       CAST(value ->> 'status' AS INTEGER) AS status,
       value ->> 'problem' AS problem,
       CAST(value ->> 'entries' AS INTEGER) AS entries,
       CAST(value ->> 'fetched_at' AS TIMESTAMP) AS fetched_at
FROM source_state
WHERE kind = 'web';

COMMENT ON VIEW entity_daily IS 'Mentions and articles per entity per publication day (day NULL: undated articles).';
COMMENT ON VIEW entity_pairs IS 'Entities named together: number of articles mentioning both (entity_a < entity_b, ids from entities).';
COMMENT ON VIEW latest_articles IS 'One row per page: its latest version (an article without versions is its own latest version).';
COMMENT ON VIEW fetch_state IS 'Validators of every web listing polled (feed, sitemap, URL list), read from source_state.';
