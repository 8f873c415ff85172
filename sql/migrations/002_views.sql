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
