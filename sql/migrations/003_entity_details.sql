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
