-- Mentions of places and nationalities per ISO 3166-1 country code (NULL: no single country, e.g. "European").
-- Reads country_counts; the names are those of the places (GPE, LOC, NORP entities) mentioned, from entity_counts.
SELECT c.country_code, c.mentions, c.articles, n.names
FROM country_counts c
LEFT JOIN (
    SELECT e.country_code, string_agg(DISTINCT e.name, ', ' ORDER BY e.name) AS names
    FROM entity_counts k
    JOIN entities e USING (entity_id)
    WHERE e.label IN ('GPE', 'LOC', 'NORP')
    GROUP BY ALL
) n ON n.country_code IS NOT DISTINCT FROM c.country_code
ORDER BY c.mentions DESC, c.country_code NULLS LAST;
