-- The store's most-mentioned entities of all time (entity_counts), the first five of each label.
WITH ranked AS (
    SELECT e.label, e.name, c.mentions, c.articles,
           row_number() OVER (PARTITION BY e.label ORDER BY c.mentions DESC, e.name) AS rank
    FROM entity_counts c
    JOIN entities e USING (entity_id)
)
SELECT label, name, mentions, articles
FROM ranked
WHERE rank <= 5
ORDER BY label, mentions DESC, name;
