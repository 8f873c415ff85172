-- People named together in the same article, most frequent pairs first.
SELECT ea.name AS person_a, eb.name AS person_b, p.articles
FROM entity_pairs p
JOIN entities ea ON ea.entity_id = p.entity_a
JOIN entities eb ON eb.entity_id = p.entity_b
WHERE ea.label = 'PERSON' AND eb.label = 'PERSON'
ORDER BY p.articles DESC, person_a, person_b
LIMIT 10;
