-- Mentions of places and nationalities per ISO 3166-1 country code (NULL: no single country, e.g. "European").
SELECT e.country_code, count(*) AS mentions, count(DISTINCT m.article_id) AS articles,
       string_agg(DISTINCT e.name, ', ' ORDER BY e.name) AS names
FROM entity_mentions m
JOIN entities e USING (entity_id)
WHERE e.label IN ('GPE', 'LOC', 'NORP')
GROUP BY ALL
ORDER BY mentions DESC, e.country_code NULLS LAST;
