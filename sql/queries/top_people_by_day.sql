-- Most-mentioned people per publication day (articles without a date fall under NULL).
-- Reads entity_day_counts (the table behind entity_daily), whose label picks the people without a join: only
-- those at least as mentioned as the day's 5th are joined with their names and ranked.
WITH people AS (
    SELECT entity_id, day, mentions, articles
    FROM entity_day_counts
    WHERE label = 'PERSON'
), cutoff AS (
    SELECT day, list_min(max(mentions, 5)) AS mentions FROM people GROUP BY day
)
SELECT p.day, e.name, p.mentions, p.articles
FROM people p
JOIN cutoff c ON c.day IS NOT DISTINCT FROM p.day AND p.mentions >= c.mentions
JOIN entities e USING (entity_id)
WHERE e.label = 'PERSON'
QUALIFY row_number() OVER (PARTITION BY p.day ORDER BY p.mentions DESC, e.name) <= 5
ORDER BY p.day NULLS LAST, p.mentions DESC, e.name;
