-- Aggregates of the entity mentions, so the named queries read small tables instead of recounting every mention
-- (issue #13: at 1M articles co_mentions took 35 s through a self-join of entity_mentions). The loader adds each
-- load's articles to them in the load's own transaction (pipeline/aggregates.py `add_articles`): every count here
-- is a count of rows or of distinct articles, and each article is loaded by exactly one load, so adding a load's
-- contribution keeps them exact. `rebuild_aggregates` recomputes them from the rows (after `news import`, or when
-- entities are merged); it runs the block between the REBUILD markers below, which is also this migration's
-- backfill of a store that already holds articles.

CREATE TABLE IF NOT EXISTS entity_day_counts (
    entity_id  VARCHAR NOT NULL,
    label      VARCHAR,
    day        DATE,
    mentions   BIGINT NOT NULL,
    articles   BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS entity_counts (
    entity_id        VARCHAR NOT NULL,
    mentions         BIGINT NOT NULL,
    articles         BIGINT NOT NULL,
    counted_country  VARCHAR
);

CREATE TABLE IF NOT EXISTS entity_pair_counts (
    entity_a  VARCHAR NOT NULL,
    entity_b  VARCHAR NOT NULL,
    label_a   VARCHAR,
    label_b   VARCHAR,
    articles  BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS country_counts (
    country_code  VARCHAR,
    mentions      BIGINT NOT NULL,
    articles      BIGINT NOT NULL
);

-- Files sorted by label (and key) carry narrow min/max statistics: a query for PERSON rows skips the other files,
-- and runs of equal ids compress.
ALTER TABLE entity_day_counts SET SORTED BY (label, day, entity_id);
ALTER TABLE entity_pair_counts SET SORTED BY (label_a, label_b, entity_a, entity_b);

-- REBUILD BEGIN
DELETE FROM entity_day_counts;
INSERT INTO entity_day_counts
SELECT c.entity_id, e.label, c.day, c.mentions, c.articles
FROM (SELECT m.entity_id, a.published_at AS day, count(*) AS mentions, count(DISTINCT m.article_id) AS articles
      FROM entity_mentions m
      JOIN articles a USING (article_id)
      GROUP BY ALL) c
LEFT JOIN entities e USING (entity_id);

DELETE FROM entity_counts;
INSERT INTO entity_counts
SELECT c.entity_id, c.mentions, c.articles, e.country_code AS counted_country
FROM (SELECT entity_id, count(*) AS mentions, count(DISTINCT article_id) AS articles
      FROM entity_mentions GROUP BY entity_id) c
LEFT JOIN entities e USING (entity_id);

DELETE FROM entity_pair_counts;
INSERT INTO entity_pair_counts
SELECT p.entity_a, p.entity_b, ea.label AS label_a, eb.label AS label_b, p.articles
FROM (SELECT a.entity_id AS entity_a, b.entity_id AS entity_b, count(*) AS articles
      FROM (SELECT DISTINCT article_id, entity_id FROM entity_mentions) a
      JOIN (SELECT DISTINCT article_id, entity_id FROM entity_mentions) b
        ON a.article_id = b.article_id AND a.entity_id < b.entity_id
      GROUP BY ALL) p
LEFT JOIN entities ea ON ea.entity_id = p.entity_a
LEFT JOIN entities eb ON eb.entity_id = p.entity_b;

DELETE FROM country_counts;
INSERT INTO country_counts
SELECT e.country_code, count(*) AS mentions, count(DISTINCT m.article_id) AS articles
FROM entity_mentions m
JOIN entities e USING (entity_id)
WHERE e.label IN ('GPE', 'LOC', 'NORP')
GROUP BY ALL;
-- REBUILD END

CREATE OR REPLACE VIEW entity_daily AS
SELECT c.entity_id, e.name, e.label, e.country_code, c.day, c.mentions, c.articles
FROM entity_day_counts c
JOIN entities e USING (entity_id);

CREATE OR REPLACE VIEW entity_pairs AS
SELECT entity_a, entity_b, articles
FROM entity_pair_counts;

COMMENT ON TABLE entity_day_counts IS 'Mentions and articles per entity per publication day, kept by the loader in the load''s transaction (the view entity_daily adds names). Key (entity_id, day).';
COMMENT ON COLUMN entity_day_counts.entity_id IS 'Entity mentioned (entities.entity_id). Key with day.';
COMMENT ON COLUMN entity_day_counts.label IS 'entities.label of the entity (part of its id, so it never changes): filters rows without a join.';
COMMENT ON COLUMN entity_day_counts.day IS 'Publication date of the articles (articles.published_at); NULL: undated articles. Key with entity_id.';
COMMENT ON COLUMN entity_day_counts.mentions IS 'Mentions of the entity in the articles published that day (entity_mentions rows).';
COMMENT ON COLUMN entity_day_counts.articles IS 'Articles published that day that mention the entity at least once.';

COMMENT ON TABLE entity_counts IS 'Mentions and articles per entity over all articles, kept by the loader in the load''s transaction. Key entity_id.';
COMMENT ON COLUMN entity_counts.entity_id IS 'Entity mentioned (entities.entity_id). Key.';
COMMENT ON COLUMN entity_counts.mentions IS 'Mentions of the entity in all articles (entity_mentions rows).';
COMMENT ON COLUMN entity_counts.articles IS 'Articles mentioning the entity at least once.';
COMMENT ON COLUMN entity_counts.counted_country IS 'entities.country_code when its mentions were counted into country_counts: a load that finds the entity''s code changed recounts both countries. Bookkeeping; read entities.country_code.';

COMMENT ON TABLE entity_pair_counts IS 'Entities named together: articles mentioning both, kept by the loader in the load''s transaction (the view entity_pairs shows it without labels). Key (entity_a, entity_b).';
COMMENT ON COLUMN entity_pair_counts.entity_a IS 'The entity of the pair with the smaller id (entities.entity_id). Key with entity_b.';
COMMENT ON COLUMN entity_pair_counts.entity_b IS 'The entity of the pair with the larger id (entities.entity_id). Key with entity_a.';
COMMENT ON COLUMN entity_pair_counts.label_a IS 'entities.label of entity_a (part of its id, so it never changes): filters pairs without a join.';
COMMENT ON COLUMN entity_pair_counts.label_b IS 'entities.label of entity_b (part of its id, so it never changes): filters pairs without a join.';
COMMENT ON COLUMN entity_pair_counts.articles IS 'Articles mentioning both entities.';

COMMENT ON TABLE country_counts IS 'Mentions of places and nationalities (entities labelled GPE, LOC or NORP) per country, kept by the loader in the load''s transaction. Key country_code.';
COMMENT ON COLUMN country_counts.country_code IS 'entities.country_code of the places mentioned; NULL: places of no single country. Key.';
COMMENT ON COLUMN country_counts.mentions IS 'Mentions of the country''s places (entity_mentions rows).';
COMMENT ON COLUMN country_counts.articles IS 'Articles mentioning at least one of the country''s places.';

COMMENT ON VIEW entity_daily IS 'Mentions and articles per entity per publication day (day NULL: undated articles), with the entity''s name, label and country; read from entity_day_counts.';
COMMENT ON VIEW entity_pairs IS 'Entities named together: number of articles mentioning both (entity_a < entity_b, ids from entities); read from entity_pair_counts.';
