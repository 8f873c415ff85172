-- People named together in the same article, most frequent pairs first.
-- Reads entity_pair_counts (the table behind entity_pairs), whose labels pick the PERSON pairs without a join:
-- only the pairs at least as frequent as the 10th are joined with their names.
WITH people AS (
    SELECT entity_a, entity_b, articles
    FROM entity_pair_counts
    WHERE label_a = 'PERSON' AND label_b = 'PERSON'
), cutoff AS (
    SELECT min(articles) AS articles FROM (SELECT articles FROM people ORDER BY articles DESC LIMIT 10)
)
SELECT ea.name AS person_a, eb.name AS person_b, p.articles
FROM people p
JOIN entities ea ON ea.entity_id = p.entity_a
JOIN entities eb ON eb.entity_id = p.entity_b
WHERE p.articles >= (SELECT articles FROM cutoff) AND ea.label = 'PERSON' AND eb.label = 'PERSON'
ORDER BY p.articles DESC, person_a, person_b
LIMIT 10;
