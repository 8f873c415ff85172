-- Most-mentioned entities across all articles, with how many articles name them.
-- Reads entity_counts. Entities sharing a name and label (none unless imported so) are one row, as ever: their
-- mentions add up, their articles are recounted from entity_mentions (an article may name both).
WITH totals AS (
    SELECT e.name, e.label, sum(c.mentions)::BIGINT AS mentions, sum(c.articles)::BIGINT AS articles,
           count(*) AS entities
    FROM entity_counts c
    JOIN entities e USING (entity_id)
    GROUP BY ALL
    ORDER BY mentions DESC, e.name
    LIMIT 10
), shared AS (
    SELECT e.name, e.label, count(DISTINCT m.article_id) AS articles
    FROM entity_mentions m
    JOIN entities e USING (entity_id)
    JOIN totals t ON t.name = e.name AND t.label = e.label AND t.entities > 1
    GROUP BY ALL
)
SELECT t.name, t.label, t.mentions, coalesce(s.articles, t.articles) AS articles
FROM totals t
LEFT JOIN shared s USING (name, label)
ORDER BY t.mentions DESC, t.name;
