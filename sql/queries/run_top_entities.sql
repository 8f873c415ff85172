-- A run's most-mentioned entities, three per label: what this run added, not what the store holds overall.
-- The run is the variable run_id (SET VARIABLE run_id = '...'; the run summary sets it), else the latest run.
WITH run AS (
    SELECT coalesce(getvariable('run_id'),
                    (SELECT run_id FROM ingest_runs ORDER BY finished_at DESC NULLS LAST LIMIT 1)) AS run_id
), ranked AS (
    SELECT e.label, e.name, count(*) AS mentions, count(DISTINCT m.article_id) AS articles,
           row_number() OVER (PARTITION BY e.label ORDER BY count(*) DESC, e.name) AS rank
    FROM articles a
    JOIN entity_mentions m USING (article_id)
    JOIN entities e USING (entity_id)
    WHERE a.run_id = (SELECT run_id FROM run)
    GROUP BY e.label, e.name
)
SELECT label, name, mentions, articles
FROM ranked
WHERE rank <= 3
ORDER BY label, mentions DESC, name;
