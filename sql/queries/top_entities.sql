-- Most-mentioned entities across all articles, with how many articles name them.
SELECT e.name, e.label, count(*) AS mentions, count(DISTINCT m.article_id) AS articles
FROM entity_mentions m
JOIN entities e USING (entity_id)
GROUP BY ALL
ORDER BY mentions DESC, e.name
LIMIT 10;
