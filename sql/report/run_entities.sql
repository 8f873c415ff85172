-- The run's most-mentioned entities, the first five of each label.
WITH ranked AS (
    SELECT e.label, e.name, count(*) AS mentions, count(DISTINCT m.article_id) AS articles,
           row_number() OVER (PARTITION BY e.label ORDER BY count(*) DESC, e.name) AS rank
    FROM articles a
    JOIN entity_mentions m USING (article_id)
    JOIN entities e USING (entity_id)
    WHERE a.run_id = getvariable('run_id')
    GROUP BY e.label, e.name
)
SELECT label, name, mentions, articles
FROM ranked
WHERE rank <= 5
ORDER BY label, mentions DESC, name;
